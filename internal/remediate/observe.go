package remediate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"golang.org/x/sync/errgroup"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// The reads a decision or a round makes, each one call or one paginated
// listing.

// groupView is the stack's Auto Scaling group as a round reads it.
type groupView struct {
	name, arn         string
	zones             []string
	desired, min, max int32
	instances         []astypes.Instance
}

// group returns the stack's Auto Scaling group.
func (h *Handler) group(ctx context.Context) (groupView, error) {
	name := groupName(h.Stack)
	out, err := h.Clients.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return groupView{}, fmt.Errorf("describing group %s: %w", name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return groupView{}, &handlererr.NotReadyError{Msg: fmt.Sprintf("group %s does not exist: is stack %s built?", name, h.Stack)}
	}
	g := out.AutoScalingGroups[0]
	return groupView{
		name: name, arn: aws.ToString(g.AutoScalingGroupARN), zones: slices.Sorted(slices.Values(g.AvailabilityZones)),
		desired: aws.ToInt32(g.DesiredCapacity), min: aws.ToInt32(g.MinSize), max: aws.ToInt32(g.MaxSize), instances: g.Instances,
	}, nil
}

// in returns the group's instances in zone that count toward its
// capacity (pending or in service).
func (g groupView) in(zone string) []astypes.Instance {
	var out []astypes.Instance
	for _, i := range g.instances {
		if aws.ToString(i.AvailabilityZone) != zone {
			continue
		}
		switch i.LifecycleState {
		case astypes.LifecycleStatePending, astypes.LifecycleStatePendingWait, astypes.LifecycleStatePendingProceed, astypes.LifecycleStateInService:
			out = append(out, i)
		}
	}
	return out
}

// alarmState is one of the stack's alarms as CloudWatch reports it.
type alarmState struct {
	Name  string
	State cwtypes.StateValue
	Since time.Time
	// Period is one evaluation period.
	Period time.Duration
	// Metric is the alarm as described, for reading its own metric.
	Metric cwtypes.MetricAlarm
}

// zoneAlarms returns the zone alarms of zones, by zone. An alarm the build
// has not created is left out.
func (h *Handler) zoneAlarms(ctx context.Context, zones []string) (map[string][]alarmState, error) {
	var names []string
	for _, z := range zones {
		for _, c := range zoneAlarmComponents {
			names = append(names, zoneAlarmName(h.Stack, c, z))
		}
	}
	out := map[string][]alarmState{}
	for chunk := range slices.Chunk(names, 100) {
		res, err := h.Clients.CloudWatch.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: chunk, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
		if err != nil {
			return nil, fmt.Errorf("describing the zones' alarms: %w", err)
		}
		for _, a := range res.MetricAlarms {
			name := aws.ToString(a.AlarmName)
			_, zone, ok := zoneAlarm(h.Stack, name)
			if !ok {
				continue
			}
			out[zone] = append(out[zone], alarmState{
				Name: name, State: a.StateValue, Since: aws.ToTime(a.StateUpdatedTimestamp).UTC(), Period: time.Duration(aws.ToInt32(a.Period)) * time.Second, Metric: a,
			})
		}
	}
	return out, nil
}

// breaching lists the alarms of as that are not in ALARM but whose own
// metric breaches their threshold in a datapoint of their evaluation range
// before now, with how many: an alarm on its way to ALARM, or a zone
// flapping under its datapoints to alarm.
func (h *Handler) breaching(ctx context.Context, as []alarmState, now time.Time) ([]string, error) {
	found := make([]string, len(as))
	eg, ectx := errgroup.WithContext(ctx)
	for i, a := range as {
		m := a.Metric
		if a.State == cwtypes.StateValueAlarm || m.Statistic == "" || a.Period <= 0 {
			continue
		}
		eg.Go(func() error {
			n := max(aws.ToInt32(m.EvaluationPeriods), 1)
			out, err := h.Clients.CloudWatch.GetMetricStatistics(ectx, &cloudwatch.GetMetricStatisticsInput{
				Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions,
				StartTime: aws.Time(now.Add(-time.Duration(n) * a.Period)), EndTime: aws.Time(now), Period: m.Period,
				Statistics: []cwtypes.Statistic{m.Statistic},
			})
			if err != nil {
				return fmt.Errorf("reading the metric of %s: %w", a.Name, err)
			}
			k := 0
			for _, dp := range out.Datapoints {
				if v, ok := statistic(dp, m.Statistic); ok && breaches(m.ComparisonOperator, v, aws.ToFloat64(m.Threshold)) {
					k++
				}
			}
			if k > 0 {
				found[i] = fmt.Sprintf("%s breaching in %d of its last %d datapoints", a.Name, k, n)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(found, func(s string) bool { return s == "" }), nil
}

// statistic returns the datapoint's value of st.
func statistic(dp cwtypes.Datapoint, st cwtypes.Statistic) (float64, bool) {
	var v *float64
	switch st {
	case cwtypes.StatisticAverage:
		v = dp.Average
	case cwtypes.StatisticSum:
		v = dp.Sum
	case cwtypes.StatisticMinimum:
		v = dp.Minimum
	case cwtypes.StatisticMaximum:
		v = dp.Maximum
	case cwtypes.StatisticSampleCount:
		v = dp.SampleCount
	}
	return aws.ToFloat64(v), v != nil
}

// breaches reports whether v breaches threshold under op.
func breaches(op cwtypes.ComparisonOperator, v, threshold float64) bool {
	switch op {
	case cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold:
		return v >= threshold
	case cwtypes.ComparisonOperatorGreaterThanThreshold:
		return v > threshold
	case cwtypes.ComparisonOperatorLessThanThreshold:
		return v < threshold
	case cwtypes.ComparisonOperatorLessThanOrEqualToThreshold:
		return v <= threshold
	}
	return false
}

// sick lists the zones of zones that are unhealthy, by their alarms, their
// targets, or their alarms' own metrics: an alarm still OK may be a period
// or more behind a zone that degrades with another.
func (h *Handler) sick(ctx context.Context, zones []string, alarms map[string][]alarmState, f *fleet) ([]string, error) {
	out := unhealthy(zones, alarms, f)
	if len(out) > 0 {
		return out, nil
	}
	for _, z := range zones {
		b, err := h.breaching(ctx, alarms[z], h.now())
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			out = append(out, fmt.Sprintf("%s (%s)", z, strings.Join(b, ", ")))
		}
	}
	return out, nil
}

// alarming lists the alarms in ALARM.
func alarming(as []alarmState) []string {
	var out []string
	for _, a := range as {
		if a.State == cwtypes.StateValueAlarm {
			out = append(out, a.Name)
		}
	}
	return out
}

// okFor reports whether every alarm has been OK for periods of its
// evaluation periods at now, and otherwise what it waits for.
func okFor(as []alarmState, periods int, now time.Time) (bool, string) {
	if len(as) == 0 {
		return false, "the zone has no alarms"
	}
	for _, a := range as {
		if a.State != cwtypes.StateValueOk {
			return false, fmt.Sprintf("%s is %s", a.Name, a.State)
		}
		if need := a.Since.Add(time.Duration(periods) * a.Period); now.Before(need) {
			return false, fmt.Sprintf("%s has been OK for %s of %d periods", a.Name, now.Sub(a.Since).Round(time.Second), periods)
		}
	}
	return true, ""
}

// fleet is the service and where it runs: its desired count, the size of
// its tasks, the cluster's container instances and the service's tasks
// with their targets' health.
type fleet struct {
	desired        int32
	targetGroupARN string
	taskCPU        int
	taskMemory     int
	instances      []containerInstance
	tasks          []serviceTask
}

type containerInstance struct {
	arn, ec2ID, zone, status string
	agent                    bool
	// free is how many more of the service's tasks it can take, size how
	// many it holds when empty.
	free, size int
}

type serviceTask struct {
	arn, zone, lastStatus, ip string
	// target is the health of its target, override the load balancer's
	// administrative override on it.
	target   elbtypes.TargetHealthStateEnum
	override elbtypes.TargetAdministrativeOverrideStateEnum
}

// healthy reports whether the task runs with a healthy target.
func (t serviceTask) healthy() bool {
	return t.lastStatus == string(ecstypes.DesiredStatusRunning) && t.target == elbtypes.TargetHealthStateEnumHealthy
}

// readFleet reads the service, its task definition, the cluster's
// container instances and the service's live tasks with their targets.
func (h *Handler) readFleet(ctx context.Context) (*fleet, error) {
	cluster, name := clusterName(h.Stack), serviceName(h.Stack)
	svcs, err := h.Clients.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describing service %s: %w", name, err)
	}
	if len(svcs.Services) == 0 || aws.ToString(svcs.Services[0].Status) != "ACTIVE" {
		return nil, &handlererr.NotReadyError{Msg: fmt.Sprintf("service %s of cluster %s is not ACTIVE: is stack %s built?", name, cluster, h.Stack)}
	}
	svc := svcs.Services[0]
	f := &fleet{desired: svc.DesiredCount}
	for _, lb := range svc.LoadBalancers {
		if arn := aws.ToString(lb.TargetGroupArn); arn != "" {
			f.targetGroupARN = arn
		}
	}
	td, err := h.Clients.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	if err != nil {
		return nil, fmt.Errorf("describing task definition %s: %w", aws.ToString(svc.TaskDefinition), err)
	}
	f.taskCPU, _ = strconv.Atoi(aws.ToString(td.TaskDefinition.Cpu))
	f.taskMemory, _ = strconv.Atoi(aws.ToString(td.TaskDefinition.Memory))
	if f.taskCPU <= 0 || f.taskMemory <= 0 {
		return nil, fmt.Errorf("task definition %s has no task-level cpu and memory", aws.ToString(svc.TaskDefinition))
	}
	if f.instances, err = h.containerInstances(ctx, f); err != nil {
		return nil, err
	}
	if f.tasks, err = h.serviceTasks(ctx); err != nil {
		return nil, err
	}
	return f, h.targetHealth(ctx, f)
}

func (h *Handler) containerInstances(ctx context.Context, f *fleet) ([]containerInstance, error) {
	cluster := clusterName(h.Stack)
	var arns []string
	p := ecs.NewListContainerInstancesPaginator(h.Clients.ECS, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing container instances of %s: %w", cluster, err)
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	var out []containerInstance
	for chunk := range slices.Chunk(arns, 100) {
		res, err := h.Clients.ECS.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: chunk})
		if err != nil {
			return nil, fmt.Errorf("describing container instances of %s: %w", cluster, err)
		}
		for _, ci := range res.ContainerInstances {
			c := containerInstance{arn: aws.ToString(ci.ContainerInstanceArn), ec2ID: aws.ToString(ci.Ec2InstanceId), status: aws.ToString(ci.Status), agent: ci.AgentConnected}
			for _, a := range ci.Attributes {
				if aws.ToString(a.Name) == "ecs.availability-zone" {
					c.zone = aws.ToString(a.Value)
				}
			}
			c.free = slots(ci.RemainingResources, f)
			c.size = slots(ci.RegisteredResources, f)
			out = append(out, c)
		}
	}
	return out, nil
}

// slots is how many of the service's tasks fit in resources.
func slots(rs []ecstypes.Resource, f *fleet) int {
	var cpu, mem int
	for _, r := range rs {
		switch aws.ToString(r.Name) {
		case "CPU":
			cpu = int(r.IntegerValue)
		case "MEMORY":
			mem = int(r.IntegerValue)
		}
	}
	return min(cpu/f.taskCPU, mem/f.taskMemory)
}

// serviceTasks returns the service's tasks that ECS wants running.
func (h *Handler) serviceTasks(ctx context.Context) ([]serviceTask, error) {
	cluster := clusterName(h.Stack)
	var arns []string
	p := ecs.NewListTasksPaginator(h.Clients.ECS, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(serviceName(h.Stack)), DesiredStatus: ecstypes.DesiredStatusRunning})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the tasks of service %s: %w", serviceName(h.Stack), err)
		}
		arns = append(arns, page.TaskArns...)
	}
	var out []serviceTask
	for chunk := range slices.Chunk(arns, 100) {
		res, err := h.Clients.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: chunk})
		if err != nil {
			return nil, fmt.Errorf("describing the tasks of service %s: %w", serviceName(h.Stack), err)
		}
		for _, t := range res.Tasks {
			st := serviceTask{arn: aws.ToString(t.TaskArn), zone: aws.ToString(t.AvailabilityZone), lastStatus: aws.ToString(t.LastStatus)}
			for _, at := range t.Attachments {
				for _, d := range at.Details {
					if aws.ToString(d.Name) == "privateIPv4Address" {
						st.ip = aws.ToString(d.Value)
					}
				}
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// targetHealth fills each task's target health from its target group.
func (h *Handler) targetHealth(ctx context.Context, f *fleet) error {
	if f.targetGroupARN == "" {
		return nil
	}
	res, err := h.Clients.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(f.targetGroupARN)})
	if err != nil {
		return fmt.Errorf("describing target health in %s: %w", f.targetGroupARN, err)
	}
	byIP := map[string]elbtypes.TargetHealthDescription{}
	for _, d := range res.TargetHealthDescriptions {
		if d.Target != nil && d.TargetHealth != nil {
			byIP[aws.ToString(d.Target.Id)] = d
		}
	}
	for i, t := range f.tasks {
		if d, ok := byIP[t.ip]; ok {
			f.tasks[i].target = d.TargetHealth.State
			if d.AdministrativeOverride != nil {
				f.tasks[i].override = d.AdministrativeOverride.State
			}
		}
	}
	return nil
}

// zoneOf counts what runs in zones.
type zoneCount struct {
	// tasks are the service's live tasks, healthy those running with a
	// healthy target; free the task slots of ACTIVE container instances
	// with their agent connected, instances how many of those there are,
	// size the slots of one.
	tasks, healthy, free, instances, size int
}

// in counts the fleet in the zones given.
func (f *fleet) in(zones ...string) zoneCount {
	var c zoneCount
	for _, t := range f.tasks {
		if slices.Contains(zones, t.zone) {
			c.tasks++
			if t.healthy() {
				c.healthy++
			}
		}
	}
	for _, ci := range f.instances {
		if slices.Contains(zones, ci.zone) && ci.status == string(ecstypes.ContainerInstanceStatusActive) && ci.agent {
			c.free += ci.free
			c.instances++
			c.size = max(c.size, ci.size)
		}
	}
	return c
}

// perZone renders the tasks per zone, healthy ones in brackets.
func (f *fleet) perZone(zones []string) string {
	var parts []string
	for _, z := range zones {
		c := f.in(z)
		parts = append(parts, fmt.Sprintf("%s %d (%d healthy)", z, c.tasks, c.healthy))
	}
	return strings.Join(parts, ", ")
}

// zoneIDs maps the zones' names to their IDs, which zonal shift takes.
func (h *Handler) zoneIDs(ctx context.Context, zones []string) (map[string]string, error) {
	out, err := h.Clients.EC2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: zones})
	if err != nil {
		return nil, fmt.Errorf("describing zones %v: %w", zones, err)
	}
	ids := map[string]string{}
	for _, z := range out.AvailabilityZones {
		ids[aws.ToString(z.ZoneName)] = aws.ToString(z.ZoneId)
	}
	for _, z := range zones {
		if ids[z] == "" {
			return nil, fmt.Errorf("zone %s has no zone ID", z)
		}
	}
	return ids, nil
}

// loadBalancerARN finds the stack's load balancer.
func (h *Handler) loadBalancerARN(ctx context.Context) (string, error) {
	name := loadBalancerName(h.Stack)
	out, err := h.Clients.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if err != nil {
		return "", fmt.Errorf("describing load balancer %s: %w", name, err)
	}
	if len(out.LoadBalancers) == 0 {
		return "", &handlererr.NotReadyError{Msg: fmt.Sprintf("load balancer %s does not exist: is stack %s built?", name, h.Stack)}
	}
	return aws.ToString(out.LoadBalancers[0].LoadBalancerArn), nil
}
