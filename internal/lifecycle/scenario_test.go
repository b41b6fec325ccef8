package lifecycle_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/local/controlplane/controlplanetest"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// scenario is a stack built on the simulator with template.yaml's control
// plane beside it: the template's rules start the lifecycle state machine
// in moto's engine, with the real lifecycle function on the simulator.
type scenario struct {
	t testing.TB
	// name is the stack's: the template's rules take its group's and
	// hooks' events only. Each scenario has its own, for the account the
	// control plane lives in is shared.
	name  string
	sim   *sim.Sim
	local *controlplanetest.Local
	spec  stack.Spec
	out   *stack.Outputs
	asg   *autoscaling.Client
	ecs   *ecs.Client
	ec2   *ec2.Client
	led   *ledger.Ledger
}

// scenarioOptions shape a scenario.
type scenarioOptions struct {
	seed uint64
	// spec is the stack spec's JSON, over the defaults.
	spec string
	// parameters override template.yaml's defaults.
	parameters map[string]string
	// before runs on the simulator before the build.
	before func(s *sim.Sim, spec stack.Spec)
}

// newScenario builds the stack with the build's own runner: between two
// rounds of a readiness check it lets 15 simulated seconds pass and waits
// for the lifecycle state machine to act on every instance waiting on a
// hook, so the group's instances come into service through its launch
// path.
func newScenario(t testing.TB, o scenarioOptions) *scenario {
	t.Helper()
	s := sim.New(sim.Options{Seed: o.seed})
	sc := attach(t, s, o.parameters)
	spec, err := build.Resolve(json.RawMessage(o.spec), sc.name, controlplane.StackConfig(s.AccountID(), s.Region(), sc.name))
	if err != nil {
		t.Fatal(err)
	}
	if o.before != nil {
		o.before(s, spec)
	}
	sc.spec = spec
	sc.out, err = build.Converge(context.Background(), build.NewClients(s.ConfigOver(sc.local.Config), build.Options{Ledger: sc.led}), stack.NewRun(spec, false, "build", nil),
		func(ctx context.Context, _ *stack.Outputs, check string, st stack.Status, round int) error {
			if round > 240 {
				return fmt.Errorf("%s not ready after an hour: %s", check, st.Detail)
			}
			return sc.local.Round(ctx)
		})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// attach starts template.yaml's control plane on s for the scenario's
// stack, with parameters overriding the template's defaults.
func attach(t testing.TB, s *sim.Sim, parameters map[string]string) *scenario {
	t.Helper()
	name := "lc" + strings.ToLower(rand.Text()[:8])
	l := controlplanetest.New(t, s, name, parameters)
	cfg := s.Config()
	return &scenario{
		t: t, name: name, sim: s, local: l, asg: autoscaling.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg),
		led: ledger.New(dynamodb.NewFromConfig(l.Config), l.App.Tables[local.LedgerTableID]),
	}
}

// until lets simulated time pass round by round, the lifecycle state
// machine acting in every round, until cond holds, for at most limit.
func (sc *scenario) until(what string, limit time.Duration, cond func() bool) {
	sc.t.Helper()
	end := sc.sim.Now().Add(limit)
	for !cond() {
		if sc.sim.Now().After(end) {
			sc.t.Fatalf("%s: not within %s", what, limit)
		}
		if err := sc.local.Round(context.Background()); err != nil {
			sc.t.Fatal(err)
		}
	}
}

// instances returns the group's instances by lifecycle state.
func (sc *scenario) instances() map[astypes.LifecycleState][]string {
	sc.t.Helper()
	out, err := sc.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{sc.out.Compute.AutoScalingGroupName}})
	if err != nil {
		sc.t.Fatal(err)
	}
	by := map[astypes.LifecycleState][]string{}
	for _, i := range out.AutoScalingGroups[0].Instances {
		by[i.LifecycleState] = append(by[i.LifecycleState], aws.ToString(i.InstanceId))
	}
	return by
}

// inService reports whether the group has n instances, all in service.
func (sc *scenario) inService(n int) bool {
	by := sc.instances()
	return len(by) == 1 && len(by[astypes.LifecycleStateInService]) == n
}

// resize sets the group's size; the maximum too, so that the capacity
// provider's managed scaling keeps to it.
func (sc *scenario) resize(n int32) {
	sc.t.Helper()
	if _, err := sc.asg.UpdateAutoScalingGroup(context.Background(), &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(sc.out.Compute.AutoScalingGroupName), MinSize: aws.Int32(min(n, sc.spec.Compute.MinSize)), MaxSize: aws.Int32(n), DesiredCapacity: aws.Int32(n),
	}); err != nil {
		sc.t.Fatal(err)
	}
}

// shrink scales the group in to n instances while the service keeps its
// tasks, with the invariants checked at every step.
func (sc *scenario) shrink(n int32) {
	sc.t.Helper()
	inv, stop := sc.watch()
	sc.scaleIn(n)
	stop()
	inv.report(sc.t)
}

// scaleIn scales the group in to n instances while the service keeps its
// tasks, and waits until the service is steady again and every drain is
// recorded.
func (sc *scenario) scaleIn(n int32) {
	sc.t.Helper()
	from, drains := len(sc.instances()[astypes.LifecycleStateInService]), len(sc.recorded(lifecycle.KindDrain, ""))
	tasks := sc.desiredTasks()
	sc.resize(n)
	sc.until("the group shrinks and the service is steady", 30*time.Minute, func() bool {
		return sc.inService(int(n)) && sc.steady(tasks) && len(sc.recorded(lifecycle.KindDrain, "")) == drains+from-int(n)
	})
}

// desiredTasks is the service's desired count.
func (sc *scenario) desiredTasks() int32 {
	sc.t.Helper()
	out, err := sc.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(sc.out.Service.ClusterName), Services: []string{sc.out.Service.ServiceName}})
	if err != nil {
		sc.t.Fatal(err)
	}
	return out.Services[0].DesiredCount
}

// tasks sets the service's desired count.
func (sc *scenario) tasks(n int32) {
	sc.t.Helper()
	if _, err := sc.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{
		Cluster: aws.String(sc.out.Service.ClusterName), Service: aws.String(sc.out.Service.ServiceName), DesiredCount: aws.Int32(n),
	}); err != nil {
		sc.t.Fatal(err)
	}
}

// steady reports whether the service runs n tasks and nothing else.
func (sc *scenario) steady(n int32) bool {
	sc.t.Helper()
	out, err := sc.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(sc.out.Service.ClusterName), Services: []string{sc.out.Service.ServiceName}})
	if err != nil {
		sc.t.Fatal(err)
	}
	svc := out.Services[0]
	return svc.DesiredCount == n && svc.RunningCount == n && svc.PendingCount == 0 && len(svc.Deployments) == 1
}

// actions returns the lifecycle audit items, oldest first.
func (sc *scenario) actions() []ledger.Action {
	sc.t.Helper()
	as, _, err := sc.led.Actions(context.Background(), sc.name, ledger.PageRequest{Limit: 100})
	if err != nil {
		sc.t.Fatal(err)
	}
	var out []ledger.Action
	for _, a := range slices.Backward(as) {
		if a.Kind == ledger.KindLifecycle {
			out = append(out, a)
		}
	}
	return out
}

// recorded returns the audit items of the given action and outcome; an
// empty one matches any.
func (sc *scenario) recorded(action, outcome string) []ledger.Action {
	var out []ledger.Action
	for _, a := range sc.actions() {
		if (action == "" || a.Action == action) && (outcome == "" || a.Outcome == outcome) {
			out = append(out, a)
		}
	}
	return out
}

// executions returns the lifecycle executions the rule started, each
// waited for, with its history.
func (sc *scenario) executions(rule string) []*awstest.Execution {
	sc.t.Helper()
	var out []*awstest.Execution
	for _, o := range sc.local.Wiring.Dispatcher.Outcomes() {
		if o.Rule == rule && o.Execution != "" {
			out = append(out, sc.local.SFN.Wait(sc.t, o.Execution, time.Minute))
		}
	}
	return out
}

// put puts events on the bus as AWS would.
func (sc *scenario) put(evs ...events.Envelope) {
	sc.t.Helper()
	if _, err := sc.local.Wiring.Bus.Put(context.Background(), evs...); err != nil {
		sc.t.Fatal(err)
	}
}

// lifecycleEvents returns the lifecycle action events the simulator
// emitted for the instance.
func (sc *scenario) lifecycleEvents(instance string) []events.Envelope {
	var out []events.Envelope
	for _, ev := range sc.sim.Events() {
		if ev.DetailType != events.DetailTypeLaunchLifecycleAction && ev.DetailType != events.DetailTypeTerminateLifecycleAction {
			continue
		}
		var d events.LifecycleAction
		if json.Unmarshal(ev.Detail, &d) == nil && d.EC2InstanceID == instance {
			out = append(out, ev)
		}
	}
	return out
}

// notices returns what the outcome topic received.
func (sc *scenario) notices() []string {
	sc.t.Helper()
	q := sqs.NewFromConfig(sc.local.Config)
	var out []string
	for {
		got, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(sc.local.App.TopicQueues["OutcomeTopic"]), MaxNumberOfMessages: 10})
		if err != nil {
			sc.t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			return out
		}
		for _, m := range got.Messages {
			out = append(out, aws.ToString(m.Body))
			if _, err := q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(sc.local.App.TopicQueues["OutcomeTopic"]), ReceiptHandle: m.ReceiptHandle}); err != nil {
				sc.t.Fatal(err)
			}
		}
	}
}

// mutations counts the simulator's mutating calls that succeeded so far:
// a refused one changed nothing.
func (sc *scenario) mutations() int {
	n := 0
	for _, c := range sc.sim.Calls() {
		if c.Mutating() && c.ErrorCode == "" {
			n++
		}
	}
	return n
}

// invariants checks, at every step of the simulation, what a drain must
// never let happen: a task stopping (SIGTERM sent) while its target still
// takes or drains traffic; an instance shutting down while a task on it
// is not STOPPED; a zone of the stack without a healthy target.
type invariants struct {
	mu         sync.Mutex
	zones      []string
	violations []string
	prev       map[string]sim.InstanceView
	running    map[string][]string // instance → tasks not STOPPED, last step
	steps      int
}

func (sc *scenario) watch() (*invariants, func()) {
	inv := &invariants{zones: sc.out.Network.AZs, prev: map[string]sim.InstanceView{}, running: map[string][]string{}}
	return inv, sc.sim.Observe(inv.check)
}

func (inv *invariants) fail(format string, args ...any) {
	if len(inv.violations) < 20 {
		inv.violations = append(inv.violations, fmt.Sprintf(format, args...))
	}
}

func (inv *invariants) check(s sim.Snapshot) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.steps++
	targets := map[string]string{}
	healthy := map[string]int{}
	for _, tv := range s.Targets {
		targets[tv.ID] = tv.State
		if tv.State == "healthy" {
			healthy[tv.Zone]++
		}
	}
	for _, z := range inv.zones {
		if healthy[z] == 0 {
			inv.fail("%s: no healthy target in %s", s.At.Format(time.TimeOnly), z)
		}
	}
	running := map[string][]string{}
	for _, tv := range s.Tasks {
		// Once STOPPED, a task's address may already be a newer task's.
		if st := targets[tv.TargetID]; (tv.LastStatus == "STOPPING" || tv.LastStatus == "DEPROVISIONING") && st != "" && st != "unused" {
			inv.fail("%s: task %s is %s while its target %s is %s", s.At.Format(time.TimeOnly), lastSegment(tv.ARN), tv.LastStatus, tv.TargetID, st)
		}
		if tv.StopCode == string(ecstypes.TaskStopCodeTerminationNotice) && tv.Service != "" {
			inv.fail("%s: task %s was stopped by its instance's termination", s.At.Format(time.TimeOnly), lastSegment(tv.ARN))
		}
		if tv.LastStatus != "STOPPED" && tv.InstanceID != "" {
			running[tv.InstanceID] = append(running[tv.InstanceID], lastSegment(tv.ARN)+" "+tv.LastStatus)
		}
	}
	for _, iv := range s.Instances {
		was, ok := inv.prev[iv.ID]
		if ok && was.State == "running" && iv.State != "running" && len(inv.running[iv.ID]) > 0 {
			inv.fail("%s: instance %s is %s with tasks %v not STOPPED", s.At.Format(time.TimeOnly), iv.ID, iv.State, inv.running[iv.ID])
		}
		inv.prev[iv.ID] = iv
	}
	inv.running = running
}

func (inv *invariants) report(t testing.TB) {
	t.Helper()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.steps == 0 {
		t.Fatal("the simulator reported no step")
	}
	for _, v := range inv.violations {
		t.Error(v)
	}
	t.Logf("invariants checked at %d steps", inv.steps)
}

func lastSegment(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

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
