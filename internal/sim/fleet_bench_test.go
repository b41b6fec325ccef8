package sim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// BenchmarkFleetHour runs one simulated hour of a two-zone ECS fleet: 8
// instances, 10 services of 2 tasks behind one ALB (a listener and target
// group each), rolling deployments of half of them, a bad image that the
// circuit breaker rolls back, target tracking scale-out under load and a
// 15-minute zone outage, with a monitor describing every service each
// minute. The wall time per operation is the figure to report; it is not
// asserted.
func BenchmarkFleetHour(b *testing.B) {
	for b.Loop() {
		fleetHour(b)
	}
}

func fleetHour(b *testing.B) {
	f := newFleet(b, fleetOpts{seed: 1, instances: 8})
	ctx := context.Background()
	const services = 10
	names := make([]string, services)
	for i := range services {
		names[i] = fmt.Sprintf("svc%02d", i)
		tg := f.targetGroup(b, names[i], elbtypes.TargetTypeEnumIp)
		if _, err := f.elb.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(f.lb), Port: aws.Int32(int32(8000 + i)), Protocol: elbtypes.ProtocolEnumHttp,
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}},
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ecs.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String(fleetCluster), ServiceName: aws.String(names[i]), TaskDefinition: aws.String(f.td), DesiredCount: aws.Int32(2),
			LaunchType:           ecstypes.LaunchTypeEc2,
			NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
			LoadBalancers:        []ecstypes.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(80)}},
			DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
				MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
				DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
			},
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.sim.SetTraffic(f.lb, 200); err != nil {
		b.Fatal(err)
	}
	v2 := f.registerTD(b, strings.Replace(fleetImage, ":v1", ":v2", 1))
	bad := strings.Replace(fleetImage, ":v1", ":bad", 1)
	f.sim.FailImage(bad, sim.ImageExits)
	badTD := f.registerTD(b, bad)
	scale := func(name string) {
		resource := "service/" + fleetCluster + "/" + name
		if _, err := f.aas.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
			MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(6),
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := f.aas.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
			PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(resource),
			ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
			TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
				TargetValue:                   aws.Float64(50),
				PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
			},
		}); err != nil {
			b.Fatal(err)
		}
		if err := f.sim.SetServiceLoad(fleetCluster, name, 200, 100); err != nil {
			b.Fatal(err)
		}
	}
	script := map[time.Duration]func(){
		5 * time.Minute: func() { scale(names[0]); scale(names[1]) },
		10 * time.Minute: func() {
			for _, n := range names[:5] {
				f.updateTD(b, n, v2)
			}
		},
		20 * time.Minute: func() { f.updateTD(b, names[5], badTD) },
		30 * time.Minute: func() {
			if err := f.sim.FailZone(f.net.zones[0]); err != nil {
				b.Fatal(err)
			}
		},
		45 * time.Minute: func() {
			if err := f.sim.RecoverZone(f.net.zones[0]); err != nil {
				b.Fatal(err)
			}
		},
	}
	start := f.sim.Now()
	const step = 5 * time.Second
	for elapsed := time.Duration(0); elapsed < time.Hour; elapsed += step {
		if act, ok := script[elapsed]; ok {
			act()
		}
		f.sim.Advance(step)
		if elapsed%time.Minute == 0 {
			if _, err := f.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(fleetCluster), Services: names}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if got := f.sim.Now().Sub(start); got != time.Hour {
		b.Fatalf("simulated %s, want an hour", got)
	}
	if d := f.service(b, names[0]).DesiredCount; d <= 2 {
		b.Fatalf("%s did not scale out under load (desired %d)", names[0], d)
	}
	if td := aws.ToString(f.service(b, names[5]).TaskDefinition); td != f.td {
		b.Fatalf("%s runs %s, want the circuit breaker's rollback to %s", names[5], td, f.td)
	}
	for _, n := range names {
		if !f.steady(b, n) {
			b.Fatalf("%s not steady after the hour: %s", n, describe(f.service(b, n).Deployments))
		}
	}
}
