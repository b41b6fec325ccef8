package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Kind is one kind of step: what it acts on, the fields it takes, the
// statuses it can end with, the state machines it needs, and how it runs.
type Kind struct {
	About string
	// Fields are the step's fields this kind reads; Required must be given.
	Fields, Required []string
	// Statuses are the values expect.status may take.
	Statuses []string
	// Needs are the template's state machines (logical IDs) the kind
	// cannot run without.
	Needs []string
	run   func(ctx context.Context, r *runner, st Step, res *StepRecord) error
}

var countFields = []string{"expect.tasks", "expect.instances", "expect.perZone"}

var zoneNeeds = []string{"RemediateStateMachine", "LifecycleStateMachine"}

var executionStatuses = []string{string(sfntypes.ExecutionStatusSucceeded), string(sfntypes.ExecutionStatusFailed)}

// Kinds are the step kinds a scenario may use, by the name its steps give
// in "do".
var Kinds = map[string]Kind{
	"build": {
		About:  "build the stack from its spec (the defaults unless given): start the template's build state machine, as `ecsplane stack apply --state-machine` does, and wait for it to end",
		Fields: append([]string{"spec", "expect.status"}, countFields...), Required: []string{"expect.status"}, Statuses: executionStatuses,
		Needs: []string{"BuildStateMachine"}, run: runBuild,
	},
	"push": {
		About:  "push an image tag to the service's repository in the simulated ECR, with an optional fault; its event reaches the template's push rule, which starts the rollout",
		Fields: append([]string{"tag", "fault", "faultAt", "expect.status"}, countFields...), Required: []string{"tag", "expect.status"},
		Statuses: []string{string(ledger.StatusSucceeded), string(ledger.StatusRolledBack), string(ledger.StatusRolledBackByECS), string(ledger.StatusFailed),
			string(ledger.StatusSkipped), string(ledger.StatusSuperseded), string(ledger.StatusBlocked), string(ledger.StatusAborted)},
		Needs: []string{"RolloutStateMachine"}, run: runPush,
	},
	"load": {
		About:  "set the service's CPU load and the load balancer's requests, then wait until the counts expected hold: the data plane's own scaling and the lifecycle state machine act",
		Fields: append([]string{"cpu", "requestsPerSecond", "expect.drained"}, countFields...), Required: []string{"cpu"},
		Needs: []string{"LifecycleStateMachine"}, run: runLoad,
	},
	"teardown": {
		About:  "tear the stack down: start the template's teardown state machine, as `ecsplane stack destroy --state-machine` does",
		Fields: []string{"expect.status", "expect.nothingTagged"}, Required: []string{"expect.status"}, Statuses: executionStatuses,
		Needs: []string{"TeardownStateMachine"}, run: runTeardown,
	},
	"lose-instance": {
		About:  "crash one of the group's InService instances in a zone (its status checks fail; Auto Scaling replaces it), then wait until the counts expected hold again",
		Fields: append([]string{"zone"}, countFields...), Required: []string{"zone"},
		Needs: []string{"LifecycleStateMachine"}, run: runLoseInstance,
	},
	"hold": {
		About:  "let the step's timeout of simulated time pass while the counts expected hold at every moment; the step fails at the first moment one does not",
		Fields: countFields, Required: []string{}, run: runHold,
	},
	// The zone steps act through remediation, which evacuates an
	// impaired zone and restores it, draining its instances through the
	// lifecycle state machine.
	"degrade-zone": {
		About:  "start a gray failure of a zone (its targets fail a share of health checks and requests while its instances pass their status checks), then wait until the zone is out of traffic, every target serving traffic is healthy, and remediation's evacuation matches expect.evacuation when given",
		Fields: append([]string{"zone", "failures", "expect.evacuation"}, countFields...), Required: []string{"zone"},
		Needs: zoneNeeds, run: runZoneFault,
	},
	"fail-zone": {
		About:  "start an outage of a zone (its instances fail and launches there fail), then wait until the zone is out of traffic, every target serving traffic is healthy, and remediation's evacuation matches expect.evacuation when given",
		Fields: append([]string{"zone", "expect.evacuation"}, countFields...), Required: []string{"zone"},
		Needs: zoneNeeds, run: runZoneFault,
	},
	"recover-zone": {
		About:  "end a zone's gray failure or outage, then wait until the zone has a healthy target again, every target serving traffic is healthy, the evacuation that was running has ended, and it matches expect.evacuation when given",
		Fields: append([]string{"zone", "expect.evacuation"}, countFields...), Required: []string{"zone"},
		Needs: zoneNeeds, run: runRecoverZone,
	},
}

// KindNames lists the kinds, sorted.
func KindNames() []string { return slices.Sorted(maps.Keys(Kinds)) }

// Faults are the image faults a push may inject, by name.
var Faults = map[string]sim.ImageFault{
	"pull-fails":      sim.ImagePullFails,
	"exits":           sim.ImageExits,
	"unhealthy":       sim.ImageUnhealthy,
	"server-errors":   sim.ImageServerErrors,
	"ignores-sigterm": sim.ImageIgnoresSIGTERM,
}

func runBuild(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	spec := json.RawMessage(`{}`)
	if len(st.Spec) > 0 {
		spec = st.Spec
	}
	if err := r.runMachine(ctx, st, res, "BuildStateMachine", string(mustJSON(map[string]json.RawMessage{"spec": spec}))); err != nil {
		return err
	}
	return r.checkCounts(st)
}

// runMachine starts one of the template's state machines as the CLI does,
// waits for it to end, and checks its status.
func (r *runner) runMachine(ctx context.Context, st Step, res *StepRecord, logicalID, input string) error {
	before := r.callCounts()
	ex, err := r.startExecution(ctx, logicalID, input)
	if err != nil {
		return err
	}
	t, err := r.waitExecution(ctx, st, ex)
	if err != nil {
		return err
	}
	res.Status = t.status
	res.Figures = r.callFigures(before)
	res.Figures["state_transitions"] = t.transitions
	return r.checkStatus(st, res.Status, t.cause)
}

func runTeardown(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	if err := r.runMachine(ctx, st, res, "TeardownStateMachine", `{}`); err != nil {
		return err
	}
	if !st.Expect.NothingTagged {
		return nil
	}
	left, err := r.leftovers(ctx)
	if err != nil {
		return err
	}
	res.Figures["left"] = len(left)
	r.line(entry{Event: "teardown's dry run and the simulator: " + plural(len(left), "thing", "things") + " of the stack left", Outcome: strings.Join(left, ", ")})
	if len(left) > 0 {
		return fmt.Errorf("left after the teardown: %s", strings.Join(left, "; "))
	}
	return nil
}

// leftovers is what a second teardown would delete, found by the layers'
// own tag-based lookups in a dry run, and the instances and tasks the
// simulator still runs.
func (r *runner) leftovers(ctx context.Context) ([]string, error) {
	run := stack.NewRun(stack.Spec{Name: r.env.CP.Pseudo.StackName}, true, "scenario-check", nil)
	wait := func(context.Context) error { return nil }
	if err := build.DestroyAll(ctx, build.NewClients(r.env.CP.SimConfig, build.Options{}), run, wait, 1); err != nil && !build.IsNotReady(err) {
		return nil, fmt.Errorf("the teardown's dry run: %w", err)
	}
	var left []string
	for _, c := range run.Plan().Changes {
		left = append(left, fmt.Sprintf("%s %s %s", c.Resource, c.Name, c.ID))
	}
	snap := r.snapshot()
	for _, i := range snap.Instances {
		if i.State != "terminated" {
			left = append(left, "instance "+i.ID+" "+i.State)
		}
	}
	for _, t := range snap.Tasks {
		if t.LastStatus != "STOPPED" {
			left = append(left, "task "+t.ARN+" "+t.LastStatus)
		}
	}
	return left, nil
}

func runPush(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	cp := r.env.CP
	fn := cp.FunctionEnvironment("RolloutFunction")
	repo := fn["IMAGE_REPOSITORY"]
	_, name, _ := strings.Cut(repo, "/")
	if p := fn["IMAGE_TAG_PREFIX"]; !strings.HasPrefix(st.Tag, p) {
		return fmt.Errorf("tag %q does not start with %q: the template's push rule starts no rollout for it (ImageTagPrefix)", st.Tag, p)
	}
	before, invBefore := r.callCounts(), r.invocations("Rollout")
	delivered := len(cp.Wiring.Dispatcher.Outcomes())
	pushedAt := cp.Sim.Now()
	digest, err := cp.Sim.PushImage(name, st.Tag)
	if err != nil {
		return fmt.Errorf("pushing %s:%s: %w", name, st.Tag, err)
	}
	inject := func() {
		cp.Sim.FailImage(repo+"@"+digest, Faults[st.Fault])
		r.line(entry{Category: "fault", Event: fmt.Sprintf("fault injected: %s:%s %s", name, st.Tag, st.Fault), Outcome: "the simulator's image fault"})
	}
	if st.Fault != "" && st.FaultAt == "" {
		inject()
	}
	o, err := r.nextDelivery(ctx, delivered, func(o Outcome) bool {
		return o.Execution != "" && machineOf(o.Execution) == r.machineName("RolloutStateMachine")
	})
	if err != nil {
		return fmt.Errorf("no rule started a rollout for the push of %s: %w", st.Tag, err)
	}
	t := r.track(o.Execution)
	pending := st.FaultAt != ""
	if err := r.until(ctx, st, func() (bool, string, error) {
		if pending {
			if d, err := r.env.Ledger.FindByExecution(ctx, cp.Pseudo.StackName, o.Execution); err == nil {
				if _, ok := d.At(ledger.PhaseName(st.FaultAt)); ok {
					inject()
					pending = false
				}
			}
		}
		select {
		case <-t.done:
			return true, "", nil
		default:
			return false, "the rollout still RUNNING", nil
		}
	}); err != nil {
		return err
	}
	rec, err := r.env.Ledger.FindByExecution(ctx, cp.Pseudo.StackName, o.Execution)
	if err != nil {
		return fmt.Errorf("the rollout's record: %w", err)
	}
	res.Status = string(rec.Status)
	res.Figures = r.callFigures(before)
	res.Figures["state_transitions"] = t.transitions
	res.Figures["lambda_invocations"] = r.invocations("Rollout") - invBefore
	res.Deployment = rec
	r.rolloutTimes(res, pushedAt)
	if rec.ImageDigest != digest {
		return fmt.Errorf("the rollout of %s rolled out %s, want the pushed digest %s", st.Tag, rec.ImageDigest, digest)
	}
	if err := r.checkStatus(st, res.Status, rec.Reason); err != nil {
		return err
	}
	return r.checkCounts(st)
}

func runLoad(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	cp := r.env.CP
	spec := stack.Spec{Name: cp.Pseudo.StackName}
	cpu := *st.CPU
	if err := cp.Sim.SetServiceLoad(service.ClusterName(spec), service.Name(spec), cpu, serviceMemory); err != nil {
		return err
	}
	what := fmt.Sprintf("service load set to %g%% of a task's CPU", cpu)
	if st.RequestsPerSecond != nil {
		lb, err := r.loadBalancer(ctx)
		if err != nil {
			return err
		}
		if err := cp.Sim.SetTraffic(lb, *st.RequestsPerSecond); err != nil {
			return err
		}
		what += fmt.Sprintf(", %g requests a second", *st.RequestsPerSecond)
	}
	r.line(entry{Event: what, Outcome: "the data plane scales"})
	from := time.Now()
	peak := map[string]int{}
	err := r.until(ctx, st, func() (bool, string, error) {
		c := r.counts()
		peak["tasks_peak"] = max(peak["tasks_peak"], c.tasks)
		peak["instances_peak"] = max(peak["instances_peak"], c.instances)
		drained, err := r.drains(ctx, from)
		if err != nil {
			return false, "", err
		}
		peak["drains"] = drained
		why := r.countsMiss(st, c)
		if !st.Expect.Drained.Holds(drained) {
			why = append(why, fmt.Sprintf("%d drains, want %s", drained, st.Expect.Drained))
		}
		return len(why) == 0, strings.Join(why, "; "), nil
	})
	res.Figures = peak
	return err
}

// serviceMemory is the service's memory demand, in percent of one task's
// reservation: below its target tracking's, so that CPU alone scales it.
const serviceMemory = 40

// nextDelivery waits, a minute at most, for the first delivery after the
// first skip that match accepts.
func (r *runner) nextDelivery(ctx context.Context, skip int, match func(Outcome) bool) (Outcome, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		for _, o := range r.env.CP.Wiring.Dispatcher.Outcomes()[skip:] {
			if match(o) {
				return o, nil
			}
		}
		if time.Now().After(deadline) {
			return Outcome{}, errors.New("no delivery within a minute")
		}
		select {
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// drains counts the lifecycle drains completed with CONTINUE since from.
func (r *runner) drains(ctx context.Context, from time.Time) (int, error) {
	as, _, err := r.env.Ledger.Actions(ctx, r.env.CP.Pseudo.StackName, ledger.PageRequest{Limit: 100})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range as {
		if a.Kind == ledger.KindLifecycle && a.Action == lifecycle.KindDrain && a.Outcome == "CONTINUE" && !a.At.Before(from.Truncate(time.Millisecond)) {
			n++
		}
	}
	return n, nil
}

// startExecution starts one of the template's state machines, as the CLI
// starts the build and the teardown.
func (r *runner) startExecution(ctx context.Context, logicalID, input string) (*tracked, error) {
	arn, err := r.env.CP.StateMachine(logicalID)
	if err != nil {
		return nil, err
	}
	r.seq++
	out, err := sfn.NewFromConfig(r.env.CP.Config).StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(arn), Input: aws.String(input),
		Name: aws.String(fmt.Sprintf("scenario-%d-%s", r.seq, strings.TrimSuffix(strings.ToLower(logicalID), "statemachine"))),
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", logicalID, err)
	}
	r.line(entry{Event: "started as `ecsplane stack --state-machine` starts it", StateMachine: logicalID, Outcome: "RUNNING"})
	return r.track(aws.ToString(out.ExecutionArn)), nil
}

// callCounts are the calls to the stack's services so far.
func (r *runner) callCounts() [2]int {
	return [2]int{awsclient.Total(r.env.CP.Calls.Mutations()), awsclient.Total(r.env.CP.Calls.Reads())}
}

func (r *runner) callFigures(before [2]int) map[string]int {
	now := r.callCounts()
	return map[string]int{"mutating_calls": now[0] - before[0], "read_calls": now[1] - before[1]}
}

// invocations counts the invocations so far of the functions whose
// logical IDs start with prefix.
func (r *runner) invocations(prefix string) int {
	n := 0
	for _, f := range r.env.CP.App.Functions {
		if strings.HasPrefix(f.LogicalID, prefix) {
			n += r.env.Local.Gateway.Invocations(f.Name)
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// rolloutTimes adds, in simulated seconds from the push, when the rollout
// reached ECS's verdict and when it finished, from the timeline.
func (r *runner) rolloutTimes(res *StepRecord, pushedAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.rec.Timeline {
		if e.Step != res.Index || e.Category != "rollout" {
			continue
		}
		after := int(e.VirtualAt.Sub(pushedAt).Seconds())
		switch {
		case strings.HasSuffix(e.Event, ": "+string(ledger.PhaseECSCompleted)), strings.HasSuffix(e.Event, ": "+string(ledger.PhaseECSFailed)):
			res.Figures["ecs_verdict_after_s"] = after
		case strings.HasSuffix(e.Event, ": "+string(ledger.PhaseFinished)):
			res.Figures["finished_after_s"] = after
		}
	}
}

func runLoseInstance(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	before := r.snapshot()
	victim := ""
	for _, i := range before.Instances {
		if i.Zone == st.Zone && i.GroupState == "InService" {
			victim = i.ID
			break
		}
	}
	if victim == "" {
		return fmt.Errorf("no InService instance of the group in %s to lose", st.Zone)
	}
	healthyBefore := r.counts().byZone[st.Zone].HealthyTargets
	crashedAt := r.env.CP.Sim.Now()
	if err := r.env.CP.Sim.CrashInstance(victim); err != nil {
		return err
	}
	r.line(entry{Category: "fault", Event: fmt.Sprintf("fault injected: instance %s in %s crashes", victim, st.Zone), Outcome: "its status checks fail; it stops serving"})
	res.Figures = map[string]int{}
	err := r.until(ctx, st, func() (bool, string, error) {
		snap, c := r.snapshot(), r.counts()
		now := snap.At
		replaced := false
		for _, i := range snap.Instances {
			if i.Zone == st.Zone && i.ID != victim && i.GroupState == "InService" && !slices.ContainsFunc(before.Instances, func(b sim.InstanceView) bool { return b.ID == i.ID }) {
				replaced = true
			}
		}
		if _, ok := res.Figures["replaced_after_s"]; !ok && replaced {
			res.Figures["replaced_after_s"] = int(now.Sub(crashedAt).Seconds())
		}
		z := c.byZone[st.Zone]
		if _, ok := res.Figures["targets_restored_after_s"]; !ok && replaced && z != nil && z.HealthyTargets >= healthyBefore {
			res.Figures["targets_restored_after_s"] = int(now.Sub(crashedAt).Seconds())
		}
		why := r.countsMiss(st, c)
		if !replaced {
			why = append(why, "no new instance InService in "+st.Zone+" yet")
		}
		if z == nil || z.HealthyTargets < healthyBefore {
			why = append(why, fmt.Sprintf("%s has fewer healthy targets than the %d before", st.Zone, healthyBefore))
		}
		return len(why) == 0, strings.Join(why, "; "), nil
	})
	return err
}

func runHold(ctx context.Context, r *runner, st Step, res *StepRecord) error {
	r.mu.Lock()
	r.hold, r.holdErr, r.holdChecks = &st, "", 0
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.hold = nil
		r.mu.Unlock()
	}()
	end := r.env.CP.Sim.Now().Add(time.Duration(st.Timeout))
	for {
		r.mu.Lock()
		why, checks := r.holdErr, r.holdChecks
		r.mu.Unlock()
		if why != "" {
			return errors.New(why)
		}
		if !r.env.CP.Sim.Now().Before(end) {
			res.Figures = map[string]int{"snapshots_checked": checks}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
