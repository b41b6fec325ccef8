package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	// moto's default account; the stack and table names keep this test apart.
	name := "cli-" + env.AccountID[:6]
	led := cliLedger(t)
	cfg := controlplane.StackConfig(local.Account, "us-east-1", name)
	if err := controlplane.CreatePrerequisites(context.Background(), local.Config(env.Endpoint), "../../template.yaml", cfg, "latest"); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-name", name, "-image-repository", cfg.ImageRepository, "-nginx-image", cfg.NginxImage,
		"-instance-profile-arn", cfg.InstanceProfileARN, "-execution-role-arn", cfg.ExecutionRoleARN,
		"-task-role-arn", cfg.TaskRoleARN, "-wait=false", "-interval", "10ms"}
	stack := func(cmd string, extra ...string) string {
		t.Helper()
		out, errOut, code := cli(t, append(append([]string{"stack", cmd}, flags...), extra...)...)
		if code != exitOK {
			t.Fatalf("stack %s: exit %d\n%s%s", cmd, code, out, errOut)
		}
		return out
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
	if !strings.Contains(out, "preflight: 9 checks passed\n") || !strings.Contains(out, "+ create service ecs:service service") || !strings.Contains(out, "load balancer DNS name: "+name+"-alb") {
		t.Errorf("apply did not show the preflight, its progress and the DNS name:\n%s", out)
	}
	if out := stack("apply"); !strings.Contains(out, "stack "+name+": no changes") || !strings.Contains(out, "AWS calls: 0 mutating") {
		t.Errorf("second apply:\n%s", out)
	}
	// apply --json: one JSON object on stdout, the outcome and the calls.
	var applied stackResult
	if err := json.Unmarshal([]byte(stack("apply", "--json")), &applied); err != nil {
		t.Fatal(err)
	}
	if applied.Stack != name || applied.Command != "apply" || applied.DryRun || len(applied.Changes) != 0 || applied.Summary != "no changes" ||
		applied.DNSName == "" || applied.Calls.Mutating != 0 || applied.Calls.Reads == 0 || applied.Preflight == nil || len(applied.Preflight.Checked) != 9 || applied.Error != "" {
		t.Errorf("apply --json = %+v", applied)
	}
	// destroy --json: the deletions, and nothing but JSON on stdout.
	var destroyed stackResult
	if err := json.Unmarshal([]byte(stack("destroy", "--json")), &destroyed); err != nil {
		t.Fatal(err)
	}
	deletes := 0
	for _, c := range destroyed.Changes {
		if c.Action == "delete" {
			deletes++
		}
	}
	// Every change is a delete but the cluster's detaching its capacity
	// provider.
	if destroyed.Command != "destroy" || deletes < 30 || len(destroyed.Changes)-deletes != 1 || destroyed.Calls.Mutating == 0 || destroyed.Error != "" {
		t.Errorf("destroy --json: %d deletes of %d changes, %+v", deletes, len(destroyed.Changes), destroyed.Calls)
	}
	if out := stack("destroy"); !strings.Contains(out, "destroyed, 0 deleted") {
		t.Errorf("destroy again:\n%s", out)
	}
	if out := stack("plan"); !strings.Contains(out, "+ create network ec2:vpc vpc") {
		t.Errorf("plan after destroy does not recreate the VPC:\n%s", out)
	}
	as, _, err := led.Actions(context.Background(), name, ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range as {
		kinds = append(kinds, a.Kind+":"+a.Outcome)
	}
	if want := []string{"teardown:SUCCEEDED", "teardown:SUCCEEDED", "build:SUCCEEDED", "build:SUCCEEDED", "build:SUCCEEDED"}; strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("recorded %v, want %v (newest first; plans are not recorded)", kinds, want)
	}
}

// TestStackRefusesBeforeAnyChange: a bad spec and an account without what
// the stack needs are refused, every problem listed at once, exit 1, with
// no mutating call, the ledger included; --json says the same.
func TestStackRefusesBeforeAnyChange(t *testing.T) {
	env := awstest.Moto(t)
	awstest.UseEndpoint(t, env.Endpoint)
	name := "bad-" + env.AccountID[:6]
	cfg := controlplane.StackConfig(local.Account, "us-east-1", name)
	args := []string{"stack", "apply", "--name", name, "--image-repository", cfg.ImageRepository, "--nginx-image", cfg.NginxImage,
		"--instance-profile-arn", cfg.InstanceProfileARN, "--execution-role-arn", cfg.ExecutionRoleARN, "--task-role-arn", cfg.TaskRoleARN,
		"--table", "no-ledger-" + name}
	spec := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(spec, []byte(`{"compute": {"instanceType": "t3.mega", "minSize": 3, "maxSize": 2}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cli(t, append(args, "--spec", spec)...)
	if code != exitFailure || out != "" || !strings.Contains(errOut, "stack apply refused before any change, 2 problems:\n  - compute.minSize 3 is greater than compute.maxSize 2") {
		t.Errorf("a bad spec: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.WriteFile(spec, []byte(`{"compute": {"instanceType": "t3.mega"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = cli(t, append(args, "--spec", spec, "--json")...)
	var res stackResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	want := []string{"compute.instanceType t3.mega is not offered", "roles.executionRoleArn: role", "roles.taskRoleArn: role", "roles.instanceProfileArn: instance profile",
		"service.imageRepository: repository " + name + " does not exist", "service.nginxImage: repository " + name + "-nginx does not exist", "ledger table no-ledger-" + name + " does not exist"}
	if code != exitFailure || len(res.Problems) != len(want) || res.Calls.Mutating != 0 || len(res.Changes) != 0 || !strings.Contains(res.Error, "refused before any change") {
		t.Errorf("an account without the stack's prerequisites: exit %d, %+v", code, res)
	}
	for i, w := range want {
		if i < len(res.Problems) && !strings.Contains(res.Problems[i], w) {
			t.Errorf("problem %d = %q, want %q", i, res.Problems[i], w)
		}
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
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
	out, errOut, code := cli(t, "stack", "destroy", "--state-machine", aws.ToString(sm.StateMachineArn), "--interval", "50ms")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"started arn:aws:states:", "TeardownService\n", "TeardownNetwork\n", "RecordSuccess\n", "execution SUCCEEDED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
