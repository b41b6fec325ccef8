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
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

const stackUsage = `usage: ecsplane stack plan|apply|destroy [flags]

  plan      list every change apply would make, without making any
  apply     create what is missing and repair what drifted, then wait until ready
  destroy   delete the stack in reverse order

The stack name, image repository and role ARNs come from flags or from
$ECSPLANE_STACK, $ECSPLANE_IMAGE_REPOSITORY, $ECSPLANE_INSTANCE_PROFILE_ARN,
$ECSPLANE_EXECUTION_ROLE_ARN and $ECSPLANE_TASK_ROLE_ARN.
`

type stackFlags struct {
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
	fs.StringVar(&f.cfg.StackName, "name", os.Getenv("ECSPLANE_STACK"), "stack name")
	fs.StringVar(&f.cfg.ImageRepository, "image-repository", os.Getenv("ECSPLANE_IMAGE_REPOSITORY"), "the app's image repository")
	fs.StringVar(&f.cfg.InstanceProfileARN, "instance-profile-arn", os.Getenv("ECSPLANE_INSTANCE_PROFILE_ARN"), "container instances' instance profile")
	fs.StringVar(&f.cfg.ExecutionRoleARN, "execution-role-arn", os.Getenv("ECSPLANE_EXECUTION_ROLE_ARN"), "task execution role")
	fs.StringVar(&f.cfg.TaskRoleARN, "task-role-arn", os.Getenv("ECSPLANE_TASK_ROLE_ARN"), "task role")
	fs.StringVar(&f.cfg.LogGroup, "log-group", os.Getenv("ECSPLANE_LOG_GROUP"), "the containers' log group (default /ecs/<name>)")
	fs.StringVar(&f.specFile, "spec", "", "JSON stack spec; fields left out take their defaults")
	fs.BoolVar(&f.asJSON, "json", false, "print the plan as JSON")
	fs.BoolVar(&f.wait, "wait", true, "apply: wait until the stack is ready")
	fs.DurationVar(&f.interval, "interval", 15*time.Second, "time between readiness checks and teardown rounds")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up waiting after this long")
	fs.StringVar(&f.table, "table", os.Getenv(tableEnv), "ledger table to record the build or teardown in (default $"+tableEnv+"; none when empty)")
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
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		return err
	}
	if f.stateMachine != "" {
		return runStateMachine(ctx, sfn.NewFromConfig(cfg), f, cmd, raw, stdout)
	}
	calls := awsclient.NewCalls()
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	h := &build.Handler{Clients: build.NewClients(cfg), Config: f.cfg, Workload: build.Workload(cfg.Region, f.cfg.LogGroup), Log: slog.New(slog.DiscardHandler)}
	spec, err := h.Spec(raw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	run := stack.NewRun(spec, cmd == "plan", "cli-"+time.Now().UTC().Format("20060102T150405.000"), nil)
	if !f.asJSON {
		run.OnChange = func(c stack.Change) { fmt.Fprintln(stdout, c) }
	}
	w, err := h.Workload(spec)
	if err != nil {
		return err
	}
	if cmd != "plan" && f.table != "" {
		// Builds are recorded like the state machine's, failures included.
		defer func() { err = errors.Join(err, record(context.WithoutCancel(ctx), cfg, f.table, cmd, run, err)) }()
	}
	switch cmd {
	case "plan":
		if _, err := build.Apply(ctx, h.Clients, run, w); err != nil {
			return err
		}
		p := run.Plan()
		if f.asJSON {
			return json.NewEncoder(stdout).Encode(p)
		}
		fmt.Fprint(stdout, summary(p))
	case "apply":
		if err := apply(ctx, h, run, w, f, stdout); err != nil {
			return err
		}
		fmt.Fprint(stdout, summary(run.Plan()))
	case "destroy":
		if err := build.DestroyAll(ctx, h.Clients, run, build.Sleep(f.interval), int(f.timeout/f.interval)+1); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "stack %s: destroyed, %d deleted\n", spec.Name, run.Plan().Count(stack.Delete))
	}
	fmt.Fprintf(stdout, "AWS calls: %d mutating, %d reads\n", awsclient.Total(calls.Mutations()), awsclient.Total(calls.Reads()))
	return nil
}

func summary(p stack.Plan) string {
	if len(p.Changes) == 0 {
		return p.String()
	}
	lines := strings.Split(strings.TrimSuffix(p.String(), "\n"), "\n")
	return lines[len(lines)-1] + "\n"
}

// apply reconciles each layer and, with -wait, runs the readiness checks
// that follow it, as the build state machine does.
func apply(ctx context.Context, h *build.Handler, run *stack.Run, w service.Workload, f *stackFlags, stdout io.Writer) error {
	l := &build.Layers{}
	for _, layer := range build.Order {
		if err := build.Step(ctx, h.Clients, run, w, layer, l); err != nil {
			return err
		}
		for _, check := range build.ChecksAfter[layer] {
			if !f.wait {
				break
			}
			if err := waitReady(ctx, h.Clients, l, check, f.interval, stdout); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "load balancer DNS name: %s\n", l.Ingress.DNSName)
	return nil
}

func waitReady(ctx context.Context, c build.Clients, l *build.Layers, check string, interval time.Duration, stdout io.Writer) error {
	for {
		st, err := build.Check(ctx, c, l, check)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ready %s: %t (%s)\n", check, st.Ready, st.Detail)
		if st.Ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", check, ctx.Err())
		case <-time.After(interval):
		}
	}
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
	seen := 0
	for {
		var events []sfntypes.HistoryEvent
		p := sfn.NewGetExecutionHistoryPaginator(api, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("reading the execution's history: %w", err)
			}
			events = append(events, page.Events...)
		}
		for _, e := range events[seen:] {
			if d := e.StateEnteredEventDetails; d != nil {
				fmt.Fprintf(stdout, "%s %s\n", aws.ToTime(e.Timestamp).Format(time.TimeOnly), aws.ToString(d.Name))
			}
		}
		seen = len(events)
		d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return fmt.Errorf("describing the execution: %w", err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			fmt.Fprintf(stdout, "execution %s\n", d.Status)
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				return fmt.Errorf("execution %s: %s: %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.interval):
		}
	}
}

// record writes the outcome of a CLI build or teardown to the ledger as an
// audit action, as the state machines' record step does.
func record(ctx context.Context, cfg aws.Config, table, cmd string, run *stack.Run, runErr error) error {
	kind, outcome := ledger.KindBuild, "SUCCEEDED"
	if cmd == "destroy" {
		kind = ledger.KindTeardown
	}
	p := run.Plan()
	a := ledger.Action{
		Subject: run.Spec.Name, Kind: kind, Action: kind, Outcome: outcome,
		Detail: map[string]string{"via": "cli", "changes": fmt.Sprintf("%d to create, %d to update, %d to delete", p.Count(stack.Create), p.Count(stack.Update), p.Count(stack.Delete))},
	}
	if runErr != nil {
		a.Outcome, a.Reason = "FAILED", runErr.Error()
	}
	if _, err := ledger.New(dynamodb.NewFromConfig(cfg), table).RecordAction(ctx, a); err != nil {
		return fmt.Errorf("recording the %s: %w", kind, err)
	}
	return nil
}
