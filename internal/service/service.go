// Package service reconciles the ECS service layer: the containers' log
// group (retention from the spec, tagged, deleted by a teardown unless the
// spec retains it), the awsvpc task definition with the workload's
// containers, the CloudWatch alarms, the
// service itself (spread across Availability Zones, with the deployment
// circuit breaker and alarm-based rollback), and target-tracking scaling on
// CPU and memory through Application Auto Scaling.
//
// # Who owns what
//
// The build owns the template: every field of the task definition except
// the app's image, and the bounds (the scalable target's minimum and
// maximum). The rollout owns which revision the service runs, and so its
// image, pinned by digest. TaskDefinitionInput is the one constructor of a
// revision, from (spec, workload, app image); every revision carries its
// template's hash (computed with the image blanked) and its image digest as
// tags. The build compares the template hash of the revision the service
// runs now with the spec's: when they differ it registers a revision with
// the image the service runs and rolls it out through the shared
// deployment path; when they agree it leaves the revision alone, however
// many rollouts came since. The first build creates the service from the
// spec's initial image, through the same path.
//
// # The shared deployment path
//
// A deployment goes through separate phases, each a function here, so a
// state machine can run them as separate steps:
//
//   - AcquireLease takes the service's lease in the ledger (a NotReadyError
//     while another owner holds it);
//   - RecordPending records the deployment PENDING, with the previous
//     revision and the image;
//   - RegisterRevision registers a revision from the current template with
//     the given app image;
//   - StartDeployment calls UpdateService with the revision (CreateService
//     for the first build) and returns the ECS deployment it started;
//   - RecordStarted records it IN_PROGRESS;
//   - DeploymentVerdict reads ECS's verdict on that ECS deployment;
//   - Finish records the verdict (SUCCEEDED, ROLLED_BACK or FAILED) and
//     releases the lease.
//
// Deploy composes the phases up to RecordStarted for the build, and the
// DeploymentStatus readiness check composes the last two: the build's wait
// loop reaches ECS's verdict, records it and releases the lease. After the
// service exists, nothing else calls UpdateService with a task definition;
// the build's other repairs (network configuration, load balancer,
// deployment configuration, placement) leave the revision alone.
package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
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

// Inputs are the earlier layers' outputs the service needs.
type Inputs struct {
	Network  *stack.NetworkOutput
	Security *stack.SecurityOutput
	Compute  *stack.ComputeOutput
	Ingress  *stack.IngressOutput
}

// Name is the ECS service's name: the stack's.
func Name(spec stack.Spec) string { return spec.Name }

// ClusterName is the name of the cluster the service runs in: the stack's,
// as the compute layer names it.
func ClusterName(spec stack.Spec) string { return spec.Name }

// ResourceID is the service's Application Auto Scaling resource ID.
func ResourceID(spec stack.Spec) string {
	return "service/" + ClusterName(spec) + "/" + Name(spec)
}

// Reconcile creates or repairs the layer. When the service does not exist
// it creates it, and when the template of the revision it runs differs from
// the spec's it rolls out a new revision with the running image; either
// way the output carries the deployment in flight, which DeploymentStatus
// waits for.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, in Inputs) (*stack.ServiceOutput, error) {
	if in.Network == nil || in.Security == nil || in.Compute == nil || in.Ingress == nil {
		return nil, stack.Missing(Layer, "network", "security", "compute", "ingress")
	}
	spec := run.Spec
	w, err := NewWorkload(spec, c.Region)
	if err != nil {
		return nil, err
	}
	// The tasks' awslogs driver needs the group before a task starts.
	if err := reconcileLogGroup(ctx, c.Logs, run); err != nil {
		return nil, err
	}
	out := &stack.ServiceOutput{ClusterName: in.Compute.ClusterName, ServiceName: Name(spec)}
	alarms := Alarms(spec, in.Network.AZs, in.Ingress.LoadBalancerARN, in.Ingress.TargetGroupARN, in.Compute.CapacityProviderName)
	for _, a := range alarms {
		out.AlarmNames = append(out.AlarmNames, aws.ToString(a.AlarmName))
	}
	if err := reconcileAlarms(ctx, c.CloudWatch, run, alarms); err != nil {
		return nil, err
	}
	svc, err := FindService(ctx, c.ECS, spec)
	if err != nil {
		return nil, err
	}
	desired := ServiceInput(spec, in, w, run.ClientToken(Service))
	if svc == nil {
		d, arn, err := Deploy(ctx, c, run, Rollout{Spec: spec, Workload: w, Image: spec.Image(), Cause: ledger.CauseCreate,
			Reason: "the first build creates the service with the initial image", Create: desired})
		if err != nil {
			return nil, err
		}
		out.ServiceARN, out.Deployment = arn, d
		if d != nil {
			out.TaskDefinitionARN = d.TaskDefinition
		}
	} else {
		if out.ServiceARN, err = reconcileService(ctx, c.ECS, run, svc, desired); err != nil {
			return nil, err
		}
		if out.TaskDefinitionARN, out.Deployment, err = reconcileTemplate(ctx, c, run, w, aws.ToString(svc.TaskDefinition)); err != nil {
			return nil, err
		}
	}
	if err := reconcileScaling(ctx, c.AutoScaling, run); err != nil {
		return nil, err
	}
	return out, nil
}

// reconcileTemplate compares the template of the revision the service runs
// with the spec's, and rolls out a revision with the running image when
// they differ. It returns the revision the service runs, or is being moved
// to, and the deployment it started, if any.
func reconcileTemplate(ctx context.Context, c Clients, run *stack.Run, w Workload, current string) (string, *stack.Deployment, error) {
	spec := run.Spec
	td, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(current), Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		return "", nil, fmt.Errorf("describing task definition %s: %w", current, err)
	}
	have := revisionOf(td.TaskDefinition, td.Tags, w.AppContainer)
	hash, err := TemplateHash(spec, w)
	if err != nil {
		return "", nil, err
	}
	if have.TemplateHash == hash {
		return current, nil, nil
	}
	if have.AppImage == "" {
		return "", nil, handlererr.Invalid(fmt.Sprintf("task definition %s has no %s container, so the image the service runs is unknown", current, w.AppContainer))
	}
	want, err := TaskDefinitionInput(spec, w, have.AppImage)
	if err != nil {
		return "", nil, err
	}
	d, _, err := Deploy(ctx, c, run, Rollout{Spec: spec, Workload: w, Image: have.AppImage, Cause: ledger.CauseTemplate,
		Reason: "template changed: " + strings.Join(templateDrift(have, want, hash), "; "), Previous: current})
	if err != nil || d == nil {
		return current, nil, err
	}
	return d.TaskDefinition, d, nil
}

// ServiceInput is the desired service, without its task definition, which
// the deployment path sets.
func ServiceInput(spec stack.Spec, in Inputs, w Workload, token string) *ecs.CreateServiceInput {
	alarms := DeploymentAlarms(spec)
	return &ecs.CreateServiceInput{
		Cluster: aws.String(in.Compute.ClusterName), ServiceName: aws.String(Name(spec)),
		DesiredCount:             aws.Int32(spec.Service.DesiredCount),
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
		Tags:                 stack.ECSTags(spec.Tags(Service)),
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
		Cluster: aws.String(ClusterName(spec)), Services: []string{Name(spec)}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags},
	})
	if err != nil {
		return nil, awserr.IgnoreNotFound(fmt.Errorf("describing service %s: %w", Name(spec), err))
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

// reconcileService repairs the service's settings other than its revision
// and its desired count: the revision is the deployment path's, the count
// Application Auto Scaling's.
func reconcileService(ctx context.Context, api ECSAPI, run *stack.Run, svc *ecstypes.Service, want *ecs.CreateServiceInput) (string, error) {
	arn := aws.ToString(svc.ServiceArn)
	if aws.ToString(svc.Status) == "DRAINING" {
		return "", &handlererr.NotReadyError{Msg: fmt.Sprintf("service %s is being deleted", arn)}
	}
	d := serviceDrift(svc, want)
	if len(d) == 0 {
		return arn, nil
	}
	return run.Do(ctx, stack.NewChange(Layer, stack.Update, "ecs:service", Service, arn, strings.Join(d, "; ")), func(ctx context.Context) (string, error) {
		_, err := api.UpdateService(ctx, &ecs.UpdateServiceInput{
			Cluster: want.Cluster, Service: want.ServiceName,
			NetworkConfiguration: want.NetworkConfiguration, LoadBalancers: want.LoadBalancers,
			DeploymentConfiguration: want.DeploymentConfiguration, PlacementStrategy: want.PlacementStrategy,
			HealthCheckGracePeriodSeconds: want.HealthCheckGracePeriodSeconds,
		})
		return arn, err
	})
}
