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
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/preflight"
	"github.com/ecsplane/ecsplane/internal/stack"
)

const stackUsage = `usage: ecsplane stack plan|apply|destroy [flags]

  plan      run the preflight checks and list every change apply would make,
            without making any
  apply     run the preflight checks, then create what is missing, repair
            what drifted and delete what the spec no longer wants, then wait
            until the stack is ready
  destroy   delete the stack in reverse order

Run 'ecsplane stack <plan|apply|destroy> --help' for the flags.

exit codes: 0 success, 1 failure, 2 usage (a bad flag or argument, a missing setting)
`

var stackCommands = map[string]command{
	"plan": {
		name: "stack plan",
		about: "Run the preflight checks (zones, instance type offerings, roles, images, the\n" +
			"ledger when --table is set) and list every change apply would make, without\n" +
			"making any. Every problem is listed at once.",
		json: "print one JSON object: the stack, its changes, the preflight report and the AWS calls made",
	},
	"apply": {
		name: "stack apply",
		about: "Run the preflight checks, then create what is missing, repair what drifted and\n" +
			"delete what the spec no longer wants, printing each change, then wait until the\n" +
			"stack is ready. A check that waits long says what it waits for and why it might\n" +
			"not happen; --timeout ends the wait. Nothing is changed, nor recorded, when a\n" +
			"check fails. Needs the ledger table: the service's lease and deployment records\n" +
			"live there, and the build is recorded there.",
		json: "print one JSON object at the end, changes made and outcome included (progress goes to stderr)",
	},
	"destroy": {
		name: "stack destroy",
		about: "Delete the stack in reverse order, waiting while AWS releases what depends on\n" +
			"what is deleted. Needs only the stack's name; recorded in the ledger when\n" +
			"--table is set.",
		json: "print one JSON object at the end, the deletions included (progress goes to stderr)",
	},
}

// stackFlags is a stack command's command line, parsed.
type stackFlags struct {
	cmd          command
	sub          string
	name         setting
	table        setting
	region       setting
	cfg          build.Config
	required     []setting
	specFile     string
	asJSON       bool
	wait         bool
	interval     time.Duration
	timeout      time.Duration
	stateMachine string
}

// flagSet registers the stack commands' flags.
func (f *stackFlags) flagSet() (*flag.FlagSet, map[string]setting) {
	c := &f.cmd
	fs := c.flags()
	f.name = c.setting(fs, setting{flag: "name", env: "ECSPLANE_STACK", what: "the stack's name"})
	f.table = c.setting(fs, tableSetting)
	f.region = c.setting(fs, regionSetting)
	s := map[string]setting{}
	for _, st := range []setting{
		{flag: "image-repository", env: "ECSPLANE_IMAGE_REPOSITORY", what: "the app's image repository"},
		{flag: "nginx-image", env: "ECSPLANE_NGINX_IMAGE", what: "the nginx sidecar's image, built from nginx/"},
		{flag: "instance-profile-arn", env: "ECSPLANE_INSTANCE_PROFILE_ARN", what: "the container instances' instance profile"},
		{flag: "execution-role-arn", env: "ECSPLANE_EXECUTION_ROLE_ARN", what: "the task execution role"},
		{flag: "task-role-arn", env: "ECSPLANE_TASK_ROLE_ARN", what: "the task role"},
	} {
		s[st.flag] = c.setting(fs, st)
		f.required = append(f.required, s[st.flag])
	}
	s["log-group"] = c.setting(fs, setting{flag: "log-group", env: "ECSPLANE_LOG_GROUP", what: "the containers' log group, which the build creates (default /ecs/<name>)"})
	s["dns-name-parameter"] = c.setting(fs, setting{flag: "dns-name-parameter", env: "ECSPLANE_DNS_NAME_PARAMETER", what: "an SSM parameter to publish the load balancer's DNS name to (none when empty)"})
	fs.StringVar(&f.specFile, "spec", "", "JSON stack spec; fields left out take their defaults")
	fs.BoolVar(&f.wait, "wait", true, "apply: wait until the stack is ready and its deployment has ECS's verdict")
	fs.DurationVar(&f.interval, "interval", 15*time.Second, "time between readiness checks and teardown rounds")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long, with what is still awaited and why")
	fs.StringVar(&f.stateMachine, "state-machine", "", "start this deployed build (or teardown) state machine instead of running the reconcilers here")
	return fs, s
}

func parseStack(sub string, args []string, stdout io.Writer) (*stackFlags, error) {
	f := &stackFlags{cmd: stackCommands[sub], sub: sub}
	c := &f.cmd
	fs, s := f.flagSet()
	positional, err := c.parse(fs, args, stdout)
	if err != nil {
		return nil, err
	}
	switch {
	case len(positional) > 0:
		return nil, usagef(c.name, "unexpected argument %q: the stack's name is --name", positional[0])
	case f.interval <= 0:
		return nil, usagef(c.name, "--interval must be positive, got %s", f.interval)
	case f.timeout <= 0:
		return nil, usagef(c.name, "--timeout must be positive, got %s", f.timeout)
	case f.stateMachine != "" && sub == "plan":
		return nil, usagef(c.name, "--state-machine: plan runs here only; the state machines build or tear down")
	}
	f.asJSON = c.asJSON(fs)
	f.cfg.ImageRepository, f.cfg.NginxImage, f.cfg.InstanceProfileARN = *s["image-repository"].value, *s["nginx-image"].value, *s["instance-profile-arn"].value
	f.cfg.ExecutionRoleARN, f.cfg.TaskRoleARN = *s["execution-role-arn"].value, *s["task-role-arn"].value
	f.cfg.LogGroup, f.cfg.DNSNameParameter = *s["log-group"].value, *s["dns-name-parameter"].value
	return f, nil
}

// missing returns a usage error naming the settings that neither a flag,
// nor its variable, nor the spec gives.
func (f *stackFlags) missing(spec stack.Spec) error {
	given := map[string]string{
		"name": spec.Name, "image-repository": spec.Service.ImageRepository, "nginx-image": spec.Service.NginxImage,
		"instance-profile-arn": spec.Roles.InstanceProfileARN, "execution-role-arn": spec.Roles.ExecutionRoleARN, "task-role-arn": spec.Roles.TaskRoleARN,
	}
	var need []setting
	for _, s := range append([]setting{f.name}, f.required...) {
		if f.sub == "destroy" && s.flag != "name" {
			continue
		}
		if *s.value == "" && given[s.flag] == "" {
			need = append(need, s)
		}
	}
	if f.sub == "apply" {
		need = append(need, f.table)
	}
	return f.cmd.require(need...)
}

// stackResult is what --json prints for plan, apply and destroy.
type stackResult struct {
	Stack      string            `json:"stack"`
	Command    string            `json:"command"`
	DryRun     bool              `json:"dryRun"`
	Changes    []stack.Change    `json:"changes"`
	Summary    string            `json:"summary"`
	Preflight  *preflight.Report `json:"preflight,omitempty"`
	DNSName    string            `json:"dnsName,omitempty"`
	Deployment *stack.Deployment `json:"deployment,omitempty"`
	Calls      callCount         `json:"calls"`
	// Error is why the command failed, and Problems, for a spec or an
	// account that preflight refused, what to fix.
	Error    string   `json:"error,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

type callCount struct {
	Mutating int `json:"mutating"`
	Reads    int `json:"reads"`
}

// runStack runs `ecsplane stack plan|apply|destroy`.
func runStack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, stackUsage)
		return usagef("stack", "missing the subcommand: plan, apply or destroy")
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, stackUsage)
		f := &stackFlags{cmd: command{name: "stack"}}
		fs, _ := f.flagSet()
		fmt.Fprintln(stdout, "\nflags of all three (--wait is apply's):")
		f.cmd.printFlags(stdout, fs)
		return nil
	case "plan", "apply", "destroy":
	default:
		return usagef("stack", "unknown subcommand %q: want plan, apply or destroy", sub)
	}
	f, err := parseStack(sub, args[1:], stdout)
	if err != nil {
		return err
	}
	var raw []byte
	if f.specFile != "" {
		if raw, err = os.ReadFile(f.specFile); err != nil {
			return usagef(f.cmd.name, "--spec: %v", err)
		}
	}
	if f.stateMachine == "" {
		given, err := stack.Decode(raw)
		if err != nil {
			return refused(f.cmd.name, err)
		}
		if err := f.missing(given); err != nil {
			return err
		}
	}
	cfg, err := f.cmd.loadAWS(ctx, f.region)
	if err != nil {
		return err
	}
	if f.stateMachine != "" {
		return runStateMachine(ctx, sfn.NewFromConfig(cfg), f, raw, stdout)
	}
	spec, err := stackSpec(f, raw)
	if err != nil {
		return refused(f.cmd.name, err)
	}
	calls := awsclient.NewCalls()
	counted := cfg.Copy()
	counted.APIOptions = append(counted.APIOptions, calls.Middleware())
	// The calls counted are the stack's services' and the checks'; the
	// ledger's writes (the lease, the records) are not.
	var led *ledger.Ledger
	if t := *f.table.value; t != "" {
		led = ledger.New(dynamodb.NewFromConfig(cfg), t)
	}
	clients := build.NewClients(counted, build.Options{DNSNameParameter: f.cfg.DNSNameParameter, Ledger: led})
	res := &stackResult{Stack: spec.Name, Command: f.sub, DryRun: f.sub == "plan", Changes: []stack.Change{}}
	progress := stdout
	if f.asJSON {
		progress = stderr
	}
	err = runStackCommand(ctx, f, clients, led, spec, res, progress)
	res.Calls = callCount{Mutating: awsclient.Total(calls.Mutations()), Reads: awsclient.Total(calls.Reads())}
	var inv *handlererr.InvalidInputError
	if errors.As(err, &inv) {
		res.Problems = inv.Problems
		err = refused(f.cmd.name, err)
	}
	if err != nil {
		res.Error = err.Error()
	}
	if f.asJSON {
		if jerr := json.NewEncoder(stdout).Encode(res); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	if err == nil {
		fmt.Fprintf(stdout, "AWS calls: %d mutating, %d reads\n", res.Calls.Mutating, res.Calls.Reads)
	}
	return err
}

// refused explains a spec or an account that the checks refused: every
// problem, one per line, and that nothing was changed.
func refused(cmd string, err error) error {
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) {
		return err
	}
	return fmt.Errorf("%s refused before any change, %d problems:\n  - %s", cmd, len(inv.Problems), strings.Join(inv.Problems, "\n  - "))
}

func runStackCommand(ctx context.Context, f *stackFlags, clients build.Clients, led *ledger.Ledger, spec stack.Spec, res *stackResult, progress io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	token := "cli-" + time.Now().UTC().Format("20060102T150405.000")
	if f.sub != "destroy" {
		// Nothing is changed, nor recorded, unless the preflight checks
		// pass: a build that would fail on something it does not create
		// fails here.
		dry, report, err := build.Preflight(ctx, clients, spec, *f.table.value, token, nil)
		res.Preflight = &report
		if err != nil {
			return err
		}
		if f.sub == "plan" {
			p := dry.Plan()
			res.Changes, res.Summary = p.Changes, p.Summary()
			if !f.asJSON {
				fmt.Fprint(progress, p)
				fmt.Fprintf(progress, "preflight: %d checks passed%s\n", len(report.Checked), skipped(report.Skipped))
			}
			return nil
		}
		if !f.asJSON {
			fmt.Fprintf(progress, "preflight: %d checks passed%s\n", len(report.Checked), skipped(report.Skipped))
		}
	}
	run := stack.NewRun(spec, false, token, nil)
	run.OnChange = func(c stack.Change) { fmt.Fprintln(progress, c) }
	defer func() {
		p := run.Plan()
		res.Changes, res.Summary = p.Changes, p.Summary()
	}()
	if led != nil {
		// Builds are recorded like the state machine's, failures included.
		defer func() { err = errors.Join(err, record(context.WithoutCancel(ctx), led, f.sub, run, err)) }()
	}
	if f.sub == "destroy" {
		if err := build.DestroyAll(ctx, clients, run, build.Sleep(f.interval), int(f.timeout/f.interval)+1); err != nil {
			return timedOut(ctx, f, "", stack.Status{}, err)
		}
		if !f.asJSON {
			fmt.Fprintf(progress, "stack %s: destroyed, %d deleted\n", spec.Name, run.Plan().Count(stack.Delete))
		}
		return nil
	}
	return apply(ctx, clients, run, f, res, progress)
}

// skipped renders the checks preflight could not run, if any.
func skipped(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return "; not checked: " + strings.Join(s, "; ")
}

// stackSpec is the spec a command works on: the resolved spec to plan or
// apply, or for destroy just the stack's name, so that nothing else in a
// spec can block a teardown.
func stackSpec(f *stackFlags, raw []byte) (stack.Spec, error) {
	if f.sub != "destroy" {
		return build.Resolve(raw, *f.name.value, f.cfg)
	}
	if len(raw) == 0 {
		raw, _ = json.Marshal(map[string]string{"name": *f.name.value})
	}
	return stack.Identify(raw)
}

// hintRound is the round of a readiness check's wait after which the wait
// says why it might never end: a minute at the default interval.
const hintRound = 4

// apply reconciles each layer and, with --wait, runs the readiness checks
// that follow it, as the build state machine does. A check that has waited
// hintRound rounds says what it waits for and why that might not happen;
// at --timeout the error says the same.
func apply(ctx context.Context, c build.Clients, run *stack.Run, f *stackFlags, res *stackResult, progress io.Writer) error {
	var (
		wait      build.Wait
		lastCheck string
		last      stack.Status
	)
	if f.wait {
		wait = func(ctx context.Context, _ *stack.Outputs, check string, st stack.Status, round int) error {
			lastCheck, last = check, st
			fmt.Fprintf(progress, "waiting for %s: %s\n", check, st.Detail)
			if round == hintRound && st.Why != "" {
				fmt.Fprintf(progress, "  still waiting for %s after %s: %s\n", check, time.Duration(round)*f.interval, st.Why)
			}
			return build.Sleep(f.interval)(ctx)
		}
	}
	o, err := build.Converge(ctx, c, run, wait)
	if err != nil {
		return timedOut(ctx, f, lastCheck, last, err)
	}
	res.DNSName, res.Deployment = o.Ingress.DNSName, o.Service.Deployment
	if f.asJSON {
		return nil
	}
	if d := o.Service.Deployment; d != nil && !f.wait {
		fmt.Fprintf(progress, "deployment %s of %s started; without --wait its verdict is not awaited and its lease runs out by itself\n", d.ID, d.TaskDefinition)
	}
	fmt.Fprintf(progress, "load balancer DNS name: %s\n", o.Ingress.DNSName)
	fmt.Fprintf(progress, "stack %s: %s\n", run.Spec.Name, run.Plan().Summary())
	return nil
}

// timedOut turns a run that --timeout ended into an error that says so,
// with what it was waiting for and why that might not have happened.
func timedOut(ctx context.Context, f *stackFlags, check string, st stack.Status, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	msg := fmt.Sprintf("gave up after %s (--timeout)", f.timeout)
	if check != "" {
		msg += fmt.Sprintf(" waiting for %s: %s", check, st.Detail)
		if st.Why != "" {
			msg += "; " + st.Why
		}
	}
	return fmt.Errorf("%s. What was done stays; running %s again goes on from there", msg, f.cmd.name)
}

// runStateMachine starts the deployed state machine and prints each state
// as the execution enters it, until the execution ends.
func runStateMachine(ctx context.Context, api *sfn.Client, f *stackFlags, raw []byte, stdout io.Writer) error {
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
		Name: aws.String("cli-" + f.sub + "-" + time.Now().UTC().Format("20060102T150405")),
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", f.stateMachine, err)
	}
	arn := aws.ToString(start.ExecutionArn)
	out := stdout
	if f.asJSON {
		out = io.Discard
	}
	fmt.Fprintf(out, "started %s\n", arn)
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	d, err := execution.Wait(ctx, api, arn, f.interval, func(e sfntypes.HistoryEvent) {
		if s := e.StateEnteredEventDetails; s != nil {
			fmt.Fprintf(out, "%s %s\n", aws.ToTime(e.Timestamp).Format(time.TimeOnly), aws.ToString(s.Name))
		}
	})
	if err != nil {
		return timedOut(ctx, f, "", stack.Status{}, err)
	}
	if f.asJSON {
		if err := json.NewEncoder(stdout).Encode(map[string]string{
			"executionArn": arn, "status": string(d.Status), "error": aws.ToString(d.Error), "cause": aws.ToString(d.Cause),
		}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "execution %s\n", d.Status)
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
