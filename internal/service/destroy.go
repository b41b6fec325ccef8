package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Destroy deletes the scaling policies and target, the service (forced, so
// it stops its tasks), the alarms, the containers' log group (unless the
// build tagged it to be retained) and every revision of the task definition
// family. While the service drains it returns a NotReadyError. Not-found
// counts as done.
func Destroy(ctx context.Context, c Clients, run *stack.Run) error {
	spec := run.Spec
	rid := ResourceID(spec)
	pols, err := c.AutoScaling.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid)})
	if err != nil {
		return fmt.Errorf("describing scaling policies of %s: %w", rid, err)
	}
	for _, p := range pols.ScalingPolicies {
		name := aws.ToString(p.PolicyName)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "application-autoscaling:scaling-policy", name, rid, ""), func(ctx context.Context) error {
			_, err := c.AutoScaling.DeleteScalingPolicy(ctx, &aas.DeleteScalingPolicyInput{
				PolicyName: aws.String(name), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid),
				ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
			})
			return err
		}); err != nil {
			return err
		}
	}
	targets, err := c.AutoScaling.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{rid}})
	if err != nil {
		return fmt.Errorf("describing the scalable target of %s: %w", rid, err)
	}
	if len(targets.ScalableTargets) > 0 {
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "application-autoscaling:scalable-target", ScalableTarget, rid, ""), func(ctx context.Context) error {
			_, err := c.AutoScaling.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{
				ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(rid), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
			})
			return err
		}); err != nil {
			return err
		}
	}
	svc, err := FindService(ctx, c.ECS, spec)
	if err != nil {
		return err
	}
	if svc != nil {
		arn := aws.ToString(svc.ServiceArn)
		if aws.ToString(svc.Status) != "DRAINING" {
			if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "ecs:service", Service, arn, fmt.Sprintf("stopping %d tasks", svc.RunningCount)), func(ctx context.Context) error {
				_, err := c.ECS.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(ClusterName(spec)), Service: aws.String(Name(spec)), Force: aws.Bool(true)})
				return err
			}); err != nil {
				return err
			}
		}
		// The tasks' network interfaces and target registrations go with
		// the service; a later round finds it INACTIVE.
		if !run.DryRun {
			return &handlererr.NotReadyError{Msg: fmt.Sprintf("service %s is draining", arn)}
		}
	}
	alarms, err := findAlarms(ctx, c.CloudWatch, spec)
	if err != nil {
		return err
	}
	if err := deleteAlarms(ctx, c.CloudWatch, run, alarms, stack.SortedKeys(alarms)); err != nil {
		return err
	}
	// The log group is found through the task definitions, so it goes
	// first.
	if err := destroyLogGroup(ctx, c.Logs, c.ECS, run); err != nil {
		return err
	}
	return destroyTaskDefinitions(ctx, c.ECS, run)
}

// destroyTaskDefinitions deregisters the family's active revisions and
// deletes all of them, rollout revisions included, so nothing tagged is left.
func destroyTaskDefinitions(ctx context.Context, api ECSAPI, run *stack.Run) error {
	spec := run.Spec
	for _, status := range []ecstypes.TaskDefinitionStatus{ecstypes.TaskDefinitionStatusActive, ecstypes.TaskDefinitionStatusInactive} {
		p := ecs.NewListTaskDefinitionsPaginator(api, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(Family(spec)), Status: status})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("listing task definitions of %s: %w", spec.Name, err)
			}
			for _, arn := range page.TaskDefinitionArns {
				if family(arn) != Family(spec) {
					continue
				}
				if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Delete, "ecs:task-definition", TaskDefinition, arn, ""), func(ctx context.Context) (string, error) {
					if status == ecstypes.TaskDefinitionStatusActive {
						if _, err := api.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(arn)}); err != nil {
							return arn, fmt.Errorf("deregistering: %w", err)
						}
					}
					_, err := api.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{arn}})
					return arn, err
				}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// family returns the family of a task definition ARN; FamilyPrefix also
// matches longer family names.
func family(arn string) string {
	_, rest, _ := strings.Cut(arn, ":task-definition/")
	f, _, _ := strings.Cut(rest, ":")
	return f
}
