package sim_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// fleetScenario runs a service through a rollout, a bad image that the
// circuit breaker rolls back, a scale-out under load, a zone outage and a
// drained instance. It is the workload of the fleet's shape and determinism
// tests.
func fleetScenario(t testing.TB, seed uint64) *fleet {
	t.Helper()
	f := newFleet(t, fleetOpts{seed: seed, instances: 4})
	ctx := context.Background()
	f.putAlarm(t, "web-latency", "AWS/ApplicationELB", "TargetResponseTime", 1, 1, 1)
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 50, max: 200, breaker: true})
	f.waitSteady(t, "web", 10*time.Minute)
	if err := f.sim.SetTraffic(f.lb, 20); err != nil {
		t.Fatal(err)
	}
	f.updateTD(t, "web", f.registerTD(t, strings.Replace(fleetImage, ":v1", ":v2", 1)))
	f.waitSteady(t, "web", 15*time.Minute)
	bad := strings.Replace(fleetImage, ":v1", ":bad", 1)
	f.sim.FailImage(bad, sim.ImageExits)
	f.updateTD(t, "web", f.registerTD(t, bad))
	advanceUntil(t, f.sim, 20*time.Minute, "circuit breaker", func() bool { return f.hasDeploymentEvent(t, "SERVICE_DEPLOYMENT_FAILED") })
	f.waitSteady(t, "web", 20*time.Minute)
	resource := "service/" + fleetCluster + "/web"
	if _, err := f.aas.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(8),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.aas.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
		PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue:                   aws.Float64(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetServiceLoad(fleetCluster, "web", 360, 200); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 15*time.Minute, "scale-out", func() bool { return f.service(t, "web").DesiredCount > 4 })
	f.waitSteady(t, "web", 10*time.Minute)
	if err := f.sim.FailZone(f.net.zones[0]); err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(5 * time.Minute)
	if err := f.sim.RecoverZone(f.net.zones[0]); err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(10 * time.Minute)
	for _, ci := range f.containerInstances(t) {
		if aws.ToString(ci.Status) == "ACTIVE" && ci.RunningTasksCount > 0 {
			if _, err := f.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
				Cluster: aws.String(fleetCluster), ContainerInstances: []string{aws.ToString(ci.ContainerInstanceArn)}, Status: ecstypes.ContainerInstanceStatusDraining,
			}); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	f.sim.Advance(5 * time.Minute)
	return f
}

func TestFleetSameSeedGivesByteIdenticalEventLogs(t *testing.T) {
	first := fleetScenario(t, 42).sim.EventLog()
	second := fleetScenario(t, 42).sim.EventLog()
	for _, dt := range []string{"ECS Deployment State Change", "ECS Task State Change", "ECS Container Instance State Change", "CloudWatch Alarm State Change"} {
		if !bytes.Contains(first, []byte(`"detail-type":"`+dt+`"`)) {
			t.Fatalf("the scenario emitted no %q event", dt)
		}
	}
	if !bytes.Equal(first, second) {
		a, b := bytes.Split(first, []byte("\n")), bytes.Split(second, []byte("\n"))
		for i := range min(len(a), len(b)) {
			if !bytes.Equal(a[i], b[i]) {
				t.Fatalf("event logs differ for the same seed at line %d:\n%s\n---\n%s", i+1, a[i], b[i])
			}
		}
		t.Fatalf("event logs differ for the same seed: %d and %d lines", len(a), len(b))
	}
	if other := fleetScenario(t, 43).sim.EventLog(); bytes.Equal(first, other) {
		t.Fatal("a different seed gave the same event log")
	}
}

// taskOnlyFields are Task fields an EC2 task's event carries that the
// documented (Fargate) example does not; fargateOnlyFields the reverse.
var (
	taskOnlyFields    = []string{"containerInstanceArn", "startedBy", "stoppingAt", "stoppedAt", "stoppedReason", "stopCode", "executionStoppedAt"}
	fargateOnlyFields = []string{"platformVersion"}
)

func TestFleetEventsMatchDocumentedShapes(t *testing.T) {
	f := fleetScenario(t, 9)
	// The richest event of each type: for tasks one that is running, so
	// that every documented field has a value.
	byType := map[string]sim.Event{}
	for _, ev := range f.sim.Events() {
		if _, ok := byType[ev.DetailType]; ok {
			continue
		}
		if ev.DetailType == "ECS Task State Change" && !bytes.Contains(ev.Detail, []byte(`"lastStatus":"RUNNING"`)) {
			continue
		}
		if ev.DetailType == "CloudWatch Alarm State Change" && !bytes.Contains(ev.Detail, []byte(`"value":"ALARM"`)) {
			continue
		}
		// The documented deployment example is the circuit breaker's verdict.
		if ev.DetailType == "ECS Deployment State Change" && !bytes.Contains(ev.Detail, []byte(`"SERVICE_DEPLOYMENT_FAILED"`)) {
			continue
		}
		byType[ev.DetailType] = ev
	}
	forDocumentedExamples(t, "testdata/fleet-events/*.json", 4, byType, func(t *testing.T, got, want sim.Event, gotDetail, wantDetail map[string]any) {
		if len(got.Resources) != len(want.Resources) {
			t.Fatalf("resources %v, documented %d entries", got.Resources, len(want.Resources))
		}
		sameFields(t, "detail", gotDetail, wantDetail, taskOnlyFields, fargateOnlyFields)
		if want.DetailType == "ECS Deployment State Change" {
			for _, k := range []string{"eventType", "eventName", "reason"} {
				if gotDetail[k] != wantDetail[k] {
					t.Fatalf("detail %s = %v, documented %v", k, gotDetail[k], wantDetail[k])
				}
			}
		}
		// One level further where the documentation shows structure.
		for _, k := range []string{"containers", "attachments", "registeredResources", "configuration", "state", "previousState", "versionInfo"} {
			g, w := first(gotDetail[k]), first(wantDetail[k])
			if g == nil || w == nil {
				continue
			}
			sameFields(t, "detail."+k, g, w, nil, nil)
		}
		if want.DetailType == "CloudWatch Alarm State Change" {
			g := first(first(gotDetail["configuration"])["metrics"])
			sameFields(t, "detail.configuration.metrics", g, first(first(wantDetail["configuration"])["metrics"]), nil, nil)
		}
	})
}

// first returns an object, or the first object of an array.
func first(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		if len(x) > 0 {
			m, _ := x[0].(map[string]any)
			return m
		}
	}
	return nil
}

// sameFields checks that got has every documented field with the
// documented JSON type, and no field beyond them except extra.
func sameFields(t *testing.T, where string, got, want map[string]any, extra, optional []string) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			if slices.Contains(optional, k) {
				continue
			}
			t.Fatalf("%s lacks documented field %q: %v", where, k, got)
		}
		if gt, wt := typeName(gv), typeName(wv); gt != wt {
			t.Fatalf("%s field %q is a %s, documented as a %s", where, k, gt, wt)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !slices.Contains(extra, k) {
			t.Fatalf("%s has undocumented field %q", where, k)
		}
	}
}
