package remediate_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/service"
)

// TestAtMaxCapacityDuplicatesAndFlapping: the service runs at its maximum
// count with its CPU high, so target tracking cannot add tasks. The CPU
// alarm's state change delivered three times makes one action (recorded
// and notified, the maximum left alone as no ceiling is configured) and two
// duplicates; then the alarm flaps, ALARM and OK every period for an hour,
// and makes at most one action per cooldown. Remediation never sets a
// count target tracking would undo.
func TestAtMaxCapacityDuplicatesAndFlapping(t *testing.T) {
	sc := newScenario(t, `{}`, nil)
	ctx := context.Background()
	max := sc.spec.Service.MaxCount
	if err := sc.sim.SetServiceLoad(sc.out.Service.ClusterName, sc.out.Service.ServiceName, float64(100*max), 50); err != nil {
		t.Fatal(err)
	}
	alarm := service.AlarmName(sc.spec, service.AlarmCPU)
	cw := cloudwatch.NewFromConfig(sc.sim.Config())
	state := func() cwtypes.StateValue {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarm}})
		if err != nil || len(out.MetricAlarms) == 0 {
			t.Fatalf("describing %s: %v", alarm, err)
		}
		return out.MetricAlarms[0].StateValue
	}
	sc.until("target tracking reaches the maximum and the CPU alarm fires", time.Hour, func() bool {
		return sc.service().DesiredCount == max && state() == cwtypes.StateValueAlarm
	})
	sc.until("the first state change is decided", 10*time.Minute, func() bool { return len(sc.decisions("")) > 0 })
	sc.notices()

	// A state change to ALARM delivered three times, after the cooldown of
	// the first action ran out: EventBridge delivers at least once.
	cooldown := 15 * time.Minute
	sc.until("the first cooldown runs out", 2*cooldown, func() bool {
		return sc.sim.Now().Sub(firstAction(t, sc.decisions(remediate.ActionNotify))) > cooldown
	})
	before := len(sc.decisions(""))
	ev := lastAlarmEvent(t, sc, alarm)
	var d events.AlarmStateChange
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	d.PreviousState, d.State.Timestamp = d.State, sc.sim.Now().UTC().Format("2006-01-02T15:04:05.000+0000")
	d.PreviousState.Value = events.AlarmOK
	ev.Detail, _ = json.Marshal(d)
	ev.ID, ev.Time = "", sc.sim.Now()
	for range 3 {
		if _, err := sc.local.Wiring.Bus.Put(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	sc.until("the three deliveries are decided", 10*time.Minute, func() bool { return len(sc.decisions("")) >= before+3 })
	var notified, duplicates int
	for _, a := range sc.decisions("")[before:] {
		if a.Detail["state_at"] == "" || a.Detail["alarm"] != alarm {
			continue
		}
		switch a.Outcome {
		case remediate.OutcomeNotified:
			notified++
			if !strings.Contains(a.Reason, "at its maximum") {
				t.Errorf("notify reason %q", a.Reason)
			}
		case remediate.OutcomeDuplicate:
			duplicates++
		}
	}
	if notified != 1 || duplicates != 2 {
		t.Errorf("three deliveries made %d actions and %d duplicates, want 1 and 2", notified, duplicates)
	}

	// An hour of flapping: OK every period, and the fleet's evaluation
	// puts it back in ALARM the next.
	calls := mutatingCalls(sc)
	start := sc.sim.Now()
	for sc.sim.Now().Sub(start) < time.Hour {
		if state() == cwtypes.StateValueAlarm {
			if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(alarm), StateValue: cwtypes.StateValueOk, StateReason: aws.String("flapping")}); err != nil {
				t.Fatal(err)
			}
		}
		if err := sc.local.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sc.until("every state change is decided", 10*time.Minute, func() bool { return true })
	var acted []time.Time
	changes := 0
	for _, a := range sc.decisions("") {
		if a.Detail["alarm"] != alarm {
			continue
		}
		at, _ := time.Parse(time.RFC3339, a.Detail["state_at"])
		if at.Before(start) {
			continue
		}
		changes++
		if a.Action != remediate.ActionNone && a.Action != remediate.ActionDuplicate {
			acted = append(acted, at)
		}
	}
	if changes < 60 {
		t.Errorf("%d state changes decided in the hour of flapping, want ALARM and OK every period", changes)
	}
	limit := int(time.Hour/cooldown) + 1
	if len(acted) > limit || len(acted) == 0 {
		t.Errorf("%d actions in the hour of flapping, want 1 to %d (one per cooldown)", len(acted), limit)
	}
	slices.SortFunc(acted, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(acted); i++ {
		if acted[i].Sub(acted[i-1]) < cooldown {
			t.Errorf("actions at %s and %s, within one cooldown", acted[i-1].Format(time.TimeOnly), acted[i].Format(time.TimeOnly))
		}
	}
	if got := mutatingCalls(sc); !slices.Equal(got, calls) {
		t.Errorf("remediation changed counts: %v, before %v", got, calls)
	}
	if d := sc.service().DesiredCount; d != max {
		t.Errorf("desired count %d, want target tracking's maximum %d", d, max)
	}
	if n := len(sc.notices()); n == 0 {
		t.Error("no notice of the service at its maximum")
	}
	t.Logf("FIGURE flapping: %d state changes in an hour, %d actions (cooldown %s), %d executions", changes, len(acted), cooldown, len(sc.executions()))
	for _, e := range sc.executions() {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Errorf("execution %s %s: %s", e.ARN, e.Status, e.Cause)
		}
	}
}

// mutatingCalls counts the successful calls that set counts or bounds.
func mutatingCalls(sc *scenario) []int {
	n := make([]int, 3)
	for _, c := range sc.sim.Calls() {
		if c.ErrorCode != "" {
			continue
		}
		switch c.Operation {
		case "RegisterScalableTarget":
			n[0]++
		case "UpdateService":
			n[1]++
		case "SetDesiredCapacity":
			n[2]++
		}
	}
	return n
}

func firstAction(t *testing.T, as []ledger.Action) time.Time {
	t.Helper()
	for _, a := range as {
		if at, err := time.Parse(time.RFC3339, a.Detail["state_at"]); err == nil {
			return at
		}
	}
	return time.Time{}
}

// lastAlarmEvent is the simulator's last ALARM state change of alarm.
func lastAlarmEvent(t testing.TB, sc *scenario, alarm string) events.Envelope {
	t.Helper()
	for _, ev := range slices.Backward(sc.sim.Events()) {
		var d events.AlarmStateChange
		if ev.DetailType == events.DetailTypeAlarmStateChange && json.Unmarshal(ev.Detail, &d) == nil && d.AlarmName == alarm && d.State.Value == events.AlarmAlarm {
			return ev
		}
	}
	t.Fatalf("no ALARM state change of %s", alarm)
	return events.Envelope{}
}

// TestAtMaxRaisesWithinCeiling: with MaxCountCeiling above the service's
// maximum, the CPU alarm at the maximum raises the scalable target's
// maximum to the ceiling, once, and target tracking, not remediation, adds
// the tasks.
func TestAtMaxRaisesWithinCeiling(t *testing.T) {
	sc := newScenario(t, `{}`, map[string]string{"MaxCountCeiling": "10"})
	ctx := context.Background()
	max := sc.spec.Service.MaxCount
	if err := sc.sim.SetServiceLoad(sc.out.Service.ClusterName, sc.out.Service.ServiceName, float64(100*(max+4)), 50); err != nil {
		t.Fatal(err)
	}
	before := mutatingCalls(sc)
	sc.until("the maximum is raised", time.Hour, func() bool { return len(sc.decisions(remediate.ActionRaise)) > 0 })
	sc.until("target tracking runs the service above the old maximum", 30*time.Minute, func() bool { return sc.service().DesiredCount > max })
	aasc := applicationautoscaling.NewFromConfig(sc.sim.Config())
	out, err := aasc.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{"service/" + sc.out.Service.ClusterName + "/" + sc.out.Service.ServiceName},
	})
	if err != nil || len(out.ScalableTargets) != 1 {
		t.Fatalf("describing the scalable target: %v", err)
	}
	if got := aws.ToInt32(out.ScalableTargets[0].MaxCapacity); got != 10 {
		t.Errorf("scalable target maximum %d, want the ceiling 10", got)
	}
	after := mutatingCalls(sc)
	if after[0]-before[0] != 1 || after[1] != before[1] {
		t.Errorf("RegisterScalableTarget and UpdateService calls %v, before %v: want one raise and no count set", after, before)
	}
	for _, a := range sc.decisions(remediate.ActionRaise) {
		if a.Outcome != remediate.OutcomeRaised {
			t.Errorf("raise recorded %s: %s", a.Outcome, a.Reason)
		}
	}
}
