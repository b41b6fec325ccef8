package sim_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestContainerInstancesRegisterAfterTheirInstanceRuns(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 1, instances: 2})
	cis := f.containerInstances(t)
	zones := map[string]int{}
	for _, ci := range cis {
		if aws.ToString(ci.Status) != "ACTIVE" || !ci.AgentConnected {
			t.Fatalf("container instance %s is %s, connected %v", aws.ToString(ci.Ec2InstanceId), aws.ToString(ci.Status), ci.AgentConnected)
		}
		for _, a := range ci.Attributes {
			if aws.ToString(a.Name) == "ecs.availability-zone" {
				zones[aws.ToString(a.Value)]++
			}
		}
		// The agent registers AgentRegistration after the instance runs,
		// which is InstanceBoot after launch.
		runningAt := sim.DefaultStart.Add(10*time.Second + 30*time.Second)
		if got := aws.ToTime(ci.RegisteredAt); got.Before(runningAt.Add(20 * time.Second)) {
			t.Fatalf("registered at %s, before the instance had run for 20s (running at %s)", got, runningAt)
		}
	}
	if zones[f.net.zones[0]] != 1 || zones[f.net.zones[1]] != 1 {
		t.Fatalf("ecs.availability-zone attributes %v, want one per zone", zones)
	}
}

func TestServiceOfFourSpreadsTwoAndTwo(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 2, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	tasks := f.tasks(t, "web", ecstypes.DesiredStatusRunning)
	got := zoneCounts(tasks)
	if len(tasks) != 4 || got[f.net.zones[0]] != 2 || got[f.net.zones[1]] != 2 {
		t.Fatalf("tasks per zone %v, want 2+2", got)
	}
	instances := map[string]bool{}
	for _, tk := range tasks {
		instances[aws.ToString(tk.ContainerInstanceArn)] = true
	}
	if len(instances) != 4 {
		t.Fatalf("tasks on %d instances, want one per instance (spread by instanceId)", len(instances))
	}
	if n := f.healthyTargets(t, f.tg); n != 4 {
		t.Fatalf("%d healthy targets, want 4", n)
	}
	for _, d := range f.targets(t, f.tg) {
		if aws.ToString(d.Target.AvailabilityZone) == "" || !strings.HasPrefix(aws.ToString(d.Target.Id), "10.0.") {
			t.Fatalf("target %s is not a task IP with a zone", describe(d.Target))
		}
	}
}

func TestPlacementConstraintKeepsTasksInOneZone(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 3, instances: 4})
	zone := f.net.zones[1]
	f.createService(t, serviceOpts{name: "web", desired: 3, minHealthy: 100, max: 200, constraints: []ecstypes.PlacementConstraint{
		{Type: ecstypes.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.availability-zone == " + zone)},
	}})
	f.waitSteady(t, "web", 10*time.Minute)
	if got := zoneCounts(f.tasks(t, "web", ecstypes.DesiredStatusRunning)); got[zone] != 3 {
		t.Fatalf("tasks per zone %v, want all 3 in %s", got, zone)
	}
}

func TestRollingDeploymentKeepsMinimumHealthy(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 4, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	v2 := f.registerTD(t, strings.Replace(fleetImage, ":v1", ":v2", 1))
	f.updateTD(t, "web", v2)
	steps, maxTasks := 0, 0
	sawTwoDeployments := false
	// Every instant the simulator stops at is a step: the healthy count and
	// the task count are checked at each.
	advanceUntil(t, f.sim, 20*time.Minute, "rollout completed", func() bool {
		steps++
		if n := f.healthyTargets(t, f.tg); n < 4 {
			t.Fatalf("step %d at %s: %d healthy targets, below the minimum of 4", steps, f.sim.Now().Format(time.TimeOnly), n)
		}
		maxTasks = max(maxTasks, len(f.tasks(t, "web", ecstypes.DesiredStatusRunning)))
		svc := f.service(t, "web")
		sawTwoDeployments = sawTwoDeployments || len(svc.Deployments) == 2
		return f.steady(t, "web") && aws.ToString(svc.TaskDefinition) == v2
	})
	if !sawTwoDeployments || steps < 10 {
		t.Fatalf("saw two deployments %v over %d steps; the rollout was not observed", sawTwoDeployments, steps)
	}
	if maxTasks > 8 {
		t.Fatalf("%d tasks at once, above maximumPercent 200 of 4", maxTasks)
	}
	for _, tk := range f.tasks(t, "web", ecstypes.DesiredStatusRunning) {
		if aws.ToString(tk.TaskDefinitionArn) != v2 {
			t.Fatalf("task %s runs %s after the rollout", aws.ToString(tk.TaskArn), aws.ToString(tk.TaskDefinitionArn))
		}
	}
	if n := f.healthyTargets(t, f.tg); n != 4 {
		t.Fatalf("%d healthy targets after the rollout, want 4", n)
	}
	evs := f.deploymentEvents(t)
	last := evs[len(evs)-1]
	if last.EventName != "SERVICE_DEPLOYMENT_COMPLETED" || last.DeploymentID != aws.ToString(f.service(t, "web").Deployments[0].Id) {
		t.Fatalf("last deployment event %+v, want the new deployment COMPLETED", last)
	}
}

func TestTaskLifecycleAndStopReason(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 5, instances: 2})
	f.createService(t, serviceOpts{name: "web", desired: 1, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	task := f.tasks(t, "web", ecstypes.DesiredStatusRunning)[0]
	ctx := context.Background()
	if _, err := f.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(fleetCluster), Task: task.TaskArn, Reason: aws.String("operator")}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 5*time.Minute, "task stopped", func() bool {
		out, err := f.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(fleetCluster), Tasks: []string{aws.ToString(task.TaskArn)}})
		return err == nil && aws.ToString(out.Tasks[0].LastStatus) == "STOPPED"
	})
	var seen []string
	for _, ev := range f.sim.Events() {
		if ev.DetailType != "ECS Task State Change" || ev.Resources[0] != aws.ToString(task.TaskArn) {
			continue
		}
		var d struct {
			LastStatus    string `json:"lastStatus"`
			StoppedReason string `json:"stoppedReason"`
			StopCode      string `json:"stopCode"`
		}
		if err := jsonUnmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != d.LastStatus {
			seen = append(seen, d.LastStatus)
		}
		if d.LastStatus == "STOPPED" && (d.StoppedReason != "operator" || d.StopCode != "UserInitiated") {
			t.Fatalf("stopped with reason %q code %q, want operator UserInitiated", d.StoppedReason, d.StopCode)
		}
	}
	want := "PROVISIONING,PENDING,RUNNING,DEACTIVATING,STOPPING,DEPROVISIONING,STOPPED"
	if got := strings.Join(seen, ","); got != want {
		t.Fatalf("task went through %s, want %s", got, want)
	}
	// The service replaces the stopped task.
	f.waitSteady(t, "web", 5*time.Minute)
	if n := len(f.tasks(t, "web", ecstypes.DesiredStatusRunning)); n != 1 {
		t.Fatalf("%d running tasks after the replacement, want 1", n)
	}
}

func TestTaskDefinitionRevisionsAndDeregistration(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 6, instances: 0})
	ctx := context.Background()
	v2 := f.registerTD(t, "web:v2")
	if !strings.HasSuffix(f.td, ":1") || !strings.HasSuffix(v2, ":2") {
		t.Fatalf("revisions %s and %s, want :1 and :2", f.td, v2)
	}
	if _, err := f.ecs.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	latest, err := f.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if latest.TaskDefinition.Revision != 1 {
		t.Fatalf("family resolves to revision %d after deregistering 2, want 1", latest.TaskDefinition.Revision)
	}
	old, err := f.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(v2)})
	if err != nil || old.TaskDefinition.Status != ecstypes.TaskDefinitionStatusInactive {
		t.Fatalf("revision 2 is %v (%v), want INACTIVE and still describable", old, err)
	}
	_, err = f.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(fleetCluster), ServiceName: aws.String("x"), TaskDefinition: aws.String(v2), DesiredCount: aws.Int32(1),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
	})
	if code := errCode(err); code != "InvalidParameterException" {
		t.Fatalf("CreateService on an INACTIVE revision: %v, want InvalidParameterException", err)
	}
	del, err := f.ecs.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{v2, f.td}})
	if err != nil || len(del.TaskDefinitions) != 1 || del.TaskDefinitions[0].Status != ecstypes.TaskDefinitionStatusDeleteInProgress || len(del.Failures) != 1 {
		t.Fatalf("DeleteTaskDefinitions of an INACTIVE and an ACTIVE revision: %s (%v), want one deleted and one failure", describe(del), err)
	}
	if v3 := f.registerTD(t, "web:v3"); !strings.HasSuffix(v3, ":3") {
		t.Fatalf("next revision %s after deleting 2, want :3", v3)
	}
}

func TestUnhealthyTaskSurvivesItsGracePeriod(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 7, instances: 2})
	bad := strings.Replace(fleetImage, ":v1", ":sick", 1)
	f.sim.FailImage(bad, sim.ImageUnhealthy)
	f.td = f.registerTD(t, bad)
	const grace = 120
	f.createService(t, serviceOpts{name: "web", desired: 1, minHealthy: 100, max: 200, grace: grace})
	var started time.Time
	var unhealthyAt time.Time
	advanceUntil(t, f.sim, 10*time.Minute, "unhealthy task stopped", func() bool {
		tasks := f.tasks(t, "web", ecstypes.DesiredStatusStopped)
		running := f.tasks(t, "web", ecstypes.DesiredStatusRunning)
		if started.IsZero() && len(running) == 1 && running[0].StartedAt != nil {
			started = *running[0].StartedAt
		}
		if unhealthyAt.IsZero() {
			for _, d := range f.targets(t, f.tg) {
				if d.TargetHealth.State == elbtypes.TargetHealthStateEnumUnhealthy {
					unhealthyAt = f.sim.Now()
				}
			}
		}
		return len(tasks) > 0
	})
	stopped := f.tasks(t, "web", ecstypes.DesiredStatusStopped)[0]
	if !strings.HasPrefix(aws.ToString(stopped.StoppedReason), "Task failed ELB health checks in (target-group ") {
		t.Fatalf("stopped reason %q", aws.ToString(stopped.StoppedReason))
	}
	if unhealthyAt.IsZero() || !unhealthyAt.Before(started.Add(grace*time.Second)) {
		t.Fatalf("target unhealthy at %s, want before the grace period ends at %s", unhealthyAt, started.Add(grace*time.Second))
	}
	if at := aws.ToTime(stopped.StoppingAt); at.Before(started.Add(grace * time.Second)) {
		t.Fatalf("task stopped at %s, inside its grace period (started %s)", at, started)
	}
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

func TestServiceReportsTasksItCannotPlace(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 8, instances: 1})
	// A t3.medium registers 3840 MiB: 7 tasks of 512 fit.
	f.createService(t, serviceOpts{name: "web", desired: 10, minHealthy: 100, max: 200, noLoadBalancer: true})
	f.sim.Advance(2 * time.Minute)
	svc := f.service(t, "web")
	if svc.RunningCount != 7 {
		t.Fatalf("%d running tasks, want the 7 that fit", svc.RunningCount)
	}
	found := false
	for _, e := range svc.Events {
		found = found || strings.Contains(aws.ToString(e.Message), "was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance ") &&
			strings.Contains(aws.ToString(e.Message), "has insufficient memory available.")
	}
	if !found {
		t.Fatalf("no placement failure event in %s", describe(svc.Events))
	}
	if svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateInProgress {
		t.Fatalf("rollout %s while 2 tasks cannot be placed, want IN_PROGRESS", svc.Deployments[0].RolloutState)
	}
}

func TestRunTaskPlacesStandaloneTasks(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 9, instances: 2})
	ctx := context.Background()
	out, err := f.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(fleetCluster), TaskDefinition: aws.String(f.td), Count: aws.Int32(2), StartedBy: aws.String("migration"),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
		PlacementConstraints: []ecstypes.PlacementConstraint{{Type: ecstypes.PlacementConstraintTypeDistinctInstance}},
	})
	if err != nil || len(out.Tasks) != 2 || len(out.Failures) != 0 {
		t.Fatalf("RunTask: %s (%v)", describe(out), err)
	}
	if out.Tasks[0].ContainerInstanceArn == nil || aws.ToString(out.Tasks[0].ContainerInstanceArn) == aws.ToString(out.Tasks[1].ContainerInstanceArn) {
		t.Fatalf("tasks on %v and %v, want distinct instances", aws.ToString(out.Tasks[0].ContainerInstanceArn), aws.ToString(out.Tasks[1].ContainerInstanceArn))
	}
	advanceUntil(t, f.sim, time.Minute, "tasks running", func() bool {
		list, err := f.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(fleetCluster), StartedBy: aws.String("migration")})
		if err != nil || len(list.TaskArns) != 2 {
			return false
		}
		d, err := f.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(fleetCluster), Tasks: list.TaskArns})
		return err == nil && aws.ToString(d.Tasks[0].LastStatus) == "RUNNING" && aws.ToString(d.Tasks[1].LastStatus) == "RUNNING"
	})
	third, err := f.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(fleetCluster), TaskDefinition: aws.String(f.td), Count: aws.Int32(1),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
		PlacementConstraints: []ecstypes.PlacementConstraint{{Type: ecstypes.PlacementConstraintTypeDistinctInstance}},
	})
	if err != nil || len(third.Tasks) != 0 || len(third.Failures) != 1 {
		t.Fatalf("a third distinct-instance task on 2 instances: %s (%v), want a failure", describe(third), err)
	}
}
