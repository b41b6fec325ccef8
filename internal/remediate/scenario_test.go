package remediate_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/local/controlplane/controlplanetest"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const rule = "RemediateStateMachineOnAlarm"

// oneTaskPerInstance sizes the tasks so that an instance holds one: the
// healthy zone cannot take the impaired zone's tasks without a pre-scale.
const oneTaskPerInstance = `{"service": {"cpu": 1024, "memory": 2048}}`

// oneTaskPerInstanceFastAlarms alarms after one period: in a hard outage
// ECS replaces the zone's tasks within a few minutes on its own, before
// three periods of unhealthy hosts.
const oneTaskPerInstanceFastAlarms = `{"service": {"cpu": 1024, "memory": 2048, "alarms": {"cpuHigh": 85, "memoryHigh": 85, "target5xx": 10, "unhealthyHosts": 1, "evaluationPeriods": 1}}}`

// scenario is a stack built on the simulator with template.yaml's control
// plane beside it: the template's rules start the remediation and
// lifecycle state machines in moto's engine, with the real functions on the
// simulator.
type scenario struct {
	t     testing.TB
	name  string
	sim   *sim.Sim
	local *controlplanetest.Local
	spec  stack.Spec
	out   *stack.Outputs
	asg   *autoscaling.Client
	ecs   *ecs.Client
	elb   *elb.Client
	led   *ledger.Ledger
}

// parameters are the template parameters of the scenarios: short restore
// and cooldown, drains that end within minutes.
var parameters = map[string]string{
	"RemediationCooldownSeconds": "900", "RestoreOkPeriods": "3", "ZonalShiftExpiryMinutes": "30",
	"RemediationPhaseDeadlineSeconds": "1800", "DrainDeadlineSeconds": "300",
}

func newScenario(t testing.TB, spec string, params map[string]string) *scenario {
	t.Helper()
	s := sim.New(sim.Options{Seed: 7})
	name := "rm" + strings.ToLower(rand.Text()[:8])
	p := map[string]string{}
	for k, v := range parameters {
		p[k] = v
	}
	for k, v := range params {
		p[k] = v
	}
	l := controlplanetest.New(t, s, name, p)
	cfg := s.Config()
	sc := &scenario{
		t: t, name: name, sim: s, local: l, asg: autoscaling.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg), elb: elb.NewFromConfig(cfg),
		led: ledger.New(dynamodb.NewFromConfig(l.Config), l.App.Tables[local.LedgerTableID]),
	}
	sp, err := build.Resolve(json.RawMessage(spec), name, controlplane.StackConfig(s.AccountID(), s.Region(), name))
	if err != nil {
		t.Fatal(err)
	}
	sc.spec = sp
	sc.out, err = build.Converge(context.Background(), build.NewClients(s.ConfigOver(l.Config), build.Options{Ledger: sc.led}), stack.NewRun(sp, false, "build", nil),
		func(ctx context.Context, _ *stack.Outputs, check string, st stack.Status, round int) error {
			if round > 240 {
				return fmt.Errorf("%s not ready after an hour: %s", check, st.Detail)
			}
			return l.Round(ctx)
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTraffic(sc.out.Ingress.LoadBalancerARN, 20); err != nil {
		t.Fatal(err)
	}
	sc.until("the service is steady and balanced", 30*time.Minute, func() bool { return sc.balanced() })
	return sc
}

// until lets simulated time pass round by round until cond holds, noting
// the evacuation's phases as they come.
func (sc *scenario) until(what string, limit time.Duration, cond func() bool) {
	sc.t.Helper()
	end := sc.sim.Now().Add(limit)
	for {
		if cond() {
			return
		}
		if sc.sim.Now().After(end) {
			for _, a := range sc.actions() {
				sc.t.Logf("audit: %s %s %s %v", a.Action, a.Outcome, a.Reason, a.Detail)
			}
			sc.t.Fatalf("%s: not within %s (at %s; tasks %v; evacuation %+v)", what, limit, sc.sim.Now().Format(time.TimeOnly), sc.tasksPerZone(), sc.evacuation())
		}
		if err := sc.local.Round(context.Background()); err != nil {
			sc.t.Fatal(err)
		}
	}
}

// evacuation is the stack's evacuation in the ledger, nil before any.
func (sc *scenario) evacuation() *ledger.Evacuation {
	ev, err := sc.led.CurrentEvacuation(context.Background(), sc.name)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil
	}
	if err != nil {
		sc.t.Fatal(err)
	}
	return ev
}

// phasesOf returns when the evacuation entered each phase, on the
// simulator's clock, from its milestones in the ledger.
func (sc *scenario) phasesOf() map[string]time.Time {
	out := map[string]time.Time{}
	for _, a := range sc.actions() {
		if a.Action != "evacuation" {
			continue
		}
		if at, err := time.Parse(time.RFC3339, a.Detail["at"]); err == nil {
			if _, ok := out[a.Outcome]; !ok {
				out[a.Outcome] = at
			}
		}
	}
	return out
}

// service is the stack's service.
func (sc *scenario) service() ecstypes.Service {
	sc.t.Helper()
	out, err := sc.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(sc.out.Service.ClusterName), Services: []string{sc.out.Service.ServiceName}})
	if err != nil {
		sc.t.Fatal(err)
	}
	return out.Services[0]
}

// targets are the service's targets by zone: those serving traffic
// (neither shifted away nor draining nor unused) and their health.
func (sc *scenario) targets() (serving, healthy map[string]int) {
	sc.t.Helper()
	out, err := sc.elb.DescribeTargetHealth(context.Background(), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(sc.out.Ingress.TargetGroupARN)})
	if err != nil {
		sc.t.Fatal(err)
	}
	serving, healthy = map[string]int{}, map[string]int{}
	for _, d := range out.TargetHealthDescriptions {
		st, zone := d.TargetHealth.State, aws.ToString(d.Target.AvailabilityZone)
		if st == elbtypes.TargetHealthStateEnumUnused || st == elbtypes.TargetHealthStateEnumDraining {
			continue
		}
		if d.AdministrativeOverride != nil && d.AdministrativeOverride.State == elbtypes.TargetAdministrativeOverrideStateEnumZonalShiftActive {
			continue
		}
		serving[zone]++
		if st == elbtypes.TargetHealthStateEnumHealthy {
			healthy[zone]++
		}
	}
	return serving, healthy
}

// allServingHealthy reports whether every target that serves traffic is
// healthy, and they are as many as the desired count.
func (sc *scenario) allServingHealthy() bool {
	serving, healthy := sc.targets()
	n, h := 0, 0
	for z := range serving {
		n, h = n+serving[z], h+healthy[z]
	}
	return n > 0 && n == h && int32(h) >= sc.service().DesiredCount
}

// tasksPerZone counts the service's running tasks by zone.
func (sc *scenario) tasksPerZone() map[string]int {
	sc.t.Helper()
	ctx := context.Background()
	list, err := sc.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(sc.out.Service.ClusterName), ServiceName: aws.String(sc.out.Service.ServiceName), DesiredStatus: ecstypes.DesiredStatusRunning})
	if err != nil {
		sc.t.Fatal(err)
	}
	out := map[string]int{}
	if len(list.TaskArns) == 0 {
		return out
	}
	ts, err := sc.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(sc.out.Service.ClusterName), Tasks: list.TaskArns})
	if err != nil {
		sc.t.Fatal(err)
	}
	for _, t := range ts.Tasks {
		if aws.ToString(t.LastStatus) == "RUNNING" {
			out[aws.ToString(t.AvailabilityZone)]++
		}
	}
	return out
}

// balanced reports whether the service is steady, its tasks spread evenly
// across both zones, every target healthy and none shifted away.
func (sc *scenario) balanced() bool {
	svc := sc.service()
	if svc.RunningCount != svc.DesiredCount || len(svc.Deployments) != 1 {
		return false
	}
	per := sc.tasksPerZone()
	lo, hi := int(svc.DesiredCount), 0
	for _, z := range sc.out.Network.AZs {
		lo, hi = min(lo, per[z]), max(hi, per[z])
	}
	serving, healthy := sc.targets()
	for _, z := range sc.out.Network.AZs {
		if serving[z] == 0 || serving[z] != healthy[z] {
			return false
		}
	}
	return hi-lo <= 1 && len(sc.sim.ZonalShifts(sc.out.Ingress.LoadBalancerARN)) == 0
}

// actions returns the remediation audit items, oldest first.
func (sc *scenario) actions() []ledger.Action {
	sc.t.Helper()
	as, _, err := sc.led.Actions(context.Background(), sc.name, ledger.PageRequest{Limit: 500})
	if err != nil {
		sc.t.Fatal(err)
	}
	var out []ledger.Action
	for _, a := range slices.Backward(as) {
		if a.Kind == ledger.KindRemediation {
			out = append(out, a)
		}
	}
	return out
}

// decisions returns the audit items of executions (not milestones) whose
// action is action, any when empty.
func (sc *scenario) decisions(action string) []ledger.Action {
	var out []ledger.Action
	for _, a := range sc.actions() {
		if a.Action != "evacuation" && (action == "" || a.Action == action) {
			out = append(out, a)
		}
	}
	return out
}

// executions returns the remediation executions the rule started, each
// waited for, with its history.
func (sc *scenario) executions() []*awstest.Execution {
	sc.t.Helper()
	var out []*awstest.Execution
	for _, o := range sc.local.Wiring.Dispatcher.Outcomes() {
		if o.Rule == rule && o.Execution != "" {
			out = append(out, sc.local.SFN.Wait(sc.t, o.Execution, 2*time.Minute))
		}
	}
	return out
}

// notices returns what the outcome topic received.
func (sc *scenario) notices() []string {
	sc.t.Helper()
	q := sqs.NewFromConfig(sc.local.Config)
	url := aws.String(sc.local.App.TopicQueues["OutcomeTopic"])
	var out []string
	for {
		got, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10})
		if err != nil {
			sc.t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			return out
		}
		for _, m := range got.Messages {
			out = append(out, aws.ToString(m.Body))
			if _, err := q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				sc.t.Fatal(err)
			}
		}
	}
}

// transitions counts an execution's state transitions and its Lambda
// invocations.
func transitions(e *awstest.Execution) (states, invocations int) {
	for _, h := range e.History {
		switch h.Type {
		case sfntypes.HistoryEventTypeTaskStateEntered, sfntypes.HistoryEventTypeChoiceStateEntered, sfntypes.HistoryEventTypeWaitStateEntered,
			sfntypes.HistoryEventTypePassStateEntered, sfntypes.HistoryEventTypeSucceedStateEntered, sfntypes.HistoryEventTypeFailStateEntered:
			states++
		case sfntypes.HistoryEventTypeLambdaFunctionScheduled:
			invocations++
		}
	}
	return states, invocations
}

var evacuatedRe = regexp.MustCompile(`"phase":\s*"evacuated"`)

// splitAtEvacuated counts an execution's state transitions and Lambda
// invocations up to the check that shifted traffic away (the evacuation)
// and after it (the wait while evacuated, the probe and the restore).
func splitAtEvacuated(e *awstest.Execution) (evStates, evCalls, restStates, restCalls int) {
	split := false
	for _, h := range e.History {
		if !split && h.Type == sfntypes.HistoryEventTypeLambdaFunctionSucceeded && h.LambdaFunctionSucceededEventDetails != nil &&
			evacuatedRe.MatchString(aws.ToString(h.LambdaFunctionSucceededEventDetails.Output)) {
			split = true
		}
		one := &awstest.Execution{History: []sfntypes.HistoryEvent{h}}
		st, inv := transitions(one)
		if split {
			restStates, restCalls = restStates+st, restCalls+inv
		} else {
			evStates, evCalls = evStates+st, evCalls+inv
		}
	}
	return evStates, evCalls, restStates, restCalls
}

// evacuationRun is the figures of one evacuation and its restore.
type evacuationRun struct {
	impairedAt, servingHealthyAt, recoveredAt, balancedAt time.Time
}

// evacuateAndRestore impairs zone a with impair, waits until every target
// serving traffic is healthy with the zone evacuated (checking that the
// healthy zone was pre-scaled before traffic moved), recovers the zone
// with recover, and waits until the zone is restored and balanced.
func (sc *scenario) evacuateAndRestore(impair, recover func(zone string) error) evacuationRun {
	t := sc.t
	t.Helper()
	zone, other := sc.out.Network.AZs[0], sc.out.Network.AZs[1]
	groupBefore := sc.groupDesired()
	var r evacuationRun
	r.impairedAt = sc.sim.Now()
	if err := impair(zone); err != nil {
		t.Fatal(err)
	}
	// grownBy is the group's desired capacity when the evacuation first
	// got past its confirmation: in a hard outage managed scaling may have
	// grown the healthy zone for ECS's replacement tasks by then.
	grownBy := int32(-1)
	sc.until("the zone is evacuated and every serving target is healthy", time.Hour, func() bool {
		ev := sc.evacuation()
		if ev != nil && grownBy < 0 && ev.Phase != remediate.PhaseConfirm {
			grownBy = sc.groupDesired()
		}
		return ev != nil && ev.Phase == remediate.PhaseEvacuated && sc.allServingHealthy()
	})
	r.servingHealthyAt = sc.sim.Now()
	ev := sc.evacuation()
	if ev.Zone != zone || ev.Healthy != other {
		t.Fatalf("evacuation of %s to %s, want %s to %s", ev.Zone, ev.Healthy, zone, other)
	}
	// The healthy zone is grown before traffic moves: by the pre-scale, or
	// already by the data plane's own scaling, when the pre-scale found
	// nothing to add.
	if ev.GroupDesiredSet <= groupBefore && (ev.GroupDesiredSet != 0 || grownBy <= groupBefore) {
		t.Errorf("the group's desired capacity was set to %d from %d (%d once confirmed): the healthy zone was not pre-scaled", ev.GroupDesiredSet, groupBefore, grownBy)
	}
	phases := sc.phasesOf()
	for _, p := range []string{remediate.PhasePreScale, remediate.PhaseDrain} {
		if at, ok := phases[p]; !ok || at.After(phases[remediate.PhaseEvacuated]) {
			t.Errorf("phase %s at %v, want before the traffic shift at %v", p, at, phases[remediate.PhaseEvacuated])
		}
	}
	if got := sc.sim.ZonalShifts(sc.out.Ingress.LoadBalancerARN); !slices.Equal(got, []string{zone}) {
		t.Errorf("the load balancer is shifted away from %v, want %s", got, zone)
	}
	if per := sc.tasksPerZone(); per[zone] != 0 {
		t.Errorf("tasks per zone %v once evacuated: %s still runs tasks", per, zone)
	}
	r.recoveredAt = sc.sim.Now()
	if err := recover(zone); err != nil {
		t.Fatal(err)
	}
	sc.until("the zone is restored and the tasks balanced", 2*time.Hour, func() bool {
		ev := sc.evacuation()
		return ev != nil && ev.Outcome == remediate.OutcomeRestored && sc.balanced()
	})
	r.balancedAt = sc.sim.Now()
	if len(sc.sim.ZonalShifts(aws.ToString(sc.group().AutoScalingGroupARN))) != 0 {
		t.Error("the group is still shifted after the restore")
	}
	// The restore scaled the group back; managed scaling may still hold
	// an instance while the rebalance settles, and scales in on its own.
	sc.until("the group is back to its size before the evacuation", time.Hour, func() bool { return sc.groupDesired() <= groupBefore })
	// Taking the group back never takes the restored zone's capacity with
	// it: for ten minutes after, every zone serves from a healthy target.
	end := sc.sim.Now().Add(10 * time.Minute)
	for sc.sim.Now().Before(end) {
		if _, healthy := sc.targets(); healthy[zone] == 0 || healthy[other] == 0 {
			t.Fatalf("at %s, after the restore, healthy targets per zone %v; tasks %v", sc.sim.Now().Format(time.TimeOnly), healthy, sc.tasksPerZone())
		}
		if err := sc.local.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (sc *scenario) groupDesired() int32 { return aws.ToInt32(sc.group().DesiredCapacity) }

func (sc *scenario) group() astypes.AutoScalingGroup {
	sc.t.Helper()
	out, err := sc.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{sc.out.Compute.AutoScalingGroupName}})
	if err != nil {
		sc.t.Fatal(err)
	}
	return out.AutoScalingGroups[0]
}

// report logs the figures of an evacuation and its restore: the simulated
// times, and the control plane's share of each, which is the time its
// evacuation spent acting (from the decision to the traffic shift; from the
// probe to the restore) rather than waiting for CloudWatch's alarm or for
// the zone's OK periods.
func (sc *scenario) report(name string, r evacuationRun) {
	phases := sc.phasesOf()
	toHealthy := r.servingHealthyAt.Sub(r.impairedAt)
	cpEvac := phases[remediate.PhaseEvacuated].Sub(phases[remediate.PhasePreScale])
	toBalanced := r.balancedAt.Sub(r.recoveredAt)
	cpRestore := r.balancedAt.Sub(phases[remediate.PhaseProbe])
	sc.t.Logf("FIGURE %s: impairment → all serving targets healthy %s (control plane, pre-scale to traffic shift: %s = %.0f%%); recovery → balanced again %s (control plane, probe to restored: %s = %.0f%%)",
		name, toHealthy, cpEvac, 100*cpEvac.Seconds()/toHealthy.Seconds(), toBalanced, cpRestore, 100*cpRestore.Seconds()/toBalanced.Seconds())
	var alarmAt time.Time
	for _, a := range sc.actions() {
		if a.Action == "evacuation" && a.Outcome == remediate.PhasePreScale {
			alarmAt, _ = time.Parse(time.RFC3339, a.Detail["alarm_at"])
		}
	}
	sc.t.Logf("FIGURE %s: impaired %s, alarm %s, phases %v, serving healthy %s, recovered %s, balanced %s", name, r.impairedAt.Format(time.TimeOnly), alarmAt.Format(time.TimeOnly),
		phases, r.servingHealthyAt.Format(time.TimeOnly), r.recoveredAt.Format(time.TimeOnly), r.balancedAt.Format(time.TimeOnly))
	for _, e := range sc.executions() {
		if st, inv := transitions(e); e.Status == sfntypes.ExecutionStatusSucceeded && inv > 2 {
			es, ei, rs, ri := splitAtEvacuated(e)
			sc.t.Logf("FIGURE %s: evacuation and restore in one execution: %d state transitions, %d invocations; to the traffic shift %d and %d, from it to the end %d and %d",
				name, st, inv, es, ei, rs, ri)
		}
	}
}

// TestGrayFailure: zone a's tasks fail their health checks intermittently
// while its instances pass their status checks. The zone's alarm starts
// the remediation state machine through the template's rule; the healthy
// zone is pre-scaled first, then the zone drained and its traffic shifted
// away, every serving target healthy afterwards; after recovery the zone
// is restored and the tasks balanced again.
func TestGrayFailure(t *testing.T) {
	sc := newScenario(t, oneTaskPerInstance, nil)
	r := sc.evacuateAndRestore(
		func(z string) error {
			return sc.sim.DegradeZone(z, sim.ZoneDegradation{Failures: 0.7, Latency: 200 * time.Millisecond})
		},
		func(z string) error { return sc.sim.DegradeZone(z, sim.ZoneDegradation{}) })
	sc.report("gray failure", r)
	sc.checkAudit()
}

// TestHardOutage: zone a fails outright; the same evacuation and restore.
func TestHardOutage(t *testing.T) {
	sc := newScenario(t, oneTaskPerInstanceFastAlarms, nil)
	r := sc.evacuateAndRestore(sc.sim.FailZone, sc.sim.RecoverZone)
	sc.report("hard outage", r)
	sc.checkAudit()
}

// checkAudit checks that every execution ended with its audit item and
// that one evacuation was decided.
func (sc *scenario) checkAudit() {
	t := sc.t
	execs := sc.executions()
	decided := sc.decisions("")
	if len(decided) != len(execs) {
		t.Errorf("%d executions, %d decisions recorded", len(execs), len(decided))
	}
	if n := len(sc.decisions(remediate.ActionEvacuate)); n != 1 {
		t.Errorf("%d evacuations decided, want 1: %+v", n, decided)
	}
	for _, a := range decided {
		if a.Reason == "" {
			t.Errorf("decision %s %s recorded without a reason", a.Action, a.Outcome)
		}
	}
}

// TestBothZonesUnhealthy: both zones degrade; no evacuation, the decision
// recorded and notified.
func TestBothZonesUnhealthy(t *testing.T) {
	sc := newScenario(t, oneTaskPerInstance, nil)
	sc.notices()
	moved := func() int {
		return sc.sim.CallCount("ARC Zonal Shift", "StartZonalShift") + sc.sim.CallCount("Auto Scaling", "SetDesiredCapacity") +
			sc.sim.CallCount("Auto Scaling", "TerminateInstanceInAutoScalingGroup")
	}
	before := moved()
	// Every target of both zones fails its checks: whichever zone's alarm
	// fires first, the other's targets or its alarms' metrics say it is
	// unhealthy too, whether or not its alarm has fired yet. (Zones that
	// degrade minutes apart are TestEvacuationGivesUpWhenTheOtherZoneFails.)
	for _, z := range sc.out.Network.AZs {
		if err := sc.sim.DegradeZone(z, sim.ZoneDegradation{Failures: 1}); err != nil {
			t.Fatal(err)
		}
	}
	sc.until("both zones unhealthy are recorded", time.Hour, func() bool {
		for _, a := range sc.actions() {
			if strings.Contains(a.Reason, "but so is") {
				return true
			}
		}
		return false
	})
	for _, a := range sc.decisions("") {
		t.Logf("decision: %s %s: %s", a.Action, a.Outcome, a.Reason)
	}
	// An evacuation may be opened to confirm, but nothing moves: no shift,
	// no instance added or taken out.
	if ev := sc.evacuation(); ev != nil && (len(ev.Shifts) > 0 || ev.GroupDesiredSet > 0 || len(ev.Terminated) > 0 || ev.Outcome == "") {
		t.Errorf("evacuation %+v with both zones unhealthy: want nothing moved", ev)
	}
	if n := moved() - before; n != 0 {
		t.Errorf("%d zonal shifts, capacity changes or terminations with both zones unhealthy", n)
	}
	for _, res := range []string{sc.out.Ingress.LoadBalancerARN, aws.ToString(sc.group().AutoScalingGroupARN)} {
		if got := sc.sim.ZonalShifts(res); len(got) != 0 {
			t.Errorf("%s shifted away from %v", res, got)
		}
	}
	notified := 0
	for _, n := range sc.notices() {
		if strings.Contains(n, "but so is") {
			notified++
		}
	}
	if notified == 0 {
		t.Error("no notice says both zones are unhealthy")
	}
	for _, e := range sc.executions() {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Errorf("execution %s %s", e.ARN, e.Status)
		}
	}
}

// TestEvacuationGivesUpWhenTheOtherZoneFails: zone a is evacuated; once
// its capacity has started to move, zone b fails its checks too. The
// evacuation is given up: its shifts end, remediation returns the group to
// its count before, and a notice says why. (Managed scaling may raise the
// count again afterwards, for the tasks ECS replaces in zone b: that is
// the data plane's own scaling, not remediation's.)
func TestEvacuationGivesUpWhenTheOtherZoneFails(t *testing.T) {
	sc := newScenario(t, oneTaskPerInstance, nil)
	sc.notices()
	azs := sc.out.Network.AZs
	if err := sc.sim.DegradeZone(azs[0], sim.ZoneDegradation{Failures: 0.7}); err != nil {
		t.Fatal(err)
	}
	var moving *ledger.Evacuation
	sc.until("zone a's evacuation moves capacity", time.Hour, func() bool {
		ev := sc.evacuation()
		if ev != nil && ev.Outcome == "" && ev.Phase != remediate.PhaseConfirm {
			moving = ev
		}
		return moving != nil
	})
	if err := sc.sim.DegradeZone(azs[1], sim.ZoneDegradation{Failures: 1}); err != nil {
		t.Fatal(err)
	}
	// Other evacuations may begin and end after this one; the test follows
	// this one through its audit items.
	var ended *ledger.Action
	sc.until("the evacuation ends", time.Hour, func() bool {
		for _, a := range sc.actions() {
			if a.Action == "evacuation" && a.ExecutionARN == moving.ExecutionARN && a.Outcome == remediate.PhaseEnded {
				ended = &a
			}
		}
		return ended != nil
	})
	if !strings.HasPrefix(ended.Reason, "evacuation given up: ") || !strings.Contains(ended.Reason, "unhealthy too") {
		t.Errorf("the evacuation ended: %s, want it given up because %s is unhealthy too", ended.Reason, azs[1])
	}
	for _, res := range []string{sc.out.Ingress.LoadBalancerARN, aws.ToString(sc.group().AutoScalingGroupARN)} {
		if got := sc.sim.ZonalShifts(res); len(got) != 0 {
			t.Errorf("%s still shifted away from %v", res, got)
		}
	}
	// The pre-scale raised the group's desired count; the drain's
	// decrements and the give-up returned it. Remediation is the only
	// caller of SetDesiredCapacity here: the pre-scale's, and the
	// give-up's unless the drain had already returned the count.
	after, err := strconv.Atoi(ended.Detail["group_desired_after"])
	if err != nil || int32(after) > moving.GroupDesiredBefore {
		t.Errorf("the evacuation left the group's desired capacity at %q, want at most its %d before", ended.Detail["group_desired_after"], moving.GroupDesiredBefore)
	}
	sets := 0
	for _, c := range sc.sim.Calls() {
		if c.Service == "Auto Scaling" && c.Operation == "SetDesiredCapacity" && c.ErrorCode == "" {
			sets++
		}
	}
	if pre := ended.Detail["group_desired_set"] != ""; (pre && (sets < 1 || sets > 2)) || (!pre && sets != 0) {
		t.Errorf("remediation set the group's desired capacity %d times; its pre-scale set %q", sets, ended.Detail["group_desired_set"])
	}
	notified := false
	for _, n := range sc.notices() {
		notified = notified || strings.Contains(n, "unhealthy too")
	}
	if !notified {
		t.Error("no notice says the evacuation was given up")
	}
}
