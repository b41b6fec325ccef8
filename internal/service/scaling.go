package service

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

func scalingPolicies(spec stack.Spec) map[string]*aastypes.TargetTrackingScalingPolicyConfiguration {
	policy := func(metric aastypes.MetricType, target float64) *aastypes.TargetTrackingScalingPolicyConfiguration {
		return &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue:                   aws.Float64(target),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: metric},
			ScaleOutCooldown:              aws.Int32(60),
			ScaleInCooldown:               aws.Int32(300),
		}
	}
	return map[string]*aastypes.TargetTrackingScalingPolicyConfiguration{
		spec.ResourceName(CPUPolicy):    policy(aastypes.MetricTypeECSServiceAverageCPUUtilization, spec.Service.CPUTarget),
		spec.ResourceName(MemoryPolicy): policy(aastypes.MetricTypeECSServiceAverageMemoryUtilization, spec.Service.MemoryTarget),
	}
}

func reconcileScaling(ctx context.Context, api AutoScalingAPI, run *stack.Run) error {
	spec := run.Spec
	rid := ResourceID(spec)
	targets, err := api.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{rid}, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
	})
	if err != nil {
		return fmt.Errorf("describing the scalable target of %s: %w", rid, err)
	}
	minC, maxC := spec.Service.MinCount, spec.Service.MaxCount
	action, detail := stack.Create, fmt.Sprintf("desired count %d-%d", minC, maxC)
	if len(targets.ScalableTargets) > 0 {
		t := targets.ScalableTargets[0]
		action, detail = stack.Update, fmt.Sprintf("desired count %d-%d, want %d-%d", aws.ToInt32(t.MinCapacity), aws.ToInt32(t.MaxCapacity), minC, maxC)
		if aws.ToInt32(t.MinCapacity) == minC && aws.ToInt32(t.MaxCapacity) == maxC {
			action = ""
		}
	}
	if action != "" {
		if _, err := run.Do(ctx, stack.NewChange(Layer, action, "application-autoscaling:scalable-target", ScalableTarget, rid, detail), func(ctx context.Context) (string, error) {
			in := &aas.RegisterScalableTargetInput{
				ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
				MinCapacity: aws.Int32(minC), MaxCapacity: aws.Int32(maxC),
			}
			if action == stack.Create {
				// Tags are accepted only when the target is registered.
				in.Tags = stack.TagMap(spec.Tags(ScalableTarget))
			}
			_, err := api.RegisterScalableTarget(ctx, in)
			return rid, err
		}); err != nil {
			return err
		}
	}
	have, err := api.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid)})
	if err != nil {
		return fmt.Errorf("describing scaling policies of %s: %w", rid, err)
	}
	current := map[string]aastypes.ScalingPolicy{}
	for _, p := range have.ScalingPolicies {
		current[aws.ToString(p.PolicyName)] = p
	}
	want := scalingPolicies(spec)
	for _, name := range stack.SortedKeys(current) {
		if _, ok := want[name]; ok {
			continue
		}
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "application-autoscaling:scaling-policy", name, rid, ""), func(ctx context.Context) error {
			_, err := api.DeleteScalingPolicy(ctx, &aas.DeleteScalingPolicyInput{
				PolicyName: aws.String(name), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid),
				ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
			})
			return err
		}); err != nil {
			return err
		}
	}
	for _, name := range stack.SortedKeys(want) {
		cfg := want[name]
		metric := cfg.PredefinedMetricSpecification.PredefinedMetricType
		action, detail := stack.Create, fmt.Sprintf("target tracking %s at %g", metric, aws.ToFloat64(cfg.TargetValue))
		if p, ok := current[name]; ok {
			got := p.TargetTrackingScalingPolicyConfiguration
			if got != nil && got.PredefinedMetricSpecification != nil && got.PredefinedMetricSpecification.PredefinedMetricType == metric &&
				aws.ToFloat64(got.TargetValue) == aws.ToFloat64(cfg.TargetValue) {
				continue
			}
			action = stack.Update
		}
		if _, err := run.Do(ctx, stack.NewChange(Layer, action, "application-autoscaling:scaling-policy", name, rid, detail), func(ctx context.Context) (string, error) {
			out, err := api.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
				PolicyName: aws.String(name), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid),
				ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
				TargetTrackingScalingPolicyConfiguration: cfg,
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.PolicyARN), nil
		}); err != nil {
			return err
		}
	}
	return nil
}
