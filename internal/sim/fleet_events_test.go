package sim_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
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
	f.putAlarm(t, "web-latency", "AWS/ApplicationELB", "TargetResponseTime", 1, 1, 1, "notBreaching")
	f.pushImages(t, "v1", "v2", "bad")
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
	// More tasks than the instances can hold.
	f.createService(t, serviceOpts{name: "batch", desired: 40, minHealthy: 100, max: 200, noLoadBalancer: true})
	f.sim.Advance(time.Minute)
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
// documented (Fargate) example does not; fargateOnlyFields the reverse,
// with the capacity providers a service without any does not name.
var (
	taskOnlyFields    = []string{"containerInstanceArn", "startedBy", "stoppingAt", "stoppedAt", "stoppedReason", "stopCode", "executionStoppedAt"}
	fargateOnlyFields = []string{"platformVersion", "capacityProviderArns"}
)

func TestFleetEventsMatchDocumentedShapes(t *testing.T) {
	f := fleetScenario(t, 9)
	check := func(t *testing.T, got, want sim.Event, gotDetail, wantDetail map[string]any) {
		if len(got.Resources) != len(want.Resources) {
			t.Fatalf("resources %v, documented %d entries", got.Resources, len(want.Resources))
		}
		sameFields(t, "detail", gotDetail, wantDetail, taskOnlyFields, fargateOnlyFields)
		switch want.DetailType {
		case events.DetailTypeECSDeploymentStateChange:
			if gotDetail["eventType"] != wantDetail["eventType"] || deploymentReason(gotDetail) != deploymentReason(wantDetail) {
				t.Fatalf("detail %v, documented %v", gotDetail, wantDetail)
			}
		case events.DetailTypeECSServiceAction:
			if gotDetail["eventType"] != wantDetail["eventType"] {
				t.Fatalf("detail %v, documented %v", gotDetail, wantDetail)
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
		if want.DetailType == events.DetailTypeAlarmStateChange {
			g := first(first(gotDetail["configuration"])["metrics"])
			sameFields(t, "detail.configuration.metrics", g, first(first(wantDetail["configuration"])["metrics"]), nil, nil)
		}
	}
	emitted := f.sim.Events()
	forDocumentedExamples(t, "../../events/ecs-*.json", 9, emitted, check)
	forDocumentedExamples(t, "../../events/cloudwatch-*.json", 2, emitted, check)
	forDocumentedExamples(t, "../../events/ecr-*.json", 1, emitted, check)
}

var deploymentIDs = regexp.MustCompile(`ecs-svc/\d+`)

// deploymentReason is a deployment event's reason with deployment IDs
// blanked, and a failure's reduced to what detected it (the circuit breaker
// or alarms): the text after that names what happened.
func deploymentReason(d map[string]any) string {
	r := deploymentIDs.ReplaceAllString(fmt.Sprint(d["reason"]), "ID")
	if d["eventName"] == events.DeploymentFailed {
		r, _, _ = strings.Cut(r, ":")
	}
	return r
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
