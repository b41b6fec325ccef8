package compute

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Destroy deletes the layer: it detaches and deletes the capacity provider,
// force-deletes the Auto Scaling group with its instances, then deletes the
// cluster and the launch template. While the group is still deleting it
// returns a NotReadyError; a cluster that still has container instances
// gives a RetryableError. Not-found counts as done.
func Destroy(ctx context.Context, c Clients, run *stack.Run) error {
	spec := run.Spec
	cluster, err := FindCluster(ctx, c.ECS, spec)
	if err != nil {
		return err
	}
	if cluster != nil && len(cluster.CapacityProviders) > 0 {
		if _, err := run.Do(ctx, change(stack.Update, "ecs:cluster", Cluster, ClusterName(spec), "detach capacity providers"), func(ctx context.Context) (string, error) {
			_, err := c.ECS.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
				Cluster: aws.String(ClusterName(spec)), CapacityProviders: []string{}, DefaultCapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{},
			})
			return ClusterName(spec), ignoreNotFound(err)
		}); err != nil {
			return network.Retryable(err)
		}
	}
	cp, err := FindCapacityProvider(ctx, c.ECS, spec)
	if err != nil {
		return err
	}
	if cp != nil {
		if _, err := run.Do(ctx, change(stack.Delete, "ecs:capacity-provider", CapacityProvider, aws.ToString(cp.CapacityProviderArn), ""), func(ctx context.Context) (string, error) {
			_, err := c.ECS.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{CapacityProvider: aws.String(CapacityProviderName(spec))})
			return "", ignoreNotFound(err)
		}); err != nil {
			return network.Retryable(err)
		}
	}
	g, err := FindGroup(ctx, c.AutoScaling, spec)
	if err != nil {
		return err
	}
	if g != nil {
		if aws.ToString(g.Status) == "Delete in progress" {
			if !run.DryRun {
				return &handlererr.NotReadyError{Msg: fmt.Sprintf("Auto Scaling group %s is still deleting", GroupName(spec))}
			}
		} else {
			if _, err := run.Do(ctx, change(stack.Delete, "autoscaling:group", Group, GroupName(spec), fmt.Sprintf("and its %d instances", len(g.Instances))), func(ctx context.Context) (string, error) {
				_, err := c.AutoScaling.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
					AutoScalingGroupName: aws.String(GroupName(spec)), ForceDelete: aws.Bool(true),
				})
				return "", ignoreNotFound(err)
			}); err != nil {
				return network.Retryable(err)
			}
			// The cluster cannot go while the instances are registered.
			if !run.DryRun {
				return &handlererr.NotReadyError{Msg: fmt.Sprintf("Auto Scaling group %s is deleting its instances", GroupName(spec))}
			}
		}
	}
	if cluster != nil {
		if _, err := run.Do(ctx, change(stack.Delete, "ecs:cluster", Cluster, aws.ToString(cluster.ClusterArn), ""), func(ctx context.Context) (string, error) {
			_, err := c.ECS.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String(ClusterName(spec))})
			return "", ignoreNotFound(err)
		}); err != nil {
			return network.Retryable(err)
		}
	}
	lts, err := c.EC2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: network.StackFilter(spec)})
	if err != nil {
		return fmt.Errorf("describing launch templates: %w", err)
	}
	for _, lt := range lts.LaunchTemplates {
		id := aws.ToString(lt.LaunchTemplateId)
		if _, err := run.Do(ctx, change(stack.Delete, "ec2:launch-template", network.TagValue(lt.Tags, stack.TagComponent), id, ""), func(ctx context.Context) (string, error) {
			_, err := c.EC2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
			return "", ignoreNotFound(err)
		}); err != nil {
			return err
		}
	}
	return nil
}

// ignoreNotFound treats a missing resource as deleted. Auto Scaling reports
// a missing group as a ValidationError whose message says so.
func ignoreNotFound(err error) error {
	if err == nil || awserr.IsNotFound(err) {
		return nil
	}
	if awserr.Code(err) == "ValidationError" && containsNotFound(err.Error()) {
		return nil
	}
	return err
}

func containsNotFound(msg string) bool {
	return strings.Contains(msg, "not found") || strings.Contains(msg, "does not exist")
}
