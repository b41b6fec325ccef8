// Package drill runs a chaos drill against a real stack, with reversible,
// documented AWS mechanisms only, and measures how the stack and its
// control plane recover:
//
//   - az-outage starts an ARC zonal shift of the stack's load balancer
//     away from a zone, with an expiry, watches the targets, and cancels
//     the shift at the end, on an error or on Ctrl-C; if nothing cancels
//     it, it expires.
//     https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.how-it-works.html
//   - instance-loss terminates one of the group's InService instances
//     without decrementing the desired capacity, so that Auto Scaling
//     launches a replacement; the terminate lifecycle hook lets the
//     control plane drain it first.
//     https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html
//
// gray-failure and bad-image have no such mechanism, and are refused
// before any call.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// ARCAPI is the part of ARC zonal shift a drill calls.
type ARCAPI interface {
	StartZonalShift(ctx context.Context, in *arc.StartZonalShiftInput, optFns ...func(*arc.Options)) (*arc.StartZonalShiftOutput, error)
	CancelZonalShift(ctx context.Context, in *arc.CancelZonalShiftInput, optFns ...func(*arc.Options)) (*arc.CancelZonalShiftOutput, error)
}

// AutoScalingAPI is the part of Auto Scaling a drill calls.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
}

// ELBAPI is the part of Elastic Load Balancing a drill calls.
type ELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, optFns ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, optFns ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elb.DescribeTargetHealthInput, optFns ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
}

// EC2API is the part of EC2 a drill calls.
type EC2API interface {
	DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
}

var (
	_ ARCAPI         = (*arc.Client)(nil)
	_ AutoScalingAPI = (*autoscaling.Client)(nil)
	_ ELBAPI         = (*elb.Client)(nil)
	_ EC2API         = (*ec2.Client)(nil)
)

// Clients are the drill's AWS clients.
type Clients struct {
	ARC         ARCAPI
	AutoScaling AutoScalingAPI
	ELB         ELBAPI
	EC2         EC2API
}

// NewClients builds the clients from cfg.
func NewClients(cfg aws.Config) Clients {
	return Clients{ARC: arc.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), ELB: elb.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg)}
}

// Options are a drill's settings.
type Options struct {
	// Stack is the stack's name; Zone the Availability Zone the failure
	// hits, by name.
	Stack, Zone string
	// Hold is how long az-outage keeps the zone shifted away while it
	// watches; the shift's expiry is Hold and a margin, so that it ends
	// on its own if the drill cannot cancel it.
	Hold time.Duration
	// Wait bounds each wait for a recovery.
	Wait time.Duration
	// Interval is the time between two looks at the stack.
	Interval time.Duration
	// Out receives what the drill does and sees.
	Out io.Writer
}

// expiryMargin is added to the hold for the shift's expiry.
const expiryMargin = 10 * time.Minute

// RefusedError is a drill that has no reversible, documented mechanism on
// AWS; nothing was called.
type RefusedError struct{ Drill, Why string }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("drill %s against AWS is refused: %s", e.Drill, e.Why)
}

// Refusals say why a drill cannot run against AWS.
var Refusals = map[string]string{
	"gray-failure": "AWS has no reversible, documented way to make a zone's targets fail a share of their checks while its instances pass theirs, short of AWS Fault Injection Service's network actions, which ecsplane does not drive; run it locally, or use az-outage, which shifts the zone's traffic away as an evacuation would",
	"bad-image":    "it needs an image that fails, pushed under a new tag: ECR's PutImage takes only a manifest whose layers the repository already holds, and ecsplane builds no images, so it cannot make one without overwriting a real tag; push a failing image of your own under a new tag (its rollout is the drill), or run it locally",
}

// Plan is a drill that is ready to run: what it found, and what it will
// do.
type Plan struct {
	Drill string
	// Steps say what the drill will do, in order, before it does it.
	Steps []string

	c      Clients
	o      Options
	zoneID string
	lb, tg string
	group  string
	victim string
}

// Prepare finds the stack's resources the drill acts on and says what it
// will do; it changes nothing.
func Prepare(ctx context.Context, c Clients, name string, o Options) (*Plan, error) {
	if why, ok := Refusals[name]; ok {
		return nil, &RefusedError{Drill: name, Why: why}
	}
	if name != "az-outage" && name != "instance-loss" {
		return nil, fmt.Errorf("unknown drill %q", name)
	}
	spec := stack.Spec{Name: o.Stack}
	p := &Plan{Drill: name, c: c, o: o, group: compute.GroupName(spec)}
	var err error
	if p.lb, p.tg, err = p.ingress(ctx, spec); err != nil {
		return nil, err
	}
	switch name {
	case "az-outage":
		zs, err := c.EC2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{o.Zone}})
		if err != nil {
			return nil, fmt.Errorf("finding zone %s: %w", o.Zone, err)
		}
		if len(zs.AvailabilityZones) != 1 {
			return nil, fmt.Errorf("zone %s not found", o.Zone)
		}
		p.zoneID = aws.ToString(zs.AvailabilityZones[0].ZoneId)
		p.Steps = []string{
			fmt.Sprintf("StartZonalShift: shift load balancer %s away from %s (%s), expiring in %s", p.lb, o.Zone, p.zoneID, (o.Hold + expiryMargin).Round(time.Minute)),
			fmt.Sprintf("watch target group %s every %s for %s: the targets serving traffic and their health", p.tg, o.Interval, o.Hold),
			"CancelZonalShift at the end, on an error or on Ctrl-C (else it expires on its own)",
			fmt.Sprintf("watch until %s's targets serve again, at most %s", o.Zone, o.Wait),
		}
	case "instance-loss":
		g, err := p.groupInstances(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range slices.Sorted(maps.Keys(g)) {
			if g[id] == o.Zone {
				p.victim = id
				break
			}
		}
		if p.victim == "" {
			return nil, fmt.Errorf("group %s has no InService instance in %s", p.group, o.Zone)
		}
		p.Steps = []string{
			fmt.Sprintf("TerminateInstanceInAutoScalingGroup: terminate %s in %s from group %s, without decrementing its desired capacity: Auto Scaling replaces it, the terminate hook drains it first", p.victim, o.Zone, p.group),
			fmt.Sprintf("watch every %s until a replacement is InService and %s has as many healthy targets as before, at most %s", o.Interval, o.Zone, o.Wait),
		}
	}
	return p, nil
}

func (p *Plan) ingress(ctx context.Context, spec stack.Spec) (lb, tg string, err error) {
	lbs, err := p.c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{ingress.LoadBalancerName(spec)}})
	if err != nil || len(lbs.LoadBalancers) == 0 {
		return "", "", fmt.Errorf("finding the stack's load balancer %s: %w", ingress.LoadBalancerName(spec), errors.Join(err, errNotFound))
	}
	tgs, err := p.c.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{ingress.TargetGroupName(spec)}})
	if err != nil || len(tgs.TargetGroups) == 0 {
		return "", "", fmt.Errorf("finding the stack's target group %s: %w", ingress.TargetGroupName(spec), errors.Join(err, errNotFound))
	}
	return aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn), aws.ToString(tgs.TargetGroups[0].TargetGroupArn), nil
}

var errNotFound = errors.New("not found")

// Result is what a drill measured, in seconds of wall time.
type Result struct {
	Figures map[string]float64
	// Samples are the looks at the targets, one line each.
	Samples []string
	// UnhealthyServing counts the looks at which a target serving traffic
	// was unhealthy; NoHealthy those at which none was healthy.
	UnhealthyServing, NoHealthy int
}

// Run does what the plan says, watching and measuring as it goes, and
// undoes what can be undone (the zonal shift) however it ends.
func (p *Plan) Run(ctx context.Context) (*Result, error) {
	res := &Result{Figures: map[string]float64{}}
	switch p.Drill {
	case "az-outage":
		return res, p.azOutage(ctx, res)
	default:
		return res, p.instanceLoss(ctx, res)
	}
}

func (p *Plan) azOutage(ctx context.Context, res *Result) (err error) {
	expiry := p.o.Hold + expiryMargin
	start := time.Now()
	out, err := p.c.ARC.StartZonalShift(ctx, &arc.StartZonalShiftInput{
		ResourceIdentifier: aws.String(p.lb), AwayFrom: aws.String(p.zoneID), ExpiresIn: aws.String(fmt.Sprintf("%dm", int(math.Ceil(expiry.Minutes())))),
		Comment: aws.String("ecsplane drill az-outage"),
	})
	if err != nil {
		return fmt.Errorf("starting the zonal shift: %w", err)
	}
	id := aws.ToString(out.ZonalShiftId)
	fmt.Fprintf(p.o.Out, "    started zonal shift %s away from %s, expires %s\n", id, p.o.Zone, aws.ToTime(out.ExpiryTime).Format(time.RFC3339))
	cancelled := false
	cancel := func() error {
		if cancelled {
			return nil
		}
		cancelled = true
		// Ctrl-C cancels ctx; the shift must end all the same.
		_, err := p.c.ARC.CancelZonalShift(context.WithoutCancel(ctx), &arc.CancelZonalShiftInput{ZonalShiftId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("cancelling zonal shift %s (it expires on its own at %s): %w", id, aws.ToTime(out.ExpiryTime).Format(time.RFC3339), err)
		}
		fmt.Fprintf(p.o.Out, "    cancelled zonal shift %s\n", id)
		return nil
	}
	defer func() { err = errors.Join(err, cancel()) }()
	if err := p.watch(ctx, res, p.o.Hold, func(s look) bool {
		if s.shifted[p.o.Zone] > 0 && s.serving[p.o.Zone] == 0 {
			setOnce(res.Figures, "traffic_shifted_after_s", time.Since(start))
		}
		return false
	}); err != nil && !errors.Is(err, errWatchEnded) {
		return err
	}
	if err := cancel(); err != nil {
		return err
	}
	ended := time.Now()
	err = p.watch(ctx, res, p.o.Wait, func(s look) bool {
		back := s.shifted[p.o.Zone] == 0 && s.serving[p.o.Zone] > 0 && s.serving[p.o.Zone] == s.healthy[p.o.Zone]
		if back {
			setOnce(res.Figures, "traffic_returned_after_s", time.Since(ended))
		}
		return back
	})
	if errors.Is(err, errWatchEnded) {
		return fmt.Errorf("%s's targets did not serve again within %s of the shift's end", p.o.Zone, p.o.Wait)
	}
	return err
}

func (p *Plan) instanceLoss(ctx context.Context, res *Result) error {
	before, err := p.look(ctx)
	if err != nil {
		return err
	}
	instances, err := p.groupInstances(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := p.c.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(p.victim), ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("terminating %s: %w", p.victim, err)
	}
	fmt.Fprintf(p.o.Out, "    terminated %s in %s; the group keeps its desired capacity\n", p.victim, p.o.Zone)
	replaced := false
	err = p.watch(ctx, res, p.o.Wait, func(s look) bool {
		if !replaced {
			now, err := p.groupInstances(ctx)
			if err != nil {
				return false
			}
			for id := range now {
				if _, old := instances[id]; !old {
					replaced = true
					setOnce(res.Figures, "replaced_after_s", time.Since(start))
				}
			}
		}
		back := replaced && s.healthy[p.o.Zone] >= before.healthy[p.o.Zone]
		if back {
			setOnce(res.Figures, "targets_restored_after_s", time.Since(start))
		}
		return back
	})
	if errors.Is(err, errWatchEnded) {
		return fmt.Errorf("no replacement InService with %s's %d healthy targets back within %s", p.o.Zone, before.healthy[p.o.Zone], p.o.Wait)
	}
	return err
}

// groupInstances are the group's InService instances and their zones.
func (p *Plan) groupInstances(ctx context.Context) (map[string]string, error) {
	out, err := p.c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{p.group}})
	if err != nil || len(out.AutoScalingGroups) == 0 {
		return nil, fmt.Errorf("finding the stack's group %s: %w", p.group, errors.Join(err, errNotFound))
	}
	m := map[string]string{}
	for _, i := range out.AutoScalingGroups[0].Instances {
		if i.LifecycleState == "InService" {
			m[aws.ToString(i.InstanceId)] = aws.ToString(i.AvailabilityZone)
		}
	}
	return m, nil
}

// look is the target group's targets by zone: those the load balancer
// judges for traffic (healthy, unhealthy or unavailable, and not shifted
// away) and how many of them are healthy, and those a zonal shift keeps
// from traffic. Targets still in their initial checks, draining or unused
// get no traffic.
type look struct{ serving, healthy, shifted map[string]int }

func (p *Plan) look(ctx context.Context) (look, error) {
	out, err := p.c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(p.tg)})
	if err != nil {
		return look{}, fmt.Errorf("describing the targets' health: %w", err)
	}
	l := look{serving: map[string]int{}, healthy: map[string]int{}, shifted: map[string]int{}}
	for _, d := range out.TargetHealthDescriptions {
		zone, st := aws.ToString(d.Target.AvailabilityZone), d.TargetHealth.State
		switch {
		case d.AdministrativeOverride != nil && d.AdministrativeOverride.State == elbtypes.TargetAdministrativeOverrideStateEnumZonalShiftActive:
			l.shifted[zone]++
		case st == elbtypes.TargetHealthStateEnumHealthy:
			l.serving[zone]++
			l.healthy[zone]++
		case st == elbtypes.TargetHealthStateEnumUnhealthy || st == elbtypes.TargetHealthStateEnumUnavailable:
			l.serving[zone]++
		}
	}
	return l, nil
}

var errWatchEnded = errors.New("the watch ended")

// watch looks at the targets every interval for at most d, printing and
// counting each look, until done reports true; errWatchEnded when d ran
// out first.
func (p *Plan) watch(ctx context.Context, res *Result, d time.Duration, done func(look) bool) error {
	end := time.Now().Add(d)
	for {
		l, err := p.look(ctx)
		if err != nil {
			return err
		}
		var parts []string
		serving, healthy := 0, 0
		for _, z := range slices.Sorted(maps.Keys(mergeKeys(l.serving, l.shifted))) {
			parts = append(parts, fmt.Sprintf("%s %d/%d healthy serving, %d shifted away", z, l.healthy[z], l.serving[z], l.shifted[z]))
			serving, healthy = serving+l.serving[z], healthy+l.healthy[z]
		}
		if healthy < serving {
			res.UnhealthyServing++
		}
		if healthy == 0 {
			res.NoHealthy++
		}
		line := strings.Join(parts, "; ")
		res.Samples = append(res.Samples, line)
		fmt.Fprintf(p.o.Out, "    %s  %s\n", time.Now().UTC().Format(time.TimeOnly), line)
		if done(l) {
			return nil
		}
		if time.Now().After(end) {
			return errWatchEnded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.o.Interval):
		}
	}
}

func mergeKeys(a, b map[string]int) map[string]int {
	m := maps.Clone(a)
	for k, v := range b {
		m[k] += v
	}
	return m
}

func setOnce(m map[string]float64, k string, d time.Duration) {
	if _, ok := m[k]; !ok {
		m[k] = d.Round(time.Millisecond).Seconds()
	}
}
