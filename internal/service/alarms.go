package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Alarm components. Per-zone unhealthy-host alarms end in the zone name, so
// remediation can tell which zone is impaired.
const (
	AlarmCPU       = "cpu-high"
	AlarmMemory    = "memory-high"
	AlarmTarget5xx = "target-5xx"
	AlarmELB5xx    = "elb-5xx"
	AlarmUnhealthy = "unhealthy-hosts"
)

// AlarmName is the CloudWatch name of an alarm component.
func AlarmName(spec stack.Spec, component string) string { return spec.ResourceName(component) }

// UnhealthyAlarmName is the name of a zone's unhealthy-hosts alarm.
func UnhealthyAlarmName(spec stack.Spec, az string) string {
	return AlarmName(spec, AlarmUnhealthy+"-"+az)
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

// arnSuffix returns the part of an ELB ARN CloudWatch uses as a dimension:
// "app/name/id" for a load balancer, "targetgroup/name/id" for a group.
func arnSuffix(arn string) string {
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

// Alarms returns the desired alarms.
func Alarms(spec stack.Spec, azs []string, lbARN, tgARN string) []*cloudwatch.PutMetricAlarmInput {
	a := spec.Service.Alarms
	n := aws.Int32(a.EvaluationPeriods)
	var tags []cwtypes.Tag
	for _, t := range spec.StackTags() {
		tags = append(tags, cwtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	alarm := func(component, desc, ns, metric string, stat cwtypes.Statistic, threshold float64, missing string, d []cwtypes.Dimension) *cloudwatch.PutMetricAlarmInput {
		return &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(AlarmName(spec, component)), AlarmDescription: aws.String(desc),
			Namespace: aws.String(ns), MetricName: aws.String(metric), Dimensions: d, Statistic: stat,
			Period: aws.Int32(60), EvaluationPeriods: n, DatapointsToAlarm: n, Threshold: aws.Float64(threshold),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, TreatMissingData: aws.String(missing),
			Tags: append(tags, cwtypes.Tag{Key: aws.String(stack.TagComponent), Value: aws.String(component)}),
		}
	}
	svc := dims("ClusterName", compute.ClusterName(spec), "ServiceName", Name(spec))
	lb, tg := arnSuffix(lbARN), arnSuffix(tgARN)
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
	for _, az := range azs {
		out = append(out, alarm(AlarmUnhealthy+"-"+az, "unhealthy targets in "+az, "AWS/ApplicationELB", "UnHealthyHostCount", cwtypes.StatisticMaximum, a.UnhealthyHosts, "notBreaching",
			dims("AvailabilityZone", az, "LoadBalancer", lb, "TargetGroup", tg)))
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

func reconcileAlarms(ctx context.Context, api CloudWatchAPI, run *stack.Run, want []*cloudwatch.PutMetricAlarmInput) error {
	have := map[string]cwtypes.MetricAlarm{}
	p := cloudwatch.NewDescribeAlarmsPaginator(api, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(run.Spec.Name + "-")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describing alarms: %w", err)
		}
		for _, a := range page.MetricAlarms {
			have[aws.ToString(a.AlarmName)] = a
		}
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
		if _, err := run.Do(ctx, change(action, "cloudwatch:alarm", name, "", detail), func(ctx context.Context) (string, error) {
			_, err := api.PutMetricAlarm(ctx, w)
			return name, err
		}); err != nil {
			return err
		}
	}
	return nil
}
