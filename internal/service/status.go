package service

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Readiness checks of the layer.
const (
	// CheckDeployment waits for ECS's verdict on the deployment the build
	// started, records it and releases the lease.
	CheckDeployment = "deployment"
	// CheckService waits for the service to be steady with a healthy
	// target in every zone.
	CheckService = "service"
)

// Tasks returns the service's tasks, page by page.
func Tasks(ctx context.Context, c Clients, cluster, svc string) ([]ecstypes.Task, error) {
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

// HealthyTargets counts the target group's healthy targets by the zone of
// the task behind each.
func HealthyTargets(ctx context.Context, c Clients, targetGroup string, tasks []ecstypes.Task) (map[string]int, error) {
	zoneOf := taskZones(tasks)
	health, err := c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(targetGroup)})
	if err != nil {
		return nil, fmt.Errorf("describing target health: %w", err)
	}
	counts := map[string]int{}
	for _, h := range health.TargetHealthDescriptions {
		if h.TargetHealth != nil && h.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy && h.Target != nil {
			counts[zoneOf[aws.ToString(h.Target.Id)]]++
		}
	}
	return counts, nil
}

// ServiceStatus is ready once the service has one completed deployment,
// runs its desired count, and has a healthy target in every zone. A failed
// deployment is an error, not a wait.
func ServiceStatus(ctx context.Context, c Clients, out *stack.ServiceOutput, targetGroup string, azs []string) (stack.Status, error) {
	described, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(out.ClusterName), Services: []string{out.ServiceName}})
	if err != nil {
		return stack.Status{}, fmt.Errorf("describing service: %w", err)
	}
	if len(described.Services) == 0 {
		return stack.NotYet("service not visible yet"), nil
	}
	svc := described.Services[0]
	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" && d.RolloutState == ecstypes.DeploymentRolloutStateFailed {
			return stack.Status{}, fmt.Errorf("the service's deployment failed: %s", aws.ToString(d.RolloutStateReason))
		}
	}
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted || svc.RunningCount != svc.DesiredCount || svc.DesiredCount == 0 {
		return stack.NotYet("service not steady: %d deployments, %d/%d tasks running", len(svc.Deployments), svc.RunningCount, svc.DesiredCount).Because(
			"tasks are placed on the cluster's instances and must pass the target group's health check; if they never run, the service's events say why (no instance with room, an image that does not pull, a container that exits)"), nil
	}
	tasks, err := Tasks(ctx, c, out.ClusterName, out.ServiceName)
	if err != nil {
		return stack.Status{}, err
	}
	counts, err := HealthyTargets(ctx, c, targetGroup, tasks)
	if err != nil {
		return stack.Status{}, err
	}
	missing, summary := stack.PerZone(azs, counts)
	if len(missing) > 0 {
		return stack.NotYet("no healthy target in %v (%s)", missing, summary).Because(
			"a task's target turns healthy once it passes the target group's health check; one that never does fails the check (the target health's reason says how), or the zone runs no task"), nil
	}
	return stack.Status{Ready: true, Detail: fmt.Sprintf("service steady with %d tasks; healthy targets %s", svc.RunningCount, summary)}, nil
}

// DeploymentStatus waits for ECS's verdict on the deployment the build
// started, if it started one: the last phases of the shared deployment
// path. Once ECS gives it, the verdict is recorded and the lease released;
// a deployment that did not succeed is then an error.
func DeploymentStatus(ctx context.Context, c Clients, out *stack.ServiceOutput) (stack.Status, error) {
	d := out.Deployment
	if d == nil {
		return stack.Status{Ready: true, Detail: "no deployment started"}, nil
	}
	v, err := DeploymentVerdict(ctx, c, out.ClusterName, d)
	if err != nil {
		return stack.Status{}, err
	}
	if !v.Done {
		return stack.NotYet("deployment %s of %s in progress: %s", d.ID, d.TaskDefinition, v.Reason).Because(
			"ECS gives its verdict once the new tasks run and are healthy, or its circuit breaker stops the deployment after repeated failed task starts; the service's events say which is happening"), nil
	}
	if err := Finish(ctx, c, d, v); err != nil {
		return stack.Status{}, err
	}
	if v.Status != ledger.StatusSucceeded {
		return stack.Status{}, fmt.Errorf("deployment %s of %s %s: %s", d.ID, d.TaskDefinition, v.Status, v.Reason)
	}
	return stack.Status{Ready: true, Detail: fmt.Sprintf("deployment %s of %s succeeded: %s", d.ID, d.TaskDefinition, v.Reason)}, nil
}
