package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	arctypes "github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// enableZonalShift turns on the load balancer's ARC zonal shift
// integration, and waits until the load balancer is active: "A resource
// must be active and fully provisioned to shift traffic for it."
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-zonal-shift.html
// https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html
func (f *fleet) enableZonalShift(t testing.TB) {
	t.Helper()
	advanceUntil(t, f.sim, 5*time.Minute, "the load balancer active", func() bool {
		out, err := f.elb.DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{f.lb}})
		return err == nil && out.LoadBalancers[0].State.Code == elbtypes.LoadBalancerStateEnumActive
	})
	if _, err := f.elb.ModifyLoadBalancerAttributes(context.Background(), &elb.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: aws.String(f.lb), Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String("zonal_shift.config.enabled"), Value: aws.String("true")}},
	}); err != nil {
		t.Fatal(err)
	}
}

// zoneRequests is the last minute's RequestCount of each zone.
func (f *fleet) zoneRequests(t testing.TB) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, z := range f.net.zones {
		out[z], _ = f.lastMinute(t, "AWS/ApplicationELB", "RequestCount", cwtypes.StatisticSum, "AvailabilityZone", z, "LoadBalancer", f.lbDim())
	}
	return out
}

// overrides is each target's administrative override state, by zone.
func (f *fleet) overrides(t testing.TB) map[string][]elbtypes.TargetAdministrativeOverrideStateEnum {
	t.Helper()
	out := map[string][]elbtypes.TargetAdministrativeOverrideStateEnum{}
	for _, d := range f.targets(t, f.tg) {
		out[aws.ToString(d.Target.AvailabilityZone)] = append(out[aws.ToString(d.Target.AvailabilityZone)], d.AdministrativeOverride.State)
	}
	return out
}

func arcReason(err error) (conflict arctypes.ConflictExceptionReason, validation arctypes.ValidationExceptionReason) {
	var c *arctypes.ConflictException
	var v *arctypes.ValidationException
	if errors.As(err, &c) {
		conflict = c.Reason
	}
	if errors.As(err, &v) {
		validation = v.Reason
	}
	return conflict, validation
}

// TestZonalShiftMovesTrafficAway starts, updates and cancels a zonal shift
// of a load balancer through ARC. A load balancer is a managed resource
// only once its zonal_shift.config.enabled attribute is true; the shift
// takes the zone out of routing, its targets keep their health and report
// the administrative override, and one load balancer has one shift at a
// time ("You can start a zonal shift for a specific load balancer only for
// a single Availability Zone").
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/zonal-shift.html
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html
func TestZonalShiftMovesTrafficAway(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 24, instances: 4})
	f.createService(t, serviceOpts{name: "web", desired: 4, minHealthy: 100, max: 200})
	f.waitSteady(t, "web", 10*time.Minute)
	ctx := context.Background()
	api := arc.NewFromConfig(f.sim.Config())
	a, b := f.net.zones[0], f.net.zones[1]
	start := func(zone, expires string) (*arc.StartZonalShiftOutput, error) {
		return api.StartZonalShift(ctx, &arc.StartZonalShiftInput{
			ResourceIdentifier: aws.String(f.lb), AwayFrom: aws.String(f.sim.ZoneID(zone)), ExpiresIn: aws.String(expires), Comment: aws.String("gray failure"),
		})
	}
	var nf *arctypes.ResourceNotFoundException
	if _, err := start(a, "30m"); !errors.As(err, &nf) {
		t.Fatalf("shift of a load balancer without zonal shift enabled: %v, want ResourceNotFoundException", err)
	}
	f.enableZonalShift(t)
	if err := f.sim.SetTraffic(f.lb, 100); err != nil {
		t.Fatal(err)
	}
	mr, err := api.GetManagedResource(ctx, &arc.GetManagedResourceInput{ResourceIdentifier: aws.String(f.lb)})
	if err != nil || mr.AppliedWeights[f.sim.ZoneID(a)] != 1 || mr.AppliedWeights[f.sim.ZoneID(b)] != 1 || len(mr.ZonalShifts) != 0 {
		t.Fatalf("GetManagedResource before the shift: %+v, %v", mr, err)
	}
	began := f.sim.Now()
	zs, err := start(a, "30m")
	if err != nil {
		t.Fatal(err)
	}
	if zs.Status != arctypes.ZonalShiftStatusActive || aws.ToString(zs.AwayFrom) != f.sim.ZoneID(a) || !aws.ToTime(zs.ExpiryTime).Equal(began.Add(30*time.Minute)) {
		t.Fatalf("started shift %s away from %s until %s, want ACTIVE away from %s until %s", zs.Status, aws.ToString(zs.AwayFrom), aws.ToTime(zs.ExpiryTime), f.sim.ZoneID(a), began.Add(30*time.Minute))
	}
	if got := f.sim.ZonalShifts(f.lb); len(got) != 1 || got[0] != a {
		t.Fatalf("zones shifted away from %v, want [%s]", got, a)
	}
	if c, _ := arcReason(func() error { _, err := start(a, "1h"); return err }()); c != arctypes.ConflictExceptionReasonZonalShiftAlreadyExists {
		t.Fatalf("a second shift from the same zone: reason %q, want ZonalShiftAlreadyExists", c)
	}
	if c, _ := arcReason(func() error { _, err := start(b, "1h"); return err }()); c != arctypes.ConflictExceptionReasonSimultaneousZonalShiftsConflict {
		t.Fatalf("a shift from the other zone: reason %q, want SimultaneousZonalShiftsConflict", c)
	}
	f.sim.Advance(3 * time.Minute)
	// Targets keep their health; only traffic moves.
	if n := f.healthyTargets(t, f.tg); n != 4 {
		t.Fatalf("%d healthy targets during the shift, want 4", n)
	}
	if got := f.zoneRequests(t); got[a] != 0 || got[b] != 6000 {
		t.Fatalf("requests per zone during the shift %v, want all 6000 in %s", got, b)
	}
	if o := f.overrides(t); len(o[a]) != 2 || o[a][0] != elbtypes.TargetAdministrativeOverrideStateEnumZonalShiftActive || o[b][0] != elbtypes.TargetAdministrativeOverrideStateEnumNoOverride {
		t.Fatalf("administrative overrides %v, want zonal_shift_active in %s and no_override in %s", o, a, b)
	}
	mr, err = api.GetManagedResource(ctx, &arc.GetManagedResourceInput{ResourceIdentifier: aws.String(f.lb)})
	if err != nil || mr.AppliedWeights[f.sim.ZoneID(a)] != 0 || len(mr.ZonalShifts) != 1 || mr.ZonalShifts[0].AppliedStatus != arctypes.AppliedStatusApplied {
		t.Fatalf("GetManagedResource during the shift: %+v, %v", mr, err)
	}
	up, err := api.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: zs.ZonalShiftId, ExpiresIn: aws.String("2h")})
	if err != nil || !aws.ToTime(up.ExpiryTime).Equal(f.sim.Now().Add(2*time.Hour)) || aws.ToString(up.Comment) != "gray failure" {
		t.Fatalf("UpdateZonalShift: %+v, %v; want the expiry 2h from now and the comment kept", up, err)
	}
	if _, err := api.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: zs.ZonalShiftId}); err != nil {
		t.Fatal(err)
	}
	if got := f.sim.ZonalShifts(f.lb); len(got) != 0 {
		t.Fatalf("zonal shifts %v after cancelling it", got)
	}
	f.sim.Advance(time.Minute)
	if got := f.zoneRequests(t); got[a] != 3000 || got[b] != 3000 {
		t.Fatalf("requests per zone after the shift %v, want 3000 each", got)
	}
	if c, _ := arcReason(func() error {
		_, err := api.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: zs.ZonalShiftId})
		return err
	}()); c != arctypes.ConflictExceptionReasonZonalShiftStatusNotActive {
		t.Fatalf("cancelling a cancelled shift: reason %q, want ZonalShiftStatusNotActive", c)
	}
	list, err := api.ListZonalShifts(ctx, &arc.ListZonalShiftsInput{ResourceIdentifier: aws.String(f.lb), Status: arctypes.ZonalShiftStatusCanceled})
	if err != nil || len(list.Items) != 1 || aws.ToString(list.Items[0].ZonalShiftId) != aws.ToString(zs.ZonalShiftId) {
		t.Fatalf("ListZonalShifts CANCELED: %+v, %v", list, err)
	}
}

// TestZonalShiftExpiresIn holds ExpiresIn to its documented form, "a whole
// number, and then one of the following, with no space: m … h", with the
// page's own examples ("20h", "120m") and the 72-hour limit, and checks
// that a shift ends on its own at its expiry.
//
// https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html
func TestZonalShiftExpiresIn(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 26, instances: 2})
	f.enableZonalShift(t)
	ctx := context.Background()
	api := arc.NewFromConfig(f.sim.Config())
	a := f.sim.ZoneID(f.net.zones[0])
	for _, c := range []struct {
		expires string
		want    time.Duration
	}{
		{"20h", 20 * time.Hour}, {"120m", 2 * time.Hour}, {"1m", time.Minute}, {"72h", 72 * time.Hour}, {"4320m", 72 * time.Hour},
		{"73h", 0}, {"4321m", 0}, {"0m", 0}, {"20 h", 0}, {"1d", 0}, {"90s", 0}, {"h", 0},
	} {
		out, err := api.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String(f.lb), AwayFrom: aws.String(a), ExpiresIn: aws.String(c.expires), Comment: aws.String("")})
		if c.want == 0 {
			if _, v := arcReason(err); v != arctypes.ValidationExceptionReasonInvalidExpiresIn {
				t.Errorf("expiresIn %q: %v, want InvalidExpiresIn", c.expires, err)
			}
			continue
		}
		if err != nil || !aws.ToTime(out.ExpiryTime).Equal(f.sim.Now().Add(c.want)) {
			t.Errorf("expiresIn %q: %+v, %v; want an expiry %s from now", c.expires, out, err, c.want)
			continue
		}
		if _, err := api.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: out.ZonalShiftId}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		resource, zone string
		want           arctypes.ValidationExceptionReason
	}{
		{"prod-alb", a, arctypes.ValidationExceptionReasonInvalidResourceIdentifier},
		{f.lb, "use1-az9", arctypes.ValidationExceptionReasonInvalidAz},
		{f.lb, f.sim.ZoneID(f.sim.Zones()[2]), arctypes.ValidationExceptionReasonUnsupportedAz},
	} {
		_, err := api.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String(c.resource), AwayFrom: aws.String(c.zone), ExpiresIn: aws.String("1h"), Comment: aws.String("")})
		if _, v := arcReason(err); v != c.want {
			t.Errorf("shift of %s away from %s: %v, want %s", c.resource, c.zone, err, c.want)
		}
	}
	var nf *arctypes.ResourceNotFoundException
	if _, err := api.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: aws.String("00000000-0000-4000-8000-000000000000"), Comment: aws.String("x")}); !errors.As(err, &nf) {
		t.Errorf("updating an unknown shift: %v, want ResourceNotFoundException", err)
	}
	zs, err := api.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String(f.lb), AwayFrom: aws.String(a), ExpiresIn: aws.String("5m"), Comment: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	if _, v := arcReason(func() error {
		_, err := api.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: zs.ZonalShiftId})
		return err
	}()); v != arctypes.ValidationExceptionReasonMissingValue {
		t.Errorf("an update with nothing to update: %s, want MissingValue", v)
	}
	f.sim.Advance(5*time.Minute - time.Second)
	if got := f.sim.ZonalShifts(f.lb); len(got) != 1 {
		t.Fatalf("shift ended before its expiry: %v", got)
	}
	f.sim.Advance(time.Second)
	if got := f.sim.ZonalShifts(f.lb); len(got) != 0 {
		t.Fatalf("shift still active at its expiry: %v", got)
	}
	list, err := api.ListZonalShifts(ctx, &arc.ListZonalShiftsInput{Status: arctypes.ZonalShiftStatusExpired})
	if err != nil || len(list.Items) != 1 || aws.ToString(list.Items[0].ZonalShiftId) != aws.ToString(zs.ZonalShiftId) {
		t.Fatalf("ListZonalShifts EXPIRED: %+v, %v", list, err)
	}
	if c, _ := arcReason(func() error {
		_, err := api.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: zs.ZonalShiftId, ExpiresIn: aws.String("1h")})
		return err
	}()); c != arctypes.ConflictExceptionReasonZonalShiftStatusNotActive {
		t.Errorf("extending an expired shift: %s, want ZonalShiftStatusNotActive", c)
	}
}

// TestGroupZonalShift shifts an Auto Scaling group away from a zone. Its
// AvailabilityZoneImpairmentPolicy registers it with ARC; while the shift is
// active the group treats the zone as impaired: it launches only into the
// other zone and does not rebalance into it; once the shift ends it
// rebalances, launching into the zone before it terminates elsewhere.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html
// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AvailabilityZoneImpairmentPolicy.html
func TestGroupZonalShift(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 27})
	n := e.network(t)
	ctx := context.Background()
	create := func(name string, p *astypes.AvailabilityZoneImpairmentPolicy) error {
		_, err := e.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(10), DesiredCapacity: aws.Int32(2),
			VPCZoneIdentifier: aws.String(n.subnets[0] + "," + n.subnets[1]), AvailabilityZoneImpairmentPolicy: p,
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(n.launchTemplate), Version: aws.String("$Latest")},
		})
		return err
	}
	if err := create("no-behavior", &astypes.AvailabilityZoneImpairmentPolicy{ZonalShiftEnabled: aws.Bool(true)}); errCode(err) != "ValidationError" {
		t.Fatalf("zonal shift without a health check behavior: %v, want ValidationError", err)
	}
	if err := create("nodes", &astypes.AvailabilityZoneImpairmentPolicy{ZonalShiftEnabled: aws.Bool(true), ImpairedZoneHealthCheckBehavior: astypes.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy}); err != nil {
		t.Fatal(err)
	}
	g := e.describeGroup(t, "nodes")
	if p := g.AvailabilityZoneImpairmentPolicy; p == nil || !aws.ToBool(p.ZonalShiftEnabled) || p.ImpairedZoneHealthCheckBehavior != astypes.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy {
		t.Fatalf("impairment policy reported as %+v", p)
	}
	a, b := n.zones[0], n.zones[1]
	advanceUntil(t, e.sim, 10*time.Minute, "one instance in each zone", func() bool { return e.settled(t, "nodes", map[string]int{a: 1, b: 1}) })
	api := arc.NewFromConfig(e.sim.Config())
	zs, err := api.StartZonalShift(ctx, &arc.StartZonalShiftInput{
		ResourceIdentifier: g.AutoScalingGroupARN, AwayFrom: aws.String(e.sim.ZoneID(a)), ExpiresIn: aws.String("1h"), Comment: aws.String("evacuation"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("nodes"), DesiredCapacity: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 10*time.Minute, "the new instances in the other zone", func() bool { return e.settled(t, "nodes", map[string]int{a: 1, b: 3}) })
	// Nothing rebalances into the shifted zone while the shift is active.
	e.sim.Advance(20 * time.Minute)
	if !e.settled(t, "nodes", map[string]int{a: 1, b: 3}) {
		t.Fatalf("the group moved during the shift: %v", e.inService(t, "nodes"))
	}
	if _, err := api.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: zs.ZonalShiftId}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 30*time.Minute, "the group balanced again", func() bool { return e.settled(t, "nodes", map[string]int{a: 2, b: 2}) })
	// A group whose policy leaves zonal shift off is no managed resource.
	if err := create("plain", nil); err != nil {
		t.Fatal(err)
	}
	var nf *arctypes.ResourceNotFoundException
	if _, err := api.GetManagedResource(ctx, &arc.GetManagedResourceInput{ResourceIdentifier: e.describeGroup(t, "plain").AutoScalingGroupARN}); !errors.As(err, &nf) {
		t.Fatalf("GetManagedResource of a group without zonal shift: %v, want ResourceNotFoundException", err)
	}
}

// TestZonalShiftFailsOpen: with every target unhealthy the load balancer
// fails open and routes to all of them, the shifted zone's too: "When a
// Network Load Balancer or Application Load Balancer is in a fail open
// state, a zonal shift will have no effect."
//
// https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html
func TestZonalShiftFailsOpen(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 28, instances: 2})
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 100, max: 200, grace: 3600})
	f.waitSteady(t, "web", 10*time.Minute)
	f.enableZonalShift(t)
	if err := f.sim.SetTraffic(f.lb, 10); err != nil {
		t.Fatal(err)
	}
	a, b := f.net.zones[0], f.net.zones[1]
	if _, err := arc.NewFromConfig(f.sim.Config()).StartZonalShift(context.Background(), &arc.StartZonalShiftInput{
		ResourceIdentifier: aws.String(f.lb), AwayFrom: aws.String(f.sim.ZoneID(a)), ExpiresIn: aws.String("1h"), Comment: aws.String(""),
	}); err != nil {
		t.Fatal(err)
	}
	for _, z := range f.net.zones {
		if err := f.sim.DegradeZone(z, sim.ZoneDegradation{Failures: 1}); err != nil {
			t.Fatal(err)
		}
	}
	advanceUntil(t, f.sim, 5*time.Minute, "every target unhealthy", func() bool { return f.healthyTargets(t, f.tg) == 0 })
	f.sim.Advance(time.Minute)
	if got := f.zoneRequests(t); got[a] != 300 || got[b] != 300 {
		t.Fatalf("requests per zone failing open %v, want 300 each", got)
	}
	// Each zone's load balancer errors are reported by zone.
	for _, z := range f.net.zones {
		if v, ok := f.lastMinute(t, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", cwtypes.StatisticSum, "AvailabilityZone", z, "LoadBalancer", f.lbDim()); !ok || v != 300 {
			t.Errorf("HTTPCode_ELB_5XX_Count of %s = %v (%v), want 300", z, v, ok)
		}
	}
}
