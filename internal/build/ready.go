package build

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/service"
)

// Readiness checks, each waiting for one condition of a healthy stack.
const (
	CheckNAT       = "nat"
	CheckALB       = "alb"
	CheckGroup     = "asg"
	CheckInstances = "instances"
	CheckService   = "service"
)

// ChecksAfter lists the checks that follow each layer.
var ChecksAfter = map[string][]string{
	network.Layer: {CheckNAT},
	ingress.Layer: {CheckALB},
	compute.Layer: {CheckGroup, CheckInstances},
	service.Layer: {CheckService},
}

// Status is the outcome of one readiness check.
type Status struct {
	Ready bool `json:"ready"`
	// Detail says what is still missing, or what is there.
	Detail string `json:"detail"`
}

func notYet(format string, args ...any) Status { return Status{Detail: fmt.Sprintf(format, args...)} }

// Check runs one readiness check against the built layers. A resource in
// a state it cannot recover from is an error, not a wait.
func Check(ctx context.Context, c Clients, l *Layers, check string) (Status, error) {
	need := func(ok bool, layer string) error {
		if !ok {
			return handlererr.Invalid(fmt.Sprintf("check %s needs the %s layer's output", check, layer))
		}
		return nil
	}
	switch check {
	case CheckNAT:
		if err := need(l.Network != nil, network.Layer); err != nil {
			return Status{}, err
		}
		return checkNAT(ctx, c, l.Network)
	case CheckALB:
		if err := need(l.Ingress != nil, ingress.Layer); err != nil {
			return Status{}, err
		}
		return checkALB(ctx, c, l.Ingress)
	case CheckGroup:
		if err := need(l.Compute != nil && l.Network != nil, compute.Layer); err != nil {
			return Status{}, err
		}
		return checkGroup(ctx, c, l)
	case CheckInstances:
		if err := need(l.Compute != nil && l.Network != nil, compute.Layer); err != nil {
			return Status{}, err
		}
		return checkInstances(ctx, c, l)
	case CheckService:
		if err := need(l.Service != nil && l.Ingress != nil && l.Network != nil, service.Layer); err != nil {
			return Status{}, err
		}
		return checkService(ctx, c, l)
	}
	return Status{}, handlererr.Invalid(fmt.Sprintf("unknown readiness check %q", check))
}

func checkNAT(ctx context.Context, c Clients, n *network.Output) (Status, error) {
	out, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: n.NATGatewayIDs})
	if err != nil {
		return Status{}, fmt.Errorf("describing NAT gateways: %w", err)
	}
	var pending []string
	for _, g := range out.NatGateways {
		switch g.State {
		case ec2types.NatGatewayStateAvailable:
		case ec2types.NatGatewayStatePending:
			pending = append(pending, aws.ToString(g.NatGatewayId))
		default:
			return Status{}, fmt.Errorf("NAT gateway %s is %s: %s", aws.ToString(g.NatGatewayId), g.State, aws.ToString(g.FailureMessage))
		}
	}
	if len(out.NatGateways) != len(n.NATGatewayIDs) || len(pending) > 0 {
		return notYet("NAT gateways pending: %v", pending), nil
	}
	return Status{Ready: true, Detail: fmt.Sprintf("%d NAT gateways available", len(out.NatGateways))}, nil
}

func checkALB(ctx context.Context, c Clients, in *ingress.Output) (Status, error) {
	out, err := c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{in.LoadBalancerARN}})
	if err != nil {
		return Status{}, fmt.Errorf("describing load balancer: %w", err)
	}
	if len(out.LoadBalancers) == 0 || out.LoadBalancers[0].State == nil {
		return notYet("load balancer not visible yet"), nil
	}
	switch s := out.LoadBalancers[0].State; s.Code {
	case elbtypes.LoadBalancerStateEnumActive:
		return Status{Ready: true, Detail: "load balancer active at " + in.DNSName}, nil
	case elbtypes.LoadBalancerStateEnumProvisioning:
		return notYet("load balancer provisioning"), nil
	default:
		return Status{}, fmt.Errorf("load balancer is %s: %s", s.Code, aws.ToString(s.Reason))
	}
}

// perZone reports the zones with no count and renders the counts.
func perZone(azs []string, counts map[string]int) (missing []string, summary string) {
	var parts []string
	for _, az := range azs {
		parts = append(parts, fmt.Sprintf("%s=%d", az, counts[az]))
		if counts[az] == 0 {
			missing = append(missing, az)
		}
	}
	return missing, strings.Join(parts, " ")
}

func checkGroup(ctx context.Context, c Clients, l *Layers) (Status, error) {
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{l.Compute.AutoScalingGroupName}})
	if err != nil {
		return Status{}, fmt.Errorf("describing Auto Scaling group: %w", err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return notYet("Auto Scaling group not visible yet"), nil
	}
	counts := map[string]int{}
	for _, i := range out.AutoScalingGroups[0].Instances {
		if i.LifecycleState == "InService" {
			counts[aws.ToString(i.AvailabilityZone)]++
		}
	}
	missing, summary := perZone(l.Network.AZs, counts)
	if len(missing) > 0 {
		return notYet("no InService instance in %v (%s)", missing, summary), nil
	}
	return Status{Ready: true, Detail: "InService instances " + summary}, nil
}

func checkInstances(ctx context.Context, c Clients, l *Layers) (Status, error) {
	var arns []string
	p := ecs.NewListContainerInstancesPaginator(c.ECS, &ecs.ListContainerInstancesInput{Cluster: aws.String(l.Compute.ClusterName), Status: ecstypes.ContainerInstanceStatusActive})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Status{}, fmt.Errorf("listing container instances: %w", err)
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	counts := map[string]int{}
	for chunk := range slices.Chunk(arns, 100) {
		out, err := c.ECS.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(l.Compute.ClusterName), ContainerInstances: chunk})
		if err != nil {
			return Status{}, fmt.Errorf("describing container instances: %w", err)
		}
		for _, ci := range out.ContainerInstances {
			for _, a := range ci.Attributes {
				if aws.ToString(a.Name) == "ecs.availability-zone" && ci.AgentConnected {
					counts[aws.ToString(a.Value)]++
				}
			}
		}
	}
	missing, summary := perZone(l.Network.AZs, counts)
	if len(missing) > 0 {
		return notYet("no registered container instance in %v (%s)", missing, summary), nil
	}
	return Status{Ready: true, Detail: "container instances " + summary}, nil
}

func checkService(ctx context.Context, c Clients, l *Layers) (Status, error) {
	out, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(l.Service.ClusterName), Services: []string{l.Service.ServiceName}})
	if err != nil {
		return Status{}, fmt.Errorf("describing service: %w", err)
	}
	if len(out.Services) == 0 {
		return notYet("service not visible yet"), nil
	}
	svc := out.Services[0]
	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" && d.RolloutState == ecstypes.DeploymentRolloutStateFailed {
			return Status{}, fmt.Errorf("the service's deployment failed: %s", aws.ToString(d.RolloutStateReason))
		}
	}
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted || svc.RunningCount != svc.DesiredCount || svc.DesiredCount == 0 {
		return notYet("service not steady: %d deployments, %d/%d tasks running", len(svc.Deployments), svc.RunningCount, svc.DesiredCount), nil
	}
	// Healthy targets per zone: target IPs mapped to zones via the tasks.
	tasks, err := serviceTasks(ctx, c, l.Service.ClusterName, l.Service.ServiceName)
	if err != nil {
		return Status{}, err
	}
	zoneOf := taskZones(tasks)
	health, err := c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(l.Ingress.TargetGroupARN)})
	if err != nil {
		return Status{}, fmt.Errorf("describing target health: %w", err)
	}
	counts := map[string]int{}
	for _, h := range health.TargetHealthDescriptions {
		if h.TargetHealth != nil && h.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy && h.Target != nil {
			counts[zoneOf[aws.ToString(h.Target.Id)]]++
		}
	}
	missing, summary := perZone(l.Network.AZs, counts)
	if len(missing) > 0 {
		return notYet("no healthy target in %v (%s)", missing, summary), nil
	}
	return Status{Ready: true, Detail: fmt.Sprintf("service steady with %d tasks; healthy targets %s", svc.RunningCount, summary)}, nil
}

// serviceTasks returns the service's tasks, page by page.
func serviceTasks(ctx context.Context, c Clients, cluster, svc string) ([]ecstypes.Task, error) {
	var tasks []ecstypes.Task
	p := ecs.NewListTasksPaginator(c.ECS, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing tasks of %s: %w", svc, err)
		}
		if len(page.TaskArns) == 0 {
			continue
		}
		// ListTasks pages hold at most 100, DescribeTasks' limit.
		out, err := c.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: page.TaskArns})
		if err != nil {
			return nil, fmt.Errorf("describing tasks of %s: %w", svc, err)
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks, nil
}

// taskZones maps each awsvpc task's private address, its target ID, to
// the task's zone.
func taskZones(tasks []ecstypes.Task) map[string]string {
	m := map[string]string{}
	for _, t := range tasks {
		for _, a := range t.Attachments {
			for _, d := range a.Details {
				if aws.ToString(d.Name) == "privateIPv4Address" {
					m[aws.ToString(d.Value)] = aws.ToString(t.AvailabilityZone)
				}
			}
		}
	}
	return m
}
