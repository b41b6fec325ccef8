package sim_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestEventualConsistencyHidesNewResourcesForTheConfiguredTime(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	ctx := context.Background()
	e.sim.SetConsistencyDelay("EC2", 20*time.Second)
	vpc, err := e.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(vpc.Vpc.VpcId)
	describe := func() error {
		_, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{id}})
		return err
	}
	if got := errCode(describe()); got != "InvalidVpcID.NotFound" {
		t.Fatalf("Describe right after Create: code %q, want InvalidVpcID.NotFound", got)
	}
	// Naming the new VPC in another call misses too.
	_, err = e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if got := errCode(err); got != "InvalidVpcID.NotFound" {
		t.Fatalf("CreateTags right after Create: code %q, want InvalidVpcID.NotFound", got)
	}
	all, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(all.Vpcs) != 0 {
		t.Fatalf("unfiltered Describe right after Create listed %v (%v), want nothing", all.Vpcs, err)
	}
	e.sim.Advance(19 * time.Second)
	if got := errCode(describe()); got != "InvalidVpcID.NotFound" {
		t.Fatalf("after 19s: code %q, want InvalidVpcID.NotFound", got)
	}
	e.sim.Advance(time.Second)
	if err := describe(); err != nil {
		t.Fatalf("after 20s: %v", err)
	}

	e.sim.SetConsistencyDelay("EC2", 0)
	n := e.network(t)
	e.sim.SetConsistencyDelay("Auto Scaling", 10*time.Second)
	e.group(t, n, "web", 0)
	groups, err := e.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil || len(groups.AutoScalingGroups) != 0 {
		t.Fatalf("group visible right after Create: %v (%v)", groups.AutoScalingGroups, err)
	}
	e.sim.Advance(10 * time.Second)
	if len(e.describeGroup(t, "web").Instances) != 0 {
		t.Fatal("empty group has instances")
	}
}

func TestCrashedInstanceIsReplaced(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 2})
	n := e.network(t)
	e.group(t, n, "web", 2)
	advanceUntil(t, e.sim, 5*time.Minute, "group in service", func() bool { return e.settled(t, "web", map[string]int{n.zones[0]: 1, n.zones[1]: 1}) })
	victim := aws.ToString(e.describeGroup(t, "web").Instances[0].InstanceId)
	if err := e.sim.CrashInstance(victim); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 10*time.Minute, "crashed instance terminated", func() bool { return e.ec2State(t, victim) == types.InstanceStateNameTerminated })
	advanceUntil(t, e.sim, 5*time.Minute, "replacement in service", func() bool { return e.settled(t, "web", map[string]int{n.zones[0]: 1, n.zones[1]: 1}) })
	for _, i := range e.describeGroup(t, "web").Instances {
		if aws.ToString(i.InstanceId) == victim {
			t.Fatal("crashed instance still in the group")
		}
	}
	acts, err := e.asg.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range acts.Activities {
		if aws.ToString(a.Description) == "Terminating EC2 instance: "+victim && a.StatusCode == astypes.ScalingActivityStatusCodeSuccessful {
			found = true
		}
	}
	if !found {
		t.Fatal("no successful termination activity for the crashed instance")
	}
	if err := e.sim.CrashInstance("i-00000000000000000"); errCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("crashing an unknown instance: %v", err)
	}
}

func TestZoneOutageFailsDirectLaunches(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	if err := e.sim.FailZone(n.zones[0]); err != nil {
		t.Fatal(err)
	}
	_, err := e.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(n.subnets[0]),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(n.launchTemplate)},
	})
	if got := errCode(err); got != "InsufficientInstanceCapacity" {
		t.Fatalf("launch in the failed zone: code %q, want InsufficientInstanceCapacity", got)
	}
	zones, err := e.ec2.DescribeAvailabilityZones(context.Background(), &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{n.zones[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if zones.AvailabilityZones[0].State != types.AvailabilityZoneStateImpaired {
		t.Fatalf("failed zone state %q, want impaired", zones.AvailabilityZones[0].State)
	}
	if err := e.sim.FailZone("mars-1a"); err == nil {
		t.Fatal("failing an unknown zone succeeded")
	}
}

// TestZoneFailureLaunchesReplacementsFirst follows "Availability Zone
// outage": when a zone fails, the group launches new instances in an
// unaffected zone, and the launches it tries in the failed zone fail; the
// failed zone's instances are terminated only once their replacements are in
// service.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html
func TestZoneFailureLaunchesReplacementsFirst(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 12})
	n := e.network(t)
	e.group(t, n, "web", 4)
	a, b := n.zones[0], n.zones[1]
	advanceUntil(t, e.sim, 5*time.Minute, "2+2", func() bool { return e.settled(t, "web", map[string]int{a: 2, b: 2}) })
	var inA []string
	for _, i := range e.describeGroup(t, "web").Instances {
		if aws.ToString(i.AvailabilityZone) == a {
			inA = append(inA, aws.ToString(i.InstanceId))
		}
	}
	if err := e.sim.FailZone(a); err != nil {
		t.Fatal(err)
	}
	sawBoth := false
	advanceUntil(t, e.sim, 15*time.Minute, "4 in service in "+b, func() bool {
		g := e.describeGroup(t, "web")
		newInB, terminatingA := 0, 0
		for _, i := range g.Instances {
			id := aws.ToString(i.InstanceId)
			switch {
			case slices.Contains(inA, id) && strings.HasPrefix(string(i.LifecycleState), "Terminating"):
				terminatingA++
			case aws.ToString(i.AvailabilityZone) == b && i.LifecycleState == astypes.LifecycleStateInService:
				newInB++
			}
		}
		if terminatingA > 0 && newInB < 4 {
			t.Fatalf("an instance of %s terminates while only %d instances are in service in %s", a, newInB, b)
		}
		// The failed instances are still members while their replacements
		// launch.
		for _, i := range g.Instances {
			if slices.Contains(inA, aws.ToString(i.InstanceId)) && aws.ToString(i.HealthStatus) == "Unhealthy" && len(g.Instances) > 4 {
				sawBoth = true
			}
		}
		return e.settled(t, "web", map[string]int{b: 4})
	})
	if !sawBoth {
		t.Fatal("the unhealthy instances were never kept beside their replacements")
	}
	failedInA := false
	for _, ev := range e.sim.Events() {
		if ev.DetailType == "EC2 Instance Launch Unsuccessful" && strings.Contains(string(ev.Detail), `"Availability Zone":"`+a+`"`) && strings.Contains(string(ev.Detail), "do not have sufficient") {
			failedInA = true
		}
	}
	if !failedInA {
		t.Fatalf("no launch into %s failed during its outage", a)
	}
}
