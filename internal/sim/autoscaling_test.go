package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestGroupBalancesZonesAndRebalancesAfterOutage(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	e.group(t, n, "web", 4)
	a, b := n.zones[0], n.zones[1]

	advanceUntil(t, e.sim, 10*time.Minute, "initial 2+2", func() bool { return e.settled(t, "web", map[string]int{a: 2, b: 2}) })

	if err := e.sim.FailZone(a); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 30*time.Minute, "replacements in the healthy zone", func() bool { return e.settled(t, "web", map[string]int{b: 4}) })
	// The outage goes on: the group keeps trying the failed zone and keeps
	// all four instances in the healthy one.
	e.sim.Advance(20 * time.Minute)
	if got := e.inService(t, "web"); got[a] != 0 || got[b] != 4 {
		t.Fatalf("during the outage: InService per zone = %v, want all 4 in %s", got, b)
	}

	if err := e.sim.RecoverZone(a); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, time.Hour, "rebalanced 2+2", func() bool { return e.settled(t, "web", map[string]int{a: 2, b: 2}) })

	acts, err := e.asg.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, act := range acts.Activities {
		if act.StatusCode == astypes.ScalingActivityStatusCodeFailed {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no failed launch activity recorded for the failed zone")
	}
}

func TestScaleInKeepsZonesBalancedAndSparesProtectedInstances(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 4})
	n := e.network(t)
	e.group(t, n, "web", 6)
	a, b := n.zones[0], n.zones[1]
	advanceUntil(t, e.sim, 5*time.Minute, "3+3", func() bool { return e.settled(t, "web", map[string]int{a: 3, b: 3}) })
	ctx := context.Background()
	var protected []string
	for _, i := range e.describeGroup(t, "web").Instances {
		if aws.ToString(i.AvailabilityZone) == a {
			protected = append(protected, aws.ToString(i.InstanceId))
		}
	}
	if _, err := e.asg.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String("web"), InstanceIds: protected[:2], ProtectedFromScaleIn: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "2+2", func() bool { return e.settled(t, "web", map[string]int{a: 2, b: 2}) })
	if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "only the protected pair left", func() bool { return e.settled(t, "web", map[string]int{a: 2}) })
	for _, i := range e.describeGroup(t, "web").Instances {
		if id := aws.ToString(i.InstanceId); id != protected[0] && id != protected[1] {
			t.Fatalf("unprotected instance %s survived while protected ones were kept", id)
		}
	}
}

func TestSuspendedProcessesStopScaling(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	e.group(t, n, "web", 0)
	ctx := context.Background()
	if _, err := e.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("web"), ScalingProcesses: []string{"Launch"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(10 * time.Minute)
	g := e.describeGroup(t, "web")
	if len(g.Instances) != 0 {
		t.Fatalf("group launched %d instances with Launch suspended", len(g.Instances))
	}
	if len(g.SuspendedProcesses) != 1 || aws.ToString(g.SuspendedProcesses[0].ProcessName) != "Launch" {
		t.Fatalf("suspended processes = %+v, want Launch", g.SuspendedProcesses)
	}
	if _, err := e.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "launch after resume", func() bool { return e.settled(t, "web", map[string]int{n.zones[0]: 1, n.zones[1]: 1}) })

	// With HealthCheck suspended a crash goes unnoticed.
	if _, err := e.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("web"), ScalingProcesses: []string{"HealthCheck"}}); err != nil {
		t.Fatal(err)
	}
	victim := aws.ToString(e.describeGroup(t, "web").Instances[0].InstanceId)
	if err := e.sim.CrashInstance(victim); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(10 * time.Minute)
	if got := e.instanceState(t, "web", victim); got != astypes.LifecycleStateInService {
		t.Fatalf("crashed instance with HealthCheck suspended: %q, want still InService", got)
	}
	if _, err := e.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("web"), ScalingProcesses: []string{"Teleport"}}); errCode(err) != "ValidationError" {
		t.Fatalf("unknown process: %v, want ValidationError", err)
	}
}

func TestGroupValidationAndDeletion(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	e.group(t, n, "web", 2)
	ctx := context.Background()
	lt := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(n.launchTemplate)}
	tests := []struct {
		name, want string
		call       func() error
	}{
		{"duplicate name", "AlreadyExists", func() error {
			_, err := e.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), LaunchTemplate: lt, VPCZoneIdentifier: aws.String(n.subnets[0])})
			return err
		}},
		{"unknown subnet", "ValidationError", func() error {
			_, err := e.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("x"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), LaunchTemplate: lt, VPCZoneIdentifier: aws.String("subnet-00000000000000000")})
			return err
		}},
		{"desired above max", "ValidationError", func() error {
			_, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(11)})
			return err
		}},
		{"unknown group", "ValidationError", func() error {
			_, err := e.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope"), MaxSize: aws.Int32(3)})
			return err
		}},
		{"delete with instances", "ResourceInUse", func() error {
			e.sim.Advance(time.Minute)
			_, err := e.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errCode(tt.call()); got != tt.want {
				t.Fatalf("code %q, want %s", got, tt.want)
			}
		})
	}

	ids := []string{}
	for _, i := range e.describeGroup(t, "web").Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	if _, err := e.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"), ForceDelete: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if g := e.describeGroup(t, "web"); aws.ToString(g.Status) != "Delete in progress" {
		t.Fatalf("group status during forced delete %q", aws.ToString(g.Status))
	}
	advanceUntil(t, e.sim, 5*time.Minute, "group gone", func() bool {
		out, err := e.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
		return err == nil && len(out.AutoScalingGroups) == 0
	})
	for _, id := range ids {
		if got := e.ec2State(t, id); got != "terminated" {
			t.Fatalf("instance %s of the deleted group is %s", id, got)
		}
	}
}
