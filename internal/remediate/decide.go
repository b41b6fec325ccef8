package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"golang.org/x/sync/errgroup"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

const (
	claimPrefix = "remediate:"
	// claimFor is how long a claim on a state change holds while its
	// execution has not recorded it; a decision takes seconds.
	claimFor = time.Hour
	// leaseFor is how long the capacity lease holds between two renewals;
	// every round renews it.
	leaseFor = 30 * time.Minute
)

// Decide reads an alarm state change and applies the Policy to it. It
// refuses an event of another stack's alarm, or a malformed one, before any
// change. An evacuation's first change, the zonal shift of the group, is
// made here; everything else the decision does is in the run it returns.
func (h *Handler) Decide(ctx context.Context, raw json.RawMessage, execution string, pollSeconds int) (*Run, error) {
	ev, err := events.ParseAlarmStateChange(raw)
	if err != nil {
		return nil, err
	}
	if execution == "" {
		return nil, handlererr.Invalid("executionArn is missing: the claim on the state change needs an owner")
	}
	d := ev.Detail
	// The name's shape is checked before any call; a zone alarm's zone
	// against the group's zones.
	if _, _, ok := zoneAlarm(h.Stack, d.AlarmName); !ok {
		if _, err := classify(h.Stack, d.AlarmName, nil); err != nil {
			return nil, err
		}
	}
	at, _ := time.Parse("2006-01-02T15:04:05.000-0700", d.State.Timestamp)
	if at.IsZero() {
		at, _ = time.Parse(time.RFC3339Nano, d.State.Timestamp)
	}
	run := &Run{Decision: Decision{
		Alarm: d.AlarmName, State: d.State.Value, StateAt: at.UTC(), EventID: ev.ID, ExecutionARN: execution, PollSeconds: max(pollSeconds, 0),
		Key: claimPrefix + d.AlarmName + ":" + d.State.Value + ":" + d.State.Timestamp, DecidedAt: h.now(),
	}}
	run.Progress.CheckedAt = run.Decision.DecidedAt
	log := h.log().With("alarm", d.AlarmName, "state", d.State.Value, "execution_arn", execution)
	// The claim and the evacuation are in the ledger, the rest in the
	// stack: read side by side, as an evacuation's first change waits for
	// them all.
	var (
		owner string
		v     view
	)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() (err error) { owner, err = h.claim(ectx, run.Decision.Key, execution); return err })
	eg.Go(func() (err error) { v.cur, err = h.currentEvacuation(ectx); return err })
	eg.Go(func() (err error) { return h.read(ectx, &v, d.AlarmName, d.State.Value) })
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	cls := v.class
	run.Decision.Class, run.Decision.Component, run.Decision.Zone, run.Decision.Scope = cls.Class, cls.Component, cls.Zone, cls.scope()
	if owner != "" {
		run.Decision.Action, run.Decision.Owner = ActionDuplicate, owner
		run.done(OutcomeDuplicate, fmt.Sprintf("the change of %s to %s at %s is handled by execution %s", d.AlarmName, d.State.Value, d.State.Timestamp, owner))
		run.Decision.Reason = run.Progress.Detail
		log.InfoContext(ctx, "alarm state change already claimed", "owner", owner)
		return run, nil
	}
	var err2 error
	switch cls.Class {
	case ClassZone:
		err2 = h.decideZone(ctx, run, v)
	case ClassScaling:
		err2 = h.decideScaling(ctx, run)
	default:
		err2 = h.decideCapacity(ctx, run, v.group)
	}
	if err2 != nil {
		return nil, err2
	}
	log.InfoContext(ctx, "decided", "action", run.Decision.Action, "reason", run.Decision.Reason)
	return run, nil
}

// view is what a decision reads of the stack before it acts.
type view struct {
	class alarmClass
	group groupView
	cur   *ledger.Evacuation
	// For a zone alarm in ALARM: the zones' alarms, the fleet and the
	// zones' IDs.
	alarms map[string][]alarmState
	fleet  *fleet
	ids    map[string]string
	// breach lists, for each zone but the alarm's, its alarms whose own
	// metrics breach while they are not in ALARM.
	breach map[string][]string
}

// read fills v from the stack for the alarm's state change.
func (h *Handler) read(ctx context.Context, v *view, alarm, state string) error {
	g, err := h.group(ctx)
	if err != nil {
		return err
	}
	v.group = g
	if v.class, err = classify(h.Stack, alarm, g.zones); err != nil {
		return err
	}
	if v.class.Class != ClassZone || state != events.AlarmAlarm {
		return nil
	}
	if v.alarms, err = h.zoneAlarms(ctx, g.zones); err != nil {
		return err
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() (err error) { v.fleet, err = h.readFleet(ectx); return err })
	eg.Go(func() (err error) { v.ids, err = h.zoneIDs(ectx, g.zones); return err })
	breach := make([][]string, len(g.zones))
	for i, z := range g.zones {
		if z != v.class.Zone {
			eg.Go(func() (err error) { breach[i], err = h.breaching(ectx, v.alarms[z], h.now()); return err })
		}
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	v.breach = map[string][]string{}
	for i, z := range g.zones {
		v.breach[z] = breach[i]
	}
	return nil
}

// claim takes the state change for execution, and returns the owner when
// another execution holds it. A claim by the same execution is its own
// retried decide.
func (h *Handler) claim(ctx context.Context, key, execution string) (string, error) {
	_, err := h.Ledger.ClaimKey(ctx, key, execution, claimFor)
	var dup *ledger.DuplicateError
	switch {
	case errors.As(err, &dup) && dup.Claim.Owner == execution:
		return "", nil
	case errors.As(err, &dup):
		return dup.Claim.Owner, nil
	case err != nil:
		return "", fmt.Errorf("claiming %s: %w", key, err)
	}
	return "", nil
}

// nothing ends the run with a decision to do nothing, and why.
func (r *Run) nothing(format string, args ...any) {
	r.Decision.Action, r.Decision.Reason = ActionNone, fmt.Sprintf(format, args...)
	r.done(OutcomeNothing, r.Decision.Reason)
}

// act decides an action, once the cooldown of the alarm and scope allows
// one: a decision within the cooldown does nothing instead. It reports
// whether the action may go ahead.
func (h *Handler) act(ctx context.Context, r *Run, action, format string, args ...any) (bool, error) {
	d := &r.Decision
	key := d.Alarm + "#" + d.Scope
	_, err := h.Ledger.TakeCooldown(ctx, h.Stack, key, d.ExecutionARN, d.DecidedAt.Add(h.Config.Cooldown))
	var held *ledger.CooldownError
	if errors.As(err, &held) {
		d.Owner = held.Cooldown.Owner
		r.nothing("the cooldown of %s for %s runs until %s, since execution %s acted: would have been %s: %s",
			d.Alarm, d.Scope, held.Cooldown.Until.Format(time.RFC3339), held.Cooldown.Owner, action, fmt.Sprintf(format, args...))
		return false, nil
	}
	if err != nil {
		return false, err
	}
	d.Action, d.Reason = action, fmt.Sprintf(format, args...)
	return true, nil
}

// decideZone applies the policy to a zone's alarm.
func (h *Handler) decideZone(ctx context.Context, r *Run, v view) error {
	d := &r.Decision
	cur := v.cur
	if d.State != events.AlarmAlarm {
		if cur.Active() && cur.Zone == d.Zone {
			r.nothing("%s is %s; the evacuation of %s by %s restores the zone once its alarms have stayed OK for %d periods", d.Alarm, d.State, d.Zone, cur.ExecutionARN, h.Config.RestoreOKPeriods)
			return nil
		}
		r.nothing("%s is %s and %s is not evacuated", d.Alarm, d.State, d.Zone)
		return nil
	}
	g, alarms, f := v.group, v.alarms, v.fleet
	others := slices.DeleteFunc(slices.Clone(g.zones), func(z string) bool { return z == d.Zone })
	if !slices.Contains(alarming(alarms[d.Zone]), d.Alarm) {
		r.nothing("%s went to ALARM at %s but is no longer in ALARM", d.Alarm, d.StateAt.Format(time.RFC3339))
		return nil
	}
	if cur.Active() {
		if cur.Zone == d.Zone {
			r.nothing("%s is being evacuated by %s since %s (phase %s)", d.Zone, cur.ExecutionARN, cur.StartedAt.Format(time.RFC3339), cur.Phase)
			return nil
		}
		if ok, err := h.act(ctx, r, ActionNotify, "never evacuate both zones: %s is evacuated by %s and %s is now unhealthy too (%s)",
			cur.Zone, cur.ExecutionARN, d.Zone, strings.Join(alarming(alarms[d.Zone]), ", ")); !ok || err != nil {
			return err
		}
		return r.notifyDecision()
	}
	sick := unhealthy(others, alarms, f)
	if len(sick) == 0 {
		for _, z := range others {
			if b := v.breach[z]; len(b) > 0 {
				sick = append(sick, fmt.Sprintf("%s (%s)", z, strings.Join(b, ", ")))
			}
		}
	}
	if len(sick) > 0 {
		if ok, err := h.act(ctx, r, ActionNotify, "%s is unhealthy (%s) but so is %s: no evacuation, the data plane keeps both zones",
			d.Zone, strings.Join(alarming(alarms[d.Zone]), ", "), strings.Join(sick, ", ")); !ok || err != nil {
			return err
		}
		return r.notifyDecision()
	}
	p := h.plan(g, f, d.Zone, others)
	if p.problem != "" {
		if ok, err := h.act(ctx, r, ActionNotify, "%s is unhealthy (%s) but cannot be evacuated: %s", d.Zone, strings.Join(alarming(alarms[d.Zone]), ", "), p.problem); !ok || err != nil {
			return err
		}
		return r.notifyDecision()
	}
	if ok, err := h.act(ctx, r, ActionEvacuate, "%s is unhealthy (%s) and %s healthy: evacuate %s, pre-scaling %s by %d instances for its %d tasks",
		d.Zone, strings.Join(alarming(alarms[d.Zone]), ", "), strings.Join(others, ", "), d.Zone, strings.Join(others, ", "), p.extra, p.moving); !ok || err != nil {
		return err
	}
	return h.beginEvacuation(ctx, r, g, v.ids, p, others)
}

// unhealthy lists the zones of zones that are unhealthy, with why: an alarm
// in ALARM, or, before an alarm can tell, a running task whose target
// fails its health checks.
func unhealthy(zones []string, alarms map[string][]alarmState, f *fleet) []string {
	var out []string
	for _, z := range zones {
		if a := alarming(alarms[z]); len(a) > 0 {
			out = append(out, fmt.Sprintf("%s (%s)", z, strings.Join(a, ", ")))
			continue
		}
		n := 0
		for _, t := range f.tasks {
			if t.zone == z && t.target == elbtypes.TargetHealthStateEnumUnhealthy {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s (%d unhealthy targets)", z, n))
		}
	}
	return out
}

// notifyDecision ends a run that records its decision and notifies.
func (r *Run) notifyDecision() error {
	r.done(OutcomeNotified, r.Decision.Reason)
	r.notify("ecsplane remediation of %s: %s", r.Decision.Alarm, r.Decision.Reason)
	return nil
}

// currentEvacuation returns the stack's evacuation, nil when it never had
// one.
func (h *Handler) currentEvacuation(ctx context.Context) (*ledger.Evacuation, error) {
	cur, err := h.Ledger.CurrentEvacuation(ctx, h.Stack)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	return cur, err
}

// plan is an evacuation's capacity plan.
type plan struct {
	// moving is how many of the desired tasks the healthy zones lack; free the
	// slots the healthy zones have for them; extra the instances the
	// pre-scale adds; size the slots of one instance.
	moving, free, extra, size int
	desired, max              int32
	problem                   string
}

// plan checks that the healthy zones have, or can get within the group's
// maximum, the capacity for the zone's tasks.
func (h *Handler) plan(g groupView, f *fleet, zone string, healthy []string) plan {
	// The healthy zones carry the whole desired count once the zone is
	// drained: what they lack is what they must take, whether the zone
	// still runs those tasks or ECS already stopped them there.
	hz := f.in(healthy...)
	p := plan{moving: max(int(f.desired)-hz.tasks, 0), desired: g.desired, max: g.max}
	p.free, p.size = hz.free, hz.size
	if p.size == 0 {
		p.size = f.in(zone).size
	}
	if short := p.moving - p.free; short > 0 {
		if p.size == 0 {
			p.problem = "no container instance tells how many tasks an instance holds"
			return p
		}
		p.extra = (short + p.size - 1) / p.size
	}
	if p.desired+int32(p.extra) > p.max {
		p.problem = fmt.Sprintf("%s would need %d more instances for the zone's %d tasks (%d free slots, %d a new instance), and the group at %d of its maximum %d can add %d",
			strings.Join(healthy, ", "), p.extra, p.moving, p.free, p.size, p.desired, p.max, p.max-p.desired)
	}
	return p
}

// decideScaling applies the policy to the service's CPU or memory alarm.
func (h *Handler) decideScaling(ctx context.Context, r *Run) error {
	d := &r.Decision
	if d.State != events.AlarmAlarm {
		r.nothing("%s is %s", d.Alarm, d.State)
		return nil
	}
	out, err := h.Clients.Scaling.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{scalableResourceID(h.Stack)}, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
	})
	if err != nil {
		return fmt.Errorf("describing the service's scalable target: %w", err)
	}
	if len(out.ScalableTargets) == 0 {
		r.nothing("%s is in ALARM but the service has no scalable target", d.Alarm)
		return nil
	}
	st := out.ScalableTargets[0]
	max := aws.ToInt32(st.MaxCapacity)
	f, err := h.readFleet(ctx)
	if err != nil {
		return err
	}
	if f.desired < max {
		r.nothing("%s is in ALARM and target tracking scales the service: desired %d of its maximum %d", d.Alarm, f.desired, max)
		return nil
	}
	if ceiling := h.Config.MaxCountCeiling; ceiling > max {
		ok, err := h.act(ctx, r, ActionRaise, "%s is in ALARM with the service at its maximum %d: the maximum is raised to the ceiling %d, so target tracking can add tasks", d.Alarm, max, ceiling)
		if !ok || err != nil {
			return err
		}
		return h.raise(ctx, r, st, ceiling)
	}
	if ok, err := h.act(ctx, r, ActionNotify, "%s is in ALARM with the service at its maximum %d tasks: target tracking cannot add more; the maximum is the build's (no ceiling is configured)", d.Alarm, max); !ok || err != nil {
		return err
	}
	return r.notifyDecision()
}

// raise sets the scalable target's maximum to the ceiling, holding the
// service's capacity lease for it.
func (h *Handler) raise(ctx context.Context, r *Run, st aastypes.ScalableTarget, ceiling int32) error {
	lease, err := h.Ledger.Acquire(ctx, serviceName(h.Stack), ledger.ScopeCapacity, r.Decision.ExecutionARN, leaseFor)
	var held *ledger.LockHeldError
	if errors.As(err, &held) {
		r.nothing("the service's capacity lease is held by %s until %s: no raise", held.Owner, held.Expires.Format(time.RFC3339))
		return nil
	}
	if err != nil {
		return err
	}
	r.Decision.Lease = lease
	if _, err := h.Clients.Scaling.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: st.ServiceNamespace, ResourceId: st.ResourceId, ScalableDimension: st.ScalableDimension,
		MinCapacity: st.MinCapacity, MaxCapacity: aws.Int32(ceiling),
	}); err != nil {
		return fmt.Errorf("raising the service's maximum to %d: %w", ceiling, err)
	}
	h.log().InfoContext(ctx, "raised the service's maximum", "from", aws.ToInt32(st.MaxCapacity), "to", ceiling)
	r.done(OutcomeRaised, r.Decision.Reason)
	r.notify("ecsplane remediation of %s: %s", r.Decision.Alarm, r.Decision.Reason)
	return nil
}

// decideCapacity applies the policy to the capacity alarm.
func (h *Handler) decideCapacity(ctx context.Context, r *Run, g groupView) error {
	d := &r.Decision
	if d.State != events.AlarmAlarm {
		r.nothing("%s is %s", d.Alarm, d.State)
		return nil
	}
	if g.desired < g.max {
		r.nothing("%s is in ALARM and managed scaling adds instances: the group's desired %d of its maximum %d", d.Alarm, g.desired, g.max)
		return nil
	}
	if ok, err := h.act(ctx, r, ActionNotify, "%s is in ALARM with the group at its maximum %d instances: tasks wait for capacity that cannot be placed; the maximum is the build's", d.Alarm, g.max); !ok || err != nil {
		return err
	}
	return r.notifyDecision()
}
