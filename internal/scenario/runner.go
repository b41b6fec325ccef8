package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Outcome is a delivery by the template's rules.
type Outcome = local.Outcome

// Env is what a scenario runs against.
type Env struct {
	// Local is the embedded AWS environment, CP the template's control
	// plane in it, on a simulator whose clock runs (sim.Run).
	Local  *local.Env
	CP     *controlplane.OnSim
	Ledger *ledger.Ledger
	// Out receives the live timeline; nothing is printed when nil.
	Out io.Writer
	// Speed is the simulator's speed when the scenario sets none.
	Speed float64
	// WallLimit bounds each step in wall time, whatever its simulated
	// timeout; two minutes when zero.
	WallLimit time.Duration
}

// runner is one run of a scenario.
type runner struct {
	env Env
	sc  *Scenario
	rec *Record
	seq int
	// step is the step running, from 1.
	step int

	mu        sync.Mutex
	start     time.Time
	vstart    time.Time
	last      sim.Snapshot
	lastCount counts
	// shown are the counts the timeline last showed.
	shown counts
	// hold is the step whose counts must hold at every snapshot, and
	// holdErr the first moment they did not.
	hold       *Step
	holdErr    string
	holdChecks int
	nextAt     time.Time
	tracked    map[string]*tracked
	outcomes   int
	// shownActions are the ledger's actions on the timeline, by ID.
	shownActions map[string]bool
}

// tracked is an execution the timeline follows.
type tracked struct {
	arn, machine string
	shown        int
	done         chan struct{}
	status       string
	cause        string
	transitions  int
}

// Run runs the scenario's steps in order and stops at the first whose
// outcome is not the one expected, returning a *StepError naming it. The
// record is complete either way. The simulator's clock must be running.
func Run(ctx context.Context, env Env, sc *Scenario) (*Record, error) {
	if env.Out == nil {
		env.Out = io.Discard
	}
	if env.WallLimit <= 0 {
		env.WallLimit = 2 * time.Minute
	}
	r := &runner{env: env, sc: sc, tracked: map[string]*tracked{}, shownActions: map[string]bool{}, start: time.Now(), vstart: env.CP.Sim.Now()}
	r.rec = &Record{Scenario: sc.Name, About: sc.About, Stack: env.CP.Pseudo.StackName, Started: r.start, VirtualStart: r.vstart}
	if err := r.refuse(); err != nil {
		r.rec.Error = err.Error()
		return r.rec, err
	}
	stopObserve := env.CP.Sim.Observe(r.observe)
	sub := env.CP.Sim.Subscribe()
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	fmt.Fprintf(env.Out, "%-9s %8s  %-66s %-22s %s\n", "VIRTUAL", "WALL", "EVENT", "STATE MACHINE", "OUTCOME")
	wg.Go(func() { r.watchEvents(sub.C) })
	wg.Go(func() { r.watchDeliveries(wctx) })
	err := r.steps(ctx)
	// The last deliveries and executions, for the record.
	time.Sleep(300 * time.Millisecond)
	stopWatch()
	sub.Close()
	wg.Wait()
	stopObserve()
	r.rec.Passed = err == nil
	if err != nil {
		r.rec.Error = err.Error()
	}
	r.rec.WallSeconds = time.Since(r.start).Seconds()
	r.rec.Evacuations = evacuations(r.rec.Steps)
	r.rec.VirtualEnd = env.CP.Sim.Now()
	if lerr := r.readLedger(context.WithoutCancel(ctx)); lerr != nil && err == nil {
		err = lerr
	}
	return r.rec, err
}

// refuse names the first step whose kind needs a state machine the
// template does not declare, before anything runs.
func (r *runner) refuse() error {
	for i, st := range r.sc.Steps {
		for _, id := range Kinds[st.Do].Needs {
			if _, err := r.env.CP.StateMachine(id); err != nil {
				return &StepError{Index: i + 1, Name: st.Name, Err: fmt.Errorf("%w: a %s step needs the template's %s, which template.yaml does not declare", ErrMissingMachinery, st.Do, id)}
			}
		}
	}
	return nil
}

func (r *runner) steps(ctx context.Context) error {
	for i, st := range r.sc.Steps {
		r.mu.Lock()
		r.step = i + 1
		r.mu.Unlock()
		speed := firstPositive(st.Speed, r.sc.Speed, r.env.Speed)
		r.env.CP.Sim.SetSpeed(speed)
		r.printf("==> step %d/%d: %s (%s, at %gx)\n", i+1, len(r.sc.Steps), st.Name, st.Do, speed)
		res := StepRecord{Index: i + 1, Name: st.Name, Do: st.Do, Zone: st.Zone, Expect: st.Expect, VirtualStart: r.env.CP.Sim.Now()}
		wall := time.Now()
		err := Kinds[st.Do].run(ctx, r, st, &res)
		res.VirtualEnd, res.WallSeconds = r.env.CP.Sim.Now(), time.Since(wall).Seconds()
		res.Passed = err == nil
		if err != nil {
			res.Error = err.Error()
		}
		r.mu.Lock()
		r.rec.Steps = append(r.rec.Steps, res)
		r.mu.Unlock()
		if err != nil {
			r.printf("    step %d FAILED: %v\n", i+1, err)
			return &StepError{Index: i + 1, Name: st.Name, Err: err}
		}
		r.printf("    step %d passed%s: %s simulated, %s wall\n", i+1, statusNote(res.Status),
			res.VirtualEnd.Sub(res.VirtualStart).Round(time.Second), time.Duration(res.WallSeconds*float64(time.Second)).Round(time.Millisecond))
	}
	return nil
}

// printf prints to the run's output, which the watchers' timeline lines
// share.
func (r *runner) printf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.env.Out, format, a...)
}

func statusNote(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func firstPositive(v ...float64) float64 {
	for _, x := range v {
		if x > 0 {
			return x
		}
	}
	return 60
}

// entry is a timeline line before its times are stamped.
type entry struct {
	Category, Event, StateMachine, Outcome string
	// At is the simulated time of the event; now when zero.
	At time.Time
}

// line stamps, records and prints one line of the timeline.
func (r *runner) line(e entry) {
	if e.At.IsZero() {
		e.At = r.env.CP.Sim.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Entry{
		Step: r.step, Category: e.Category, VirtualAt: e.At, Virtual: e.At.Sub(r.vstart), Wall: time.Since(r.start),
		Event: e.Event, StateMachine: e.StateMachine, Outcome: e.Outcome,
	}
	r.rec.Timeline = append(r.rec.Timeline, l)
	fmt.Fprintln(r.env.Out, l.String())
}

// observe runs after every step of the simulation, under its lock: it
// keeps the last snapshot, samples the fleet every simulated 30 s, and
// puts a line on the timeline when the counts change.
func (r *runner) observe(s sim.Snapshot) {
	c := countOf(s)
	r.mu.Lock()
	r.last, r.lastCount = s, c
	if r.hold != nil && r.holdErr == "" {
		r.holdChecks++
		if why := r.countsMiss(*r.hold, c); len(why) > 0 {
			r.holdErr = fmt.Sprintf("at %s: %s", Clock(s.At.Sub(r.vstart)), strings.Join(why, "; "))
		}
	}
	sample := !s.At.Before(r.nextAt)
	var prev counts
	if sample {
		r.rec.Samples = append(r.rec.Samples, c.sample(s.At))
		r.nextAt = s.At.Truncate(sampleEvery).Add(sampleEvery)
		prev = r.shown
		r.shown = c
	}
	r.mu.Unlock()
	if sample && (c.tasks != prev.tasks || c.instances != prev.instances) {
		r.line(entry{Category: "fleet", At: s.At, Event: fmt.Sprintf("fleet: %d tasks RUNNING (were %d), %d instances InService (were %d)", c.tasks, prev.tasks, c.instances, prev.instances), Outcome: c.zones()})
	}
}

const sampleEvery = 30 * time.Second

func (r *runner) snapshot() sim.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *runner) counts() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastCount
}

// counts are the fleet's, in total and by zone.
type counts struct {
	tasks, instances int
	byZone           map[string]*ZoneCounts
}

func countOf(s sim.Snapshot) counts {
	c := counts{byZone: map[string]*ZoneCounts{}}
	zone := func(z string) *ZoneCounts {
		if c.byZone[z] == nil {
			c.byZone[z] = &ZoneCounts{}
		}
		return c.byZone[z]
	}
	for _, i := range s.Instances {
		if i.GroupState == "" {
			continue
		}
		z := zone(i.Zone)
		if i.GroupState == "InService" {
			z.Instances++
			c.instances++
		}
	}
	for _, t := range s.Tasks {
		if t.Service != "" && t.LastStatus == "RUNNING" {
			zone(t.Zone).Tasks++
			c.tasks++
		}
	}
	for _, t := range s.Targets {
		switch t.State {
		case "healthy":
			zone(t.Zone).HealthyTargets++
		case "unhealthy":
			zone(t.Zone).UnhealthyTargets++
		}
	}
	return c
}

func (c counts) sample(at time.Time) Sample {
	s := Sample{At: at, Zones: map[string]ZoneCounts{}}
	for z, n := range c.byZone {
		s.Zones[z] = *n
	}
	return s
}

func (c counts) zones() string {
	var parts []string
	for _, z := range slices.Sorted(maps.Keys(c.byZone)) {
		n := c.byZone[z]
		parts = append(parts, fmt.Sprintf("%s: %d tasks, %d instances, %d healthy targets", z, n.Tasks, n.Instances, n.HealthyTargets))
	}
	return strings.Join(parts, "; ")
}

// countsMiss says how the counts differ from the step's expectation.
func (r *runner) countsMiss(st Step, c counts) []string {
	var why []string
	e := st.Expect
	if !e.Tasks.Holds(c.tasks) {
		why = append(why, fmt.Sprintf("%d tasks RUNNING, want %s", c.tasks, e.Tasks))
	}
	if !e.Instances.Holds(c.instances) {
		why = append(why, fmt.Sprintf("%d instances InService, want %s", c.instances, e.Instances))
	}
	if pz := e.PerZone; pz != nil {
		if len(c.byZone) == 0 {
			why = append(why, "no zone has an instance of the stack's group")
		}
		for _, z := range slices.Sorted(maps.Keys(c.byZone)) {
			n := c.byZone[z]
			for _, x := range []struct {
				what string
				got  int
				want *Range
			}{{"instances InService", n.Instances, pz.Instances}, {"tasks RUNNING", n.Tasks, pz.Tasks}, {"healthy targets", n.HealthyTargets, pz.HealthyTargets}, {"unhealthy targets", n.UnhealthyTargets, pz.UnhealthyTargets}} {
				if !x.want.Holds(x.got) {
					why = append(why, fmt.Sprintf("%s has %d %s, want %s", z, x.got, x.what, x.want))
				}
			}
		}
	}
	return why
}

// checkCounts checks the step's count expectations, waiting a little
// simulated time for a count that is settling.
func (r *runner) checkCounts(st Step) error {
	if why := r.countsMiss(st, r.counts()); len(why) > 0 {
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}

func (r *runner) checkStatus(st Step, got, cause string) error {
	if st.Expect.Status != "" && got != st.Expect.Status {
		return fmt.Errorf("ended %s, want %s: %s", got, st.Expect.Status, cause)
	}
	return nil
}

// until polls cond until it holds, the step's simulated timeout passes, or
// its wall-time limit does.
func (r *runner) until(ctx context.Context, st Step, cond func() (bool, string, error)) error {
	vdeadline := r.env.CP.Sim.Now().Add(time.Duration(st.Timeout))
	wdeadline := time.Now().Add(r.env.WallLimit)
	for {
		ok, why, err := cond()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case r.env.CP.Sim.Now().After(vdeadline):
			return fmt.Errorf("not reached within its timeout of %s simulated: %s", time.Duration(st.Timeout), why)
		case time.Now().After(wdeadline):
			return fmt.Errorf("not reached within %s of wall time: %s", r.env.WallLimit, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// track follows an execution on the timeline until it ends.
func (r *runner) track(arn string) *tracked {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.tracked[arn]; ok {
		return t
	}
	t := &tracked{arn: arn, machine: machineOf(arn), done: make(chan struct{})}
	r.tracked[arn] = t
	return t
}

// waitExecution waits for a tracked execution to end, within the step's
// timeout.
func (r *runner) waitExecution(ctx context.Context, st Step, t *tracked) (*tracked, error) {
	err := r.until(ctx, st, func() (bool, string, error) {
		select {
		case <-t.done:
			return true, "", nil
		default:
			return false, t.machine + " execution still RUNNING", nil
		}
	})
	return t, err
}

// machineOf is the state machine's name in an execution ARN,
// arn:aws:states:<region>:<account>:execution:<machine>:<name>.
func machineOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 8 {
		return parts[6]
	}
	return arn
}

// watchDeliveries puts the rules' deliveries on the timeline, and follows
// every execution they or the steps started until it ends.
func (r *runner) watchDeliveries(ctx context.Context) {
	api := sfn.NewFromConfig(r.env.CP.Config)
	for {
		outs := r.env.CP.Wiring.Dispatcher.Outcomes()
		for _, o := range outs[r.outcomes:] {
			e := entry{Category: "delivery", Event: "rule " + o.Rule + " matched an event", Outcome: string(o.Result)}
			if o.Execution != "" {
				e.StateMachine, e.Outcome = machineOf(o.Execution), "started "+short(lastColon(o.Execution))
				r.track(o.Execution)
			} else if i := strings.Index(o.Target, "Function"); i > 0 {
				// A function target's ID starts with the function's
				// logical ID; the column names the function.
				e.StateMachine = o.Target[:i+len("Function")]
			}
			if o.Error != "" {
				e.Outcome += ": " + o.Error
			}
			r.line(e)
		}
		r.outcomes = len(outs)
		r.mu.Lock()
		var running []*tracked
		for _, t := range r.tracked {
			if t.status == "" {
				running = append(running, t)
			}
		}
		r.mu.Unlock()
		sort.Slice(running, func(i, j int) bool { return running[i].arn < running[j].arn })
		for _, t := range running {
			r.follow(ctx, api, t)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// follow looks at a tracked execution once: a rollout's new phases, and
// its end with the outcome the ledger recorded.
func (r *runner) follow(ctx context.Context, api *sfn.Client, t *tracked) {
	d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(t.arn)})
	if err != nil {
		return
	}
	service := r.env.CP.Pseudo.StackName
	var dep *ledger.Deployment
	if t.machine == r.machineName("RolloutStateMachine") {
		if dep, err = r.env.Ledger.FindByExecution(ctx, service, t.arn); err == nil {
			for _, p := range dep.Timeline[t.shown:] {
				r.line(entry{Category: "rollout", Event: "rollout " + dep.ImageTag + ": " + string(p.Phase), StateMachine: t.machine, Outcome: p.Detail})
			}
			t.shown = len(dep.Timeline)
		}
	}
	if t.machine == r.machineName("RemediateStateMachine") {
		r.showMilestones(ctx, t)
	}
	if d.Status == sfntypes.ExecutionStatusRunning {
		return
	}
	outcome, category := string(d.Status), "execution"
	switch {
	case dep != nil && !dep.Status.Terminal():
		// The cleanup function ends the record of an execution that
		// failed; wait for it.
		return
	case dep != nil:
		outcome, category = string(dep.Status)+": "+dep.Reason, "deployment"
	case t.machine == r.machineName("LifecycleStateMachine"):
		if a := r.actionOf(ctx, t.arn); a != nil {
			outcome, category = a.Action+" "+a.Outcome+" "+a.Detail["instance"]+" "+a.Detail["zone"]+lifecycleNote(a), "lifecycle"
		}
	case t.machine == r.machineName("RemediateStateMachine"):
		if a := r.actionOf(ctx, t.arn); a != nil {
			outcome, category = a.Action+" "+a.Outcome+": "+a.Reason, "remediation"
		}
	}
	if d.Error != nil {
		outcome += " (" + aws.ToString(d.Error) + ": " + aws.ToString(d.Cause) + ")"
	}
	transitions := 0
	if h, err := execution.History(ctx, api, t.arn); err == nil {
		for _, e := range h {
			if e.StateEnteredEventDetails != nil {
				transitions++
			}
		}
	}
	r.line(entry{Category: category, Event: "execution " + short(lastColon(t.arn)) + " ended " + string(d.Status), StateMachine: t.machine, Outcome: outcome})
	r.mu.Lock()
	t.status, t.transitions = string(d.Status), transitions
	t.cause = aws.ToString(d.Error) + ": " + aws.ToString(d.Cause)
	r.mu.Unlock()
	close(t.done)
}

// showMilestones puts a remediation execution's evacuation milestones
// from the ledger on the timeline, each once.
func (r *runner) showMilestones(ctx context.Context, t *tracked) {
	if as, _, err := r.env.Ledger.Actions(ctx, r.env.CP.Pseudo.StackName, ledger.PageRequest{Limit: evacuationLookup}); err == nil {
		r.noteMilestones(as)
	}
}

// noteMilestones puts the evacuation milestones among as, newest first,
// that the timeline has not shown on it, oldest first.
func (r *runner) noteMilestones(as []ledger.Action) {
	for _, a := range slices.Backward(as) {
		if a.Action != milestoneAction {
			continue
		}
		r.mu.Lock()
		seen := r.shownActions[a.ID]
		r.shownActions[a.ID] = true
		r.mu.Unlock()
		if !seen {
			r.line(entry{Category: "remediation", Event: fmt.Sprintf("evacuation of %s: %s", a.Detail["zone"], a.Outcome), StateMachine: r.machineName("RemediateStateMachine"), Outcome: a.Reason})
		}
	}
}

func lifecycleNote(a *ledger.Action) string {
	var parts []string
	if n := a.Detail["tasks_drained"]; n != "" {
		parts = append(parts, n+" tasks drained")
	}
	if d := a.Detail["duration"]; d != "" {
		parts = append(parts, "held "+d)
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// actionOf finds the ledger's audit item of an execution.
func (r *runner) actionOf(ctx context.Context, arn string) *ledger.Action {
	as, _, err := r.env.Ledger.Actions(ctx, r.env.CP.Pseudo.StackName, ledger.PageRequest{Limit: 50})
	if err != nil {
		return nil
	}
	for _, a := range as {
		if a.ExecutionARN == arn {
			return &a
		}
	}
	return nil
}

// machineName is the local name of the template's state machine id.
func (r *runner) machineName(id string) string {
	for _, sm := range r.env.CP.App.StateMachines {
		if sm.LogicalID == id {
			return sm.Name
		}
	}
	return id
}

func (r *runner) loadBalancer(ctx context.Context) (string, error) {
	name := ingress.LoadBalancerName(stack.Spec{Name: r.env.CP.Pseudo.StackName})
	out, err := elb.NewFromConfig(r.env.CP.Sim.Config()).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if err != nil || len(out.LoadBalancers) == 0 {
		return "", fmt.Errorf("finding load balancer %s: %w", name, err)
	}
	return aws.ToString(out.LoadBalancers[0].LoadBalancerArn), nil
}

// readLedger adds the ledger's history and actions to the record.
func (r *runner) readLedger(ctx context.Context) error {
	name := r.env.CP.Pseudo.StackName
	ds, _, err := r.env.Ledger.History(ctx, name, ledger.PageRequest{Limit: 100})
	if err != nil {
		return fmt.Errorf("reading the ledger's history: %w", err)
	}
	as, _, err := r.env.Ledger.Actions(ctx, name, ledger.PageRequest{Limit: 100})
	if err != nil {
		return fmt.Errorf("reading the ledger's actions: %w", err)
	}
	r.rec.Deployments, r.rec.Actions = ds, as
	return nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func lastColon(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
