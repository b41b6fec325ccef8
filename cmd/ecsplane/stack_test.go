package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
)

// TestStackThroughEndpointChain drives plan, apply and destroy the way a
// user does against a plain moto server: AWS_ENDPOINT_URL and flags.
func TestStackThroughEndpointChain(t *testing.T) {
	env := awstest.Moto(t)
	awstest.UseEndpoint(t, env.Endpoint)
	// moto's default account; the stack and table names keep this test apart.
	name := "cli-" + env.AccountID[:6]
	table := "ledger-" + name
	tmpl, err := local.LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(local.Config(env.Endpoint))
	if err := local.CreateTable(context.Background(), db, tmpl, local.LedgerTableID, table); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tableEnv, table)
	cfg := controlplane.StackConfig(local.Account, "us-east-1", name)
	if err := controlplane.CreatePrerequisites(context.Background(), local.Config(env.Endpoint), "../../template.yaml", cfg, "latest"); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-name", name, "-image-repository", cfg.ImageRepository, "-nginx-image", cfg.NginxImage,
		"-instance-profile-arn", cfg.InstanceProfileARN, "-execution-role-arn", cfg.ExecutionRoleARN,
		"-task-role-arn", cfg.TaskRoleARN, "-wait=false", "-interval", "10ms"}
	stack := func(cmd string, extra ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append(append([]string{"stack", cmd}, flags...), extra...), &out, &errOut); err != nil {
			t.Fatalf("stack %s: %v\n%s%s", cmd, err, out.String(), errOut.String())
		}
		return out.String()
	}

	if out := stack("plan"); !strings.Contains(out, "+ create network ec2:vpc vpc") || !strings.Contains(out, "2 to update") || !strings.Contains(out, "now that its capacity provider exists") {
		t.Errorf("plan on an empty account:\n%s", out)
	}
	var plan struct {
		Stack   string `json:"stack"`
		DryRun  bool   `json:"dryRun"`
		Changes []struct {
			Action, Layer, Resource string
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(stack("plan", "-json")), &plan); err != nil || plan.Stack != name || !plan.DryRun || len(plan.Changes) < 40 {
		t.Errorf("plan -json = %+v (%v)", plan, err)
	}
	out := stack("apply")
	if !strings.Contains(out, "+ create service ecs:service service") || !strings.Contains(out, "load balancer DNS name: "+name+"-alb") {
		t.Errorf("apply did not show its progress and the DNS name:\n%s", out)
	}
	if out := stack("apply"); !strings.Contains(out, "stack "+name+": no changes") || !strings.Contains(out, "AWS calls: 0 mutating") {
		t.Errorf("second apply:\n%s", out)
	}
	if out := stack("destroy"); !strings.Contains(out, "- delete network ec2:vpc vpc") || !strings.Contains(out, "destroyed") {
		t.Errorf("destroy:\n%s", out)
	}
	if out := stack("plan"); !strings.Contains(out, "+ create network ec2:vpc vpc") {
		t.Errorf("plan after destroy does not recreate the VPC:\n%s", out)
	}
	as, _, err := ledger.New(db, table).Actions(context.Background(), name, ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range as {
		kinds = append(kinds, a.Kind+":"+a.Outcome)
	}
	if want := []string{"teardown:SUCCEEDED", "build:SUCCEEDED", "build:SUCCEEDED"}; strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("recorded %v, want %v (newest first; plans are not recorded)", kinds, want)
	}
}

func TestStackRejectsBadSpecWithEveryProblem(t *testing.T) {
	var out, errOut bytes.Buffer
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	// No endpoint: a call to AWS would fail with a network or auth error,
	// not with the validation problems.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	err := run(context.Background(), []string{"stack", "apply", "-name", "Bad_Name"}, &out, &errOut)
	if err == nil {
		t.Fatal("apply accepted a bad spec")
	}
	for _, p := range []string{`name "Bad_Name"`, "imageRepository is required", "nginxImage is required", "instanceProfileArn", "executionRoleArn", "taskRoleArn"} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error lacks %q: %v", p, err)
		}
	}
	if err := run(context.Background(), []string{"stack", "frob"}, &out, &errOut); !errors.Is(err, errUsage) {
		t.Errorf("stack frob = %v, want usage error", err)
	}
}

// TestStackDestroyThroughStateMachine starts a deployed teardown state
// machine, here on moto's engine with the real functions, and follows it.
func TestStackDestroyThroughStateMachine(t *testing.T) {
	s := awstest.NewStepFunctions(t)
	const account = "123456789012" // the account the CLI's plain credentials act as
	cfg := awstest.Config(s.Endpoint, account)
	name := "sm-" + s.AccountID[:6]
	cp := controlplane.New(cfg, name, controlplane.StackConfig(account, "us-east-1", name), nil, nil)
	subs := map[string]string{"StackName": name, "ReadyWaitSeconds": "0", "ReadyMaxAttempts": "5"}
	for key, fn := range cp.Functions(nil) {
		subs[key] = s.Function(strings.TrimSuffix(key, "FunctionArn"), fn)
	}
	// The record function writes to no ledger here; it answers as recorded.
	subs["RecordFunctionArn"] = s.Function("record", func(context.Context, json.RawMessage) (string, error) { return "recorded", nil })
	def, err := awstest.Definition("../../statemachine/teardown.asl.json", subs)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := sfn.NewFromConfig(cfg).CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name + "-teardown"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::" + account + ":role/states"),
	})
	if err != nil {
		t.Fatal(err)
	}
	awstest.UseEndpoint(t, s.Endpoint)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"stack", "destroy", "-state-machine", aws.ToString(sm.StateMachineArn), "-interval", "50ms"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"started arn:aws:states:", "TeardownService\n", "TeardownNetwork\n", "RecordSuccess\n", "execution SUCCEEDED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
