package compute

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// FindCluster returns the stack's active cluster, or nil. INACTIVE counts
// as not found.
func FindCluster(ctx context.Context, api ECSAPI, spec stack.Spec) (*ecstypes.Cluster, error) {
	out, err := api.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{ClusterName(spec)}, Include: []ecstypes.ClusterField{ecstypes.ClusterFieldTags}})
	if err != nil {
		return nil, fmt.Errorf("describing cluster %s: %w", ClusterName(spec), err)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.Status) == "INACTIVE" {
			continue
		}
		if !spec.Owned(stack.ECSTagMap(c.Tags)) {
			return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("cluster %s exists but is not tagged as part of stack %s", ClusterName(spec), spec.Name)}
		}
		return &c, nil
	}
	return nil, nil
}

func reconcileCluster(ctx context.Context, api ECSAPI, run *stack.Run) (string, error) {
	c, err := FindCluster(ctx, api, run.Spec)
	if err != nil {
		return "", err
	}
	if c != nil {
		return aws.ToString(c.ClusterArn), nil
	}
	name := ClusterName(run.Spec)
	return run.Do(ctx, stack.NewChange(Layer, stack.Create, "ecs:cluster", Cluster, "", name+" with Container Insights"), func(ctx context.Context) (string, error) {
		out, err := api.CreateCluster(ctx, &ecs.CreateClusterInput{
			ClusterName: aws.String(name), Tags: stack.ECSTags(run.Spec.Tags(Cluster)),
			Settings: []ecstypes.ClusterSetting{{Name: ecstypes.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Cluster.ClusterArn), nil
	})
}

func managedScaling(spec stack.Spec) *ecstypes.ManagedScaling {
	return &ecstypes.ManagedScaling{
		Status: ecstypes.ManagedScalingStatusEnabled, TargetCapacity: aws.Int32(spec.Compute.TargetCapacity),
		MinimumScalingStepSize: aws.Int32(1), MaximumScalingStepSize: aws.Int32(int32(spec.Network.AZCount)),
	}
}

// FindCapacityProvider returns the stack's active capacity provider, or nil.
func FindCapacityProvider(ctx context.Context, api ECSAPI, spec stack.Spec) (*ecstypes.CapacityProvider, error) {
	name := CapacityProviderName(spec)
	out, err := api.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{CapacityProviders: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describing capacity provider %s: %w", name, err)
	}
	for _, p := range out.CapacityProviders {
		if p.Status == ecstypes.CapacityProviderStatusActive && aws.ToString(p.Name) == name {
			return &p, nil
		}
	}
	return nil, nil
}

func reconcileCapacityProvider(ctx context.Context, api ECSAPI, run *stack.Run, groupARN string) error {
	spec := run.Spec
	name := CapacityProviderName(spec)
	cp, err := FindCapacityProvider(ctx, api, spec)
	if err != nil {
		return err
	}
	want := managedScaling(spec)
	switch {
	case cp == nil:
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ecs:capacity-provider", CapacityProvider, "", fmt.Sprintf("managed scaling to %d%%", spec.Compute.TargetCapacity)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{
					Name: aws.String(name), Tags: stack.ECSTags(spec.Tags(CapacityProvider)),
					AutoScalingGroupProvider: &ecstypes.AutoScalingGroupProvider{
						AutoScalingGroupArn: aws.String(groupARN), ManagedScaling: want,
						ManagedTerminationProtection: ecstypes.ManagedTerminationProtectionDisabled,
						// The control plane's own terminate hook drains
						// instances; ECS's managed draining would race it.
						ManagedDraining: ecstypes.ManagedDrainingDisabled,
					},
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.CapacityProvider.CapacityProviderArn), nil
			}); err != nil {
			return err
		}
	default:
		var got *ecstypes.ManagedScaling
		if cp.AutoScalingGroupProvider != nil {
			got = cp.AutoScalingGroupProvider.ManagedScaling
		}
		if got == nil || got.Status != want.Status || aws.ToInt32(got.TargetCapacity) != aws.ToInt32(want.TargetCapacity) {
			detail := "managed scaling off"
			if got != nil {
				detail = fmt.Sprintf("managed scaling %s at %d%%", got.Status, aws.ToInt32(got.TargetCapacity))
			}
			if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "ecs:capacity-provider", CapacityProvider, aws.ToString(cp.CapacityProviderArn), detail+fmt.Sprintf(", want ENABLED at %d%%", spec.Compute.TargetCapacity)),
				func(ctx context.Context) (string, error) {
					_, err := api.UpdateCapacityProvider(ctx, &ecs.UpdateCapacityProviderInput{
						Name: aws.String(name), AutoScalingGroupProvider: &ecstypes.AutoScalingGroupProviderUpdate{ManagedScaling: want},
					})
					return aws.ToString(cp.CapacityProviderArn), err
				}); err != nil {
				return err
			}
		}
	}
	var cluster *ecstypes.Cluster
	if !run.DryRun || cp != nil {
		if cluster, err = FindCluster(ctx, api, spec); err != nil {
			return err
		}
	}
	if cluster != nil && slices.Equal(cluster.CapacityProviders, []string{name}) && len(cluster.DefaultCapacityProviderStrategy) == 1 &&
		aws.ToString(cluster.DefaultCapacityProviderStrategy[0].CapacityProvider) == name {
		return nil
	}
	action, detail := stack.Create, name+" as the default strategy"
	if cluster != nil && len(cluster.CapacityProviders) > 0 {
		action, detail = stack.Update, fmt.Sprintf("%v, want %s as the default strategy", cluster.CapacityProviders, name)
	}
	_, err = run.Do(ctx, stack.NewChange(Layer, action, "ecs:cluster-capacity-providers", Cluster, ClusterName(spec), detail),
		func(ctx context.Context) (string, error) {
			_, err := api.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
				Cluster: aws.String(ClusterName(spec)), CapacityProviders: []string{name},
				DefaultCapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String(name), Weight: 1}},
			})
			return ClusterName(spec), err
		})
	return err
}
