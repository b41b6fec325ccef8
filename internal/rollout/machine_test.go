package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// Budgets per successful rollout (DESIGN.md §7).
const (
	maxTransitions = 20
	maxInvocations = 6
)

// phases lists a record's timeline.
func phases(d *ledger.Deployment) []ledger.PhaseName {
	var out []ledger.PhaseName
	for _, p := range d.Timeline {
		out = append(out, p.Phase)
	}
	return out
}

// statuses lists a record's status history.
func statuses(d *ledger.Deployment) []ledger.Status {
	var out []ledger.Status
	for _, h := range d.History {
		out = append(out, h.Status)
	}
	return out
}

// rolloutInvocations sums the invocations of the rollout's functions
// between two counts.
func rolloutInvocations(before, after map[string]int) int {
	n := 0
	for _, id := range []string{"RolloutFunction", "RolloutResumeFunction", "RolloutCleanupFunction"} {
		n += after[id] - before[id]
	}
	return n
}

// retriesSince counts the retries of functions' asynchronous invocations
// after an error, among the deliveries since the first n, and returns the
// deliveries that had any.
func (w *world) retriesSince(n int) (int, []local.Outcome) {
	retries := 0
	var failed []local.Outcome
	for _, o := range w.wiring.Dispatcher.Outcomes()[n:] {
		if o.Attempts > 1 {
			retries += o.Attempts - 1
			failed = append(failed, o)
		}
	}
	return retries, failed
}

// byService sums call counts by service.
func byService(counts map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range counts {
		svc, _, _ := strings.Cut(op, ":")
		out[svc] += n
	}
	return out
}

// TestGoodImageSucceeds pushes a good image: the real rollout machine
// rolls it out, pinned by digest, and it succeeds within the budgets; the
// service runs it in both zones, and every sampled moment of the rollout
// had a healthy target in each zone. The outcome is published.
func TestGoodImageSucceeds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	w.settle()
	before := w.invocations()
	delivered := len(w.wiring.Dispatcher.Outcomes())
	w.resetSamples()
	digest := w.push("v1.1.0")
	arn := w.started()
	ex := w.wait(arn)
	after := w.invocations()
	rec := w.record(arn)
	if ex.Status != sfntypes.ExecutionStatusSucceeded || rec.Status != ledger.StatusSucceeded || rec.ImageDigest != digest || rec.ImageTag != "v1.1.0" ||
		!strings.Contains(rec.Reason, "the bake passed") || rec.Image != w.image(digest) {
		t.Fatalf("execution %s (%s %s), record %+v", ex.Status, ex.Error, ex.Cause, rec)
	}
	want := []ledger.PhaseName{ledger.PhaseAccepted, ledger.PhaseLeaseTaken, ledger.PhaseUpdateSent, ledger.PhaseECSCompleted,
		ledger.PhaseBakeStarted, ledger.PhaseBakeEnded, ledger.PhaseFinished}
	if got := phases(rec); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if got := statuses(rec); !slices.Equal(got, []ledger.Status{ledger.StatusPending, ledger.StatusInProgress, ledger.StatusBaking, ledger.StatusSucceeded}) {
		t.Errorf("statuses %v", got)
	}
	w.runsOnly(w.image(digest))
	low, samples := w.minHealthyPerZone()
	if samples < 20 || low < 1 {
		t.Errorf("a zone had %d healthy targets at some sampled moment (%d samples), want at least 1 at every one", low, samples)
	}
	if h := w.leaseHolder(); h != "" {
		t.Errorf("the lease is held by %s after the rollout", h)
	}
	transitions, invocations := len(ex.EnteredStates()), rolloutInvocations(before, after)
	// Lambda retries an asynchronous invocation that returned an error; on
	// a loaded machine a call to moto can fail (ROLLOUT_TEST_LOG=1 shows
	// the dispatcher's dispatcher_function_error). The budget is the
	// design's: one invocation per step and per event; retries are
	// reported beside it.
	retries, failed := w.retriesSince(delivered)
	if transitions > maxTransitions || invocations-retries > maxInvocations {
		t.Errorf("%d state transitions (%v) and %d Lambda invocations (%d of them retries), budgets %d and %d; deliveries that failed: %+v",
			transitions, ex.EnteredStates(), invocations, retries, maxTransitions, maxInvocations, failed)
	}
	if retries > 0 {
		t.Logf("%d retried invocations after function errors: %+v", retries, failed)
	}
	calls := byService(w.calls.Mutations())
	reads := byService(w.calls.Reads())
	t.Logf("successful rollout: %d state transitions %v, %d Lambda invocations (%v), mutating calls %v (%d), reads %v (%d), plus 1 SNS Publish by the state machine; %d samples, fewest healthy targets in a zone %d",
		transitions, ex.EnteredStates(), invocations, after, calls, awsclient.Total(calls), reads, awsclient.Total(reads), samples, low)
	if w.calls.Mutations()["ECS:UpdateService"] != 1 || w.calls.Mutations()["ECS:RegisterTaskDefinition"] != 1 {
		t.Errorf("mutating calls %v, want one revision and one update", w.calls.Mutations())
	}

	out, err := sqs.NewFromConfig(w.env.Config).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(w.app.TopicQueues["OutcomeTopic"]), MaxNumberOfMessages: 10, WaitTimeSeconds: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	var published []rollout.Outcome
	for _, m := range out.Messages {
		var o rollout.Outcome
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &o); err != nil {
			t.Fatalf("published %q: %v", aws.ToString(m.Body), err)
		}
		published = append(published, o)
	}
	if len(published) != 1 || published[0].Status != ledger.StatusSucceeded || published[0].DeploymentID != rec.ID || published[0].Digest != digest {
		t.Errorf("published %+v, want the one outcome", published)
	}
}

// TestBadImageRolledBackByECS pushes an image that fails in each way the
// circuit breaker catches: ECS rolls it back, and the rollout records
// ROLLED_BACK_BY_ECS with ECS's reason, never SUCCEEDED, and releases the
// lease; the service runs the previous image again.
func TestBadImageRolledBackByECS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fault  sim.ImageFault
		reason string
	}{
		{"pull failure", sim.ImagePullFails, "task failed to start"},
		{"exit after start", sim.ImageExits, "task exited before it turned healthy"},
		{"failing health check", sim.ImageUnhealthy, "task failed health checks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{})
			previous := w.spec.Image()
			digest := w.push("v2.0.0")
			w.sim.FailImage(w.image(digest), tc.fault)
			arn := w.started()
			ex := w.wait(arn)
			rec := w.record(arn)
			if rec.Status != ledger.StatusRolledBackByECS || !strings.Contains(rec.Reason, "ECS deployment circuit breaker: "+tc.reason) {
				t.Fatalf("record %s: %s (timeline %v)", rec.Status, rec.Reason, phases(rec))
			}
			if slices.Contains(statuses(rec), ledger.StatusSucceeded) || ex.Status != sfntypes.ExecutionStatusFailed || ex.Error != string(ledger.StatusRolledBackByECS) {
				t.Errorf("statuses %v, execution %s %s", statuses(rec), ex.Status, ex.Error)
			}
			for _, p := range []ledger.PhaseName{ledger.PhaseECSFailed, ledger.PhaseECSRolledBack, ledger.PhaseFinished} {
				if !rec.Reached(p) {
					t.Errorf("the timeline %v lacks %s", phases(rec), p)
				}
			}
			if h := w.leaseHolder(); h != "" {
				t.Errorf("the lease is held by %s", h)
			}
			w.runsOnly(previous)
		})
	}
}

// setAlarm puts an alarm in state with CloudWatch's SetAlarmState, the
// documented way to exercise what an alarm's state change sets off.
func (w *world) setAlarm(component, state, reason string) {
	w.t.Helper()
	_, err := service.NewCloudWatch(w.sim.Config()).SetAlarmState(context.Background(), &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(service.AlarmName(w.spec, component)), StateValue: cwtypes.StateValue(state), StateReason: aws.String(reason),
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// alarmDuringBake waits until the execution bakes and its bake's waiter is
// stored, and then puts the target 5xx alarm, a bake alarm, in ALARM.
func (w *world) alarmDuringBake(execution, reason string) {
	w.t.Helper()
	w.reaches(execution, ledger.StatusBaking)
	w.waitFor("the bake's waiter", func() bool {
		wt, err := w.ledger.GetWaiter(context.Background(), w.name, ledger.WaitBake)
		return err == nil && wt.ExecutionARN == execution
	})
	w.setAlarm(service.AlarmTarget5xx, "ALARM", reason)
}

// recordNow is the execution's record, or nil before it has one.
func (w *world) recordNow(execution string) *ledger.Deployment {
	d, err := w.ledger.FindByExecution(context.Background(), w.name, execution)
	if err != nil {
		return nil
	}
	return d
}

// reaches waits until the execution's record reaches status.
func (w *world) reaches(execution string, status ledger.Status) *ledger.Deployment {
	w.t.Helper()
	var rec *ledger.Deployment
	w.waitFor(fmt.Sprintf("%s to reach %s", execution, status), func() bool {
		rec = w.recordNow(execution)
		return rec != nil && rec.Status == status
	})
	return rec
}

// TestAlarmDuringBake fires a bake alarm while the new image bakes: the
// bake ends at once, the rollout rolls the service back and records
// ROLLED_BACK; the previous image runs in both zones again.
func TestAlarmDuringBake(t *testing.T) {
	t.Parallel()
	const bake = 40 * time.Second
	w := newWorld(t, worldOptions{Params: map[string]string{"RolloutBakeSeconds": fmt.Sprint(int(bake.Seconds()))}})
	digest := w.push("v1.1.0")
	arn := w.started()
	w.alarmDuringBake(arn, "a test of the bake: 42 target 5xx in a minute")
	ex := w.wait(arn)
	rec := w.record(arn)
	if rec.Status != ledger.StatusRolledBack || !strings.Contains(rec.Reason, service.AlarmName(w.spec, service.AlarmTarget5xx)+" went to ALARM") || ex.Status != sfntypes.ExecutionStatusFailed {
		t.Fatalf("record %s: %s; execution %s", rec.Status, rec.Reason, ex.Status)
	}
	started, _ := rec.At(ledger.PhaseBakeStarted)
	ended, ok := rec.At(ledger.PhaseBakeEnded)
	if !ok || ended.Sub(started) >= bake {
		t.Errorf("the bake ran %s of its %s: it must end when the alarm fires (timeline %v)", ended.Sub(started), bake, phases(rec))
	}
	if got := statuses(rec); !slices.Equal(got, []ledger.Status{ledger.StatusPending, ledger.StatusInProgress, ledger.StatusBaking, ledger.StatusRollingBack, ledger.StatusRolledBack}) {
		t.Errorf("statuses %v", got)
	}
	if rec.RollbackDeploymentID == "" || !rec.Reached(ledger.PhaseRollbackEnded) {
		t.Errorf("no rollback deployment recorded: %+v", rec)
	}
	t.Logf("the bake ended after %s of %s", ended.Sub(started).Round(time.Millisecond), bake)
	if h := w.leaseHolder(); h != "" {
		t.Errorf("the lease is held by %s", h)
	}
	w.runsOnly(w.spec.Image())
	_ = digest
}

// TestSamePushThreeTimes delivers one push event three times, as
// EventBridge may: one rollout, one record, one update of the service.
func TestSamePushThreeTimes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	digest := w.push("v1.1.0")
	first := w.started()
	d, err := sfn.NewFromConfig(w.env.Config).DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(first)})
	if err != nil {
		t.Fatal(err)
	}
	var input any
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &input); err != nil {
		t.Fatal(err)
	}
	// On AWS each delivery starts an execution of its own.
	again := []string{w.start("redelivery-1", input), w.start("redelivery-2", input)}
	if ex := w.wait(first); ex.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("the first delivery: %s %s %s", ex.Status, ex.Error, ex.Cause)
	}
	for _, arn := range again {
		ex := w.wait(arn)
		var out struct {
			Rollout rollout.State `json:"rollout"`
		}
		_ = json.Unmarshal([]byte(ex.Output), &out)
		if ex.Status != sfntypes.ExecutionStatusSucceeded || out.Rollout.Next != rollout.NextIgnore || !strings.Contains(out.Rollout.Duplicate, first) {
			t.Errorf("a redelivery: %s, output %s", ex.Status, ex.Output)
		}
		if got := ex.EnteredStates(); !slices.Equal(got, []string{"Prepare", "Prepared", "Ignored"}) {
			t.Errorf("a redelivery went through %v", got)
		}
	}
	history, _, err := w.ledger.History(context.Background(), w.name, ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range history {
		if h.ImageDigest == digest {
			n++
		}
	}
	if n != 1 || w.calls.Mutations()["ECS:UpdateService"] != 1 {
		t.Errorf("%d records of %s and %d updates of the service, want 1 and 1", n, digest, w.calls.Mutations()["ECS:UpdateService"])
	}
}

// TestPushesCloseTogether pushes three images while the first rolls out:
// rollouts never overlap, the newest push wins, and the one in between,
// which waited for the lease, ends SUPERSEDED without touching the service.
func TestPushesCloseTogether(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{Params: map[string]string{"RolloutBakeSeconds": "8"}})
	w.push("v1.1.0")
	first := w.started()
	w.reaches(first, ledger.StatusInProgress)
	w.push("v1.2.0")
	second := w.started()
	time.Sleep(200 * time.Millisecond)
	third := w.push("v1.3.0")
	newest := w.started()
	for _, arn := range []string{first, second, newest} {
		w.wait(arn)
	}
	r1, r2, r3 := w.record(first), w.record(second), w.record(newest)
	if r1.Status != ledger.StatusSucceeded || r2.Status != ledger.StatusSuperseded || r3.Status != ledger.StatusSucceeded {
		t.Fatalf("outcomes %s, %s, %s; want SUCCEEDED, SUPERSEDED, SUCCEEDED (%s; %s)", r1.Status, r2.Status, r3.Status, r2.Reason, r3.Reason)
	}
	if !strings.Contains(r2.Reason, third) || r2.Reached(ledger.PhaseLeaseTaken) || !r2.Reached(ledger.PhaseWaitingForLease) || r2.NewTaskDef != "" {
		t.Errorf("the superseded rollout: %s, timeline %v", r2.Reason, phases(r2))
	}
	end1, _ := r1.At(ledger.PhaseFinished)
	start3, _ := r3.At(ledger.PhaseLeaseTaken)
	if !start3.After(end1) {
		t.Errorf("the newest rollout took the lease at %s, before the first finished at %s", start3, end1)
	}
	if r3.PreviousTaskDef != r1.NewTaskDef {
		t.Errorf("the newest rollout followed %s, want the first's %s", r3.PreviousTaskDef, r1.NewTaskDef)
	}
	w.runsOnly(w.image(third))
	if h := w.leaseHolder(); h != "" {
		t.Errorf("the lease is held by %s", h)
	}
}
