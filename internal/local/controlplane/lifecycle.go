package controlplane

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// LifecycleAPI is what CompletePendingLaunches calls.
type LifecycleAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	CompleteLifecycleAction(ctx context.Context, in *autoscaling.CompleteLifecycleActionInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
}

var _ LifecycleAPI = (*autoscaling.Client)(nil)

// CompletePendingLaunches completes the launch lifecycle action of every
// instance of the stack's group that waits on it. The local environment
// and the tests run no lifecycle function, so this stands in for the part
// of it that lets instances into service; without it the group abandons
// each instance at the hook's timeout.
func CompletePendingLaunches(ctx context.Context, api LifecycleAPI, o *stack.Outputs) error {
	if o.Compute == nil {
		return nil
	}
	group := o.Compute.AutoScalingGroupName
	hook := compute.HookName(stack.Spec{Name: o.Compute.ClusterName}, compute.LaunchHook)
	pending, err := waitingOnLaunch(ctx, api, group)
	if err != nil {
		return err
	}
	for _, id := range pending {
		_, err := api.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
			AutoScalingGroupName: aws.String(group), LifecycleHookName: aws.String(hook),
			InstanceId: aws.String(id), LifecycleActionResult: aws.String("CONTINUE"),
		})
		if err == nil {
			continue
		}
		// The action may have ended between the two calls; Auto Scaling's
		// error for that has no code of its own, so look again.
		still, lerr := waitingOnLaunch(ctx, api, group)
		if lerr != nil || slices.Contains(still, id) {
			return fmt.Errorf("completing the launch of %s: %w", id, err)
		}
	}
	return nil
}

func waitingOnLaunch(ctx context.Context, api LifecycleAPI, group string) ([]string, error) {
	out, err := api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil {
		return nil, fmt.Errorf("describing Auto Scaling group %s: %w", group, err)
	}
	var ids []string
	for _, g := range out.AutoScalingGroups {
		for _, i := range g.Instances {
			if i.LifecycleState == astypes.LifecycleStatePendingWait {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
	}
	return ids, nil
}
