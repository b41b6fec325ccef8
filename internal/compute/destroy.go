package compute

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Destroy deletes the layer: it detaches and deletes the capacity provider,
// force-deletes the stack's Auto Scaling groups with their instances, then
// deletes the cluster and the launch templates. While a group is still
// deleting it returns a NotReadyError; a cluster that still has container
// instances gives a RetryableError. Not-found counts as done.
func Destroy(ctx context.Context, c Clients, run *stack.Run) error {
	spec := run.Spec
	cluster, err := FindCluster(ctx, c.ECS, spec)
	if err != nil {
		return err
	}
	if cluster != nil && len(cluster.CapacityProviders) > 0 {
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Update, "ecs:cluster", Cluster, ClusterName(spec), "detach capacity providers"), func(ctx context.Context) error {
			_, err := c.ECS.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
				Cluster: aws.String(ClusterName(spec)), CapacityProviders: []string{}, DefaultCapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{},
			})
			return err
		}); err != nil {
			return err
		}
	}
	cp, err := FindCapacityProvider(ctx, c.ECS, spec)
	if err != nil {
		return err
	}
	if cp != nil {
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ecs:capacity-provider", CapacityProvider, aws.ToString(cp.CapacityProviderArn), ""), func(ctx context.Context) error {
			_, err := c.ECS.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{CapacityProvider: aws.String(CapacityProviderName(spec))})
			return err
		}); err != nil {
			return err
		}
	}
	inv, err := find(ctx, c, spec)
	if err != nil {
		return err
	}
	if err := deleteGroups(ctx, c.AutoScaling, run, inv.groups); err != nil {
		return err
	}
	// The cluster cannot go while the groups' instances are registered.
	if len(inv.groups) > 0 && !run.DryRun {
		return &handlererr.NotReadyError{Msg: fmt.Sprintf("the Auto Scaling groups of stack %s are deleting their instances", spec.Name)}
	}
	if cluster != nil {
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ecs:cluster", Cluster, aws.ToString(cluster.ClusterArn), ""), func(ctx context.Context) error {
			_, err := c.ECS.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String(ClusterName(spec))})
			return err
		}); err != nil {
			return err
		}
	}
	return deleteTemplates(ctx, c.EC2, run, inv.templates)
}

// deleteGroups force-deletes the groups with their instances, leaving
// those already deleting alone. Auto Scaling reports a group that is
// already gone as a ValidationError, a code it also uses for other
// mistakes, so a failed delete is looked up again: a group that is gone
// is done.
func deleteGroups(ctx context.Context, api AutoScalingAPI, run *stack.Run, groups map[string]astypes.AutoScalingGroup) error {
	for _, name := range stack.SortedKeys(groups) {
		g := groups[name]
		if aws.ToString(g.Status) == "Delete in progress" {
			continue
		}
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "autoscaling:group", stack.AutoScalingTagMap(g.Tags)[stack.TagComponent], name, fmt.Sprintf("and its %d instances", len(g.Instances))), func(ctx context.Context) error {
			_, err := api.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true)})
			if err == nil {
				return nil
			}
			out, derr := api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
			if derr == nil && len(out.AutoScalingGroups) == 0 {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// deleteTemplates deletes the launch templates.
func deleteTemplates(ctx context.Context, api EC2API, run *stack.Run, templates map[string]ec2types.LaunchTemplate) error {
	for _, c := range stack.SortedKeys(templates) {
		id := aws.ToString(templates[c].LaunchTemplateId)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ec2:launch-template", c, id, ""), func(ctx context.Context) error {
			_, err := api.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
