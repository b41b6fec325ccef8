package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestBadImageTripsCircuitBreakerAndRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     sim.ImageFault
		desired   int32
		threshold int32
		// cause is what the reason says happened to the tasks.
		cause string
	}{
		// The threshold is half the desired count, at least 3 and at most
		// 200: 4 tasks give 3, 10 give 5.
		{"exits", sim.ImageExits, 4, 3, "exited"},
		{"pull fails", sim.ImagePullFails, 4, 3, "failed to start"},
		{"unhealthy", sim.ImageUnhealthy, 4, 3, "failed health checks"},
		{"exits ten", sim.ImageExits, 10, 5, "exited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 11, instances: 4})
			v1 := f.td
			f.createService(t, serviceOpts{name: "web", desired: tc.desired, minHealthy: 100, max: 200, breaker: true})
			f.waitSteady(t, "web", 15*time.Minute)
			good := f.service(t, "web").Deployments[0]
			bad := strings.Replace(fleetImage, ":v1", ":broken", 1)
			f.sim.FailImage(bad, tc.fault)
			f.updateTD(t, "web", f.registerTD(t, bad))
			failing := aws.ToString(f.service(t, "web").Deployments[0].Id)
			var failedAt ecstypes.Deployment
			advanceUntil(t, f.sim, 30*time.Minute, "deployment failed", func() bool {
				for _, d := range f.service(t, "web").Deployments {
					if aws.ToString(d.Id) == failing && d.RolloutState == ecstypes.DeploymentRolloutStateFailed {
						failedAt = d
						return true
					}
				}
				return false
			})
			if failedAt.FailedTasks != tc.threshold {
				t.Fatalf("deployment failed after %d failed tasks, want the threshold %d", failedAt.FailedTasks, tc.threshold)
			}
			if r := aws.ToString(failedAt.RolloutStateReason); !strings.HasPrefix(r, "ECS deployment circuit breaker: ") || !strings.Contains(r, tc.cause) {
				t.Fatalf("rollout state reason %q", aws.ToString(failedAt.RolloutStateReason))
			}
			svc := f.service(t, "web")
			if aws.ToString(svc.TaskDefinition) != v1 || len(svc.Deployments) != 2 {
				t.Fatalf("after the failure the service runs %s with %d deployments, want a rollback to %s", aws.ToString(svc.TaskDefinition), len(svc.Deployments), v1)
			}
			f.waitSteady(t, "web", 30*time.Minute)
			for _, tk := range f.tasks(t, "web", ecstypes.DesiredStatusRunning) {
				if aws.ToString(tk.TaskDefinitionArn) != v1 {
					t.Fatalf("task runs %s after the rollback", aws.ToString(tk.TaskDefinitionArn))
				}
			}
			var names []string
			for _, d := range f.deploymentEvents(t) {
				names = append(names, d.EventName+":"+d.DeploymentID)
				if d.EventName == "SERVICE_DEPLOYMENT_IN_PROGRESS" && d.DeploymentID != failing && strings.Contains(d.Reason, "rolling back") &&
					!strings.Contains(d.Reason, aws.ToString(good.Id)) {
					t.Fatalf("rollback reason %q does not name the deployment it returns to, %s", d.Reason, aws.ToString(good.Id))
				}
			}
			got := strings.Join(names, " ")
			if !strings.Contains(got, "SERVICE_DEPLOYMENT_FAILED:"+failing) || strings.Contains(got, "SERVICE_DEPLOYMENT_COMPLETED:"+failing) {
				t.Fatalf("deployment events %s: want %s FAILED and never COMPLETED", got, failing)
			}
		})
	}
}

func TestDeploymentAlarmCausesRollback(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 12, instances: 4})
	v1 := f.td
	f.putAlarm(t, "web-errors", "Web", "Errors", 5, 1, 1, "notBreaching")
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, alarms: []string{"web-errors"}})
	f.waitSteady(t, "web", 10*time.Minute)
	advanceUntil(t, f.sim, 2*time.Minute, "alarm evaluated OK", func() bool { return f.alarmState(t, "web-errors") == "OK" })
	f.updateTD(t, "web", f.registerTD(t, strings.Replace(fleetImage, ":v1", ":v2", 1)))
	deploying := aws.ToString(f.service(t, "web").Deployments[0].Id)
	// The new version errors as soon as it is deployed.
	advanceUntil(t, f.sim, 10*time.Minute, "deployment failed", func() bool {
		f.putMetric(t, "Web", "Errors", 50)
		return f.hasDeploymentEvent(t, "SERVICE_DEPLOYMENT_FAILED")
	})
	if s := f.alarmState(t, "web-errors"); s != "ALARM" {
		t.Fatalf("alarm %s when the deployment failed", s)
	}
	evs := f.deploymentEvents(t)
	var failed events.DeploymentStateChange
	for _, d := range evs {
		if d.EventName == "SERVICE_DEPLOYMENT_FAILED" {
			failed = d
		}
	}
	if failed.DeploymentID != deploying || !strings.Contains(failed.Reason, "web-errors") {
		t.Fatalf("failed event %+v, want %s failed by alarm web-errors", failed, deploying)
	}
	f.waitSteady(t, "web", 15*time.Minute)
	if got := aws.ToString(f.service(t, "web").TaskDefinition); got != v1 {
		t.Fatalf("service runs %s after the alarm, want the rollback to %s", got, v1)
	}
}

func TestDrainingReplacesTasksBeforeStoppingThem(t *testing.T) {
	for _, tc := range []struct {
		name            string
		minHealthy, max int32
		// floor is the healthy count the service may never go below.
		floor, ceiling int
	}{
		{"room to surge", 100, 200, 4, 8},
		{"no room", 50, 100, 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 13, instances: 4})
			f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: tc.minHealthy, max: tc.max})
			f.waitSteady(t, "web", 10*time.Minute)
			ctx := context.Background()
			victim := f.tasks(t, "web", ecstypes.DesiredStatusRunning)[0]
			ci := aws.ToString(victim.ContainerInstanceArn)
			if _, err := f.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
				Cluster: aws.String(fleetCluster), ContainerInstances: []string{ci}, Status: ecstypes.ContainerInstanceStatusDraining,
			}); err != nil {
				t.Fatal(err)
			}
			advanceUntil(t, f.sim, 10*time.Minute, "draining instance empty", func() bool {
				if n := f.healthyTargets(t, f.tg); n < tc.floor {
					t.Fatalf("at %s %d healthy targets, below the minimum %d", f.sim.Now().Format(time.TimeOnly), n, tc.floor)
				}
				if n := len(f.tasks(t, "web", ecstypes.DesiredStatusRunning)); n > tc.ceiling {
					t.Fatalf("%d tasks at once, above maximumPercent", n)
				}
				list, err := f.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(fleetCluster), ContainerInstance: aws.String(ci)})
				return err == nil && len(list.TaskArns) == 0 && f.steady(t, "web") && f.healthyTargets(t, f.tg) == 4
			})
			for _, tk := range f.tasks(t, "web", ecstypes.DesiredStatusRunning) {
				if aws.ToString(tk.ContainerInstanceArn) == ci {
					t.Fatalf("task %s still on the draining instance", aws.ToString(tk.TaskArn))
				}
			}
			stopped := f.tasks(t, "web", ecstypes.DesiredStatusStopped)
			if len(stopped) != 1 || aws.ToString(stopped[0].StoppedReason) != "Container instance is draining" {
				t.Fatalf("stopped tasks %s, want the drained one", describe(stopped))
			}
		})
	}
}

func TestZoneOutageMakesOnlyThatZonesTargetsUnhealthy(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 14, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 50, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	down, up := f.net.zones[0], f.net.zones[1]
	if err := f.sim.FailZone(down); err != nil {
		t.Fatal(err)
	}
	unhealthyIn := map[string]int{}
	advanceUntil(t, f.sim, 15*time.Minute, "service recovered in the healthy zone", func() bool {
		healthyUp := 0
		for _, d := range f.targets(t, f.tg) {
			z := aws.ToString(d.Target.AvailabilityZone)
			switch d.TargetHealth.State {
			case elbtypes.TargetHealthStateEnumUnhealthy:
				unhealthyIn[z]++
				if z != down {
					t.Fatalf("target %s in %s unhealthy during the outage of %s", aws.ToString(d.Target.Id), z, down)
				}
			case elbtypes.TargetHealthStateEnumHealthy:
				if z == up {
					healthyUp++
				}
			}
		}
		return healthyUp == 4
	})
	if unhealthyIn[down] == 0 {
		t.Fatalf("no target in %s turned unhealthy", down)
	}
	if got := zoneCounts(f.tasks(t, "web", ecstypes.DesiredStatusRunning)); got[up] != 4 {
		t.Fatalf("tasks per zone %v after the outage, want 4 in %s", got, up)
	}
}

func TestZoneRebalancingEvensOutTasks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		disabled  bool
		wantZoneA int
	}{
		{"enabled", false, 2},
		{"disabled", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 15, instances: 4})
			f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200, noRebalancing: tc.disabled})
			f.waitSteady(t, "web", 10*time.Minute)
			ctx := context.Background()
			zoneA := f.net.zones[0]
			var inA []string
			for _, ci := range f.containerInstances(t) {
				for _, a := range ci.Attributes {
					if aws.ToString(a.Name) == "ecs.availability-zone" && aws.ToString(a.Value) == zoneA {
						inA = append(inA, aws.ToString(ci.ContainerInstanceArn))
					}
				}
			}
			setState := func(st ecstypes.ContainerInstanceStatus) {
				if _, err := f.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
					Cluster: aws.String(fleetCluster), ContainerInstances: inA, Status: st,
				}); err != nil {
					t.Fatal(err)
				}
			}
			setState(ecstypes.ContainerInstanceStatusDraining)
			advanceUntil(t, f.sim, 10*time.Minute, "tasks moved out of "+zoneA, func() bool {
				return zoneCounts(f.tasks(t, "web", ecstypes.DesiredStatusRunning))[zoneA] == 0 && f.steady(t, "web") && f.healthyTargets(t, f.tg) == 4
			})
			setState(ecstypes.ContainerInstanceStatusActive)
			f.sim.RunUntil(func() bool {
				if n := f.healthyTargets(t, f.tg); n < 4 {
					t.Fatalf("%d healthy targets while rebalancing, below the minimum 4", n)
				}
				return false
			}, 10*time.Minute)
			got := zoneCounts(f.tasks(t, "web", ecstypes.DesiredStatusRunning))
			if got[zoneA] != tc.wantZoneA || got[zoneA]+got[f.net.zones[1]] != 4 {
				t.Fatalf("tasks per zone %v after the instances returned, want %d in %s", got, tc.wantZoneA, zoneA)
			}
			svc := f.service(t, "web")
			if want := map[bool]ecstypes.AvailabilityZoneRebalancing{false: "ENABLED", true: "DISABLED"}[tc.disabled]; svc.AvailabilityZoneRebalancing != want {
				t.Fatalf("AvailabilityZoneRebalancing %s, want %s", svc.AvailabilityZoneRebalancing, want)
			}
		})
	}
}

func TestPlacementChangeEvacuatesAZoneByRollingDeployment(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 16, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	keep := f.net.zones[1]
	before := aws.ToString(f.service(t, "web").Deployments[0].Id)
	if _, err := f.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{
		Cluster: aws.String(fleetCluster), Service: aws.String("web"),
		PlacementConstraints: []ecstypes.PlacementConstraint{{Type: ecstypes.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.availability-zone in [" + keep + "]")}},
	}); err != nil {
		t.Fatal(err)
	}
	if after := aws.ToString(f.service(t, "web").Deployments[0].Id); after == before {
		t.Fatal("changing the placement constraints started no deployment")
	}
	advanceUntil(t, f.sim, 15*time.Minute, "tasks moved", func() bool {
		if n := f.healthyTargets(t, f.tg); n < 4 {
			t.Fatalf("%d healthy targets while evacuating, below the minimum 4", n)
		}
		return f.steady(t, "web") && zoneCounts(f.tasks(t, "web", ecstypes.DesiredStatusRunning))[keep] == 4
	})
	// The same constraints again change nothing.
	if _, err := f.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{
		Cluster: aws.String(fleetCluster), Service: aws.String("web"),
		PlacementConstraints: []ecstypes.PlacementConstraint{{Type: ecstypes.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.availability-zone in [" + keep + "]")}},
	}); err != nil {
		t.Fatal(err)
	}
	if svc := f.service(t, "web"); len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted {
		t.Fatalf("repeating the same constraints started a deployment: %s", describe(svc.Deployments))
	}
}

func TestFailedFirstDeploymentStopsLaunching(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 17, instances: 2})
	bad := strings.Replace(fleetImage, ":v1", ":broken", 1)
	f.sim.FailImage(bad, sim.ImagePullFails)
	f.td = f.registerTD(t, bad)
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, breaker: true})
	advanceUntil(t, f.sim, 10*time.Minute, "deployment failed", func() bool { return f.hasDeploymentEvent(t, "SERVICE_DEPLOYMENT_FAILED") })
	started := len(f.tasks(t, "web", ecstypes.DesiredStatusStopped)) + len(f.tasks(t, "web", ecstypes.DesiredStatusRunning))
	f.sim.Advance(10 * time.Minute)
	svc := f.service(t, "web")
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateFailed {
		t.Fatalf("deployments %s, want the one FAILED with nothing to roll back to", describe(svc.Deployments))
	}
	if now := len(f.tasks(t, "web", ecstypes.DesiredStatusStopped)) + len(f.tasks(t, "web", ecstypes.DesiredStatusRunning)); now != started {
		t.Fatalf("%d tasks started after the failure (%d before), want none", now-started, started)
	}
	if f.hasDeploymentEvent(t, "SERVICE_DEPLOYMENT_COMPLETED") {
		t.Fatal("a failed first deployment reported completion")
	}
}

func TestDescribeServicesEchoesTheWholeCircuitBreaker(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 18, instances: 0})
	cb := &ecstypes.DeploymentCircuitBreaker{
		Enable: true, Rollback: true, ResetOnHealthyTask: aws.Bool(false),
		ThresholdConfiguration: &ecstypes.ThresholdConfiguration{Type: ecstypes.ThresholdTypeCount, Value: 7},
	}
	if _, err := f.ecs.CreateService(context.Background(), &ecs.CreateServiceInput{
		Cluster: aws.String(fleetCluster), ServiceName: aws.String("web"), TaskDefinition: aws.String(f.td), DesiredCount: aws.Int32(0),
		LaunchType:              ecstypes.LaunchTypeEc2,
		NetworkConfiguration:    &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{DeploymentCircuitBreaker: cb},
	}); err != nil {
		t.Fatal(err)
	}
	got := f.service(t, "web").DeploymentConfiguration.DeploymentCircuitBreaker
	if got == nil || !got.Enable || !got.Rollback || got.ResetOnHealthyTask == nil || *got.ResetOnHealthyTask ||
		got.ThresholdConfiguration == nil || got.ThresholdConfiguration.Type != ecstypes.ThresholdTypeCount || got.ThresholdConfiguration.Value != 7 {
		t.Fatalf("DescribeServices echoes the circuit breaker as %s, want %s", describe(got), describe(cb))
	}
}

// TestPartialFailureTripsTheBreakerOnlyOnEnoughFailures rolls out 4 tasks,
// two per zone, while one zone has a gray failure: its instances pass their
// status checks but every load balancer health check of its tasks times out.
// The other zone's tasks turn healthy. The circuit breaker counts the gray
// zone's failed tasks and trips at its threshold (3 for 4 tasks) when the
// zone stays bad; when the zone recovers after two failures, the
// replacements turn healthy, which resets the count, and the deployment
// completes.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
func TestPartialFailureTripsTheBreakerOnlyOnEnoughFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		recover    bool
		wantState  ecstypes.DeploymentRolloutState
		wantFailed int32
	}{
		{"the zone stays gray", false, ecstypes.DeploymentRolloutStateFailed, 3},
		{"the zone recovers after two failures", true, ecstypes.DeploymentRolloutStateCompleted, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 45, instances: 4})
			f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200, breaker: true})
			f.waitSteady(t, "web", 10*time.Minute)
			gray := f.net.zones[0]
			if err := f.sim.DegradeZone(gray, sim.ZoneDegradation{Failures: 1}); err != nil {
				t.Fatal(err)
			}
			f.updateTD(t, "web", f.registerTD(t, strings.Replace(fleetImage, ":v1", ":v2", 1)))
			id := aws.ToString(f.service(t, "web").Deployments[0].Id)
			deployment := func() ecstypes.Deployment {
				for _, d := range f.service(t, "web").Deployments {
					if aws.ToString(d.Id) == id {
						return d
					}
				}
				for _, d := range f.deploymentEvents(t) {
					if d.DeploymentID == id && d.EventName == "SERVICE_DEPLOYMENT_FAILED" {
						return ecstypes.Deployment{Id: aws.String(id), RolloutState: ecstypes.DeploymentRolloutStateFailed, FailedTasks: -1}
					}
				}
				return ecstypes.Deployment{Id: aws.String(id), RolloutState: ecstypes.DeploymentRolloutStateCompleted}
			}
			if tc.recover {
				advanceUntil(t, f.sim, 10*time.Minute, "two failures", func() bool { return deployment().FailedTasks == 2 })
				if err := f.sim.DegradeZone(gray, sim.ZoneDegradation{}); err != nil {
					t.Fatal(err)
				}
			}
			var last ecstypes.Deployment
			advanceUntil(t, f.sim, 30*time.Minute, "verdict", func() bool {
				d := deployment()
				if d.FailedTasks >= 0 {
					last = d
				}
				return d.RolloutState != ecstypes.DeploymentRolloutStateInProgress
			})
			if last.RolloutState != tc.wantState || last.FailedTasks != tc.wantFailed {
				t.Fatalf("deployment %s with %d failed tasks, want %s with %d", last.RolloutState, last.FailedTasks, tc.wantState, tc.wantFailed)
			}
			// The healthy zone's tasks turned healthy all along: the
			// failures were partial.
			if n := f.healthyTargets(t, f.tg); n == 0 {
				t.Fatal("no healthy target")
			}
		})
	}
}

// TestDeploymentStartedInAlarmIsNotWatched: a deployment that starts while
// one of the service's deployment alarms is in ALARM is not watched by its
// alarms, and completes although the alarm keeps firing.
func TestDeploymentStartedInAlarmIsNotWatched(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 12, instances: 4})
	f.putAlarm(t, "web-errors", "Web", "Errors", 5, 1, 1, "notBreaching")
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, alarms: []string{"web-errors"}})
	f.waitSteady(t, "web", 10*time.Minute)
	advanceUntil(t, f.sim, 5*time.Minute, "alarm in ALARM", func() bool {
		f.putMetric(t, "Web", "Errors", 50)
		return f.alarmState(t, "web-errors") == "ALARM"
	})
	v2 := f.registerTD(t, strings.Replace(fleetImage, ":v1", ":v2", 1))
	f.updateTD(t, "web", v2)
	deploying := aws.ToString(f.service(t, "web").Deployments[0].Id)
	advanceUntil(t, f.sim, 15*time.Minute, "deployment completed", func() bool {
		f.putMetric(t, "Web", "Errors", 50)
		for _, d := range f.deploymentEvents(t) {
			if d.EventName == "SERVICE_DEPLOYMENT_COMPLETED" && d.DeploymentID == deploying {
				return true
			}
		}
		return false
	})
	if s := f.alarmState(t, "web-errors"); s != "ALARM" {
		t.Fatalf("alarm %s at the end, want it firing throughout", s)
	}
	for _, d := range f.deploymentEvents(t) {
		if d.EventName == "SERVICE_DEPLOYMENT_FAILED" {
			t.Fatalf("deployment %s failed (%s): an alarm firing when it started is not watched", d.DeploymentID, d.Reason)
		}
	}
	if got := aws.ToString(f.service(t, "web").TaskDefinition); got != v2 {
		t.Fatalf("service runs %s, want %s of deployment %s", got, v2, deploying)
	}
}
