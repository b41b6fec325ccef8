package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/stack"
)

const stackUsage = `usage: ecsplane stack plan|apply|destroy [flags]

  plan      list every change apply would make, without making any
  apply     create what is missing, repair what drifted and delete what the
            spec no longer wants, then wait until ready
  destroy   delete the stack in reverse order

The stack name, image repository, nginx image and role ARNs come from flags
or from $ECSPLANE_STACK, $ECSPLANE_IMAGE_REPOSITORY, $ECSPLANE_NGINX_IMAGE,
$ECSPLANE_INSTANCE_PROFILE_ARN, $ECSPLANE_EXECUTION_ROLE_ARN and
$ECSPLANE_TASK_ROLE_ARN. apply needs the ledger table, where the service's
lease and deployment records live.
`

type stackFlags struct {
	name         string
	cfg          build.Config
	specFile     string
	asJSON       bool
	wait         bool
	interval     time.Duration
	timeout      time.Duration
	stateMachine string
	table        string
}

func parseStack(cmd string, args []string, stderr io.Writer) (*stackFlags, error) {
	fs := flag.NewFlagSet("stack "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &stackFlags{}
	fs.StringVar(&f.name, "name", os.Getenv("ECSPLANE_STACK"), "stack name")
	fs.StringVar(&f.cfg.ImageRepository, "image-repository", os.Getenv("ECSPLANE_IMAGE_REPOSITORY"), "the app's image repository")
	fs.StringVar(&f.cfg.NginxImage, "nginx-image", os.Getenv("ECSPLANE_NGINX_IMAGE"), "the nginx sidecar's image, built from nginx/")
	fs.StringVar(&f.cfg.InstanceProfileARN, "instance-profile-arn", os.Getenv("ECSPLANE_INSTANCE_PROFILE_ARN"), "container instances' instance profile")
	fs.StringVar(&f.cfg.ExecutionRoleARN, "execution-role-arn", os.Getenv("ECSPLANE_EXECUTION_ROLE_ARN"), "task execution role")
	fs.StringVar(&f.cfg.TaskRoleARN, "task-role-arn", os.Getenv("ECSPLANE_TASK_ROLE_ARN"), "task role")
	fs.StringVar(&f.cfg.LogGroup, "log-group", os.Getenv("ECSPLANE_LOG_GROUP"), "the containers' log group (default /ecs/<name>)")
	fs.StringVar(&f.cfg.DNSNameParameter, "dns-name-parameter", os.Getenv("ECSPLANE_DNS_NAME_PARAMETER"), "SSM parameter to publish the load balancer's DNS name to (none when empty)")
	fs.StringVar(&f.specFile, "spec", "", "JSON stack spec; fields left out take their defaults")
	fs.BoolVar(&f.asJSON, "json", false, "print the plan as JSON")
	fs.BoolVar(&f.wait, "wait", true, "apply: wait until the stack is ready and its deployment has ECS's verdict")
	fs.DurationVar(&f.interval, "interval", 15*time.Second, "time between readiness checks and teardown rounds")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up waiting after this long")
	fs.StringVar(&f.table, "table", os.Getenv(tableEnv), "ledger table: the service's lease and deployment records, and where builds and teardowns are recorded (default $"+tableEnv+")")
	fs.StringVar(&f.stateMachine, "state-machine", "", "start this deployed build (or teardown) state machine instead of running the reconcilers here")
	fs.Usage = func() {
		fmt.Fprint(stderr, stackUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 || f.interval <= 0 || f.timeout <= 0 {
		fs.Usage()
		return nil, errUsage
	}
	return f, nil
}

// runStack runs `ecsplane stack plan|apply|destroy`.
func runStack(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 || (args[0] != "plan" && args[0] != "apply" && args[0] != "destroy") {
		fmt.Fprint(stderr, stackUsage)
		return errUsage
	}
	cmd := args[0]
	f, err := parseStack(cmd, args[1:], stderr)
	if err != nil {
		return err
	}
	var raw []byte
	if f.specFile != "" {
		if raw, err = os.ReadFile(f.specFile); err != nil {
			return fmt.Errorf("reading the spec: %w", err)
		}
	}
	cfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	if f.stateMachine != "" {
		return runStateMachine(ctx, sfn.NewFromConfig(cfg), f, cmd, raw, stdout)
	}
	spec, err := stackSpec(cmd, raw, f)
	if err != nil {
		return err
	}
	if cmd == "apply" && f.table == "" {
		return fmt.Errorf("stack apply needs the ledger table (-table or $%s): the service's lease and deployment records live there", tableEnv)
	}
	var led *ledger.Ledger
	if f.table != "" {
		led = ledger.New(dynamodb.NewFromConfig(cfg), f.table)
	}
	calls := awsclient.NewCalls()
	counted := cfg.Copy()
	counted.APIOptions = append(counted.APIOptions, calls.Middleware())
	clients := build.NewClients(counted, build.Options{DNSNameParameter: f.cfg.DNSNameParameter, Ledger: led})
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	token := "cli-" + time.Now().UTC().Format("20060102T150405.000")
	if cmd != "destroy" {
		// Nothing is changed, nor recorded, unless the preflight checks
		// pass: a build that would fail on something it does not create
		// fails here.
		dry, report, err := build.Preflight(ctx, clients, spec, f.table, token, nil)
		if err != nil {
			return err
		}
		if cmd == "plan" {
			p := dry.Plan()
			if f.asJSON {
				return json.NewEncoder(stdout).Encode(p)
			}
			fmt.Fprint(stdout, p)
			fmt.Fprintf(stdout, "preflight: %d checks passed%s\n", len(report.Checked), skipped(report.Skipped))
			fmt.Fprintf(stdout, "AWS calls: %d mutating, %d reads\n", awsclient.Total(calls.Mutations()), awsclient.Total(calls.Reads()))
			return nil
		}
	}
	run := stack.NewRun(spec, false, token, nil)
	if !f.asJSON {
		run.OnChange = func(c stack.Change) { fmt.Fprintln(stdout, c) }
	}
	if led != nil {
		// Builds are recorded like the state machine's, failures included.
		defer func() { err = errors.Join(err, record(context.WithoutCancel(ctx), led, cmd, run, err)) }()
	}
	switch cmd {
	case "apply":
		if err := apply(ctx, clients, run, f, stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "stack %s: %s\n", spec.Name, run.Plan().Summary())
	case "destroy":
		if err := build.DestroyAll(ctx, clients, run, build.Sleep(f.interval), int(f.timeout/f.interval)+1); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "stack %s: destroyed, %d deleted\n", spec.Name, run.Plan().Count(stack.Delete))
	}
	fmt.Fprintf(stdout, "AWS calls: %d mutating, %d reads\n", awsclient.Total(calls.Mutations()), awsclient.Total(calls.Reads()))
	return nil
}

// stackSpec is the spec a command works on: the resolved spec to plan or
// apply, or for destroy just the stack's name, so that nothing else in a
// spec can block a teardown.
func stackSpec(cmd string, raw []byte, f *stackFlags) (stack.Spec, error) {
	if cmd != "destroy" {
		return build.Resolve(raw, f.name, f.cfg)
	}
	if len(raw) == 0 {
		raw, _ = json.Marshal(map[string]string{"name": f.name})
	}
	return stack.Identify(raw)
}

// apply reconciles each layer and, with -wait, runs the readiness checks
// that follow it, as the build state machine does.
func apply(ctx context.Context, c build.Clients, run *stack.Run, f *stackFlags, stdout io.Writer) error {
	var wait build.Wait
	if f.wait {
		wait = func(ctx context.Context, _ *stack.Outputs, check string, st stack.Status, _ int) error {
			fmt.Fprintf(stdout, "waiting for %s: %s\n", check, st.Detail)
			return build.Sleep(f.interval)(ctx)
		}
	}
	o, err := build.Converge(ctx, c, run, wait)
	if err != nil {
		return err
	}
	if d := o.Service.Deployment; d != nil && !f.wait {
		fmt.Fprintf(stdout, "deployment %s of %s started; without -wait its verdict is not awaited and its lease runs out by itself\n", d.ID, d.TaskDefinition)
	}
	fmt.Fprintf(stdout, "load balancer DNS name: %s\n", o.Ingress.DNSName)
	return nil
}

// runStateMachine starts the deployed state machine and prints each state
// as the execution enters it, until the execution ends.
func runStateMachine(ctx context.Context, api *sfn.Client, f *stackFlags, cmd string, raw []byte, stdout io.Writer) error {
	if cmd == "plan" {
		return errors.New("plan runs here only; the state machines build or tear down")
	}
	input := `{}`
	if len(raw) > 0 {
		b, err := json.Marshal(map[string]json.RawMessage{"spec": raw})
		if err != nil {
			return fmt.Errorf("the spec is not JSON: %w", err)
		}
		input = string(b)
	}
	start, err := api.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(f.stateMachine), Input: aws.String(input),
		Name: aws.String("cli-" + cmd + "-" + time.Now().UTC().Format("20060102T150405")),
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", f.stateMachine, err)
	}
	arn := aws.ToString(start.ExecutionArn)
	fmt.Fprintf(stdout, "started %s\n", arn)
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	d, err := execution.Wait(ctx, api, arn, f.interval, func(e sfntypes.HistoryEvent) {
		if s := e.StateEnteredEventDetails; s != nil {
			fmt.Fprintf(stdout, "%s %s\n", aws.ToTime(e.Timestamp).Format(time.TimeOnly), aws.ToString(s.Name))
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "execution %s\n", d.Status)
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		return fmt.Errorf("execution %s: %s: %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	return nil
}

// record writes the outcome of a CLI build or teardown to the ledger
// through the record function's own handler, as the state machines' record
// step does.
func record(ctx context.Context, led *ledger.Ledger, cmd string, run *stack.Run, runErr error) error {
	kind := ledger.KindBuild
	if cmd == "destroy" {
		kind = ledger.KindTeardown
	}
	req := ledger.RecordRequest{
		Subject: run.Spec.Name, Kind: kind, Action: kind, Outcome: "SUCCEEDED",
		Detail: map[string]string{"via": "cli", "changes": run.Plan().Summary()},
	}
	if runErr != nil {
		req.Outcome, req.Reason = "FAILED", runErr.Error()
	}
	h := &ledger.RecordHandler{Ledger: led, Stack: run.Spec.Name, Log: slog.New(slog.DiscardHandler)}
	if _, err := h.Record(ctx, req); err != nil {
		return fmt.Errorf("recording the %s: %w", kind, err)
	}
	return nil
}

// skipped renders the checks preflight could not run, if any.
func skipped(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return "; not checked: " + strings.Join(s, "; ")
}
