package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// toMinuteEnd advances the simulator to the end of the current minute, when
// the fleet reports it.
func toMinuteEnd(s *sim.Sim) { s.Advance(s.Now().Truncate(time.Minute).Add(time.Minute).Sub(s.Now())) }

// TestAllUnhealthyTargetsFailOpen follows the ALB documentation: "If a
// target group contains only unhealthy registered targets, the load balancer
// routes requests to all those targets, regardless of their health status."
// Both instances of an instance target group stop answering in time (a gray
// failure of every zone): both receive traffic, and the timeouts show as the
// load balancer's 504s. When one zone recovers, only its target does.
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
func TestAllUnhealthyTargetsFailOpen(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 26, instances: 2})
	ctx := context.Background()
	tg := f.targetGroup(t, "hosts", elbtypes.TargetTypeEnumInstance)
	if _, err := f.elb.ModifyListener(ctx, &elb.ModifyListenerInput{
		ListenerArn: aws.String(f.listener), DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}},
	}); err != nil {
		t.Fatal(err)
	}
	var ids []elbtypes.TargetDescription
	for _, ci := range f.containerInstances(t) {
		ids = append(ids, elbtypes.TargetDescription{Id: ci.Ec2InstanceId})
	}
	if _, err := f.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: ids}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, time.Minute, "targets healthy", func() bool { return f.healthyTargets(t, tg) == 2 })
	if err := f.sim.SetTraffic(f.lb, 10); err != nil {
		t.Fatal(err)
	}
	for _, z := range f.net.zones {
		if err := f.sim.DegradeZone(z, sim.ZoneDegradation{Failures: 1}); err != nil {
			t.Fatal(err)
		}
	}
	advanceUntil(t, f.sim, 2*time.Minute, "targets unhealthy", func() bool {
		n := 0
		for _, d := range f.targets(t, tg) {
			if d.TargetHealth.State == elbtypes.TargetHealthStateEnumUnhealthy {
				n++
			}
		}
		return n == 2
	})
	toMinuteEnd(f.sim)
	toMinuteEnd(f.sim)
	traffic, err := f.sim.TargetRequests(tg)
	if err != nil {
		t.Fatal(err)
	}
	if len(traffic) != 2 || traffic[*ids[0].Id] != 300 || traffic[*ids[1].Id] != 300 {
		t.Fatalf("requests per target %v with every target unhealthy, want 300 to each of both", traffic)
	}
	lb := f.lbDim()
	if v, _ := f.lastMinute(t, "AWS/ApplicationELB", "HTTPCode_ELB_504_Count", cwtypes.StatisticSum, "LoadBalancer", lb); v != 600 {
		t.Fatalf("HTTPCode_ELB_504_Count %v, want every request timed out", v)
	}
	if v, _ := f.lastMinute(t, "AWS/ApplicationELB", "HealthyHostCount", cwtypes.StatisticAverage, "LoadBalancer", lb, "TargetGroup", tgDimension(tg)); v != 0 {
		t.Fatalf("HealthyHostCount %v", v)
	}
	// One zone recovers: its target turns healthy and takes all requests.
	if err := f.sim.DegradeZone(f.net.zones[0], sim.ZoneDegradation{}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 2*time.Minute, "a target healthy", func() bool { return f.healthyTargets(t, tg) == 1 })
	toMinuteEnd(f.sim)
	toMinuteEnd(f.sim)
	traffic, _ = f.sim.TargetRequests(tg)
	for _, d := range f.targets(t, tg) {
		want := 0.0
		if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			want = 600
		}
		if got := traffic[aws.ToString(d.Target.Id)]; got != want {
			t.Fatalf("%s target got %v requests, want %v (traffic %v)", d.TargetHealth.State, got, want, traffic)
		}
	}
	if _, ok := f.lastMinute(t, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", cwtypes.StatisticSum, "LoadBalancer", lb); ok {
		t.Fatal("the load balancer reports 5xx once a healthy target takes the traffic")
	}
}

// TestELBAndTarget5xxAreCountedApart follows the ALB's metrics and
// troubleshooting pages: a response a target sends with a 5xx code counts as
// HTTPCode_Target_5XX_Count; a request the load balancer cannot deliver
// counts as its own HTTPCode_ELB_5XX_Count: 504 when the target does not
// answer in time, 503 when there is no target.
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html
func TestELBAndTarget5xxAreCountedApart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// breakIt makes the only task's target fail.
		breakIt   func(t *testing.T, f *fleet, task ecstypes.Task)
		target5xx float64
		elb       map[string]float64
	}{
		{"the application answers 5xx", nil, 600, nil},
		{"the target does not answer in time", func(t *testing.T, f *fleet, task ecstypes.Task) {
			if err := f.sim.DegradeZone(aws.ToString(task.AvailabilityZone), sim.ZoneDegradation{Failures: 1}); err != nil {
				t.Fatal(err)
			}
		}, 0, map[string]float64{"HTTPCode_ELB_5XX_Count": 600, "HTTPCode_ELB_504_Count": 600}},
		{"no target", func(t *testing.T, f *fleet, task ecstypes.Task) {
			if _, err := f.elb.DeregisterTargets(context.Background(), &elb.DeregisterTargetsInput{
				TargetGroupArn: aws.String(f.tg), Targets: []elbtypes.TargetDescription{{Id: task.Attachments[0].Details[3].Value, Port: aws.Int32(80)}},
			}); err != nil {
				t.Fatal(err)
			}
		}, 0, map[string]float64{"HTTPCode_ELB_5XX_Count": 600, "HTTPCode_ELB_503_Count": 600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 27, instances: 2})
			if tc.breakIt == nil {
				bad := strings.Replace(fleetImage, ":v1", ":5xx", 1)
				f.sim.FailImage(bad, sim.ImageUnhealthy)
				f.td = f.registerTD(t, bad)
			}
			// A long grace period keeps ECS from replacing the task while
			// the minute is measured.
			f.createService(t, serviceOpts{name: "web", desired: 1, minHealthy: 100, max: 200, grace: 1800})
			advanceUntil(t, f.sim, 5*time.Minute, "task running", func() bool {
				tasks := f.tasks(t, "web", ecstypes.DesiredStatusRunning)
				return len(tasks) == 1 && aws.ToString(tasks[0].LastStatus) == "RUNNING"
			})
			if err := f.sim.SetTraffic(f.lb, 10); err != nil {
				t.Fatal(err)
			}
			toMinuteEnd(f.sim)
			if tc.breakIt != nil {
				tc.breakIt(t, f, f.tasks(t, "web", ecstypes.DesiredStatusRunning)[0])
			}
			// The whole minute after the break.
			toMinuteEnd(f.sim)
			lb := f.lbDim()
			got, _ := f.lastMinute(t, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", cwtypes.StatisticSum, "LoadBalancer", lb)
			if got != tc.target5xx {
				t.Fatalf("HTTPCode_Target_5XX_Count %v, want %v", got, tc.target5xx)
			}
			for _, m := range []string{"HTTPCode_ELB_5XX_Count", "HTTPCode_ELB_502_Count", "HTTPCode_ELB_503_Count", "HTTPCode_ELB_504_Count"} {
				if got, _ := f.lastMinute(t, "AWS/ApplicationELB", m, cwtypes.StatisticSum, "LoadBalancer", lb); got != tc.elb[m] {
					t.Fatalf("%s %v, want %v", m, got, tc.elb[m])
				}
			}
		})
	}
}

// TestGrayZoneKeepsItsInstancesButNotItsTargets: a zone whose instances
// pass their EC2 status checks while what runs there answers slowly. Below
// the health check timeout (5 s) the latency shows only in
// TargetResponseTime; at the timeout the zone's targets fail their checks
// and time out, yet the Auto Scaling group, which checks EC2 status, keeps
// every instance.
func TestGrayZoneKeepsItsInstancesButNotItsTargets(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 28, instances: 2})
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, grace: 1800})
	f.waitSteady(t, "web", 10*time.Minute)
	if err := f.sim.SetTraffic(f.lb, 10); err != nil {
		t.Fatal(err)
	}
	toMinuteEnd(f.sim)
	toMinuteEnd(f.sim)
	lb := f.lbDim()
	base, _ := f.lastMinute(t, "AWS/ApplicationELB", "TargetResponseTime", cwtypes.StatisticAverage, "LoadBalancer", lb)
	slow := f.net.zones[0]
	if err := f.sim.DegradeZone(slow, sim.ZoneDegradation{Latency: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	toMinuteEnd(f.sim)
	// Half the requests take 2 s longer.
	if got, _ := f.lastMinute(t, "AWS/ApplicationELB", "TargetResponseTime", cwtypes.StatisticAverage, "LoadBalancer", lb); got != base+1 {
		t.Fatalf("TargetResponseTime %v with one zone 2 s slower, want %v", got, base+1)
	}
	if n := f.healthyTargets(t, f.tg); n != 2 {
		t.Fatalf("%d healthy targets below the health check timeout, want 2", n)
	}
	if err := f.sim.DegradeZone(slow, sim.ZoneDegradation{Latency: 6 * time.Second}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 2*time.Minute, "slow zone's target unhealthy", func() bool { return f.healthyTargets(t, f.tg) == 1 })
	for _, d := range f.targets(t, f.tg) {
		if d.TargetHealth.State == elbtypes.TargetHealthStateEnumUnhealthy && (aws.ToString(d.Target.AvailabilityZone) != slow || d.TargetHealth.Reason != elbtypes.TargetHealthReasonEnumTimeout) {
			t.Fatalf("unhealthy target %s", describe(d))
		}
	}
	f.sim.Advance(5 * time.Minute)
	for _, i := range f.describeGroup(t, "prod-nodes").Instances {
		if i.LifecycleState != "InService" || aws.ToString(i.HealthStatus) != "Healthy" {
			t.Fatalf("instance %s is %s and %s during a gray failure, want kept", aws.ToString(i.InstanceId), i.LifecycleState, aws.ToString(i.HealthStatus))
		}
	}
}

// TestServerErrorsPassHealthChecks: an image whose health check path
// answers while every other request fails, from some time after its tasks
// started, keeps its targets healthy, and
// ECS its tasks, while the load balancer counts each failed request in
// HTTPCode_Target_5XX_Count; GetMetricData reads the same minutes as
// GetMetricStatistics, newest first.
func TestServerErrorsPassHealthChecks(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 29, instances: 2})
	bad := strings.Replace(fleetImage, ":v1", ":errors", 1)
	f.td = f.registerTD(t, bad)
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, grace: 60})
	f.waitSteady(t, "web", 10*time.Minute)
	// The fault shows after start-up, in the tasks already running.
	f.sim.FailImage(bad, sim.ImageServerErrors)
	if err := f.sim.SetTraffic(f.lb, 10); err != nil {
		t.Fatal(err)
	}
	start := f.sim.Now().Truncate(time.Minute)
	toMinuteEnd(f.sim)
	toMinuteEnd(f.sim)
	toMinuteEnd(f.sim)
	if n := f.healthyTargets(t, f.tg); n != 2 {
		t.Fatalf("%d healthy targets, want 2: the health check path answers", n)
	}
	lb := f.lbDim()
	if got, _ := f.lastMinute(t, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", cwtypes.StatisticSum, "LoadBalancer", lb); got != 600 {
		t.Fatalf("HTTPCode_Target_5XX_Count %v, want 600", got)
	}
	out, err := f.cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(f.sim.Now()),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("errors"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(lb)}}},
			Period: aws.Int32(60), Stat: aws.String("Sum"),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.MetricDataResults[0]
	if len(r.Values) < 2 || r.Values[0] != 600 || !r.Timestamps[0].After(r.Timestamps[1]) || r.StatusCode != cwtypes.StatusCodeComplete {
		t.Fatalf("GetMetricData: %v at %v (%s), want 600 a minute, newest first", r.Values, r.Timestamps, r.StatusCode)
	}
	if _, err := f.cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(f.sim.Now()),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m"), Expression: aws.String("SUM(METRICS())")}},
	}); err == nil {
		t.Fatal("a metric math query was answered; the simulator does not compute them")
	}
}
