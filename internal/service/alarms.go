package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// Alarm components. The per-zone alarms (unhealthy hosts, the targets' and
// the load balancer's 5xx in the zone) end in the zone's name, so
// remediation can tell which zone is impaired; the stack-wide 5xx alarms
// are the deployment alarms.
const (
	AlarmCPU       = "cpu-high"
	AlarmMemory    = "memory-high"
	AlarmTarget5xx = "target-5xx"
	AlarmELB5xx    = "elb-5xx"
	AlarmUnhealthy = "unhealthy-hosts"
	// AlarmCapacity is tasks waiting for instances the capacity provider
	// cannot get.
	AlarmCapacity = "capacity"
)

// ZoneAlarms are the components of the alarms each zone has.
var ZoneAlarms = []string{AlarmUnhealthy, AlarmTarget5xx, AlarmELB5xx}

// AlarmName is the CloudWatch name of an alarm component.
func AlarmName(spec stack.Spec, component string) string { return spec.ResourceName(component) }

// ZoneAlarmName is the name of a zone's alarm of a component of
// ZoneAlarms.
func ZoneAlarmName(spec stack.Spec, component, az string) string {
	return AlarmName(spec, component+"-"+az)
}

// UnhealthyAlarmName is the name of a zone's unhealthy-hosts alarm.
func UnhealthyAlarmName(spec stack.Spec, az string) string {
	return ZoneAlarmName(spec, AlarmUnhealthy, az)
}

// DeploymentAlarms are the alarms that roll a deployment back: 5xx answers,
// both the targets' own and the load balancer's for requests it could not
// deliver (a new revision whose tasks crash or hang shows as 502s and 504s
// from the load balancer, not as target 5xx). Zonal health alarms are not
// among them, since a zone outage during a deployment is not the new
// revision's fault.
func DeploymentAlarms(spec stack.Spec) []string {
	return []string{AlarmName(spec, AlarmTarget5xx), AlarmName(spec, AlarmELB5xx)}
}

// ARNDimension returns the part of an ELB ARN CloudWatch uses as a dimension:
// "app/name/id" for a load balancer, "targetgroup/name/id" for a group.
func ARNDimension(arn string) string {
	if i := strings.Index(arn, ":loadbalancer/"); i >= 0 {
		return arn[i+len(":loadbalancer/"):]
	}
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func dims(kv ...string) []cwtypes.Dimension {
	var d []cwtypes.Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		d = append(d, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return d
}

// Alarms returns the desired alarms: the service's CPU and memory, the
// deployment alarms, capacity, and each zone's. capacityProvider is the
// cluster's capacity provider, whose reservation above 100 % means tasks
// wait for instances.
func Alarms(spec stack.Spec, azs []string, lbARN, tgARN, capacityProvider string) []*cloudwatch.PutMetricAlarmInput {
	a := spec.Service.Alarms
	n := aws.Int32(a.EvaluationPeriods)
	alarm := func(component, desc, ns, metric string, stat cwtypes.Statistic, threshold float64, missing string, d []cwtypes.Dimension) *cloudwatch.PutMetricAlarmInput {
		return &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(AlarmName(spec, component)), AlarmDescription: aws.String(desc),
			Namespace: aws.String(ns), MetricName: aws.String(metric), Dimensions: d, Statistic: stat,
			Period: aws.Int32(60), EvaluationPeriods: n, DatapointsToAlarm: n, Threshold: aws.Float64(threshold),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, TreatMissingData: aws.String(missing),
			Tags: stack.CloudWatchTags(append(spec.StackTags(), stack.Tag{Key: stack.TagComponent, Value: component})),
		}
	}
	svc := dims("ClusterName", ClusterName(spec), "ServiceName", Name(spec))
	lb, tg := ARNDimension(lbARN), ARNDimension(tgARN)
	out := []*cloudwatch.PutMetricAlarmInput{
		alarm(AlarmCPU, "service CPU utilisation is high", "AWS/ECS", "CPUUtilization", cwtypes.StatisticAverage, a.CPUHigh, "missing", svc),
		alarm(AlarmMemory, "service memory utilisation is high", "AWS/ECS", "MemoryUtilization", cwtypes.StatisticAverage, a.MemoryHigh, "missing", svc),
		alarm(AlarmTarget5xx, "targets return 5xx responses", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", cwtypes.StatisticSum, a.Target5xx, "notBreaching",
			dims("LoadBalancer", lb, "TargetGroup", tg)),
		// The load balancer reports its own 5xx per load balancer only; the
		// same per-minute threshold applies.
		alarm(AlarmELB5xx, "the load balancer answers 5xx for requests it cannot deliver", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", cwtypes.StatisticSum, a.Target5xx, "notBreaching",
			dims("LoadBalancer", lb)),
	}
	// ECS managed scaling keeps CapacityProviderReservation at its target,
	// 100 %: above it, tasks wait for instances the group has not
	// launched, for EvaluationPeriods minutes.
	//
	// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html
	capacity := alarm(AlarmCapacity, "tasks wait for instances the capacity provider has not launched", "AWS/ECS/ManagedScaling", "CapacityProviderReservation", cwtypes.StatisticMaximum, 100, "notBreaching",
		dims("CapacityProviderName", capacityProvider, "ClusterName", ClusterName(spec)))
	capacity.ComparisonOperator = cwtypes.ComparisonOperatorGreaterThanThreshold
	out = append(out, capacity)
	// Each zone's targets and the load balancer's errors for the requests
	// it sent the zone, reported per AvailabilityZone
	// (load-balancer-cloudwatch-metrics.html).
	for _, az := range azs {
		out = append(out,
			alarm(AlarmUnhealthy+"-"+az, "unhealthy targets in "+az, "AWS/ApplicationELB", "UnHealthyHostCount", cwtypes.StatisticMaximum, a.UnhealthyHosts, "notBreaching",
				dims("AvailabilityZone", az, "LoadBalancer", lb, "TargetGroup", tg)),
			alarm(AlarmTarget5xx+"-"+az, "targets in "+az+" return 5xx responses", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", cwtypes.StatisticSum, a.Target5xx, "notBreaching",
				dims("AvailabilityZone", az, "LoadBalancer", lb, "TargetGroup", tg)),
			alarm(AlarmELB5xx+"-"+az, "the load balancer answers 5xx for requests to "+az, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", cwtypes.StatisticSum, a.Target5xx, "notBreaching",
				dims("AvailabilityZone", az, "LoadBalancer", lb)))
	}
	return out
}

func alarmDrift(got cwtypes.MetricAlarm, want *cloudwatch.PutMetricAlarmInput) []string {
	var d []string
	check := func(field string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s %v, want %v", field, g, w))
		}
	}
	check("metric", aws.ToString(got.Namespace)+"/"+aws.ToString(got.MetricName), aws.ToString(want.Namespace)+"/"+aws.ToString(want.MetricName))
	check("statistic", got.Statistic, want.Statistic)
	check("period", aws.ToInt32(got.Period), aws.ToInt32(want.Period))
	check("evaluation periods", aws.ToInt32(got.EvaluationPeriods), aws.ToInt32(want.EvaluationPeriods))
	check("threshold", aws.ToFloat64(got.Threshold), aws.ToFloat64(want.Threshold))
	check("comparison", got.ComparisonOperator, want.ComparisonOperator)
	key := func(ds []cwtypes.Dimension) string {
		var s []string
		for _, x := range ds {
			s = append(s, aws.ToString(x.Name)+"="+aws.ToString(x.Value))
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	check("dimensions", key(got.Dimensions), key(want.Dimensions))
	return d
}

// findAlarms lists the stack's alarms by name: CloudWatch lists have no
// tag filter, and alarm names start with the stack's name and end in one
// of the layer's components (ours).
func findAlarms(ctx context.Context, api CloudWatchAPI, spec stack.Spec) (map[string]cwtypes.MetricAlarm, error) {
	have := map[string]cwtypes.MetricAlarm{}
	p := cloudwatch.NewDescribeAlarmsPaginator(api, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(spec.Name + "-")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing alarms: %w", err)
		}
		for _, a := range page.MetricAlarms {
			if ours(spec, aws.ToString(a.AlarmName)) {
				have[aws.ToString(a.AlarmName)] = a
			}
		}
	}
	return have, nil
}

// ours reports whether an alarm name is one of the layer's alarm names for
// the stack, whatever its zone.
func ours(spec stack.Spec, name string) bool {
	for _, c := range []string{AlarmCPU, AlarmMemory, AlarmTarget5xx, AlarmELB5xx, AlarmCapacity} {
		if name == AlarmName(spec, c) {
			return true
		}
	}
	for _, c := range ZoneAlarms {
		if strings.HasPrefix(name, AlarmName(spec, c+"-")) {
			return true
		}
	}
	return false
}

// reconcileAlarms creates or repairs the wanted alarms and deletes the
// stack's other alarms, such as a zone's the stack no longer spans, once
// their tags confirm they are the stack's.
func reconcileAlarms(ctx context.Context, api CloudWatchAPI, run *stack.Run, want []*cloudwatch.PutMetricAlarmInput) error {
	have, err := findAlarms(ctx, api, run.Spec)
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[aws.ToString(w.AlarmName)] = true
	}
	var unwanted []string
	for _, name := range stack.SortedKeys(have) {
		if !wanted[name] {
			unwanted = append(unwanted, name)
		}
	}
	if err := deleteAlarms(ctx, api, run, have, unwanted); err != nil {
		return err
	}
	for _, w := range want {
		name := aws.ToString(w.AlarmName)
		action, detail := stack.Create, fmt.Sprintf("%s/%s >= %g", aws.ToString(w.Namespace), aws.ToString(w.MetricName), aws.ToFloat64(w.Threshold))
		if got, ok := have[name]; ok {
			d := alarmDrift(got, w)
			if len(d) == 0 {
				continue
			}
			action, detail = stack.Update, strings.Join(d, "; ")
		}
		if _, err := run.Do(ctx, stack.NewChange(Layer, action, "cloudwatch:alarm", name, "", detail), func(ctx context.Context) (string, error) {
			_, err := api.PutMetricAlarm(ctx, w)
			return name, err
		}); err != nil {
			return err
		}
	}
	return nil
}

// deleteAlarms deletes the named alarms of have that carry the stack's
// tags.
func deleteAlarms(ctx context.Context, api CloudWatchAPI, run *stack.Run, have map[string]cwtypes.MetricAlarm, names []string) error {
	for _, name := range names {
		arn := aws.ToString(have[name].AlarmArn)
		tags, err := api.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
		if err != nil {
			return fmt.Errorf("listing the tags of alarm %s: %w", name, err)
		}
		if !run.Spec.Owned(stack.CloudWatchTagMap(tags.Tags)) {
			continue
		}
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "cloudwatch:alarm", name, "", ""), func(ctx context.Context) error {
			_, err := api.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{name}})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
