package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// registerInstanceTarget puts one running instance of the fleet in a new
// instance target group and returns both.
func registerInstanceTarget(t *testing.T, f *fleet) (tg, id string, at time.Time) {
	t.Helper()
	tg = f.targetGroup(t, "by-instance", elbtypes.TargetTypeEnumInstance)
	if _, err := f.elb.ModifyListener(context.Background(), &elb.ModifyListenerInput{
		ListenerArn: aws.String(f.listener),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{
			TargetGroups: []elbtypes.TargetGroupTuple{{TargetGroupArn: aws.String(f.tg), Weight: aws.Int32(90)}, {TargetGroupArn: aws.String(tg), Weight: aws.Int32(10)}},
		}}},
	}); err != nil {
		t.Fatalf("ModifyListener: %v", err)
	}
	id = aws.ToString(f.containerInstances(t)[0].Ec2InstanceId)
	if _, err := f.elb.RegisterTargets(context.Background(), &elb.RegisterTargetsInput{
		TargetGroupArn: aws.String(tg), Targets: []elbtypes.TargetDescription{{Id: aws.String(id)}},
	}); err != nil {
		t.Fatalf("RegisterTargets: %v", err)
	}
	return tg, id, f.sim.Now()
}

// TestTargetHealthThresholds follows the ALB's health check documentation:
// "After you register a target, it must pass one health check to be
// considered healthy"; the unhealthy threshold of failed checks makes it
// unhealthy, and the healthy threshold of passing checks (3 here, checked
// every 10 s) makes an unhealthy target healthy again.
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
func TestTargetHealthThresholds(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 21, instances: 2})
	tg, id, registered := registerInstanceTarget(t, f)
	state := func() elbtypes.TargetHealthStateEnum { return f.targets(t, tg)[0].TargetHealth.State }
	var states []string
	var healthyAt time.Time
	advanceUntil(t, f.sim, 5*time.Minute, "target healthy", func() bool {
		st := state()
		if len(states) == 0 || states[len(states)-1] != string(st) {
			states = append(states, string(st))
		}
		if st == elbtypes.TargetHealthStateEnumHealthy {
			healthyAt = f.sim.Now()
			return true
		}
		return false
	})
	// One check, one interval after registration.
	if got := healthyAt.Sub(registered); got != 10*time.Second {
		t.Fatalf("target %s healthy %s after registration, want after its first check at 10s (states %v)", id, got, states)
	}
	if len(states) != 2 || states[0] != "initial" {
		t.Fatalf("states %v, want initial then healthy", states)
	}
	// Its zone fails: unhealthy after the unhealthy threshold (2) of checks.
	zone := aws.ToString(f.targets(t, tg)[0].Target.AvailabilityZone)
	failed := f.sim.Now()
	if err := f.sim.FailZone(zone); err != nil {
		t.Fatal(err)
	}
	var unhealthyAt time.Time
	advanceUntil(t, f.sim, 5*time.Minute, "target unhealthy", func() bool {
		if state() == elbtypes.TargetHealthStateEnumUnhealthy {
			unhealthyAt = f.sim.Now()
			return true
		}
		return false
	})
	if got := unhealthyAt.Sub(failed); got > 20*time.Second || got <= 10*time.Second {
		t.Fatalf("unhealthy %s after the failure, want at the second failed check (2 × 10 s)", got)
	}
	if r := f.targets(t, tg)[0].TargetHealth.Reason; r != elbtypes.TargetHealthReasonEnumTimeout {
		t.Fatalf("reason %s, want Target.Timeout", r)
	}
	// Back from unhealthy takes the healthy threshold, 3 passing checks.
	recovered := f.sim.Now()
	if err := f.sim.RecoverZone(zone); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, f.sim, 5*time.Minute, "target healthy again", func() bool { return state() == elbtypes.TargetHealthStateEnumHealthy })
	if got := f.sim.Now().Sub(recovered); got <= 20*time.Second || got > 30*time.Second {
		t.Fatalf("healthy again %s after the zone recovered, want at the third passing check (3 × 10 s)", got)
	}
}

func TestDeregistrationDrainsForTheDelay(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 22, instances: 2})
	tg, id, _ := registerInstanceTarget(t, f)
	f.sim.Advance(time.Minute)
	ctx := context.Background()
	if _, err := f.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: []elbtypes.TargetDescription{{Id: aws.String(id)}}}); err != nil {
		t.Fatal(err)
	}
	if st := f.targets(t, tg)[0].TargetHealth.State; st != elbtypes.TargetHealthStateEnumDraining {
		t.Fatalf("state %s right after deregistration, want draining", st)
	}
	f.sim.Advance(4 * time.Second)
	if n := len(f.targets(t, tg)); n != 1 {
		t.Fatalf("%d targets inside the 5 s deregistration delay, want the draining one", n)
	}
	f.sim.Advance(time.Second)
	if n := len(f.targets(t, tg)); n != 0 {
		t.Fatalf("%d targets after the deregistration delay, want none", n)
	}
	_, err := f.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: []elbtypes.TargetDescription{{Id: aws.String(id)}}})
	if code := errCode(err); code != "InvalidTarget" {
		t.Fatalf("deregistering an unregistered target: %v, want InvalidTarget", err)
	}
}

func TestTargetsOutsideTheLoadBalancersZonesAreUnused(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 23, instances: 2})
	ctx := context.Background()
	// A third zone's subnet, which the ALB does not use.
	z3 := f.sim.Zones()[2]
	sn, err := f.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(f.net.vpcID), AvailabilityZone: aws.String(z3), CidrBlock: aws.String("10.0.3.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(f.tg), Targets: []elbtypes.TargetDescription{{Id: aws.String("10.0.3.10")}}}); err != nil {
		t.Fatal(err)
	}
	d := f.targets(t, f.tg)[0]
	if aws.ToString(d.Target.AvailabilityZone) != z3 || d.TargetHealth.State != elbtypes.TargetHealthStateEnumUnused || d.TargetHealth.Reason != elbtypes.TargetHealthReasonEnumNotInUse {
		t.Fatalf("target in %s: %s", aws.ToString(sn.Subnet.AvailabilityZone), describe(d))
	}
	// Adding the zone to the load balancer puts the target in use.
	if _, err := f.elb.SetSubnets(ctx, &elb.SetSubnetsInput{LoadBalancerArn: aws.String(f.lb), Subnets: append(f.net.subnets, aws.ToString(sn.Subnet.SubnetId))}); err != nil {
		t.Fatal(err)
	}
	if st := f.targets(t, f.tg)[0].TargetHealth.State; st == elbtypes.TargetHealthStateEnumUnused {
		t.Fatalf("target still unused after SetSubnets added its zone")
	}
	_, err = f.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(f.tg), Targets: []elbtypes.TargetDescription{{Id: aws.String("192.168.0.1")}}})
	if code := errCode(err); code != "InvalidTarget" {
		t.Fatalf("registering an IP outside the VPC: %v, want InvalidTarget", err)
	}
}

func TestWeightedForwardSplitsRequests(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 25, instances: 2})
	tg, _, _ := registerInstanceTarget(t, f)
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	advanceUntil(t, f.sim, 2*time.Minute, "both groups healthy", func() bool { return f.healthyTargets(t, f.tg) == 2 && f.healthyTargets(t, tg) == 1 })
	if err := f.sim.SetTraffic(f.lb, 10); err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(f.sim.Now().Truncate(time.Minute).Add(2 * time.Minute).Sub(f.sim.Now()))
	ctx := context.Background()
	lbDim := f.lb[strings.Index(f.lb, ":loadbalancer/")+len(":loadbalancer/"):]
	requests := func(arn string) float64 {
		tgDim := "targetgroup/" + arn[strings.Index(arn, ":targetgroup/")+len(":targetgroup/"):]
		out, err := f.cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("RequestCount"), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
			Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(lbDim)}, {Name: aws.String("TargetGroup"), Value: aws.String(tgDim)}},
			StartTime:  aws.Time(f.sim.Now().Add(-time.Minute)), EndTime: aws.Time(f.sim.Now()), Period: aws.Int32(60),
		})
		if err != nil || len(out.Datapoints) != 1 {
			t.Fatalf("RequestCount of %s: %v, %d datapoints", tgDim, err, len(out.Datapoints))
		}
		return aws.ToFloat64(out.Datapoints[0].Sum)
	}
	// 10 requests a second for a minute, weighted 90 / 10.
	if a, b := requests(f.tg), requests(tg); a != 540 || b != 60 {
		t.Fatalf("requests %v and %v, want 540 and 60", a, b)
	}
}
