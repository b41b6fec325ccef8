package compute

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// Readiness checks of the layer.
const (
	CheckGroup     = "asg"
	CheckInstances = "instances"
)

// GroupInstances returns the group's instances, or none while the group is
// not visible yet.
func GroupInstances(ctx context.Context, c Clients, out *stack.ComputeOutput) ([]astypes.Instance, bool, error) {
	groups, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{out.AutoScalingGroupName}})
	if err != nil {
		return nil, false, fmt.Errorf("describing Auto Scaling group %s: %w", out.AutoScalingGroupName, err)
	}
	if len(groups.AutoScalingGroups) == 0 {
		return nil, false, nil
	}
	return groups.AutoScalingGroups[0].Instances, true, nil
}

// GroupStatus is ready once the group has an InService instance in every
// zone of azs.
func GroupStatus(ctx context.Context, c Clients, out *stack.ComputeOutput, azs []string) (stack.Status, error) {
	instances, visible, err := GroupInstances(ctx, c, out)
	if err != nil || !visible {
		return stack.NotYet("Auto Scaling group not visible yet"), err
	}
	counts := map[string]int{}
	waiting := 0
	for _, i := range instances {
		switch i.LifecycleState {
		case astypes.LifecycleStateInService:
			counts[aws.ToString(i.AvailabilityZone)]++
		case astypes.LifecycleStatePendingWait:
			waiting++
		}
	}
	missing, summary := stack.PerZone(azs, counts)
	if len(missing) > 0 {
		return stack.NotYet("no InService instance in %v (%s)", missing, summary).Because("%s", groupWhy(instances, counts, missing, waiting)), nil
	}
	return stack.Status{Ready: true, Detail: "InService instances " + summary}, nil
}

// groupWhy explains a group that lacks an InService instance in some
// zones, from where its instances are.
func groupWhy(instances []astypes.Instance, counts map[string]int, missing []string, waiting int) string {
	var elsewhere []string
	for z, n := range counts {
		if n > 0 {
			elsewhere = append(elsewhere, z)
		}
	}
	slices.Sort(elsewhere)
	inService := 0
	for _, n := range counts {
		inService += n
	}
	switch {
	case inService > 0 && inService == len(instances):
		return fmt.Sprintf("all %d InService instances are in %v and none is in %v: Auto Scaling balances a group across its zones, so on AWS this passes once it launches there; "+
			"an emulator that puts every instance of a group in one zone (moto does) never balances, and this check never passes there (run apply with --wait=false against it)",
			inService, elsewhere, missing)
	case waiting > 0:
		return fmt.Sprintf("%d instances wait on the launch lifecycle hook, which the lifecycle function completes once each has registered with the cluster; without it they are abandoned at the hook's timeout", waiting)
	case len(instances) == 0:
		return "the group has launched no instance yet; if it never does, its scaling activities say why (an instance type the zone does not offer, no capacity, a launch template it cannot use)"
	}
	return fmt.Sprintf("instances are launching in %v; if none comes into service there, the group's scaling activities say why", missing)
}

// InstancesStatus is ready once a container instance with a connected
// agent is registered with the cluster in every zone of azs.
func InstancesStatus(ctx context.Context, c Clients, out *stack.ComputeOutput, azs []string) (stack.Status, error) {
	var arns []string
	p := ecs.NewListContainerInstancesPaginator(c.ECS, &ecs.ListContainerInstancesInput{Cluster: aws.String(out.ClusterName), Status: ecstypes.ContainerInstanceStatusActive})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return stack.Status{}, fmt.Errorf("listing container instances: %w", err)
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	counts := map[string]int{}
	for chunk := range slices.Chunk(arns, 100) {
		described, err := c.ECS.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(out.ClusterName), ContainerInstances: chunk})
		if err != nil {
			return stack.Status{}, fmt.Errorf("describing container instances: %w", err)
		}
		for _, ci := range described.ContainerInstances {
			for _, a := range ci.Attributes {
				if aws.ToString(a.Name) == "ecs.availability-zone" && ci.AgentConnected {
					counts[aws.ToString(a.Value)]++
				}
			}
		}
	}
	missing, summary := stack.PerZone(azs, counts)
	if len(missing) > 0 {
		return stack.NotYet("no registered container instance in %v (%s)", missing, summary).Because(
			"an instance registers once its ECS agent starts; one that never does cannot reach ECS (no route through its zone's NAT gateway), " +
				"has an instance profile without the ECS permissions, or names another cluster in its user data"), nil
	}
	return stack.Status{Ready: true, Detail: "container instances " + summary}, nil
}
