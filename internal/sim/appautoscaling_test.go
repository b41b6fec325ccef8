package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// trackCPU registers the service as a scalable target between lo and hi
// tasks and gives it a target tracking policy on average CPU.
func (f *fleet) trackCPU(t testing.TB, service string, lo, hi int32, target float64) {
	t.Helper()
	ctx := context.Background()
	resource := "service/" + fleetCluster + "/" + service
	if _, err := f.aas.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		MinCapacity: aws.Int32(lo), MaxCapacity: aws.Int32(hi),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.aas.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
		PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue:                   aws.Float64(target),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
		},
	}); err != nil {
		t.Fatal(err)
	}
}

func (f *fleet) load(t testing.TB, service string, cpu float64) {
	t.Helper()
	if err := f.sim.SetServiceLoad(fleetCluster, service, cpu, 50); err != nil {
		t.Fatal(err)
	}
}

// TestTargetTrackingScalesFromTheRunningCount: a service wants 3 tasks but
// only 1 can run (one instance, distinct instances). At 300 % of one task's
// CPU the one running task reports 300 %: six times the target of 50. The
// new capacity is the running count scaled by metric / target, ceil(1 × 300
// / 50) = 6; scaling the desired count would have asked for 18.
//
// https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html
func TestTargetTrackingScalesFromTheRunningCount(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 38, instances: 1})
	f.createService(t, serviceOpts{name: "web", desired: 3, minHealthy: 0, max: 200, noLoadBalancer: true,
		constraints: []ecstypes.PlacementConstraint{{Type: ecstypes.PlacementConstraintTypeDistinctInstance}}})
	advanceUntil(t, f.sim, 5*time.Minute, "one task running", func() bool { return f.service(t, "web").RunningCount == 1 })
	f.trackCPU(t, "web", 1, 20, 50)
	f.load(t, "web", 300)
	advanceUntil(t, f.sim, 10*time.Minute, "scale-out", func() bool { return f.service(t, "web").DesiredCount != 3 })
	if got := f.service(t, "web").DesiredCount; got != 6 {
		t.Fatalf("desired count %d, want ceil(1 running × 300 / 50) = 6", got)
	}
}

// TestLargerScaleOutProceedsDuringTheCooldown: the scale-out cooldown (300 s
// by default) holds back only a scale-out that asks for no more than the
// desired count already set; "the capacity added by the scale-out activity
// that initiated the cooldown is calculated as part of the desired capacity
// for the next scale-out activity". When the load doubles inside the
// cooldown, the larger scale-out goes ahead.
//
// https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html#target-tracking-cooldown
func TestLargerScaleOutProceedsDuringTheCooldown(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 39, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, noLoadBalancer: true})
	f.waitSteady(t, "web", 10*time.Minute)
	f.trackCPU(t, "web", 2, 20, 50)
	// 300 over 2 tasks is 150 %: ceil(2 × 150 / 50) = 6.
	f.load(t, "web", 300)
	advanceUntil(t, f.sim, 10*time.Minute, "first scale-out", func() bool { return f.service(t, "web").DesiredCount == 6 })
	first := f.sim.Now()
	advanceUntil(t, f.sim, 2*time.Minute, "six running", func() bool { return f.service(t, "web").RunningCount == 6 })
	// 600 over 6 tasks is 100 %: ceil(6 × 100 / 50) = 12.
	f.load(t, "web", 600)
	advanceUntil(t, f.sim, 5*time.Minute, "second scale-out", func() bool { return f.service(t, "web").DesiredCount > 6 })
	if got, at := f.service(t, "web").DesiredCount, f.sim.Now().Sub(first); got != 12 || at >= 300*time.Second {
		t.Fatalf("desired count %d %s after the first scale-out, want 12 inside the 300 s cooldown", got, at)
	}
}

// TestScaleInWaitsForTheDeployment follows the ECS service auto scaling
// page: "Application Auto Scaling turns off scale-in processes while Amazon
// ECS deployments are in progress." A deployment that cannot finish (its
// tasks fail their health checks, with no circuit breaker) holds the count
// while the scale-in alarm fires; once the service is back on a healthy
// revision the scale-in goes ahead.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-auto-scaling.html
func TestScaleInWaitsForTheDeployment(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 40, instances: 4})
	good := f.td
	f.createService(t, serviceOpts{name: "web", desired: 6, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	f.trackCPU(t, "web", 2, 10, 50)
	bad := strings.Replace(fleetImage, ":v1", ":sick", 1)
	f.sim.FailImage(bad, sim.ImageUnhealthy)
	f.updateTD(t, "web", f.registerTD(t, bad))
	// 60 over 6 tasks is 10 %, far below the target: the low alarm needs 15
	// datapoints.
	f.load(t, "web", 60)
	f.sim.Advance(25 * time.Minute)
	if s := f.alarmState(t, scaleInAlarm(t, f)); s != "ALARM" {
		t.Fatalf("scale-in alarm %s after 25 low minutes", s)
	}
	if got := f.service(t, "web").DesiredCount; got != 6 {
		t.Fatalf("desired count %d while the deployment is in progress, want 6", got)
	}
	f.updateTD(t, "web", good)
	advanceUntil(t, f.sim, 10*time.Minute, "scale-in", func() bool { return f.service(t, "web").DesiredCount < 6 })
}

// scaleInAlarm returns the name of the policy's AlarmLow alarm.
func scaleInAlarm(t *testing.T, f *fleet) string {
	t.Helper()
	out, err := f.aas.DescribeScalingPolicies(context.Background(), &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range out.ScalingPolicies {
		for _, a := range p.Alarms {
			if strings.Contains(aws.ToString(a.AlarmName), "-AlarmLow-") {
				return aws.ToString(a.AlarmName)
			}
		}
	}
	t.Fatal("no AlarmLow alarm")
	return ""
}
