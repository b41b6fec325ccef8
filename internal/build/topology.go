package build

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/compute"
)

// CompletePendingLaunches completes the launch lifecycle action of every
// instance of the stack's group waiting on it. It stands in for the
// lifecycle function where that function is not wired to the group's
// events, as in the local build.
func CompletePendingLaunches(ctx context.Context, c Clients, l *Layers) error {
	if l.Compute == nil {
		return nil
	}
	name := l.Compute.AutoScalingGroupName
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return fmt.Errorf("describing Auto Scaling group %s: %w", name, err)
	}
	hook := strings.TrimSuffix(name, compute.Group) + compute.LaunchHook
	for _, g := range out.AutoScalingGroups {
		for _, i := range g.Instances {
			if i.LifecycleState != astypes.LifecycleStatePendingWait {
				continue
			}
			_, err := c.AutoScaling.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
				AutoScalingGroupName: aws.String(name), LifecycleHookName: aws.String(hook),
				InstanceId: i.InstanceId, LifecycleActionResult: aws.String("CONTINUE"),
			})
			// The action may have ended between the two calls.
			if err != nil && !strings.Contains(err.Error(), "No active Lifecycle Action") {
				return fmt.Errorf("completing the launch of %s: %w", aws.ToString(i.InstanceId), err)
			}
		}
	}
	return nil
}

// PrintTopology writes, per Availability Zone, the stack's subnets, NAT
// gateway, instances, running tasks and healthy targets, then the load
// balancer's DNS name.
func PrintTopology(ctx context.Context, c Clients, l *Layers, w io.Writer) error {
	if l.Network == nil || l.Compute == nil || l.Ingress == nil || l.Service == nil {
		return fmt.Errorf("the stack is not fully built")
	}
	n := l.Network
	natZone := map[string]string{}
	nats, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: n.NATGatewayIDs})
	if err != nil {
		return fmt.Errorf("describing NAT gateways: %w", err)
	}
	for i, id := range n.PublicSubnetIDs {
		for _, g := range nats.NatGateways {
			if aws.ToString(g.SubnetId) == id {
				natZone[n.AZs[i]] = fmt.Sprintf("%s (%s)", aws.ToString(g.NatGatewayId), g.State)
			}
		}
	}
	instances := map[string][]string{}
	groups, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{l.Compute.AutoScalingGroupName}})
	if err != nil {
		return fmt.Errorf("describing the Auto Scaling group: %w", err)
	}
	for _, g := range groups.AutoScalingGroups {
		for _, i := range g.Instances {
			az := aws.ToString(i.AvailabilityZone)
			instances[az] = append(instances[az], fmt.Sprintf("%s %s", aws.ToString(i.InstanceId), i.LifecycleState))
		}
	}
	all, err := serviceTasks(ctx, c, l.Service.ClusterName, l.Service.ServiceName)
	if err != nil {
		return err
	}
	zoneOf := taskZones(all)
	tasks := map[string][]string{}
	for _, t := range all {
		az, id := aws.ToString(t.AvailabilityZone), aws.ToString(t.TaskArn)
		tasks[az] = append(tasks[az], fmt.Sprintf("%s %s", id[strings.LastIndex(id, "/")+1:], aws.ToString(t.LastStatus)))
	}
	healthy := map[string]int{}
	health, err := c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(l.Ingress.TargetGroupARN)})
	if err != nil {
		return fmt.Errorf("describing target health: %w", err)
	}
	for _, h := range health.TargetHealthDescriptions {
		if h.TargetHealth != nil && h.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy && h.Target != nil {
			healthy[zoneOf[aws.ToString(h.Target.Id)]]++
		}
	}
	for i, az := range n.AZs {
		fmt.Fprintf(w, "    %s\n", az)
		fmt.Fprintf(w, "      public subnet   %s\n      private subnet  %s\n      NAT gateway     %s\n", n.PublicSubnetIDs[i], n.PrivateSubnetIDs[i], natZone[az])
		fmt.Fprintf(w, "      instances       %s\n", strings.Join(instances[az], ", "))
		fmt.Fprintf(w, "      tasks           %s\n", strings.Join(tasks[az], ", "))
		fmt.Fprintf(w, "      healthy targets %d\n", healthy[az])
	}
	fmt.Fprintf(w, "    load balancer DNS name: %s\n", l.Ingress.DNSName)
	return nil
}
