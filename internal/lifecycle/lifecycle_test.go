package lifecycle_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// The template's rules and the rounds of the local environment.
const (
	launchRule    = "LifecycleStateMachineOnLaunch"
	terminateRule = "LifecycleStateMachineOnTerminate"
)

// TestFreshBuildComesIntoServiceThroughTheLaunchPath runs the template's
// build state machine: each of the group's instances waits on its launch
// hook until the lifecycle state machine, started by the template's launch
// rule, sees it join the cluster and completes it with CONTINUE. None is
// abandoned.
func TestFreshBuildComesIntoServiceThroughTheLaunchPath(t *testing.T) {
	sc := attach(t, sim.New(sim.Options{Seed: 3}), nil)
	exec := sc.local.Run(t, "BuildStateMachine", map[string]any{"spec": map[string]any{}, "waits": map[string]any{"seconds": 0, "maxAttempts": 200}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("build %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	var out struct {
		Layers stack.Outputs `json:"layers"`
	}
	if err := json.Unmarshal([]byte(exec.Output), &out); err != nil {
		t.Fatal(err)
	}
	sc.out = &out.Layers
	if !sc.inService(2) {
		t.Errorf("group instances %v, want 2 in service", sc.instances())
	}
	if got := sc.recorded(lifecycle.KindLaunch, lifecycle.ResultContinue); len(got) != 2 {
		t.Errorf("launches completed with CONTINUE: %+v, want the group's 2", sc.actions())
	}
	if got := sc.recorded(lifecycle.KindLaunch, lifecycle.ResultAbandon); len(got) != 0 {
		t.Errorf("abandoned launches: %+v", got)
	}
	acts, err := sc.asg.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String(sc.out.Compute.AutoScalingGroupName)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts.Activities {
		if a.StatusCode != astypes.ScalingActivityStatusCodeSuccessful {
			t.Errorf("scaling activity %q: %s %s", aws.ToString(a.Description), a.StatusCode, aws.ToString(a.StatusMessage))
		}
	}
	runs := sc.executions(launchRule)
	if len(runs) != 2 {
		t.Fatalf("%d launch executions, want 2", len(runs))
	}
	for _, e := range runs {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Errorf("launch execution %s: %s %s", e.ARN, e.Error, e.Cause)
		}
		states, calls := transitions(e)
		t.Logf("launch: %d state transitions, %d function invocations", states, calls)
	}
}

// TestAgentThatNeverRegistersIsAbandoned launches an instance whose agent
// joins another cluster, so it never registers with the stack's: the
// lifecycle state machine heartbeats its launch hook (its 300 s timeout is
// shorter than the 420 s deadline), abandons it at the deadline with the
// reason recorded and notified, and the group replaces it with an
// instance that joins.
func TestAgentThatNeverRegistersIsAbandoned(t *testing.T) {
	sc := newScenario(t, scenarioOptions{seed: 5, parameters: map[string]string{"LaunchDeadlineSeconds": "420"}})
	ctx := context.Background()
	lt := sc.out.Compute.LaunchTemplateID
	d, err := sc.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{lt}})
	if err != nil {
		t.Fatal(err)
	}
	good := strconv.FormatInt(aws.ToInt64(d.LaunchTemplates[0].DefaultVersionNumber), 10)
	elsewhere := base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\necho ECS_CLUSTER=elsewhere >> /etc/ecs/ecs.config\n"))
	v, err := sc.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(lt), SourceVersion: aws.String(good), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String(elsewhere)},
	})
	if err != nil {
		t.Fatal(err)
	}
	setDefault := func(version string) {
		if _, err := sc.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(lt), DefaultVersion: aws.String(version)}); err != nil {
			t.Fatal(err)
		}
	}
	setDefault(strconv.FormatInt(aws.ToInt64(v.LaunchTemplateVersion.VersionNumber), 10))
	if _, err := sc.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(sc.out.Compute.AutoScalingGroupName), DesiredCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	sc.until("a third instance waits on its launch hook", 5*time.Minute, func() bool { return len(sc.instances()[astypes.LifecycleStatePendingWait]) == 1 })
	broken := sc.instances()[astypes.LifecycleStatePendingWait][0]
	// Later launches join the cluster again.
	setDefault(good)
	sc.until("the launch is abandoned", 15*time.Minute, func() bool { return len(sc.recorded(lifecycle.KindLaunch, lifecycle.ResultAbandon)) > 0 })
	abandoned := sc.recorded(lifecycle.KindLaunch, lifecycle.ResultAbandon)
	if len(abandoned) != 1 || abandoned[0].Detail["instance"] != broken {
		t.Fatalf("abandoned %+v, want the launch of %s", abandoned, broken)
	}
	a := abandoned[0]
	if !strings.HasPrefix(a.Reason, "deadline policy: the launch deadline of 7m0s passed: no container instance registered yet") {
		t.Errorf("reason %q, want the deadline and what was missing", a.Reason)
	}
	if n, _ := strconv.Atoi(a.Detail["heartbeats"]); n < 1 {
		t.Errorf("%s heartbeats: the 300 s hook would have ended the launch before the 420 s deadline", a.Detail["heartbeats"])
	}
	sc.until("the group replaces it", 15*time.Minute, func() bool {
		return sc.inService(3) && len(sc.recorded(lifecycle.KindLaunch, lifecycle.ResultContinue)) == 3
	})
	for _, ids := range sc.instances() {
		for _, id := range ids {
			if id == broken {
				t.Errorf("the abandoned instance %s is still in the group", id)
			}
		}
	}
	// The build's two launches, and the replacement's.
	launched := sc.recorded(lifecycle.KindLaunch, lifecycle.ResultContinue)
	if len(launched) != 3 || slices.ContainsFunc(launched, func(a ledger.Action) bool { return a.Detail["instance"] == broken }) {
		t.Errorf("launches completed with CONTINUE %+v, want the build's and the replacement's", launched)
	}
	notices := strings.Join(sc.notices(), "\n")
	if !strings.Contains(notices, broken) || !strings.Contains(notices, "completed with ABANDON") {
		t.Errorf("notifications %q, want the abandoned launch of %s", notices, broken)
	}
}

// keepTasks pins the service's task count: its scalable target's minimum
// too, so that target tracking does not scale it in.
func (sc *scenario) keepTasks(n int32) {
	sc.t.Helper()
	if _, err := aas.NewFromConfig(sc.sim.Config()).RegisterScalableTarget(context.Background(), &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		ResourceId: aws.String("service/" + sc.out.Service.ClusterName + "/" + sc.out.Service.ServiceName), MinCapacity: aws.Int32(n), MaxCapacity: aws.Int32(sc.spec.Service.MaxCount),
	}); err != nil {
		sc.t.Fatal(err)
	}
	sc.tasks(n)
}

// grow takes the group to n instances and the service to n tasks, one on
// each instance.
func (sc *scenario) grow(n int32) {
	sc.t.Helper()
	sc.resize(n)
	sc.until("the group grows", 15*time.Minute, func() bool { return sc.inService(int(n)) })
	sc.keepTasks(n)
	sc.until("the service grows", 15*time.Minute, func() bool { return sc.steady(n) })
}

// TestScaleInDrainsBeforeTerminating scales the group in from 4 instances
// to 2 while the service runs a task on each. At every step of the
// simulation, no task is stopped while its target still takes or drains
// traffic, no instance shuts down before its tasks are STOPPED, and each
// zone keeps a healthy target; each drain is recorded with its instance,
// zone and tasks.
func TestScaleInDrainsBeforeTerminating(t *testing.T) {
	sc := newScenario(t, scenarioOptions{seed: 7})
	sc.grow(4)
	sc.shrink(2)
	drains := sc.recorded(lifecycle.KindDrain, lifecycle.ResultContinue)
	if len(drains) != 2 {
		t.Fatalf("drains %+v, want 2 completed with CONTINUE", sc.actions())
	}
	zones := map[string]bool{}
	for _, d := range drains {
		zones[d.Detail["zone"]] = true
		if d.Detail["tasks_drained"] != "1" || d.Detail["tasks_left"] != "0" || d.Detail["drained_by"] != lifecycle.DrainedByWorkflow || d.Detail["container_instance"] == "" {
			t.Errorf("drain of %s: %v, want its one task drained by the workflow", d.Detail["instance"], d.Detail)
		}
	}
	if len(zones) != 2 {
		t.Errorf("drains in zones %v, want one in each", zones)
	}
	for _, e := range sc.executions(terminateRule) {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Errorf("drain execution %s: %s %s", e.ARN, e.Error, e.Cause)
		}
		states, calls := transitions(e)
		t.Logf("drain: %d state transitions, %d function invocations", states, calls)
	}
}

// TestDrainThatNeverEnds follows drains that outlast the terminate hook's
// heartbeat timeout: heartbeats keep the instance while a task that
// ignores SIGTERM waits for its stop timeout; and when a task will not
// stop at all (a standalone task, which draining leaves running, on the
// instance the group is told to terminate), the deadline policy completes
// the action with the configured result, records it and notifies.
func TestDrainThatNeverEnds(t *testing.T) {
	t.Run("a task ignores SIGTERM until its stop timeout", func(t *testing.T) {
		sc := newScenario(t, scenarioOptions{seed: 11, spec: `{"compute": {"terminateHookTimeout": 60}}`, before: func(s *sim.Sim, spec stack.Spec) {
			s.FailImage(spec.Service.ImageRepository+":"+spec.Service.ImageTag, sim.ImageIgnoresSIGTERM)
		}})
		sc.grow(3)
		sc.shrink(2)
		d := sc.recorded(lifecycle.KindDrain, lifecycle.ResultContinue)
		if len(d) != 1 {
			t.Fatalf("drains %+v, want one completed with CONTINUE", sc.actions())
		}
		took, err := time.ParseDuration(d[0].Detail["duration"])
		if n, _ := strconv.Atoi(d[0].Detail["heartbeats"]); err != nil || n < 1 || took <= time.Minute {
			t.Errorf("drain took %s with %s heartbeats; want longer than the hook's 60 s, kept by heartbeats", d[0].Detail["duration"], d[0].Detail["heartbeats"])
		}
		if killed := sc.killedTasks(); killed != 1 {
			t.Errorf("%d tasks were killed at their stop timeout, want the drained one", killed)
		}
	})
	t.Run("a task will not stop", func(t *testing.T) {
		sc := newScenario(t, scenarioOptions{seed: 13, spec: `{"compute": {"terminateHookTimeout": 120}}`,
			parameters: map[string]string{"DrainDeadlineSeconds": "600", "DrainDeadlineResult": "ABANDON"}})
		sc.resize(3)
		sc.until("3 instances in service", 15*time.Minute, func() bool { return sc.inService(3) })
		host := sc.standaloneTask()
		if _, err := sc.asg.TerminateInstanceInAutoScalingGroup(context.Background(), &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(host), ShouldDecrementDesiredCapacity: aws.Bool(true),
		}); err != nil {
			t.Fatal(err)
		}
		sc.until("the deadline policy acts", 30*time.Minute, func() bool { return len(sc.recorded(lifecycle.KindDrain, "")) == 1 })
		d := sc.recorded(lifecycle.KindDrain, lifecycle.ResultAbandon)
		if len(d) != 1 {
			t.Fatalf("drains %+v, want one completed with ABANDON, the configured result", sc.actions())
		}
		a := d[0]
		if !strings.HasPrefix(a.Reason, "deadline policy: the drain deadline of 10m0s passed: 1 tasks not STOPPED") {
			t.Errorf("reason %q, want the deadline and the task left", a.Reason)
		}
		took, err := time.ParseDuration(a.Detail["duration"])
		if n, _ := strconv.Atoi(a.Detail["heartbeats"]); err != nil || n < 4 || took < 10*time.Minute {
			t.Errorf("the action lasted %s with %s heartbeats; want the 10 m deadline, kept past the hook's 120 s by heartbeats", a.Detail["duration"], a.Detail["heartbeats"])
		}
		if a.Detail["tasks_left"] != "1" {
			t.Errorf("tasks left %s, want the standalone task", a.Detail["tasks_left"])
		}
		notices := strings.Join(sc.notices(), "\n")
		if !strings.Contains(notices, a.Detail["instance"]) || !strings.Contains(notices, "drain deadline of 10m0s passed") || !strings.Contains(notices, "completed with ABANDON") {
			t.Errorf("notifications %q, want the drain deadline of %s", notices, a.Detail["instance"])
		}
		sc.until("the instance leaves the group", 5*time.Minute, func() bool {
			for _, ids := range sc.instances() {
				if slices.Contains(ids, host) {
					return false
				}
			}
			return true
		})
	})
}

// killedTasks counts the stopped tasks whose app container was killed:
// exit code 137 after SIGKILL.
func (sc *scenario) killedTasks() int {
	sc.t.Helper()
	ctx := context.Background()
	list, err := sc.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(sc.out.Service.ClusterName), DesiredStatus: ecstypes.DesiredStatusStopped})
	if err != nil || len(list.TaskArns) == 0 {
		sc.t.Fatalf("stopped tasks: %v %v", list, err)
	}
	out, err := sc.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(sc.out.Service.ClusterName), Tasks: list.TaskArns})
	if err != nil {
		sc.t.Fatal(err)
	}
	n := 0
	for _, task := range out.Tasks {
		for _, c := range task.Containers {
			if aws.ToInt32(c.ExitCode) == 137 {
				n++
				break
			}
		}
	}
	return n
}

// standaloneTask runs a task outside the service, with the service's task
// definition and network, and returns the instance it runs on: draining
// leaves such a task running.
func (sc *scenario) standaloneTask() string {
	sc.t.Helper()
	ctx := context.Background()
	cluster := aws.String(sc.out.Service.ClusterName)
	svc, err := sc.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: cluster, Services: []string{sc.out.Service.ServiceName}})
	if err != nil {
		sc.t.Fatal(err)
	}
	run, err := sc.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: cluster, TaskDefinition: svc.Services[0].TaskDefinition, LaunchType: ecstypes.LaunchTypeEc2,
		NetworkConfiguration: svc.Services[0].NetworkConfiguration, StartedBy: aws.String("batch"),
	})
	if err != nil || len(run.Tasks) != 1 {
		sc.t.Fatalf("RunTask: %v %d tasks", err, len(run.Tasks))
	}
	task := run.Tasks[0].TaskArn
	sc.until("the standalone task runs", 5*time.Minute, func() bool {
		out, err := sc.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: cluster, Tasks: []string{aws.ToString(task)}})
		if err != nil {
			sc.t.Fatal(err)
		}
		return aws.ToString(out.Tasks[0].LastStatus) == "RUNNING"
	})
	ci, err := sc.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: cluster, ContainerInstances: []string{aws.ToString(run.Tasks[0].ContainerInstanceArn)}})
	if err != nil {
		sc.t.Fatal(err)
	}
	return aws.ToString(ci.ContainerInstances[0].Ec2InstanceId)
}

// TestDuplicateEventsDrainOnce delivers a terminate action's event three
// times: the first execution drains, the two others find the token claimed
// and record that they changed nothing.
func TestDuplicateEventsDrainOnce(t *testing.T) {
	sc := newScenario(t, scenarioOptions{seed: 17})
	sc.grow(3)
	drains, completions := sc.sim.CallCount(ecs.ServiceID, "UpdateContainerInstancesState"), sc.sim.CallCount(autoscaling.ServiceID, "CompleteLifecycleAction")
	sc.resize(2)
	sc.until("an instance waits on its terminate hook", 2*time.Minute, func() bool { return len(sc.instances()[astypes.LifecycleStateTerminatingWait]) == 1 })
	victim := sc.instances()[astypes.LifecycleStateTerminatingWait][0]
	evs := sc.lifecycleEvents(victim)
	ev := evs[len(evs)-1]
	if ev.DetailType != events.DetailTypeTerminateLifecycleAction {
		t.Fatalf("last lifecycle event of %s is %s", victim, ev.DetailType)
	}
	sc.put(ev, ev)
	sc.until("three executions end", 15*time.Minute, func() bool { return sc.inService(2) && len(sc.recorded(lifecycle.KindDrain, "")) == 3 })
	if got := len(sc.recorded(lifecycle.KindDrain, lifecycle.ResultContinue)); got != 1 {
		t.Errorf("%d drains completed, want 1: %+v", got, sc.actions())
	}
	dups := sc.recorded(lifecycle.KindDrain, lifecycle.OutcomeDuplicate)
	if len(dups) != 2 {
		t.Errorf("%d duplicates recorded, want 2", len(dups))
	}
	for _, d := range dups {
		if d.Detail["instance"] != victim || d.Detail["owner"] == "" || d.Detail["owner"] == d.ExecutionARN {
			t.Errorf("duplicate %+v, want the victim and the execution that drains it", d)
		}
	}
	if n := sc.sim.CallCount(ecs.ServiceID, "UpdateContainerInstancesState") - drains; n != 1 {
		t.Errorf("UpdateContainerInstancesState called %d times, want 1", n)
	}
	if n := sc.sim.CallCount(autoscaling.ServiceID, "CompleteLifecycleAction") - completions; n != 1 {
		t.Errorf("CompleteLifecycleAction called %d times, want 1", n)
	}
	if runs := sc.executions(terminateRule); len(runs) != 3 {
		t.Errorf("%d executions, want one per delivery", len(runs))
	}
}

// TestManagedDrainingIsNotDrainedTwice turns ECS's managed instance
// draining on: ECS drains the terminating instance itself, and the
// workflow only waits for it, never setting DRAINING a second time.
func TestManagedDrainingIsNotDrainedTwice(t *testing.T) {
	sc := newScenario(t, scenarioOptions{seed: 29})
	sc.grow(3)
	if _, err := sc.ecs.UpdateCapacityProvider(context.Background(), &ecs.UpdateCapacityProviderInput{
		Name: aws.String(sc.out.Compute.CapacityProviderName), AutoScalingGroupProvider: &ecstypes.AutoScalingGroupProviderUpdate{ManagedDraining: ecstypes.ManagedDrainingEnabled},
	}); err != nil {
		t.Fatal(err)
	}
	drains := sc.sim.CallCount(ecs.ServiceID, "UpdateContainerInstancesState")
	sc.shrink(2)
	d := sc.recorded(lifecycle.KindDrain, lifecycle.ResultContinue)
	if len(d) != 1 || d[0].Detail["drained_by"] != lifecycle.DrainedByECS || d[0].Detail["tasks_drained"] != "1" {
		t.Errorf("drains %+v, want one by ECS's managed draining, waited for", sc.actions())
	}
	if n := sc.sim.CallCount(ecs.ServiceID, "UpdateContainerInstancesState") - drains; n != 0 {
		t.Errorf("UpdateContainerInstancesState called %d times; ECS drains the instance", n)
	}
}

// TestGoneInstanceAndStaleTokenEndCleanly puts two actions that can no
// longer be completed: one for an instance no longer in the group, one
// whose instance is in service already. Both end with their reason
// recorded and no call that changes the stack.
func TestGoneInstanceAndStaleTokenEndCleanly(t *testing.T) {
	sc := newScenario(t, scenarioOptions{seed: 19})
	inService := sc.instances()[astypes.LifecycleStateInService][0]
	launch := sc.lifecycleEvents(inService)[0]
	stale := withDetail(t, launch, map[string]any{"LifecycleActionToken": "0c6f3a52-4b1d-4e8a-9f27-5d3c1b2a4e6f"})
	gone := withDetail(t, launch, map[string]any{
		"LifecycleActionToken": "7d2e9b41-3c5a-4f6b-8e10-2a4c6e8f0b1d", "EC2InstanceId": "i-0fedcba9876543210",
		"LifecycleHookName": sc.name + "-terminate-hook", "LifecycleTransition": events.TransitionTerminating, "Origin": "AutoScalingGroup", "Destination": "EC2",
	})
	gone.DetailType = events.DetailTypeTerminateLifecycleAction
	before := sc.mutations()
	sc.put(stale, gone)
	sc.until("both are recorded", 5*time.Minute, func() bool { return len(sc.recorded("", lifecycle.OutcomeGone)) == 2 })
	for _, a := range sc.recorded("", lifecycle.OutcomeGone) {
		want := "is no longer in group " + sc.name + "-asg"
		if a.Action == lifecycle.KindLaunch {
			want = "is InService, no longer waiting on " + sc.name + "-launch-hook: its lifecycle action token is no longer valid"
		}
		if !strings.Contains(a.Reason, want) {
			t.Errorf("%s %s: reason %q, want %q", a.Action, a.Detail["instance"], a.Reason, want)
		}
	}
	if n := sc.mutations() - before; n != 0 {
		t.Errorf("%d calls changed the stack", n)
	}
}

// TestOtherGroupsAndMalformedEventsChangeNothing puts an event of another
// group on the bus, which the rules do not match, and starts the state
// machine with it and with malformed events, which the function refuses
// with a typed error before any call: each execution fails with a REFUSED
// audit item saying why, and nothing of the stack changes.
func TestOtherGroupsAndMalformedEventsChangeNothing(t *testing.T) {
	sc := newScenario(t, scenarioOptions{seed: 31})
	id := sc.instances()[astypes.LifecycleStateInService][0]
	launch := sc.lifecycleEvents(id)[0]
	other := withDetail(t, launch, map[string]any{"AutoScalingGroupName": "batch-asg", "LifecycleHookName": "batch-launch-hook", "LifecycleActionToken": "1f3e5d7c-9b2a-4c6e-8d0f-4b6a8c0e2d4f"})
	before, delivered := sc.mutations(), len(sc.local.Wiring.Dispatcher.Outcomes())
	sc.put(other)
	// A later event of the stack's own group shows the bus has moved past
	// the other group's.
	sentinel := withDetail(t, launch, map[string]any{"LifecycleActionToken": "2e4f6a8c-0b1d-4e3f-9a5c-7e9b1d3f5a7c"})
	sc.put(sentinel)
	sc.until("the stack's own event is handled", 5*time.Minute, func() bool { return len(sc.recorded(lifecycle.KindLaunch, lifecycle.OutcomeGone)) == 1 })
	// The other rules (ECS's verdicts for the rollout) see other events.
	var got []local.Outcome
	for _, o := range sc.local.Wiring.Dispatcher.Outcomes()[delivered:] {
		if strings.HasPrefix(o.Rule, "LifecycleStateMachine") {
			got = append(got, o)
		}
	}
	if len(got) != 1 {
		t.Errorf("deliveries %+v, want only the stack's own event", got)
	}

	malformed := map[string]any{
		"another group":         other,
		"no token":              withDetail(t, launch, map[string]any{"LifecycleActionToken": ""}),
		"a terminate detail":    withDetail(t, launch, map[string]any{"LifecycleTransition": events.TransitionTerminating}),
		"another source":        func() events.Envelope { e := launch; e.Source = "custom.autoscaling"; return e }(),
		"not an event":          "i-0123456789abcdef0",
		"a detail of the wrong": map[string]any{"source": "aws.autoscaling", "detail-type": events.DetailTypeLaunchLifecycleAction, "detail": []int{1, 2}},
	}
	for name, ev := range malformed {
		exec := sc.local.Run(t, "LifecycleStateMachine", ev)
		if exec.Status != sfntypes.ExecutionStatusFailed || exec.Error != "LifecycleFailed" {
			t.Errorf("%s: execution %s %s, want it FAILED", name, exec.Status, exec.Error)
		}
		if !slices.Contains(exec.FailedErrors(), "InvalidInputError") {
			t.Errorf("%s: errors %v, want the function's InvalidInputError", name, exec.FailedErrors())
		}
	}
	refused := sc.recorded("", lifecycle.OutcomeRefused)
	if len(refused) != len(malformed) {
		t.Errorf("%d refusals recorded, want %d: %+v", len(refused), len(malformed), sc.actions())
	}
	for _, a := range refused {
		if !strings.HasPrefix(a.Reason, "invalid input: ") || a.Detail["error"] != "InvalidInputError" {
			t.Errorf("refusal %+v, want the parser's problems", a)
		}
	}
	if n := sc.mutations() - before; n != 0 {
		t.Errorf("%d calls changed the stack", n)
	}
}

// withDetail returns ev with detail fields replaced.
func withDetail(t *testing.T, ev events.Envelope, set map[string]any) events.Envelope {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		d[k] = v
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	ev.Detail = raw
	return ev
}
