// Package service reconciles the ECS service layer: the awsvpc task
// definition with the workload's containers, the CloudWatch alarms, the
// service itself (spread across Availability Zones, with the deployment
// circuit breaker and alarm-based rollback), and target-tracking scaling on
// CPU and memory through Application Auto Scaling.
package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Layer is the layer's name in plans.
const Layer = "service"

// Components of the layer.
const (
	TaskDefinition = "task-definition"
	Service        = "service"
	ScalableTarget = "scalable-target"
	CPUPolicy      = "cpu-target"
	MemoryPolicy   = "memory-target"
)

// Workload is what runs in the task.
type Workload struct {
	Containers []ecstypes.ContainerDefinition
	// LoadBalancedContainer is the container the target group sends to, on
	// the spec's service port.
	LoadBalancedContainer string
}

// Inputs are the earlier layers' outputs the service needs.
type Inputs struct {
	Network  *network.Output
	Security *security.Output
	Compute  *compute.Output
	Ingress  *ingress.Output
}

// Output is what the readiness checks and the stack's outputs need.
type Output struct {
	ClusterName       string   `json:"clusterName"`
	ServiceName       string   `json:"serviceName"`
	ServiceARN        string   `json:"serviceArn"`
	TaskDefinitionARN string   `json:"taskDefinitionArn"`
	AlarmNames        []string `json:"alarmNames"`
}

// Name is the ECS service's name: the stack's.
func Name(spec stack.Spec) string { return spec.Name }

// ResourceID is the service's Application Auto Scaling resource ID.
func ResourceID(spec stack.Spec) string {
	return "service/" + compute.ClusterName(spec) + "/" + Name(spec)
}

func change(a stack.Action, resource, name, id, detail string) stack.Change {
	return stack.Change{Action: a, Layer: Layer, Resource: resource, Name: name, ID: id, Detail: detail}
}

// Reconcile creates or repairs the layer.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, in Inputs, w Workload) (*Output, error) {
	if len(w.Containers) == 0 || w.LoadBalancedContainer == "" {
		return nil, handlererr.Invalid("the workload has no containers or no load-balanced container")
	}
	spec := run.Spec
	out := &Output{ClusterName: in.Compute.ClusterName, ServiceName: Name(spec)}
	td, registered, err := reconcileTaskDefinition(ctx, c.ECS, run, w)
	if err != nil {
		return nil, err
	}
	out.TaskDefinitionARN = td
	alarms := Alarms(spec, in.Network.AZs, in.Ingress.LoadBalancerARN, in.Ingress.TargetGroupARN)
	for _, a := range alarms {
		out.AlarmNames = append(out.AlarmNames, aws.ToString(a.AlarmName))
	}
	if err := reconcileAlarms(ctx, c.CloudWatch, run, alarms); err != nil {
		return nil, err
	}
	desired := ServiceInput(spec, in, w, td, run.ClientToken(Service))
	if out.ServiceARN, err = reconcileService(ctx, c.ECS, run, desired, registered); err != nil {
		return nil, err
	}
	if err := reconcileScaling(ctx, c.AutoScaling, run); err != nil {
		return nil, err
	}
	return out, nil
}

// TaskDefinitionInput is the desired task definition, without its tags.
func TaskDefinitionInput(spec stack.Spec, w Workload) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(spec.Name),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityEc2},
		Cpu:                     aws.String(strconv.Itoa(int(spec.Service.CPU))),
		Memory:                  aws.String(strconv.Itoa(int(spec.Service.Memory))),
		ExecutionRoleArn:        aws.String(spec.Roles.ExecutionRoleARN),
		TaskRoleArn:             aws.String(spec.Roles.TaskRoleARN),
		ContainerDefinitions:    w.Containers,
	}
}

// Digest is the task definition's content digest, kept in its spec-hash tag.
func Digest(in *ecs.RegisterTaskDefinitionInput) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("hashing task definition %s: %w", aws.ToString(in.Family), err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// buildRevisions bounds how far back reconcileTaskDefinition looks for the
// newest revision the build registered, past the rollout's revisions.
const buildRevisions = 10

// reconcileTaskDefinition registers a revision when the newest revision the
// build registered (the one carrying the spec-hash tag) came from other
// content. Revisions the rollout registers, pinned to image digests, carry
// no spec hash and are skipped. It reports whether it registered one, the
// only case in which the service is pointed at the build's revision: the
// rollout owns the service's revision otherwise.
func reconcileTaskDefinition(ctx context.Context, api ECSAPI, run *stack.Run, w Workload) (string, bool, error) {
	spec := run.Spec
	in := TaskDefinitionInput(spec, w)
	digest, err := Digest(in)
	if err != nil {
		return "", false, err
	}
	latest, err := api.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{
		FamilyPrefix: aws.String(spec.Name), Status: ecstypes.TaskDefinitionStatusActive, Sort: ecstypes.SortOrderDesc, MaxResults: aws.Int32(buildRevisions),
	})
	if err != nil {
		return "", false, fmt.Errorf("listing task definitions of %s: %w", spec.Name, err)
	}
	detail := fmt.Sprintf("awsvpc, %d containers, cpu %d memory %d", len(w.Containers), spec.Service.CPU, spec.Service.Memory)
	action := stack.Create
	for _, arn := range latest.TaskDefinitionArns {
		if family(arn) != spec.Name {
			continue
		}
		td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn), Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
		if err != nil {
			return "", false, fmt.Errorf("describing task definition %s: %w", arn, err)
		}
		got, built := compute.ECSTagMap(td.Tags)[stack.TagSpecHash]
		if !built {
			continue
		}
		if got == digest {
			return arn, false, nil
		}
		action, detail = stack.Update, "new revision: content changed; "+detail
		break
	}
	tagged := *in
	tagged.Tags = append(compute.ECSTags(spec, TaskDefinition), ecstypes.Tag{Key: aws.String(stack.TagSpecHash), Value: aws.String(digest)})
	arn, err := run.Do(ctx, change(action, "ecs:task-definition", TaskDefinition, "", detail), func(ctx context.Context) (string, error) {
		out, err := api.RegisterTaskDefinition(ctx, &tagged)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
	})
	return arn, true, err
}

// ServiceInput is the desired service.
func ServiceInput(spec stack.Spec, in Inputs, w Workload, taskDefinition, token string) *ecs.CreateServiceInput {
	alarms := DeploymentAlarms(spec)
	return &ecs.CreateServiceInput{
		Cluster: aws.String(in.Compute.ClusterName), ServiceName: aws.String(Name(spec)),
		TaskDefinition: aws.String(taskDefinition), DesiredCount: aws.Int32(spec.Service.DesiredCount),
		CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String(in.Compute.CapacityProviderName), Weight: 1}},
		NetworkConfiguration:     networkConfiguration(in),
		LoadBalancers: []ecstypes.LoadBalancer{{
			TargetGroupArn: aws.String(in.Ingress.TargetGroupARN), ContainerName: aws.String(w.LoadBalancedContainer), ContainerPort: aws.Int32(spec.Service.Port),
		}},
		HealthCheckGracePeriodSeconds: aws.Int32(spec.Service.HealthCheckGracePeriod),
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			MinimumHealthyPercent:    aws.Int32(100),
			MaximumPercent:           aws.Int32(200),
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
			Alarms:                   &ecstypes.DeploymentAlarms{AlarmNames: alarms, Enable: true, Rollback: true},
		},
		PlacementStrategy:    PlacementStrategy(),
		DeploymentController: &ecstypes.DeploymentController{Type: ecstypes.DeploymentControllerTypeEcs},
		SchedulingStrategy:   ecstypes.SchedulingStrategyReplica,
		EnableECSManagedTags: true,
		PropagateTags:        ecstypes.PropagateTagsService,
		Tags:                 compute.ECSTags(spec, Service),
		ClientToken:          aws.String(token),
	}
}

// PlacementStrategy spreads tasks across zones first, then across
// instances within a zone.
func PlacementStrategy() []ecstypes.PlacementStrategy {
	return []ecstypes.PlacementStrategy{
		{Type: ecstypes.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")},
		{Type: ecstypes.PlacementStrategyTypeSpread, Field: aws.String("instanceId")},
	}
}

func networkConfiguration(in Inputs) *ecstypes.NetworkConfiguration {
	return &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
		Subnets: in.Network.PrivateSubnetIDs, SecurityGroups: []string{in.Security.TaskSecurityGroupID},
		AssignPublicIp: ecstypes.AssignPublicIpDisabled,
	}}
}

// FindService returns the stack's service unless it is INACTIVE or absent.
func FindService(ctx context.Context, api ECSAPI, spec stack.Spec) (*ecstypes.Service, error) {
	out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(compute.ClusterName(spec)), Services: []string{Name(spec)}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags},
	})
	if awserr.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing service %s: %w", Name(spec), err)
	}
	for _, s := range out.Services {
		if aws.ToString(s.Status) != "INACTIVE" {
			return &s, nil
		}
	}
	return nil, nil
}

// serviceDrift compares what the service reports. A field the API leaves
// out is not compared: it says nothing about the service.
func serviceDrift(svc *ecstypes.Service, want *ecs.CreateServiceInput) []string {
	var d []string
	if nc := svc.NetworkConfiguration; nc == nil || nc.AwsvpcConfiguration == nil ||
		!sameSet(nc.AwsvpcConfiguration.Subnets, want.NetworkConfiguration.AwsvpcConfiguration.Subnets) ||
		!sameSet(nc.AwsvpcConfiguration.SecurityGroups, want.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups) {
		d = append(d, "network configuration")
	}
	if len(svc.LoadBalancers) != 1 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) != aws.ToString(want.LoadBalancers[0].TargetGroupArn) ||
		aws.ToInt32(svc.LoadBalancers[0].ContainerPort) != aws.ToInt32(want.LoadBalancers[0].ContainerPort) {
		d = append(d, "load balancer")
	}
	if dc := svc.DeploymentConfiguration; dc != nil {
		cb := dc.DeploymentCircuitBreaker
		if cb == nil || !cb.Enable || !cb.Rollback {
			d = append(d, "circuit breaker off, want on with rollback")
		}
		if dc.Alarms == nil || !dc.Alarms.Enable || !dc.Alarms.Rollback || !sameSet(dc.Alarms.AlarmNames, want.DeploymentConfiguration.Alarms.AlarmNames) {
			d = append(d, "deployment alarms")
		}
		if !slices.EqualFunc(svc.PlacementStrategy, want.PlacementStrategy, func(a, b ecstypes.PlacementStrategy) bool {
			return a.Type == b.Type && aws.ToString(a.Field) == aws.ToString(b.Field)
		}) {
			d = append(d, "placement strategy, want spread by zone then instance")
		}
	}
	if g := svc.HealthCheckGracePeriodSeconds; g != nil && *g != aws.ToInt32(want.HealthCheckGracePeriodSeconds) {
		d = append(d, fmt.Sprintf("health check grace period %d, want %d", *g, aws.ToInt32(want.HealthCheckGracePeriodSeconds)))
	}
	return d
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func reconcileService(ctx context.Context, api ECSAPI, run *stack.Run, want *ecs.CreateServiceInput, newRevision bool) (string, error) {
	spec := run.Spec
	svc, err := FindService(ctx, api, spec)
	if err != nil {
		return "", err
	}
	if svc == nil {
		return run.Do(ctx, change(stack.Create, "ecs:service", Service, "", fmt.Sprintf("%d tasks spread across zones, circuit breaker with rollback", spec.Service.DesiredCount)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateService(ctx, want)
				if err != nil {
					return "", err
				}
				return aws.ToString(out.Service.ServiceArn), nil
			})
	}
	arn := aws.ToString(svc.ServiceArn)
	if aws.ToString(svc.Status) == "DRAINING" {
		return "", &handlererr.NotReadyError{Msg: fmt.Sprintf("service %s is being deleted", arn)}
	}
	d := serviceDrift(svc, want)
	if newRevision {
		d = append(d, "task definition "+aws.ToString(want.TaskDefinition))
	}
	if len(d) == 0 {
		return arn, nil
	}
	return run.Do(ctx, change(stack.Update, "ecs:service", Service, arn, strings.Join(d, "; ")), func(ctx context.Context) (string, error) {
		// DesiredCount is left to Application Auto Scaling, and the task
		// definition to the rollout unless the build registered a new one.
		in := &ecs.UpdateServiceInput{
			Cluster: want.Cluster, Service: want.ServiceName,
			NetworkConfiguration: want.NetworkConfiguration, LoadBalancers: want.LoadBalancers,
			DeploymentConfiguration: want.DeploymentConfiguration, PlacementStrategy: want.PlacementStrategy,
			HealthCheckGracePeriodSeconds: want.HealthCheckGracePeriodSeconds,
		}
		if newRevision {
			in.TaskDefinition = want.TaskDefinition
		}
		_, err := api.UpdateService(ctx, in)
		return arn, err
	})
}

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
		if _, err := run.Do(ctx, change(action, "application-autoscaling:scalable-target", ScalableTarget, rid, detail), func(ctx context.Context) (string, error) {
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
		if _, err := run.Do(ctx, change(action, "application-autoscaling:scaling-policy", name, rid, detail), func(ctx context.Context) (string, error) {
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
