package build_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestDriftShowsInPlanAndApplyRepairsIt(t *testing.T) {
	f := newFixture(t, "drift")
	l, _ := f.run(t, false)
	ctx := context.Background()
	api := f.sdk.EC2

	// Three manual changes: the tasks' ingress rule revoked, an SSH rule
	// added to the instances' group, a private default route deleted.
	perm := func(port int32, peer ec2types.IpPermission) []ec2types.IpPermission {
		peer.IpProtocol, peer.FromPort, peer.ToPort = aws.String("tcp"), aws.Int32(port), aws.Int32(port)
		return []ec2types.IpPermission{peer}
	}
	if _, err := api.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(l.Security.TaskSecurityGroupID),
		IpPermissions: perm(80, ec2types.IpPermission{UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(l.Security.ALBSecurityGroupID)}}})}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(l.Security.InstanceSecurityGroupID),
		IpPermissions: perm(22, ec2types.IpPermission{IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(l.Network.PrivateRouteTableIDs[0]), DestinationCidrBlock: aws.String("0.0.0.0/0")}); err != nil {
		t.Fatal(err)
	}

	f.calls.Reset()
	_, plan := f.run(t, true)
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Fatalf("plan made %d mutating calls", n)
	}
	var got []string
	for _, c := range plan.Changes {
		got = append(got, c.String())
	}
	want := []string{
		"+ create network ec2:route private-rt-1 0.0.0.0/0 (" + l.Network.PrivateRouteTableIDs[0] + "): via " + l.Network.NATGatewayIDs[0],
		"+ create security ec2:security-group-rule task-sg (" + l.Security.TaskSecurityGroupID + "): tcp/80 ingress from " + l.Security.ALBSecurityGroupID,
		"- delete security ec2:security-group-rule instance-sg (" + l.Security.InstanceSecurityGroupID + "): tcp/22 ingress from 0.0.0.0/0",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("plan after drift:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	f.calls.Reset()
	_, applied := f.run(t, false)
	if len(applied.Changes) != 3 || awsclient.Total(f.calls.Mutations()) != 3 {
		t.Errorf("repair made %d changes with %d mutating calls %v, want 3 and 3", len(applied.Changes), awsclient.Total(f.calls.Mutations()), f.calls.Mutations())
	}
	if _, again := f.run(t, true); len(again.Changes) != 0 {
		t.Errorf("plan after the repair:\n%s", again)
	}
}

func TestDestroyLeavesNothingTagged(t *testing.T) {
	f := newFixture(t, "gone")
	f.run(t, false)
	ctx := context.Background()
	// 36 with the VPC's default security group, which the stack tags, and
	// the containers' log group.
	if before := tagged(t, f.sdk, f.spec); len(before) != 36 {
		t.Fatalf("before destroy the lookup finds %d resources, want 36: %v", len(before), before)
	}
	if err := build.DestroyAll(ctx, f.clients, stack.NewRun(f.spec, false, "destroy", nil), build.Sleep(10*time.Millisecond), 5); err != nil {
		t.Fatal(err)
	}
	if left := tagged(t, f.sdk, f.spec); len(left) > 0 {
		t.Fatalf("left after destroy: %v", left)
	}
	// Destroying again is a no-op: not-found is done.
	again := stack.NewRun(f.spec, false, "destroy-again", nil)
	f.calls.Reset()
	if err := build.DestroyAll(ctx, f.clients, again, build.Sleep(10*time.Millisecond), 5); err != nil {
		t.Fatal(err)
	}
	if n := awsclient.Total(f.calls.Mutations()); n != 0 || len(again.Plan().Changes) != 0 {
		t.Errorf("second destroy made %d mutating calls:\n%s", n, again.Plan())
	}
}

// tagged lists what is left of the stack, looked up the way each layer
// finds it.
func tagged(t *testing.T, c sdk, spec stack.Spec) []string {
	t.Helper()
	ctx := context.Background()
	var left []string
	filter := spec.EC2Filter()
	check := func(what string, n int, err error) {
		if err != nil {
			t.Fatalf("listing %s: %v", what, err)
		}
		for range n {
			left = append(left, what)
		}
	}
	vpcs, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: filter})
	check("vpc", len(vpcs.Vpcs), err)
	sns, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: filter})
	check("subnet", len(sns.Subnets), err)
	igws, err := c.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: filter})
	check("internet gateway", len(igws.InternetGateways), err)
	eips, err := c.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: filter})
	check("elastic ip", len(eips.Addresses), err)
	nats, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: append(filter, ec2types.Filter{Name: aws.String("state"), Values: []string{"pending", "available", "deleting"}})})
	check("nat gateway", len(nats.NatGateways), err)
	rts, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: filter})
	check("route table", len(rts.RouteTables), err)
	sgs, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filter})
	check("security group", len(sgs.SecurityGroups), err)
	lts, err := c.EC2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: filter})
	check("launch template", len(lts.LaunchTemplates), err)
	groups, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{compute.GroupName(spec)}})
	check("auto scaling group", len(groups.AutoScalingGroups), err)
	cl, err := compute.FindCluster(ctx, c.ECS, spec)
	check("cluster", btoi(cl != nil), err)
	cp, err := compute.FindCapacityProvider(ctx, c.ECS, spec)
	check("capacity provider", btoi(cp != nil), err)
	lbs, err := c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	for _, lb := range lbs.LoadBalancers {
		if aws.ToString(lb.LoadBalancerName) == ingress.LoadBalancerName(spec) {
			left = append(left, "load balancer")
		}
	}
	check("load balancers", 0, err)
	tgs, err := c.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	for _, tg := range tgs.TargetGroups {
		if aws.ToString(tg.TargetGroupName) == ingress.TargetGroupName(spec) {
			left = append(left, "target group")
		}
	}
	check("target groups", 0, err)
	alarms, err := c.CloudWatch.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(spec.Name + "-")})
	check("alarm", len(alarms.MetricAlarms), err)
	for _, status := range []ecstypes.TaskDefinitionStatus{ecstypes.TaskDefinitionStatusActive, ecstypes.TaskDefinitionStatusInactive} {
		tds, err := c.ECS.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(spec.Name), Status: status})
		check("task definition "+string(status), len(tds.TaskDefinitionArns), err)
	}
	logGroups, err := c.Logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(spec.WithDefaults().Service.LogGroup)})
	check("log group", len(logGroups.LogGroups), err)
	return left
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
