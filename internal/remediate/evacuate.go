package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// beginEvacuation starts an evacuation decided on: it takes the service's
// capacity lease and the stack's one evacuation, shifts the group away
// from the zone so that it launches only into the healthy zone, and
// pre-scales the group by the instances the healthy zone lacks.
func (h *Handler) beginEvacuation(ctx context.Context, r *Run, g groupView, ids map[string]string, p plan, healthy []string) error {
	d := &r.Decision
	lease, err := h.Ledger.Acquire(ctx, serviceName(h.Stack), ledger.ScopeCapacity, d.ExecutionARN, leaseFor)
	var held *ledger.LockHeldError
	if errors.As(err, &held) {
		r.nothing("the service's capacity lease is held by %s until %s: no evacuation of %s", held.Owner, held.Expires.Format(time.RFC3339), d.Zone)
		return nil
	}
	if err != nil {
		return err
	}
	d.Lease = lease
	phase := PhasePreScale
	if h.Config.ConfirmPeriods > 0 {
		phase = PhaseConfirm
	}
	ev, err := h.Ledger.BeginEvacuation(ctx, ledger.Evacuation{
		Subject: h.Stack, Zone: d.Zone, ZoneID: ids[d.Zone], Healthy: strings.Join(healthy, ","), Alarm: d.Alarm,
		ExecutionARN: d.ExecutionARN, Phase: phase, GroupDesiredBefore: g.desired,
	})
	var active *ledger.EvacuationActiveError
	if errors.As(err, &active) {
		if rerr := h.Ledger.Release(ctx, lease); rerr != nil {
			return rerr
		}
		d.Lease = nil
		r.nothing("%s is being evacuated by %s since %s", active.Evacuation.Zone, active.Evacuation.ExecutionARN, active.Evacuation.StartedAt.Format(time.RFC3339))
		return nil
	}
	if err != nil {
		return err
	}
	r.Evacuation = ev
	r.Progress.PhaseSince = d.DecidedAt
	if phase == PhaseConfirm {
		r.Progress.Phase = PhaseConfirm
		r.Progress.Detail = fmt.Sprintf("confirming for %d periods that %s stays healthy before evacuating %s", h.Config.ConfirmPeriods, ev.Healthy, d.Zone)
		r.wait(1)
		return h.save(ctx, r, "evacuation to confirm")
	}
	return h.prescale(ctx, r, g, p, "evacuation begun")
}

// prescale makes an evacuation's first changes: the group shifted away
// from the zone, and grown for the tasks the healthy zones lack.
func (h *Handler) prescale(ctx context.Context, r *Run, g groupView, p plan, milestone string) error {
	ev := r.Evacuation
	if err := h.shift(ctx, r, g.arn); err != nil {
		return err
	}
	if p.extra > 0 {
		want := g.desired + int32(p.extra)
		if err := h.setDesired(ctx, want); err != nil {
			return err
		}
		ev.GroupDesiredSet = want
	}
	r.Progress.Phase = PhasePreScale
	r.Progress.Detail = fmt.Sprintf("pre-scaling %s: %d more instances for %d tasks", ev.Healthy, p.extra, p.moving)
	r.notify("ecsplane remediation of %s: %s", r.Decision.Alarm, r.Decision.Reason)
	r.wait(1)
	return h.save(ctx, r, milestone)
}

// shift starts a zonal shift of resource away from the evacuated zone,
// with the configured expiry, and keeps it in the evacuation.
func (h *Handler) shift(ctx context.Context, r *Run, resource string) error {
	ev := r.Evacuation
	out, err := h.Clients.ZonalShift.StartZonalShift(ctx, &arc.StartZonalShiftInput{
		ResourceIdentifier: aws.String(resource), AwayFrom: aws.String(ev.ZoneID), ExpiresIn: aws.String(expiresIn(h.Config.ShiftExpiry)),
		Comment: aws.String(shiftComment(ev)),
	})
	if err != nil {
		return fmt.Errorf("shifting %s away from %s: %w", resource, ev.Zone, err)
	}
	h.log().InfoContext(context.WithoutCancel(ctx), "started zonal shift", "resource", resource, "zone", ev.Zone, "zonal_shift_id", aws.ToString(out.ZonalShiftId))
	ev.Shifts = append(ev.Shifts, ledger.Shift{Resource: resource, ID: aws.ToString(out.ZonalShiftId), Expiry: aws.ToTime(out.ExpiryTime).UTC()})
	return nil
}

// shiftComment is a shift's comment, which ARC limits to 128 characters.
func shiftComment(ev *ledger.Evacuation) string {
	c := "ecsplane evacuation of " + ev.Zone + " on " + ev.Alarm
	if len(c) > 128 {
		c = c[:128]
	}
	return c
}

// expiresIn is d as zonal shift's ExpiresIn takes it: whole minutes.
func expiresIn(d time.Duration) string { return fmt.Sprintf("%dm", int(d/time.Minute)) }

// unshift cancels the evacuation's active shift of resource, if it has one.
// A shift that expired or was ended meanwhile counts as ended.
func (h *Handler) unshift(ctx context.Context, r *Run, resource string) error {
	for i, s := range r.Evacuation.Shifts {
		if s.Resource != resource || s.Ended {
			continue
		}
		if !s.Expiry.After(h.now()) {
			r.Evacuation.Shifts[i].Ended = true
			continue
		}
		_, err := h.Clients.ZonalShift.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: aws.String(s.ID)})
		if err != nil && !isShiftGone(err) {
			return fmt.Errorf("cancelling zonal shift %s of %s: %w", s.ID, resource, err)
		}
		h.log().InfoContext(ctx, "ended zonal shift", "resource", resource, "zonal_shift_id", s.ID)
		r.Evacuation.Shifts[i].Ended = true
	}
	return nil
}

// shifted reports whether the evacuation holds an active shift of
// resource.
func (r *Run) shifted(resource string, now time.Time) bool {
	return slices.ContainsFunc(r.Evacuation.Shifts, func(s ledger.Shift) bool {
		return s.Resource == resource && !s.Ended && s.Expiry.After(now)
	})
}

// extend renews the evacuation's active shifts once less than half of
// their expiry is left, and starts again the ones that expired: only while
// the zone is still impaired, which the caller decides.
func (h *Handler) extend(ctx context.Context, r *Run, resources ...string) error {
	now := h.now()
	for _, res := range resources {
		if !r.shifted(res, now) {
			for i, s := range r.Evacuation.Shifts {
				if s.Resource == res {
					r.Evacuation.Shifts[i].Ended = true
				}
			}
			if err := h.shift(ctx, r, res); err != nil {
				return err
			}
			continue
		}
		for i, s := range r.Evacuation.Shifts {
			if s.Resource != res || s.Ended || s.Expiry.Sub(now) > h.Config.ShiftExpiry/2 {
				continue
			}
			out, err := h.Clients.ZonalShift.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{
				ZonalShiftId: aws.String(s.ID), ExpiresIn: aws.String(expiresIn(h.Config.ShiftExpiry)),
			})
			if err != nil {
				return fmt.Errorf("extending zonal shift %s of %s: %w", s.ID, res, err)
			}
			r.Evacuation.Shifts[i].Expiry = aws.ToTime(out.ExpiryTime).UTC()
			h.log().InfoContext(ctx, "extended zonal shift", "resource", res, "zonal_shift_id", s.ID, "expiry", r.Evacuation.Shifts[i].Expiry)
		}
	}
	return nil
}

// setDesired sets the group's desired capacity.
func (h *Handler) setDesired(ctx context.Context, n int32) error {
	name := groupName(h.Stack)
	if _, err := h.Clients.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(n), HonorCooldown: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("setting the desired capacity of group %s to %d: %w", name, n, err)
	}
	h.log().InfoContext(ctx, "set the group's desired capacity", "group", name, "desired", n)
	return nil
}

// drain takes the zone's instances out of the group, decrementing its
// desired capacity, so that each one's terminate hook drains it through
// the lifecycle state machine: ECS starts its tasks' replacements on the
// healthy zone's instances before it stops them.
func (h *Handler) drain(ctx context.Context, r *Run, g groupView) error {
	ev := r.Evacuation
	desired := g.desired
	for _, i := range g.in(ev.Zone) {
		id := aws.ToString(i.InstanceId)
		if slices.Contains(ev.Terminated, id) {
			continue
		}
		// At its minimum the group replaces the instance instead, in the
		// healthy zone since the group is shifted away from this one.
		decrement := desired > g.min
		_, err := h.Clients.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(decrement),
		})
		if decrement {
			desired--
		}
		if err != nil {
			return fmt.Errorf("taking instance %s of %s out of group %s: %w", id, ev.Zone, g.name, err)
		}
		h.log().InfoContext(ctx, "took instance out of the group", "instance_id", id, "zone", ev.Zone)
		ev.Terminated = append(ev.Terminated, id)
	}
	return nil
}

// Check is one round of an evacuation: it moves it through its phases as
// the stack allows, and otherwise asks for another round.
func (h *Handler) Check(ctx context.Context, r *Run) (*Run, error) {
	now := h.now()
	r.Progress.Round++
	r.Progress.CheckedAt, r.Progress.Notify, r.Progress.Notice = now, false, ""
	if err := h.keepLease(ctx, r); err != nil {
		return nil, err
	}
	g, err := h.group(ctx)
	if err != nil {
		return nil, err
	}
	f, err := h.readFleet(ctx)
	if err != nil {
		return nil, err
	}
	alarms, err := h.zoneAlarms(ctx, g.zones)
	if err != nil {
		return nil, err
	}
	lb, err := h.loadBalancerARN(ctx)
	if err != nil {
		return nil, err
	}
	ev := r.Evacuation
	healthy := strings.Split(ev.Healthy, ",")
	late := now.Sub(r.Progress.PhaseSince) > h.Config.PhaseDeadline
	if ev.Phase == PhaseConfirm {
		return r, h.confirm(ctx, r, g, f, alarms)
	}
	if ev.Phase != PhaseRebalance {
		// Never keep traffic and capacity on a zone that turned unhealthy
		// too: the evacuation is given up, and the data plane keeps both
		// zones.
		if sick := unhealthy(healthy, alarms, f); len(sick) > 0 {
			if err := h.unshift(ctx, r, lb); err != nil {
				return nil, err
			}
			return r, h.abort(ctx, r, g, fmt.Sprintf("never evacuate both zones: %s is unhealthy too", strings.Join(sick, ", ")))
		}
	}
	switch ev.Phase {
	case PhasePreScale:
		c := f.in(healthy...)
		moving := max(int(f.desired)-c.tasks, 0)
		if c.free >= moving {
			if err := h.drain(ctx, r, g); err != nil {
				return nil, err
			}
			return r, h.next(ctx, r, PhaseDrain, fmt.Sprintf("%s has %d free slots for %d tasks: draining %s's %d instances", ev.Healthy, c.free, moving, ev.Zone, len(ev.Terminated)))
		}
		if late {
			return r, h.abort(ctx, r, g, fmt.Sprintf("%s got %d free slots of the %d needed within %s", ev.Healthy, c.free, moving, h.Config.PhaseDeadline))
		}
		r.Progress.Detail = fmt.Sprintf("pre-scaling %s: %d free slots of %d; tasks %s", ev.Healthy, c.free, moving, f.perZone(g.zones))
	case PhaseDrain:
		c := f.in(healthy...)
		if c.healthy >= int(f.desired) {
			if err := h.shift(ctx, r, lb); err != nil {
				return nil, err
			}
			r.notify("ecsplane remediation: %s evacuated; %d healthy tasks in %s serve all traffic", ev.Zone, c.healthy, ev.Healthy)
			return r, h.next(ctx, r, PhaseEvacuated, fmt.Sprintf("%s serves the desired %d from healthy targets: traffic shifted away from %s", ev.Healthy, f.desired, ev.Zone))
		}
		if late {
			return r, h.abort(ctx, r, g, fmt.Sprintf("%s had %d healthy tasks of %d after %s", ev.Healthy, c.healthy, f.desired, h.Config.PhaseDeadline))
		}
		r.Progress.Detail = fmt.Sprintf("draining %s: %d healthy of %d in %s; tasks %s", ev.Zone, c.healthy, f.desired, ev.Healthy, f.perZone(g.zones))
	case PhaseEvacuated:
		ok, why := okFor(alarms[ev.Zone], h.Config.RestoreOKPeriods, now)
		if !ok {
			if err := h.extend(ctx, r, g.arn, lb); err != nil {
				return nil, err
			}
			r.Progress.Detail = fmt.Sprintf("%s is evacuated: %s", ev.Zone, why)
			break
		}
		// Capacity returns first while the load balancer still sends the
		// zone nothing; its targets' health checks show whether it is
		// healthy before it gets traffic again.
		if err := h.unshift(ctx, r, g.arn); err != nil {
			return nil, err
		}
		return r, h.next(ctx, r, PhaseProbe, fmt.Sprintf("%s's alarms have been OK for %d periods: capacity returns to it, traffic not yet", ev.Zone, h.Config.RestoreOKPeriods))
	case PhaseProbe:
		if a := alarming(alarms[ev.Zone]); len(a) > 0 {
			if err := h.extend(ctx, r, g.arn, lb); err != nil {
				return nil, err
			}
			if err := h.drain(ctx, r, g); err != nil {
				return nil, err
			}
			r.notify("ecsplane remediation: %s is impaired again (%s); evacuated again", ev.Zone, strings.Join(a, ", "))
			return r, h.next(ctx, r, PhaseDrain, fmt.Sprintf("%s is impaired again (%s): evacuating it again", ev.Zone, strings.Join(a, ", ")))
		}
		zc, share := f.in(ev.Zone), int(f.desired)/len(g.zones)
		if zc.healthy >= share && zc.healthy > 0 {
			if err := h.unshift(ctx, r, lb); err != nil {
				return nil, err
			}
			return r, h.next(ctx, r, PhaseRebalance, fmt.Sprintf("%s has %d healthy tasks: traffic returns to it", ev.Zone, zc.healthy))
		}
		r.Progress.Detail = fmt.Sprintf("capacity returns to %s: %d healthy tasks of %d; tasks %s", ev.Zone, zc.healthy, share, f.perZone(g.zones))
	case PhaseRebalance:
		if balanced(f, g.zones) {
			return r, h.restored(ctx, r, g, f)
		}
		if late {
			return r, h.restored(ctx, r, g, f)
		}
		r.Progress.Detail = fmt.Sprintf("rebalancing: tasks %s", f.perZone(g.zones))
	default:
		return nil, fmt.Errorf("evacuation of %s is in phase %q, which check does not know", ev.Zone, ev.Phase)
	}
	r.wait(1)
	return r, h.save(ctx, r, "")
}

// keepLease renews the run's capacity lease, so that its fencing token
// stays the one a failed round's record releases; one that lapsed is taken
// again unless another holds it.
func (h *Handler) keepLease(ctx context.Context, r *Run) error {
	d := &r.Decision
	if d.Lease != nil {
		lease, err := h.Ledger.Renew(ctx, d.Lease, leaseFor)
		if err == nil {
			d.Lease = lease
			return nil
		}
		if !errors.Is(err, ledger.ErrNotOwner) {
			return err
		}
	}
	lease, err := h.Ledger.Acquire(ctx, serviceName(h.Stack), ledger.ScopeCapacity, d.ExecutionARN, leaseFor)
	if err != nil {
		return fmt.Errorf("keeping the service's capacity lease: %w", err)
	}
	d.Lease = lease
	return nil
}

// balanced reports whether the service's tasks are all healthy and spread
// across the zones within one of each other.
func balanced(f *fleet, zones []string) bool {
	lo, hi, healthy := int(^uint(0)>>1), 0, 0
	for _, z := range zones {
		c := f.in(z)
		lo, hi, healthy = min(lo, c.tasks), max(hi, c.tasks), healthy+c.healthy
	}
	return hi-lo <= 1 && healthy >= int(f.desired) && len(f.tasks) == int(f.desired)
}

// next moves the evacuation to phase and asks for another round.
func (h *Handler) next(ctx context.Context, r *Run, phase, detail string) error {
	r.Progress.Phase, r.Progress.PhaseSince, r.Progress.Detail = phase, r.Progress.CheckedAt, detail
	r.wait(1)
	return h.save(ctx, r, detail)
}

// save writes the evacuation with its phase and, when milestone is set,
// records it as an audit item.
func (h *Handler) save(ctx context.Context, r *Run, milestone string) error {
	r.Evacuation.Phase = r.Progress.Phase
	if err := h.Ledger.SaveEvacuation(ctx, *r.Evacuation); err != nil {
		return err
	}
	if milestone == "" {
		return nil
	}
	_, err := h.Ledger.RecordAction(ctx, ledger.Action{
		Subject: h.Stack, Kind: ledger.KindRemediation, Action: "evacuation", Outcome: r.Progress.Phase, Reason: milestone,
		ExecutionARN: r.Decision.ExecutionARN, Detail: evacuationDetail(r),
	})
	return err
}

// confirm is a round of an evacuation that has changed nothing yet: it
// ends without a change when the other zone turns out unhealthy too or the
// zone's alarms clear, and makes the first changes once the other zone has
// stayed healthy for the configured periods.
func (h *Handler) confirm(ctx context.Context, r *Run, g groupView, f *fleet, alarms map[string][]alarmState) error {
	ev := r.Evacuation
	healthy := strings.Split(ev.Healthy, ",")
	sick, err := h.sick(ctx, healthy, alarms, f)
	if err != nil {
		return err
	}
	if len(sick) > 0 {
		why := fmt.Sprintf("no evacuation: %s is unhealthy but so is %s; the data plane keeps both zones", ev.Zone, strings.Join(sick, ", "))
		r.notify("ecsplane remediation of %s: %s", r.Decision.Alarm, why)
		return h.end(ctx, r, OutcomeNotified, why)
	}
	a := alarming(alarms[ev.Zone])
	if len(a) == 0 {
		return h.end(ctx, r, OutcomeNothing, fmt.Sprintf("no evacuation: %s's alarms cleared while confirming", ev.Zone))
	}
	period := time.Minute
	for _, s := range alarms[ev.Zone] {
		period = max(period, s.Period)
	}
	held := r.Progress.CheckedAt.Sub(r.Progress.PhaseSince)
	if wait := time.Duration(h.Config.ConfirmPeriods) * period; held < wait {
		r.Progress.Detail = fmt.Sprintf("confirming: %s healthy for %s of %s; %s in ALARM", ev.Healthy, held.Round(time.Second), wait, strings.Join(a, ", "))
		r.wait(1)
		return nil
	}
	p := h.plan(g, f, ev.Zone, healthy)
	if p.problem != "" {
		why := fmt.Sprintf("no evacuation: %s cannot be evacuated: %s", ev.Zone, p.problem)
		r.notify("ecsplane remediation of %s: %s", r.Decision.Alarm, why)
		return h.end(ctx, r, OutcomeNotified, why)
	}
	r.Progress.PhaseSince = r.Progress.CheckedAt
	return h.prescale(ctx, r, g, p, fmt.Sprintf("evacuation begun: %s stayed healthy for %d periods", ev.Healthy, h.Config.ConfirmPeriods))
}

// abort gives an evacuation up: it ends the group's shift (the caller the
// load balancer's, once traffic moved) and returns the group's desired
// capacity to what it was, within its bounds, and notifies.
func (h *Handler) abort(ctx context.Context, r *Run, g groupView, why string) error {
	if err := h.unshift(ctx, r, g.arn); err != nil {
		return err
	}
	if err := h.scaleBack(ctx, r, g); err != nil {
		return err
	}
	r.notify("ecsplane remediation: the evacuation of %s is given up: %s", r.Evacuation.Zone, why)
	return h.end(ctx, r, OutcomeAborted, "evacuation given up: "+why)
}

// restored ends an evacuation once the zone serves again.
func (h *Handler) restored(ctx context.Context, r *Run, g groupView, f *fleet) error {
	if err := h.shrink(ctx, r, g, f); err != nil {
		return err
	}
	r.notify("ecsplane remediation: %s restored; tasks %s", r.Evacuation.Zone, f.perZone(g.zones))
	return h.end(ctx, r, OutcomeRestored, fmt.Sprintf("%s restored: tasks %s", r.Evacuation.Zone, f.perZone(g.zones)))
}

// shrink returns the group to its count before the evacuation, within its
// bounds, once the zone is restored. A lower desired capacity would let
// Auto Scaling choose which instances go, and it may take the restored
// zone's only instance, whose task has just returned there. So shrink
// takes the instances surplus chooses out itself, decrementing the desired
// capacity; each one's terminate hook drains it. Whatever cannot go that
// way stays, for managed scaling to scale in.
func (h *Handler) shrink(ctx context.Context, r *Run, g groupView, f *fleet) error {
	ev := r.Evacuation
	want := min(max(ev.GroupDesiredBefore, g.min), g.max)
	desired := g.desired
	for _, i := range surplus(g, f, want) {
		id, zone := aws.ToString(i.InstanceId), aws.ToString(i.AvailabilityZone)
		if _, err := h.Clients.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true),
		}); err != nil {
			return fmt.Errorf("taking instance %s of %s out of group %s: %w", id, zone, g.name, err)
		}
		h.log().InfoContext(ctx, "took instance out of the group", "instance_id", id, "zone", zone, "why", "restore")
		ev.Terminated = append(ev.Terminated, id)
		desired--
	}
	ev.GroupDesiredAfter = desired
	return nil
}

// surplus chooses the InService instances that take the group from its
// desired capacity down to want: each from the zone that has the most
// left, an instance running none of the service's tasks first, and never
// a zone's last.
func surplus(g groupView, f *fleet, want int32) []astypes.Instance {
	empty := map[string]bool{}
	for _, ci := range f.instances {
		empty[ci.ec2ID] = ci.free == ci.size
	}
	left := map[string][]astypes.Instance{}
	for _, i := range g.instances {
		if i.LifecycleState == astypes.LifecycleStateInService {
			z := aws.ToString(i.AvailabilityZone)
			left[z] = append(left[z], i)
		}
	}
	var out []astypes.Instance
	for desired := g.desired; desired > want; desired-- {
		zone := ""
		for _, z := range g.zones {
			if len(left[z]) > 1 && (zone == "" || len(left[z]) > len(left[zone])) {
				zone = z
			}
		}
		if zone == "" {
			break
		}
		is := left[zone]
		slices.SortStableFunc(is, func(a, b astypes.Instance) int {
			return cmpBool(empty[aws.ToString(b.InstanceId)], empty[aws.ToString(a.InstanceId)])
		})
		out, left[zone] = append(out, is[0]), is[1:]
	}
	return out
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// scaleBack returns the group's desired capacity to its count before the
// evacuation when it is above it, within the group's bounds; the service's
// desired count remediation never changed. The evacuation keeps the count
// it left.
func (h *Handler) scaleBack(ctx context.Context, r *Run, g groupView) error {
	want := min(max(r.Evacuation.GroupDesiredBefore, g.min), g.max)
	if g.desired <= want {
		r.Evacuation.GroupDesiredAfter = g.desired
		return nil
	}
	if err := h.setDesired(ctx, want); err != nil {
		return err
	}
	r.Evacuation.GroupDesiredAfter = want
	return nil
}

// end ends the evacuation with outcome, and the run with it.
func (h *Handler) end(ctx context.Context, r *Run, outcome, detail string) error {
	r.Evacuation.EndedAt, r.Evacuation.Outcome = r.Progress.CheckedAt, outcome
	r.Progress.Phase = PhaseEnded
	r.done(outcome, detail)
	return h.save(ctx, r, detail)
}

// evacuationDetail is what an evacuation's audit items show.
func evacuationDetail(r *Run) map[string]string {
	ev := r.Evacuation
	d := map[string]string{"zone": ev.Zone, "healthy_zone": ev.Healthy, "alarm": ev.Alarm, "phase": ev.Phase,
		"group_desired_before": fmt.Sprint(ev.GroupDesiredBefore), "round": fmt.Sprint(r.Progress.Round),
		"at": r.Progress.CheckedAt.Format(time.RFC3339), "alarm_at": r.Decision.StateAt.Format(time.RFC3339)}
	if ev.GroupDesiredSet > 0 {
		d["group_desired_set"] = fmt.Sprint(ev.GroupDesiredSet)
	}
	if ev.GroupDesiredAfter > 0 {
		d["group_desired_after"] = fmt.Sprint(ev.GroupDesiredAfter)
	}
	if len(ev.Terminated) > 0 {
		d["instances_drained"] = strings.Join(ev.Terminated, ",")
	}
	var shifts []string
	for _, s := range ev.Shifts {
		state := "active until " + s.Expiry.Format(time.RFC3339)
		if s.Ended {
			state = "ended"
		}
		shifts = append(shifts, fmt.Sprintf("%s %s (%s)", s.ID, s.Resource, state))
	}
	if len(shifts) > 0 {
		d["shifts"] = strings.Join(shifts, "; ")
	}
	return d
}

// isShiftGone reports whether ARC no longer has the shift active.
func isShiftGone(err error) bool {
	var nf interface{ ErrorCode() string }
	if errors.As(err, &nf) {
		switch nf.ErrorCode() {
		case "ResourceNotFoundException", "ConflictException":
			return true
		}
	}
	return false
}
