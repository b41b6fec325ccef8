package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/config"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// InjectedFailure is a failure a test scripts into a step; the state
// machine sees its type's name, which no Retry matches.
type InjectedFailure struct{ Step rollout.Step }

func (e *InjectedFailure) Error() string { return "failure injected into " + string(e.Step) }

// failing makes the rollout function fail the given steps.
func failing(steps ...rollout.Step) func(rolloutStep) rolloutStep {
	return func(real rolloutStep) rolloutStep {
		return func(ctx context.Context, in rollout.Invocation) (any, error) {
			if slices.Contains(steps, in.Step) {
				return nil, &InjectedFailure{Step: in.Step}
			}
			return real(ctx, in)
		}
	}
}

// failingOnce makes the rollout function fail the first call of step
// only: PollEcs's, when step is the poll that PollRollback also runs.
func failingOnce(step rollout.Step) func(rolloutStep) rolloutStep {
	var failed atomic.Bool
	return func(real rolloutStep) rolloutStep {
		return func(ctx context.Context, in rollout.Invocation) (any, error) {
			if in.Step == step && failed.CompareAndSwap(false, true) {
				return nil, &InjectedFailure{Step: in.Step}
			}
			return real(ctx, in)
		}
	}
}

// ended waits for the record of an execution to end, as its own Finish
// or the cleanup function ends it, and for the lease to be released.
func (w *world) ended(execution string) *ledger.Deployment {
	w.t.Helper()
	var rec *ledger.Deployment
	w.waitFor("the record of "+execution+" to end", func() bool {
		rec = w.recordNow(execution)
		return rec != nil && rec.Status.Terminal()
	})
	w.waitFor("the lease's release", func() bool { return w.leaseHolder() != execution })
	return rec
}

// TestFailureAtEachTaskState fails each Task state of the rollout machine
// in turn: every run ends with a terminal record, the verdict the failure
// and ECS's state call for, and the lease released.
func TestFailureAtEachTaskState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		steps []rollout.Step
		opts  worldOptions
		// bad pushes an image that fails its pulls; alarm fires a bake
		// alarm; once fails only the first call of the step.
		bad, alarm, once bool
		status           ledger.Status
		step             string
		reason           string
		// previous is set when the service must run its previous image
		// at the end.
		previous bool
	}{
		{name: "prepare", steps: []rollout.Step{rollout.StepPrepare}, status: ledger.StatusFailed, step: service.StepPrepare, reason: "InjectedFailure", previous: true},
		{name: "deploy", steps: []rollout.Step{rollout.StepDeploy}, status: ledger.StatusFailed, step: service.StepDeploy, reason: "no rollback: the service was not changed", previous: true},
		{name: "poll", steps: []rollout.Step{rollout.StepPoll}, once: true, opts: worldOptions{NoECSEvents: true, Params: map[string]string{"RolloutEcsWaitSeconds": "2"}},
			status: ledger.StatusRolledBack, reason: "step deploy failed: InjectedFailure", previous: true},
		{name: "watch-ecs-rollback", steps: []rollout.Step{rollout.StepWatchECSRollback}, bad: true, status: ledger.StatusRolledBackByECS, reason: "task failed to start", previous: true},
		{name: "bake", steps: []rollout.Step{rollout.StepBake}, status: ledger.StatusRolledBack, reason: "step bake failed: InjectedFailure", previous: true},
		{name: "rollback", steps: []rollout.Step{rollout.StepRollback}, alarm: true, opts: worldOptions{Params: map[string]string{"RolloutBakeSeconds": "40"}},
			status: ledger.StatusFailed, step: service.StepRollback, reason: "InjectedFailure"},
		{name: "finish", steps: []rollout.Step{rollout.StepFinish}, status: ledger.StatusFailed, reason: "FinishFailed", previous: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.opts)
			if tc.once {
				w.script(failingOnce(tc.steps[0]))
			} else {
				w.script(failing(tc.steps...))
			}
			digest := w.push("v3.0.0")
			if tc.bad {
				w.sim.FailImage(w.image(digest), sim.ImagePullFails)
			}
			arn := w.started()
			if tc.alarm {
				w.alarmDuringBake(arn, "a test of the rollback")
			}
			ex := w.wait(arn)
			rec := w.ended(arn)
			if rec.Status != tc.status || rec.FailedStep != tc.step || !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("record %s (step %q): %s; want %s (step %q) with %q; timeline %v", rec.Status, rec.FailedStep, rec.Reason, tc.status, tc.step, tc.reason, phases(rec))
			}
			if ex.Status != sfntypes.ExecutionStatusFailed {
				t.Errorf("execution %s, want FAILED", ex.Status)
			}
			if tc.previous {
				w.runsOnly(w.spec.Image())
			}
		})
	}
}

// TestStoppedFromOutside stops a rollout's execution at each phase, as
// the console or a timeout would: the cleanup function, which the
// execution's ABORTED status change invokes, ends the record ABORTED,
// returns the service to its previous image when the rollout changed it,
// and releases the lease the rollout held (and no other).
func TestStoppedFromOutside(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		at    ledger.Status
		phase ledger.PhaseName
		bake  string
		alarm bool
		// reason is what the record says; in "deploying", ECS may have
		// finished the deployment by the time the cleanup reads it, and the
		// cleanup then returns the service itself: either is right, as long
		// as the service runs its previous image.
		reason string
		or     string
	}{
		{name: "waiting for the lease", at: ledger.StatusPending, phase: ledger.PhaseWaitingForLease, reason: "the service was not changed"},
		{name: "deploying", at: ledger.StatusInProgress, phase: ledger.PhaseUpdateSent, reason: "ECS rolls the service back", or: "returned the service to"},
		{name: "baking", at: ledger.StatusBaking, bake: "60", reason: "returned the service to"},
		{name: "rolling back", at: ledger.StatusRollingBack, bake: "60", alarm: true, reason: "rollback to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := worldOptions{}
			if tc.bake != "" {
				opts.Params = map[string]string{"RolloutBakeSeconds": tc.bake}
			}
			w := newWorld(t, opts)
			ctx := context.Background()
			var other *ledger.Lease
			if tc.phase == ledger.PhaseWaitingForLease {
				var err error
				if other, err = w.ledger.Acquire(ctx, w.name, ledger.ScopeRevision, "another-deployment", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			w.push("v4.0.0")
			arn := w.started()
			if tc.alarm {
				w.alarmDuringBake(arn, "a test of the stop")
			}
			w.waitFor(fmt.Sprintf("%s with %s", tc.at, tc.phase), func() bool {
				rec := w.recordNow(arn)
				return rec != nil && rec.Status == tc.at && (tc.phase == "" || rec.Reached(tc.phase))
			})
			if _, err := sfn.NewFromConfig(w.env.Config).StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Error: aws.String("Stopped"), Cause: aws.String("a test stops it")}); err != nil {
				t.Fatal(err)
			}
			rec := w.ended(arn)
			said := strings.Contains(rec.Reason, tc.reason) || (tc.or != "" && strings.Contains(rec.Reason, tc.or))
			if rec.Status != ledger.StatusAborted || !strings.Contains(rec.Reason, "stopped from outside") || !said {
				t.Errorf("record %s: %s; want ABORTED with %q", rec.Status, rec.Reason, tc.reason)
			}
			if other != nil {
				if h := w.leaseHolder(); h != "another-deployment" {
					t.Errorf("the lease is held by %q, want the other deployment's, untouched", h)
				}
				return
			}
			w.runsOnly(w.spec.Image())
		})
	}
}

// rolloutConfig is the rollout function's configuration in the world.
func (w *world) rolloutConfig() rollout.Config {
	w.t.Helper()
	var cfg rollout.Config
	for _, f := range w.app.Functions {
		if f.LogicalID == "RolloutFunction" {
			if err := config.Load(&cfg, func(k string) (string, bool) { v, ok := f.Environment[k]; return v, ok }); err != nil {
				w.t.Fatal(err)
			}
		}
	}
	return cfg
}

// serveRollout serves the rollout function with a handler built as the
// registry builds it, its Step Functions calls counted by calls, and with
// the middleware ecsMW on its ECS client and ddbMW on its ledger's.
func (w *world) serveRollout(calls *awsclient.Calls, ecsMW, ddbMW func(*middleware.Stack) error) {
	w.t.Helper()
	cfg := w.rolloutConfig()
	motoCfg := w.motoCfg.Copy()
	motoCfg.APIOptions = append(motoCfg.APIOptions, calls.Middleware())
	with := func(mw func(*middleware.Stack) error) []func(*middleware.Stack) error {
		if mw == nil {
			return nil
		}
		return []func(*middleware.Stack) error{mw}
	}
	h := &rollout.Handler{
		Clients: rollout.Clients{
			ECS:        ecs.NewFromConfig(w.simCfg, func(o *ecs.Options) { o.APIOptions = append(o.APIOptions, with(ecsMW)...) }),
			CloudWatch: service.NewCloudWatch(w.simCfg), SFN: sfn.NewFromConfig(motoCfg),
			Ledger: ledger.New(dynamodb.NewFromConfig(w.motoCfg, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, with(ddbMW)...) }), cfg.TableName),
		},
		Config: cfg, Stack: w.name, Region: local.Region, Log: w.logger(),
	}
	w.sf.Gateway.Register(w.fn("RolloutFunction"), h.Handle)
}

// TestAbortedWhileTheUpdateIsSent aborts a rollout between the deploy
// step's last look at its record and its UpdateService, as an abort racing
// the step does: the step finds its record ended when it records the
// update, undoes the update, and the service runs its previous image.
func TestAbortedWhileTheUpdateIsSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var aborted atomic.Bool
	abort := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("abortFirst", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*ecs.UpdateServiceInput); ok && aborted.CompareAndSwap(false, true) {
				rec, _, err := rollout.Running(ctx, w.ledger, w.name)
				if err != nil || rec == nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("no rollout to abort: %v", err)
				}
				if _, err := rollout.Abandon(ctx, ecs.NewFromConfig(w.sim.Config()), w.ledger, w.name, rec, ledger.StatusAborted, "aborted by a test"); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	}
	w.serveRollout(awsclient.NewCalls(), abort, nil)
	w.push("v8.0.0")
	arn := w.started()
	w.wait(arn)
	rec := w.ended(arn)
	if !aborted.Load() || rec.Status != ledger.StatusAborted || !strings.Contains(rec.Reason, "aborted by a test") {
		t.Fatalf("record %s: %s (aborted: %t)", rec.Status, rec.Reason, aborted.Load())
	}
	w.runsOnly(w.spec.Image())
	if n := w.calls.Mutations()["ECS:UpdateService"]; n != 2 {
		t.Errorf("%d updates of the service, want the step's and its undo", n)
	}
}

// TestAbortedOnAStaleReading aborts a rollout with a record read before
// the deploy step registered its revision, once the step's update has
// reached ECS and its record: the abort must not end the record on what it
// read first ("the service was not changed") and leave the update in
// place. It looks again, stops the deployment, and the service returns to
// its previous revision.
func TestAbortedOnAStaleReading(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var stale atomic.Pointer[ledger.Deployment]
	read := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("readEarly", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*ecs.RegisterTaskDefinitionInput); ok && stale.Load() == nil {
				rec, _, err := rollout.Running(ctx, w.ledger, w.name)
				if err != nil || rec == nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("no rollout to read: %v", err)
				}
				stale.Store(rec)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	}
	var aborted atomic.Bool
	abort := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("abortAfterRecord", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if up, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok && err == nil && up.ExpressionAttributeValues[":ecs_deployment_id"] != nil && stale.Load() != nil && aborted.CompareAndSwap(false, true) {
				if _, aerr := rollout.Abandon(ctx, ecs.NewFromConfig(w.sim.Config()), w.ledger, w.name, stale.Load(), ledger.StatusAborted, "aborted by a test"); aerr != nil {
					return out, md, aerr
				}
			}
			return out, md, err
		}), middleware.After)
	}
	w.serveRollout(awsclient.NewCalls(), read, abort)
	w.push("v8.2.0")
	arn := w.started()
	w.wait(arn)
	rec := w.ended(arn)
	if s := stale.Load(); !aborted.Load() || s.NewTaskDef != "" || rec.Status != ledger.StatusAborted || !strings.Contains(rec.Reason, "ECS deployment") {
		t.Fatalf("record %s: %s (aborted: %t, on a reading with revision %q)", rec.Status, rec.Reason, aborted.Load(), s.NewTaskDef)
	}
	out, err := ecs.NewFromConfig(w.sim.Config()).DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(w.name), Services: []string{w.name}})
	if err != nil || len(out.Services) != 1 || aws.ToString(out.Services[0].TaskDefinition) != rec.PreviousTaskDef {
		t.Fatalf("the service's revision after the abort: %v %+v, want %s", err, out, rec.PreviousTaskDef)
	}
	w.runsOnly(w.spec.Image())
}

// TestAbortedOnceTheUpdateIsSent aborts a rollout after the deploy step's
// UpdateService has reached ECS and before the step records it: the abort
// finds the service on the new revision, returns it and says so; the step
// then finds its record ended and undoes its update too. The service runs
// its previous image.
func TestAbortedOnceTheUpdateIsSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var aborted atomic.Bool
	abort := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("abortAfter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if _, ok := in.Parameters.(*ecs.UpdateServiceInput); ok && err == nil && aborted.CompareAndSwap(false, true) {
				rec, _, rerr := rollout.Running(ctx, w.ledger, w.name)
				if rerr != nil || rec == nil {
					return out, md, fmt.Errorf("no rollout to abort: %v", rerr)
				}
				if _, rerr := rollout.Abandon(ctx, ecs.NewFromConfig(w.sim.Config()), w.ledger, w.name, rec, ledger.StatusAborted, "aborted by a test"); rerr != nil {
					return out, md, rerr
				}
			}
			return out, md, err
		}), middleware.After)
	}
	w.serveRollout(awsclient.NewCalls(), abort, nil)
	w.push("v8.1.0")
	arn := w.started()
	w.wait(arn)
	rec := w.ended(arn)
	if !aborted.Load() || rec.Status != ledger.StatusAborted || !strings.Contains(rec.Reason, "reached the service before its record") {
		t.Fatalf("record %s: %s (aborted: %t)", rec.Status, rec.Reason, aborted.Load())
	}
	w.runsOnly(w.spec.Image())
}

// TestECSVerdictBeforeTheTokenIsStored holds the deploy step's task token
// back until ECS's verdict has reached the resume function, which then
// finds no waiter: the step, looking at ECS after storing its token,
// resumes itself, and the rollout succeeds.
func TestECSVerdictBeforeTheTokenIsStored(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	verdicts := func() int {
		n := 0
		for _, o := range w.wiring.Dispatcher.Outcomes() {
			if o.Rule == "RolloutResumeFunctionOnEcsVerdict" {
				n++
			}
		}
		return n
	}
	// The build's own ECS deployment events reach the resume function
	// too; they are delivered before the count starts.
	w.settle()
	seen := verdicts()
	var held atomic.Bool
	hold := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("holdWaiter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if put, ok := in.Parameters.(*dynamodb.PutItemInput); ok {
				if sk, ok := put.Item[ledger.AttrSK].(*ddbtypes.AttributeValueMemberS); ok && strings.HasPrefix(sk.Value, "WAITER#ECS#") {
					w.waitFor("ECS's verdict to reach the resume function", func() bool { return verdicts() > seen })
					held.Store(true)
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	}
	calls := awsclient.NewCalls()
	w.serveRollout(calls, nil, hold)
	digest := w.push("v5.0.0")
	arn := w.started()
	ex := w.wait(arn)
	rec := w.record(arn)
	if ex.Status != sfntypes.ExecutionStatusSucceeded || rec.Status != ledger.StatusSucceeded || !held.Load() {
		t.Fatalf("execution %s, record %s: %s (token held back: %t)", ex.Status, rec.Status, rec.Reason, held.Load())
	}
	if n := calls.Mutations()["SFN:SendTaskSuccess"]; n != 1 {
		t.Errorf("the rollout function sent %d task results, want 1: its own, for the verdict it found", n)
	}
	w.runsOnly(w.image(digest))
}

// TestECSVerdictNeverArrives keeps ECS's deployment events off the bus:
// the deploy step's wait runs out and the rollout reads ECS's service
// deployment instead, and succeeds.
func TestECSVerdictNeverArrives(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{NoECSEvents: true, Params: map[string]string{"RolloutEcsWaitSeconds": "2"}})
	digest := w.push("v6.0.0")
	arn := w.started()
	ex := w.wait(arn)
	rec := w.record(arn)
	if ex.Status != sfntypes.ExecutionStatusSucceeded || rec.Status != ledger.StatusSucceeded {
		t.Fatalf("execution %s, record %s: %s", ex.Status, rec.Status, rec.Reason)
	}
	states := ex.EnteredStates()
	if !slices.Contains(states, "PollEcs") || !slices.Contains(states, "Bake") {
		t.Errorf("states %v, want the poll of ECS before the bake", states)
	}
	t.Logf("with no ECS event: %d transitions %v", len(states), states)
	w.runsOnly(w.image(digest))
}

// TestForeignAndMalformedPushes starts the machine with inputs that are
// not a push for this service: each ends at Ignored with its typed reason,
// with no record and no AWS mutation.
func TestForeignAndMalformedPushes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	push := func(set map[string]any) any {
		var ev map[string]any
		if err := json.Unmarshal(pushEvent(t, set), &ev); err != nil {
			t.Fatal(err)
		}
		ev["detail"].(map[string]any)["repository-name"] = w.name
		if r, ok := set["detail.repository-name"]; ok {
			ev["detail"].(map[string]any)["repository-name"] = r
		}
		return ev
	}
	w.calls.Reset()
	for i, tc := range []struct {
		input  any
		reason rollout.Reason
	}{
		{push(map[string]any{"detail.repository-name": "api"}), rollout.ReasonOtherRepository},
		{push(map[string]any{"detail.action-type": "DELETE"}), rollout.ReasonNotAPush},
		{push(map[string]any{"detail.image-digest": nil}), rollout.ReasonMissingDigest},
		{push(map[string]any{"detail.image-tag": "latest"}), rollout.ReasonFilteredTag},
		{"not an event", rollout.ReasonMalformed},
		{map[string]any{"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": "garbage"}, rollout.ReasonMalformed},
	} {
		arn := w.start(fmt.Sprintf("foreign-%d", i), tc.input)
		ex := w.wait(arn)
		var out rollout.CaughtError
		_ = json.Unmarshal([]byte(ex.Output), &out)
		if ex.Status != sfntypes.ExecutionStatusSucceeded || out.Error != "InvalidInputError" || !strings.Contains(out.Cause, string(tc.reason)+": ") {
			t.Errorf("input %d: %s, output %s; want Ignored with %s", i, ex.Status, ex.Output, tc.reason)
		}
		if got := ex.EnteredStates(); !slices.Equal(got, []string{"Prepare", "Ignored"}) {
			t.Errorf("input %d went through %v", i, got)
		}
	}
	if m := w.calls.Mutations(); len(m) != 0 {
		t.Errorf("foreign pushes made the mutating calls %v", m)
	}
	history, _, err := w.ledger.History(context.Background(), w.name, ledger.PageRequest{})
	if err != nil || len(history) != 1 || history[0].Cause != ledger.CauseCreate {
		t.Errorf("history %+v (%v), want the service's creation only", history, err)
	}
}

// TestGateAndNothingToDo: a push while a bake alarm is in ALARM waits for
// it to clear and then rolls out; a push while it stays in ALARM ends
// BLOCKED; a request of the image the service runs ends SKIPPED; neither
// of the two that did not roll out touched the service.
func TestGateAndNothingToDo(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{BakeAlarm: true, Params: map[string]string{"RolloutGateTimeoutSeconds": "4"}})
	alarm := w.name + "-errors"
	w.breach(true)
	digest := w.push("v7.0.0")
	arn := w.started()
	w.waitFor("the gate", func() bool {
		rec := w.recordNow(arn)
		return rec != nil && rec.Reached(ledger.PhaseGateClosed)
	})
	w.breach(false)
	ex := w.wait(arn)
	rec := w.record(arn)
	if ex.Status != sfntypes.ExecutionStatusSucceeded || rec.Status != ledger.StatusSucceeded {
		t.Fatalf("after the gate opened: %s, record %s: %s", ex.Status, rec.Status, rec.Reason)
	}
	gate, _ := rec.At(ledger.PhaseGateClosed)
	lease, _ := rec.At(ledger.PhaseLeaseTaken)
	if !lease.After(gate) || !strings.Contains(rec.Timeline[1].Detail, alarm) {
		t.Errorf("timeline %+v, want the gate closed by %s before the lease was taken", rec.Timeline, alarm)
	}
	w.runsOnly(w.image(digest))

	w.calls.Reset()
	w.breach(true)
	w.push("v7.1.0")
	blocked := w.started()
	bex := w.wait(blocked)
	brec := w.record(blocked)
	if brec.Status != ledger.StatusBlocked || !strings.Contains(brec.Reason, alarm) || bex.Error != string(ledger.StatusBlocked) {
		t.Errorf("a push behind a firing alarm: %s (%s), execution %s", brec.Status, brec.Reason, bex.Error)
	}
	w.breach(false)

	skip := w.start("deploy-running", request(digest, ledger.CauseDeploy))
	sex := w.wait(skip)
	srec := w.record(skip)
	if srec.Status != ledger.StatusSkipped || !strings.Contains(srec.Reason, "already runs "+digest) || sex.Status != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("a request of the running image: %s (%s), execution %s", srec.Status, srec.Reason, sex.Status)
	}
	if m := w.calls.Mutations(); m["ECS:UpdateService"]+m["ECS:RegisterTaskDefinition"] != 0 {
		t.Errorf("the blocked and skipped rollouts changed the service: %v", m)
	}
	if h := w.leaseHolder(); h != "" {
		t.Errorf("the lease is held by %s", h)
	}
}
