package sim_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestAlarmChangesStateOnlyAfterItsEvaluationPeriods(t *testing.T) {
	for _, tc := range []struct {
		name           string
		evals, toAlarm int32
		// pattern is the value published in each minute after the alarm
		// is OK; want is the state after each of those minutes.
		pattern []float64
		want    []string
	}{
		{"3 of 3", 3, 3, []float64{90, 90, 90, 10}, []string{"OK", "OK", "ALARM", "OK"}},
		{"2 of 3", 3, 2, []float64{90, 10, 90, 90, 10, 10}, []string{"OK", "OK", "ALARM", "ALARM", "ALARM", "OK"}},
		{"1 of 1", 1, 1, []float64{90, 10}, []string{"ALARM", "OK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 31, instances: 0})
			f.putAlarm(t, "cpu", "Web", "CPU", 50, tc.evals, tc.toAlarm, "notBreaching")
			// Start on a minute boundary with the alarm OK.
			advanceUntil(t, f.sim, 3*time.Minute, "alarm OK", func() bool { return f.alarmState(t, "cpu") == "OK" })
			f.sim.Advance(f.sim.Now().Truncate(time.Minute).Add(time.Minute).Sub(f.sim.Now()))
			for i, v := range tc.pattern {
				// One datapoint in the middle of the minute; the alarm
				// evaluates the minute once it is over.
				f.sim.Advance(30 * time.Second)
				f.putMetric(t, "Web", "CPU", v)
				f.sim.Advance(30 * time.Second)
				if got := f.alarmState(t, "cpu"); got != tc.want[i] {
					t.Fatalf("after minute %d (%v) the alarm is %s, want %s", i+1, tc.pattern[:i+1], got, tc.want[i])
				}
			}
		})
	}
}

// TestAlarmWhenTheMetricStops publishes a breaching datapoint for 5
// minutes, then nothing, to a 3-of-3 alarm with each treatment of missing
// data. With an evaluation range of 5 periods, j minutes after the metric
// stops the range still holds 5-j real datapoints; the expected states follow
// the rules of "How alarm state is evaluated when data is missing", worked by
// hand for that count.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
func TestAlarmWhenTheMetricStops(t *testing.T) {
	for _, tc := range []struct {
		treat string
		// after is the state 1 to 6 minutes after the last datapoint.
		after []string
	}{
		// 4 and 3 real datapoints still decide alone; with 2, 1 and 0 the
		// missing ones count as within the threshold.
		{"notBreaching", []string{"ALARM", "ALARM", "OK", "OK", "OK", "OK"}},
		{"breaching", []string{"ALARM", "ALARM", "ALARM", "ALARM", "ALARM", "ALARM"}},
		// Filling could go either way, so the state is kept, also once
		// every datapoint is missing.
		{"ignore", []string{"ALARM", "ALARM", "ALARM", "ALARM", "ALARM", "ALARM"}},
		// Kept while any real datapoint is in the range, then
		// INSUFFICIENT_DATA: the alarm does not return to OK.
		{"missing", []string{"ALARM", "ALARM", "ALARM", "ALARM", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"}},
	} {
		t.Run(tc.treat, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 37, instances: 0})
			f.putAlarm(t, "cpu", "Web", "CPU", 50, 3, 3, tc.treat)
			f.sim.Advance(f.sim.Now().Truncate(time.Minute).Add(time.Minute).Sub(f.sim.Now()))
			for range 5 {
				f.sim.Advance(30 * time.Second)
				f.putMetric(t, "Web", "CPU", 90)
				f.sim.Advance(30 * time.Second)
			}
			if got := f.alarmState(t, "cpu"); got != "ALARM" {
				t.Fatalf("after 5 breaching minutes the alarm is %s", got)
			}
			for j, want := range tc.after {
				f.sim.Advance(time.Minute)
				if got := f.alarmState(t, "cpu"); got != want {
					t.Fatalf("%d minutes after the metric stopped the alarm is %s, want %s", j+1, got, want)
				}
			}
		})
	}
}

func TestAlarmStateChangeEventCarriesTheEvaluation(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 32, instances: 0})
	f.putAlarm(t, "cpu", "Web", "CPU", 50, 1, 1, "notBreaching")
	advanceUntil(t, f.sim, 3*time.Minute, "alarm OK", func() bool { return f.alarmState(t, "cpu") == "OK" })
	f.putMetric(t, "Web", "CPU", 75)
	advanceUntil(t, f.sim, 2*time.Minute, "alarm", func() bool { return f.alarmState(t, "cpu") == "ALARM" })
	var last sim.Event
	for _, ev := range f.sim.Events() {
		if ev.DetailType == "CloudWatch Alarm State Change" {
			last = ev
		}
	}
	var d struct {
		AlarmName string `json:"alarmName"`
		State     struct {
			Reason     string `json:"reason"`
			ReasonData string `json:"reasonData"`
			Value      string `json:"value"`
		} `json:"state"`
		PreviousState struct {
			Value string `json:"value"`
		} `json:"previousState"`
	}
	if err := json.Unmarshal(last.Detail, &d); err != nil {
		t.Fatal(err)
	}
	if d.AlarmName != "cpu" || d.State.Value != "ALARM" || d.PreviousState.Value != "OK" || last.Source != "aws.cloudwatch" {
		t.Fatalf("event %s", last.Detail)
	}
	if !strings.HasPrefix(d.State.Reason, "Threshold Crossed: 1 out of the last 1 datapoints [75.0 (") || !strings.Contains(d.State.Reason, "was greater than the threshold (50.0)") {
		t.Fatalf("reason %q", d.State.Reason)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(d.State.ReasonData), &data); err != nil || data["threshold"] != 50.0 || data["statistic"] != "Average" {
		t.Fatalf("reason data %q (%v)", d.State.ReasonData, err)
	}
	ctx := context.Background()
	if _, err := f.cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"cpu"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"cpu"}}); errCode(err) != "ResourceNotFound" {
		t.Fatalf("deleting a deleted alarm: %v, want ResourceNotFound", err)
	}
}

func TestTargetTrackingScalesTheServiceOutUnderLoad(t *testing.T) {
	f, resource := scalableService(t, 33)
	ctx := context.Background()
	policy, err := f.aas.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
		PolicyName: aws.String("cpu50"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue:                   aws.Float64(50),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(policy.Alarms) != 2 || !strings.HasPrefix(aws.ToString(policy.Alarms[0].AlarmName), "TargetTracking-"+resource+"-AlarmHigh-") {
		t.Fatalf("policy alarms %s", describe(policy.Alarms))
	}
	// 300 % of one task's CPU over 2 tasks is 150 %: three times the target,
	// from the start of a minute.
	f.sim.Advance(f.sim.Now().Truncate(time.Minute).Add(time.Minute).Sub(f.sim.Now()))
	if err := f.sim.SetServiceLoad(fleetCluster, "web", 300, 100); err != nil {
		t.Fatal(err)
	}
	loadAt := f.sim.Now()
	advanceUntil(t, f.sim, 10*time.Minute, "scaled out", func() bool { return f.service(t, "web").DesiredCount > 2 })
	if got := f.service(t, "web").DesiredCount; got != 6 {
		t.Fatalf("desired count %d after scale-out, want ceil(2 × 150 / 50) = 6", got)
	}
	// The high alarm needs 3 one-minute datapoints above the target.
	if took := f.sim.Now().Sub(loadAt); took < 3*time.Minute {
		t.Fatalf("scaled out %s after the load, before 3 datapoints could breach", took)
	}
	f.waitSteady(t, "web", 10*time.Minute)
	if n := len(f.tasks(t, "web", ecstypes.DesiredStatusRunning)); n != 6 {
		t.Fatalf("%d running tasks, want 6", n)
	}
	acts, err := f.aas.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource)})
	if err != nil || len(acts.ScalingActivities) == 0 || !strings.Contains(aws.ToString(acts.ScalingActivities[0].Cause), "AlarmHigh") {
		t.Fatalf("scaling activities %s (%v)", describe(acts), err)
	}
	// At 300 / 6 = 50 % the service holds; the cooldown and the target keep
	// it from scaling further.
	f.sim.Advance(10 * time.Minute)
	if got := f.service(t, "web").DesiredCount; got != 6 {
		t.Fatalf("desired count %d at the target utilization, want 6", got)
	}
}

// scalableService is a steady service of 2 tasks on 4 instances, whose
// desired count Application Auto Scaling may move from 2 to 8.
func scalableService(t *testing.T, seed uint64) (*fleet, string) {
	t.Helper()
	f := newFleet(t, fleetOpts{seed: seed, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	resource := "service/" + fleetCluster + "/web"
	if _, err := f.aas.RegisterScalableTarget(context.Background(), &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(8),
	}); err != nil {
		t.Fatal(err)
	}
	return f, resource
}

// TestScaleInWaitsForEveryPolicy follows the target tracking page: with a
// CPU and a memory policy, a memory far below its target does not scale
// the service in while CPU is above its own; once CPU falls too, both
// agree and the service scales in.
func TestScaleInWaitsForEveryPolicy(t *testing.T) {
	f, resource := scalableService(t, 35)
	ctx := context.Background()
	for name, metric := range map[string]aastypes.MetricType{"cpu": aastypes.MetricTypeECSServiceAverageCPUUtilization, "memory": aastypes.MetricTypeECSServiceAverageMemoryUtilization} {
		if _, err := f.aas.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
			PolicyName: aws.String(name), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource),
			ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
			TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
				TargetValue: aws.Float64(50), PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: metric},
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// CPU three times its target, memory a tenth of its own.
	if err := f.sim.SetServiceLoad(fleetCluster, "web", 300, 10); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 10*time.Minute, "scaled out", func() bool { return f.service(t, "web").DesiredCount == 6 })
	// Memory's low alarm (15 datapoints) fires well within this hour; CPU
	// at its target keeps the service where it is.
	if f.sim.RunUntil(func() bool { return f.service(t, "web").DesiredCount < 6 }, time.Hour) {
		t.Fatalf("desired count %d with CPU at its target and memory below its own, want 6: scale-in needs every policy", f.service(t, "web").DesiredCount)
	}
	if err := f.sim.SetServiceLoad(fleetCluster, "web", 30, 10); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, time.Hour, "scaled in", func() bool { return f.service(t, "web").DesiredCount < 6 })
}

func TestManagedScalingGrowsTheGroupForWaitingTasks(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 34, instances: 1, provider: true})
	// A t3.medium registers 3840 MiB: 7 tasks of 512 fill it, so 12 need a
	// second instance.
	f.createService(t, serviceOpts{name: "web", desired: 12, minHealthy: 100, max: 200, capacityProvider: true, noLoadBalancer: true})
	advanceUntil(t, f.sim, 5*time.Minute, "tasks waiting for capacity", func() bool {
		for _, tk := range f.tasks(t, "web", ecstypes.DesiredStatusRunning) {
			if tk.ContainerInstanceArn == nil && aws.ToString(tk.LastStatus) == "PROVISIONING" {
				return true
			}
		}
		return false
	})
	f.waitSteady(t, "web", 20*time.Minute)
	if got := aws.ToInt32(f.describeGroup(t, "prod-nodes").DesiredCapacity); got != 2 {
		t.Fatalf("group desired capacity %d, want 2", got)
	}
	if n := len(f.containerInstances(t)); n != 2 {
		t.Fatalf("%d container instances, want 2", n)
	}
	// Managed termination protection keeps busy instances from scale-in.
	for _, i := range f.describeGroup(t, "prod-nodes").Instances {
		if !aws.ToBool(i.ProtectedFromScaleIn) {
			t.Fatalf("instance %s runs tasks but is not protected from scale-in", aws.ToString(i.InstanceId))
		}
	}
}

func TestManagedDrainingDrainsTerminatingInstances(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 35, instances: 2, provider: true})
	ctx := context.Background()
	victim := f.containerInstances(t)[0]
	if _, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: victim.Ec2InstanceId, ShouldDecrementDesiredCapacity: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 5*time.Minute, "instance deregistered", func() bool { return len(f.containerInstances(t)) == 1 })
	var statuses []string
	for _, ev := range f.sim.Events() {
		if ev.DetailType != "ECS Container Instance State Change" || ev.Resources[0] != aws.ToString(victim.ContainerInstanceArn) {
			continue
		}
		var d struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, d.Status)
	}
	if got := strings.Join(statuses, ","); got != "ACTIVE,DRAINING,INACTIVE" {
		t.Fatalf("container instance went %s, want ACTIVE,DRAINING,INACTIVE", got)
	}
}

func TestFleetMetricsReflectTheFleet(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 36, instances: 2})
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	advanceUntil(t, f.sim, 2*time.Minute, "targets healthy", func() bool { return f.healthyTargets(t, f.tg) == 2 })
	if err := f.sim.SetTraffic(f.lb, 5); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetServiceLoad(fleetCluster, "web", 180, 60); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lbDim, tgDim := f.lbDim(), tgDimension(f.tg)
	last := func(ns, name string, stat cwtypes.Statistic, kv ...string) (float64, bool) {
		return f.lastMinute(t, ns, name, stat, kv...)
	}
	f.sim.Advance(f.sim.Now().Truncate(time.Minute).Add(2 * time.Minute).Sub(f.sim.Now()))
	for _, z := range f.net.zones {
		if v, _ := last("AWS/ApplicationELB", "HealthyHostCount", cwtypes.StatisticAverage, "AvailabilityZone", z, "LoadBalancer", lbDim, "TargetGroup", tgDim); v != 1 {
			t.Fatalf("HealthyHostCount in %s = %v, want 1", z, v)
		}
	}
	if v, _ := last("AWS/ECS", "CPUUtilization", cwtypes.StatisticAverage, "ClusterName", fleetCluster, "ServiceName", "web"); v != 90 {
		t.Fatalf("CPUUtilization %v, want 180 / 2 = 90", v)
	}
	if v, _ := last("AWS/ECS", "MemoryUtilization", cwtypes.StatisticAverage, "ClusterName", fleetCluster, "ServiceName", "web"); v != 30 {
		t.Fatalf("MemoryUtilization %v, want 30", v)
	}
	if v, _ := last("AWS/ApplicationELB", "RequestCount", cwtypes.StatisticSum, "LoadBalancer", lbDim); v != 300 {
		t.Fatalf("RequestCount %v, want 5 × 60", v)
	}
	latency, _ := last("AWS/ApplicationELB", "TargetResponseTime", cwtypes.StatisticAverage, "LoadBalancer", lbDim)
	if latency <= 0.02 {
		t.Fatalf("TargetResponseTime %v at 90 %% CPU, want above the idle 0.02 s", latency)
	}
	if _, ok := last("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", cwtypes.StatisticSum, "LoadBalancer", lbDim); ok {
		t.Fatal("5xx reported while every target is healthy")
	}
	// With no task left the load balancer answers 503 itself.
	if _, err := f.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(fleetCluster), Service: aws.String("web"), DesiredCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(3 * time.Minute)
	if v, _ := last("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", cwtypes.StatisticSum, "LoadBalancer", lbDim); v != 300 {
		t.Fatalf("HTTPCode_ELB_5XX_Count %v with no targets, want every request", v)
	}
}
