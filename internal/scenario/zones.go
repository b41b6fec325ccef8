package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	arctypes "github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// The gray failure a degrade-zone step injects unless it says otherwise:
// the share of the zone's health checks and requests that time out, and
// the latency added to the rest.
const (
	defaultFailures  = 0.7
	degradedLatency  = 200 * time.Millisecond
	milestoneAction  = "evacuation"
	evacuationLookup = 200
)

// runZoneFault injects a zone's gray failure or outage, then waits until
// the zone is out of traffic (shifted away, or without a target the load
// balancer routes to), every target it routes to elsewhere is healthy,
// the counts expected hold and, when the step expects one, remediation's
// evacuation of the zone matches. It measures, in simulated seconds from
// the fault: the start of the unbroken stretch, to the end of the step, in
// which the zone was out of traffic and every serving target healthy
// (serving_healthy_after_s); and when remediation evacuated the zone, the
// state change of the zone's alarm that started it, from the ledger
// (alarm_after_s), and the start of the load balancer's zonal shift away
// from the zone, from ARC (evacuated_after_s). In an outage the data plane
// may take the zone out of traffic on its own, before an alarm fires: Auto
// Scaling replaces the zone's instances elsewhere and ECS places the tasks
// there.
func runZoneFault(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	cp := r.env.CP
	lb, err := r.loadBalancer(ctx)
	if err != nil {
		return err
	}
	before, err := r.evacuation(ctx)
	if err != nil {
		return err
	}
	faultAt := cp.Sim.Now()
	var what, checks string
	switch st.Do {
	case "degrade-zone":
		f := defaultFailures
		if st.Failures != nil {
			f = *st.Failures
		}
		err = cp.Sim.DegradeZone(st.Zone, sim.ZoneDegradation{Failures: f, Latency: degradedLatency})
		what, checks = fmt.Sprintf("fault injected: %s degrades, %.0f%% of its targets' checks and requests time out", st.Zone, 100*f), "pass"
	case "fail-zone":
		err = cp.Sim.FailZone(st.Zone)
		what, checks = fmt.Sprintf("fault injected: %s fails, its instances stop serving and launches there fail", st.Zone), "fail"
	default:
		err = fmt.Errorf("%s is not a zone fault", st.Do)
	}
	if err != nil {
		return err
	}
	r.line(entry{Category: "fault", Event: what, Outcome: "its instances' status checks " + checks})
	res.Figures = map[string]int{}
	var since heldSince
	return r.untilZone(ctx, st, res, lb, func(ev *ledger.Evacuation) bool {
		return before == nil || ev.ExecutionARN != before.ExecutionARN
	}, func(o zoneLook) (string, error) {
		if at, ok := o.milestones["alarm"]; ok {
			setOnce(res.Figures, "alarm_after_s", at.Sub(faultAt))
		}
		if _, ok := res.Figures["evacuated_after_s"]; !ok && o.ev != nil {
			shift, err := r.lbShift(ctx, lb, st.Zone, faultAt)
			if err != nil {
				return "", err
			}
			if shift != nil {
				setOnce(res.Figures, "evacuated_after_s", aws.ToTime(shift.StartTime).Sub(faultAt))
			}
		}
		n := o.counts.byZone[st.Zone]
		out := slices.Contains(o.shifted, st.Zone) || n == nil || n.HealthyTargets+n.UnhealthyTargets == 0
		since.hold(res.Figures, "serving_healthy_after_s", out && o.serving, cp.Sim.Now(), faultAt)
		if !out {
			return st.Zone + " still serves traffic", nil
		}
		return "", nil
	})
}

// runRecoverZone ends the zone's gray failure and outage, then waits until
// the zone has a healthy target again, every target the load balancer
// routes to is healthy, the counts expected hold, the evacuation of the
// zone that was running (if any) has ended, and it matches the step's
// expectation when there is one. It measures,
// in simulated seconds from the recovery, the evacuation's end in the
// ledger (restored_after_s) and the start of the unbroken stretch, to the
// end of the step, in which no zonal shift was active and every zone
// served from healthy targets only (balanced_after_s).
func runRecoverZone(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	cp := r.env.CP
	lb, err := r.loadBalancer(ctx)
	if err != nil {
		return err
	}
	current, err := r.evacuation(ctx)
	if err != nil {
		return err
	}
	if current != nil && !current.Active() {
		current = nil
	}
	recoveredAt := cp.Sim.Now()
	if err := errors.Join(cp.Sim.RecoverZone(st.Zone), cp.Sim.DegradeZone(st.Zone, sim.ZoneDegradation{})); err != nil {
		return err
	}
	r.line(entry{Category: "fault", Event: fmt.Sprintf("fault ended: %s recovers", st.Zone), Outcome: "its targets answer again"})
	res.Figures = map[string]int{}
	var since heldSince
	return r.untilZone(ctx, st, res, lb, func(ev *ledger.Evacuation) bool {
		return current != nil && ev.ExecutionARN == current.ExecutionARN
	}, func(o zoneLook) (string, error) {
		if o.ev != nil && o.ev.Outcome != "" {
			setOnce(res.Figures, "restored_after_s", o.ev.EndedAt.Sub(recoveredAt))
		}
		since.hold(res.Figures, "balanced_after_s", o.serving && len(o.shifted) == 0 && everyZoneServes(o.counts), cp.Sim.Now(), recoveredAt)
		if o.ev != nil && o.ev.Outcome == "" {
			return "the evacuation of " + st.Zone + " still runs, at " + o.ev.Phase, nil
		}
		if n := o.counts.byZone[st.Zone]; n == nil || n.HealthyTargets == 0 {
			return st.Zone + " has no healthy target yet", nil
		}
		return "", nil
	})
}

// zoneLook is one look at a zone step's progress: the step's evacuation
// of the zone (nil when there is none) and its milestones, the zones the
// load balancer is shifted away from, the fleet, and whether it serves
// from healthy targets only.
type zoneLook struct {
	ev         *ledger.Evacuation
	milestones map[string]time.Time
	shifted    []string
	counts     counts
	serving    bool
}

// untilZone polls the zone's evacuation that mine accepts, its milestones
// and the fleet until traffic is served from healthy targets only, the
// step's expectations hold, and look, which also measures, says nothing is
// missing.
func (r *runner) untilZone(ctx context.Context, st Step, res *StepRecord, lb string, mine func(*ledger.Evacuation) bool, look func(zoneLook) (string, error)) error {
	want := st.Expect.Evacuation
	return r.until(ctx, st, func() (bool, string, error) {
		ev, err := r.evacuation(ctx)
		if err != nil {
			return false, "", err
		}
		o := zoneLook{shifted: r.env.CP.Sim.ZonalShifts(lb), counts: r.counts()}
		var why string
		o.serving, why = servingHealthy(o.counts, o.shifted)
		var miss []string
		if !o.serving {
			miss = append(miss, why)
		}
		if ev != nil && ev.Zone == st.Zone && mine(ev) {
			if o.milestones, err = r.milestones(ctx, ev.ExecutionARN); err != nil {
				return false, "", err
			}
			o.ev, res.Evacuation = ev, ev
		}
		if m, err := look(o); err != nil || m != "" {
			miss = append(miss, m)
			if err != nil {
				return false, "", err
			}
		}
		switch {
		case want == nil:
		case o.ev == nil:
			miss = append(miss, "no evacuation of "+st.Zone+" in the ledger")
		default:
			if _, ok := o.milestones[want.Phase]; want.Phase != "" && !ok {
				miss = append(miss, fmt.Sprintf("the evacuation has not reached %s (it is at %s)", want.Phase, o.ev.Phase))
			}
			if want.Outcome != "" && o.ev.Outcome != want.Outcome {
				miss = append(miss, fmt.Sprintf("the evacuation's outcome is %q, want %s", o.ev.Outcome, want.Outcome))
			}
		}
		if got := shiftState(o.shifted, st.Zone); want != nil && want.ZonalShift != "" && got != want.ZonalShift {
			miss = append(miss, fmt.Sprintf("the load balancer's zonal shift away from %s is %s, want %s", st.Zone, got, want.ZonalShift))
		}
		miss = append(miss, r.countsMiss(st, o.counts)...)
		return len(miss) == 0, strings.Join(miss, "; "), nil
	})
}

// lbShift is the first zonal shift of the load balancer away from zone
// that started at or after since, as ARC lists it; nil when none has.
func (r *runner) lbShift(ctx context.Context, lb, zone string, since time.Time) (*arctypes.ZonalShiftSummary, error) {
	id := r.env.CP.Sim.ZoneID(zone)
	p := arc.NewListZonalShiftsPaginator(arc.NewFromConfig(r.env.CP.Sim.Config()), &arc.ListZonalShiftsInput{ResourceIdentifier: aws.String(lb)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the load balancer's zonal shifts: %w", err)
		}
		for _, zs := range page.Items {
			if aws.ToString(zs.AwayFrom) == id && !aws.ToTime(zs.StartTime).Before(since) {
				return &zs, nil
			}
		}
	}
	return nil, nil
}

// evacuation is the stack's evacuation in the ledger: the one running or
// the last ended; nil before any.
func (r *runner) evacuation(ctx context.Context) (*ledger.Evacuation, error) {
	ev, err := r.env.Ledger.CurrentEvacuation(ctx, r.env.CP.Pseudo.StackName)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the evacuation: %w", err)
	}
	return ev, nil
}

// milestones are when an evacuation's execution reached each phase, on the
// simulator's clock, from its milestone audit items, and, as "alarm", the
// state change of the alarm that started it.
func (r *runner) milestones(ctx context.Context, execution string) (map[string]time.Time, error) {
	as, _, err := r.env.Ledger.Actions(ctx, r.env.CP.Pseudo.StackName, ledger.PageRequest{Limit: evacuationLookup})
	if err != nil {
		return nil, fmt.Errorf("reading the evacuation's milestones: %w", err)
	}
	r.noteMilestones(as)
	out := map[string]time.Time{}
	for _, a := range slices.Backward(as) {
		if a.ExecutionARN != execution || a.Action != milestoneAction {
			continue
		}
		for k, v := range map[string]string{a.Outcome: a.Detail["at"], "alarm": a.Detail["alarm_at"]} {
			if at, err := time.Parse(time.RFC3339, v); err == nil {
				if _, ok := out[k]; !ok {
					out[k] = at
				}
			}
		}
	}
	return out, nil
}

// servingHealthy reports whether the load balancer routes only to healthy
// targets: every zone it is not shifted away from has no unhealthy target,
// and some zone has a healthy one; why says otherwise.
func servingHealthy(c counts, shifted []string) (bool, string) {
	healthy := 0
	for _, z := range sortedKeys(c.byZone) {
		n := c.byZone[z]
		if slices.Contains(shifted, z) {
			continue
		}
		if n.UnhealthyTargets > 0 {
			return false, fmt.Sprintf("%s serves traffic with %d unhealthy targets", z, n.UnhealthyTargets)
		}
		healthy += n.HealthyTargets
	}
	if healthy == 0 {
		return false, "no healthy target serves traffic"
	}
	return true, ""
}

// everyZoneServes reports whether every zone of the stack has a healthy
// target and runs tasks.
func everyZoneServes(c counts) bool {
	for _, n := range c.byZone {
		if n.HealthyTargets == 0 || n.Tasks == 0 {
			return false
		}
	}
	return len(c.byZone) > 1
}

func shiftState(shifted []string, zone string) string {
	if slices.Contains(shifted, zone) {
		return shiftActive
	}
	return shiftNone
}

// heldSince is when a condition began to hold without a break since.
type heldSince time.Time

// hold keeps, as figure key in whole seconds from from, the moment since
// which ok has held at every look, and removes it when ok does not hold:
// a state the step passes through and leaves again does not count.
func (h *heldSince) hold(m map[string]int, key string, ok bool, now, from time.Time) {
	if !ok {
		*h = heldSince{}
		delete(m, key)
		return
	}
	if time.Time(*h).IsZero() {
		*h = heldSince(now)
	}
	m[key] = int(time.Time(*h).Sub(from).Seconds())
}

// setOnce sets a figure in whole seconds the first time it is measured.
func setOnce(m map[string]int, key string, d time.Duration) {
	if _, ok := m[key]; !ok {
		m[key] = int(d.Seconds())
	}
}
