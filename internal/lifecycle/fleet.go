package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// The finds and statuses the workflow's steps share, each one read.

// waitState is the group state an instance holds while the action of kind
// waits on its hook.
func waitState(kind string) astypes.LifecycleState {
	if kind == KindDrain {
		return astypes.LifecycleStateTerminatingWait
	}
	return astypes.LifecycleStatePendingWait
}

// member returns the instance's zone while its action waits on the hook;
// otherwise why the action is gone. Auto Scaling's listing lags behind:
// a new instance may not show yet. When the listing says the action is
// gone, its token decides: a heartbeat on it succeeds only while the
// action waits, and beat reports that one was recorded.
func (h *Handler) member(ctx context.Context, a *Action) (zone, gone string, beat bool, err error) {
	zone, gone, err = h.listed(ctx, a)
	if err != nil || gone == "" {
		return zone, gone, false, err
	}
	_, err = h.Clients.AutoScaling.RecordLifecycleActionHeartbeat(ctx, heartbeatInput(a))
	switch {
	case err == nil:
		h.log().InfoContext(ctx, "lifecycle action waits, though its instance is not listed so", "instance_id", a.InstanceID, "listed", gone)
		return zone, "", true, nil
	case awserr.Code(err) == "ValidationError":
		return zone, gone, false, nil
	}
	return "", "", false, fmt.Errorf("recording a heartbeat for %s on %s: %w", a.InstanceID, a.Hook, err)
}

// listed returns the instance's zone and, unless Auto Scaling lists it
// waiting on the action's hook, why the action is gone.
func (h *Handler) listed(ctx context.Context, a *Action) (zone, gone string, err error) {
	out, err := h.Clients.AutoScaling.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{a.InstanceID}})
	if err != nil {
		return "", "", fmt.Errorf("describing instance %s in its group: %w", a.InstanceID, err)
	}
	for _, i := range out.AutoScalingInstances {
		if aws.ToString(i.AutoScalingGroupName) != a.Group {
			continue
		}
		if st := aws.ToString(i.LifecycleState); st != string(waitState(a.Kind)) {
			return aws.ToString(i.AvailabilityZone), fmt.Sprintf("instance %s is %s, no longer waiting on %s: its lifecycle action token is no longer valid", a.InstanceID, st, a.Hook), nil
		}
		return aws.ToString(i.AvailabilityZone), "", nil
	}
	return "", fmt.Sprintf("instance %s is no longer in group %s", a.InstanceID, a.Group), nil
}

// heartbeatInput is the heartbeat of the action.
func heartbeatInput(a *Action) *autoscaling.RecordLifecycleActionHeartbeatInput {
	return &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String(a.Group), LifecycleHookName: aws.String(a.Hook), LifecycleActionToken: aws.String(a.Token), InstanceId: aws.String(a.InstanceID),
	}
}

// hookTimeouts returns the hook's heartbeat and global timeouts, or why
// the action is gone when the hook is.
func (h *Handler) hookTimeouts(ctx context.Context, a *Action) (heartbeat, global time.Duration, gone string, err error) {
	out, err := h.Clients.AutoScaling.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(a.Group), LifecycleHookNames: []string{a.Hook}})
	if err != nil {
		if awserr.Code(err) == "ValidationError" {
			// The group is gone, and its hooks with it.
			return 0, 0, fmt.Sprintf("group %s or its hook %s is gone", a.Group, a.Hook), nil
		}
		return 0, 0, "", fmt.Errorf("describing lifecycle hook %s: %w", a.Hook, err)
	}
	for _, hk := range out.LifecycleHooks {
		if aws.ToString(hk.LifecycleHookName) == a.Hook {
			hb := time.Duration(aws.ToInt32(hk.HeartbeatTimeout)) * time.Second
			global := time.Duration(aws.ToInt32(hk.GlobalTimeout)) * time.Second
			if global <= 0 {
				global = min(100*hb, 48*time.Hour)
			}
			return hb, global, "", nil
		}
	}
	return 0, 0, fmt.Sprintf("hook %s of group %s is gone", a.Hook, a.Group), nil
}

// containerInstance returns the instance's container instance in the
// cluster, ACTIVE or DRAINING, or nil when it has none.
func (h *Handler) containerInstance(ctx context.Context, a *Action) (*ecstypes.ContainerInstance, error) {
	var arns []string
	p := ecs.NewListContainerInstancesPaginator(h.Clients.ECS, &ecs.ListContainerInstancesInput{Cluster: aws.String(a.Cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if awserr.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing container instances of %s: %w", a.Cluster, err)
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	for chunk := range slices.Chunk(arns, 100) {
		out, err := h.Clients.ECS.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(a.Cluster), ContainerInstances: chunk})
		if err != nil {
			return nil, fmt.Errorf("describing container instances of %s: %w", a.Cluster, err)
		}
		for _, ci := range out.ContainerInstances {
			if aws.ToString(ci.Ec2InstanceId) == a.InstanceID {
				return &ci, nil
			}
		}
	}
	return nil, nil
}

// joined says whether a container instance has joined the cluster: ACTIVE
// with its agent connected.
func joined(ci *ecstypes.ContainerInstance) (bool, string) {
	switch {
	case ci == nil:
		return false, "no container instance registered yet"
	case aws.ToString(ci.Status) != string(ecstypes.ContainerInstanceStatusActive):
		return false, fmt.Sprintf("container instance %s is %s", lastSegment(aws.ToString(ci.ContainerInstanceArn)), aws.ToString(ci.Status))
	case !ci.AgentConnected:
		return false, fmt.Sprintf("container instance %s is ACTIVE but its agent is not connected", lastSegment(aws.ToString(ci.ContainerInstanceArn)))
	}
	return true, fmt.Sprintf("container instance %s is ACTIVE with its agent connected", lastSegment(aws.ToString(ci.ContainerInstanceArn)))
}

// managedDraining reports whether ECS's managed instance draining drains
// the container instance: its capacity provider has it enabled.
func (h *Handler) managedDraining(ctx context.Context, ci *ecstypes.ContainerInstance) (bool, error) {
	name := aws.ToString(ci.CapacityProviderName)
	if name == "" {
		return false, nil
	}
	out, err := h.Clients.ECS.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{CapacityProviders: []string{name}})
	if err != nil {
		return false, fmt.Errorf("describing capacity provider %s: %w", name, err)
	}
	for _, cp := range out.CapacityProviders {
		if p := cp.AutoScalingGroupProvider; aws.ToString(cp.Name) == name && p != nil {
			return p.ManagedDraining == ecstypes.ManagedDrainingEnabled, nil
		}
	}
	return false, nil
}

// tasks returns the tasks on the container instance that are not STOPPED:
// those ECS wants running and those still stopping (DEACTIVATING,
// STOPPING, DEPROVISIONING), whose desired status is already STOPPED.
func (h *Handler) tasks(ctx context.Context, a *Action) ([]ecstypes.Task, error) {
	var arns []string
	for _, desired := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
		p := ecs.NewListTasksPaginator(h.Clients.ECS, &ecs.ListTasksInput{Cluster: aws.String(a.Cluster), ContainerInstance: aws.String(a.ContainerInstanceARN), DesiredStatus: desired})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing tasks on %s: %w", a.ContainerInstanceARN, err)
			}
			arns = append(arns, page.TaskArns...)
		}
	}
	var out []ecstypes.Task
	for chunk := range slices.Chunk(arns, 100) {
		d, err := h.Clients.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(a.Cluster), Tasks: chunk})
		if err != nil {
			return nil, fmt.Errorf("describing tasks on %s: %w", a.ContainerInstanceARN, err)
		}
		for _, t := range d.Tasks {
			if aws.ToString(t.LastStatus) != string(ecstypes.DesiredStatusStopped) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// targets returns the load balancer targets of tasks: each service task's
// address in each of its service's target groups.
func (h *Handler) targets(ctx context.Context, a *Action, tasks []ecstypes.Task) ([]Target, error) {
	var services []string
	for _, t := range tasks {
		if name, ok := strings.CutPrefix(aws.ToString(t.Group), "service:"); ok && !slices.Contains(services, name) {
			services = append(services, name)
		}
	}
	if len(services) == 0 {
		return nil, nil
	}
	out, err := h.Clients.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(a.Cluster), Services: services})
	if err != nil {
		return nil, fmt.Errorf("describing services %v: %w", services, err)
	}
	lbs := map[string][]ecstypes.LoadBalancer{}
	for _, s := range out.Services {
		lbs[aws.ToString(s.ServiceName)] = s.LoadBalancers
	}
	var targets []Target
	for _, t := range tasks {
		name, _ := strings.CutPrefix(aws.ToString(t.Group), "service:")
		ip := taskAddress(t)
		if ip == "" {
			continue
		}
		for _, lb := range lbs[name] {
			if arn := aws.ToString(lb.TargetGroupArn); arn != "" {
				targets = append(targets, Target{TargetGroupARN: arn, ID: ip, Port: aws.ToInt32(lb.ContainerPort), Task: aws.ToString(t.TaskArn)})
			}
		}
	}
	return targets, nil
}

// taskAddress is an awsvpc task's private address: its target's ID.
func taskAddress(t ecstypes.Task) string {
	for _, at := range t.Attachments {
		for _, d := range at.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				return aws.ToString(d.Value)
			}
		}
	}
	return ""
}

// targetsLeft returns the drained tasks' targets that still take or drain
// traffic: those draining, and those registered whose task has not
// stopped. Once its task is STOPPED, a registered target with its address
// belongs to a newer task.
func (h *Handler) targetsLeft(ctx context.Context, a *Action, running []ecstypes.Task) ([]string, error) {
	byGroup := map[string][]Target{}
	for _, t := range a.Targets {
		byGroup[t.TargetGroupARN] = append(byGroup[t.TargetGroupARN], t)
	}
	live := map[string]bool{}
	for _, t := range running {
		live[aws.ToString(t.TaskArn)] = true
	}
	var left []string
	for _, arn := range slices.Sorted(maps.Keys(byGroup)) {
		in := &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)}
		owner := map[string]string{}
		for _, t := range byGroup[arn] {
			in.Targets = append(in.Targets, elbtypes.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(t.Port)})
			owner[t.ID] = t.Task
		}
		out, err := h.Clients.ELB.DescribeTargetHealth(ctx, in)
		if awserr.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describing target health in %s: %w", arn, err)
		}
		for _, d := range out.TargetHealthDescriptions {
			if d.TargetHealth == nil || d.Target == nil {
				continue
			}
			id, st := aws.ToString(d.Target.Id), d.TargetHealth.State
			if st == elbtypes.TargetHealthStateEnumDraining || (st != elbtypes.TargetHealthStateEnumUnused && live[owner[id]]) {
				left = append(left, fmt.Sprintf("%s:%d %s", id, aws.ToInt32(d.Target.Port), st))
			}
		}
	}
	return left, nil
}
