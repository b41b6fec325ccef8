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
	for _, i := range instances {
		if i.LifecycleState == astypes.LifecycleStateInService {
			counts[aws.ToString(i.AvailabilityZone)]++
		}
	}
	missing, summary := stack.PerZone(azs, counts)
	if len(missing) > 0 {
		return stack.NotYet("no InService instance in %v (%s)", missing, summary), nil
	}
	return stack.Status{Ready: true, Detail: "InService instances " + summary}, nil
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
		return stack.NotYet("no registered container instance in %v (%s)", missing, summary), nil
	}
	return stack.Status{Ready: true, Detail: "container instances " + summary}, nil
}
