package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// OnSim is template.yaml's control plane in the local environment, on a
// simulator: every resource the template declares, created in moto under a
// name prefix; every function's handler from the registry, with the
// simulator's clients and clock for the stack's services and moto's for
// the rest; the rules wired to their real targets; and the simulator's
// events put on the bus, so the template's rules start what they start on
// AWS.
//
// The state machines wait 0 s; each further round of a wait loop lets
// Round of simulated time pass instead, once the lifecycle state machine
// has acted, at the current simulated time, on every instance that waits
// on a lifecycle hook, and the remediation state machine has decided on
// every state change of the stack's remediation alarms so far. Rounds take milliseconds while an event takes a
// moment to reach the state machine, so without that a round could run a
// hook's timeout out before the execution for it has started; on AWS a
// round is 15 s and an event arrives within a second.
type OnSim struct {
	Sim    *sim.Sim
	App    *local.App
	Wiring *local.Wiring
	Pump   *local.Pump
	Pseudo local.Pseudo
	// Config reaches moto's services through the gateway.
	Config aws.Config
	// SimConfig reaches the simulator and counts the calls in Calls.
	SimConfig aws.Config
	Calls     *awsclient.Calls
	// Handlers are the functions' handlers, by logical ID, as the gateway
	// serves them.
	Handlers map[string]any

	round time.Duration
	group string
	mu    sync.Mutex
	// seen is when the lifecycle function last acted on each instance, on
	// the simulator's clock.
	seen        map[string]time.Time
	invocations []Invocation
	// decided are the alarm state changes whose remediation execution has
	// decided, by stateChange.
	decided map[string]bool
	// waitBegan is when each wait on a lifecycle hook was first seen, on
	// the simulator's clock and in wall time, by instance and state.
	waitBegan map[string]waitBegan
}

type waitBegan struct{ sim, wall time.Time }

// Invocation is one call of the lifecycle function, timed in wall time.
type Invocation struct {
	Op string
	// Kind is the action's: launch or drain.
	Kind       string
	InstanceID string
	// Took is the whole call.
	Took time.Duration
	// FirstMutation is the time to its first call that changes the stack
	// (Auto Scaling, ECS), when it made one; the ledger's writes do not
	// count.
	FirstMutation time.Duration
}

type invocationKey struct{}

// invocation is an Invocation being timed.
type invocation struct {
	start time.Time
	first time.Duration
}

// Options configures StartOnSim.
type Options struct {
	// TemplatePath is template.yaml.
	TemplatePath string
	// StackName is AWS::StackName: the managed stack's name.
	StackName string
	// Prefix starts every resource name, so that environments share moto.
	Prefix string
	// Parameters override the template's parameter defaults.
	Parameters map[string]string
	// Round is the simulated time a further round of a wait loop stands
	// for; 15 s when zero.
	Round time.Duration
	// Log receives the functions' logs; discarded when nil.
	Log *slog.Logger
	// APIOptions are added to the functions' clients, moto's and the
	// simulator's: a test's own counters or faults.
	APIOptions []func(*middleware.Stack) error
	// Events passes on the simulator's events that reach the bus; every
	// event when nil.
	Events func(<-chan sim.Event) <-chan sim.Event
}

// StartOnSim creates the template's control plane in env for s and wires
// its rules, until Stop.
func StartOnSim(ctx context.Context, env *local.Env, s *sim.Sim, o Options) (*OnSim, error) {
	tmpl, err := local.LoadTemplate(o.TemplatePath)
	if err != nil {
		return nil, err
	}
	if o.Round <= 0 {
		o.Round = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &OnSim{
		Sim: s, Calls: awsclient.NewCalls(), round: o.Round, seen: map[string]time.Time{}, decided: map[string]bool{}, waitBegan: map[string]waitBegan{},
		Pseudo: local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: o.StackName},
		Config: local.Config(env.Endpoint()), group: compute.GroupName(stack.Spec{Name: o.StackName}),
	}
	c.SimConfig = s.ConfigOver(c.Config)
	c.SimConfig.APIOptions = append(c.SimConfig.APIOptions, c.Calls.Middleware(), timeFirstMutation)
	fns, err := tmpl.Functions(local.NewNames(tmpl, c.Pseudo, o.Parameters, o.Prefix, nil))
	if err != nil {
		return nil, err
	}
	between := func(ctx context.Context) error { return c.pace(ctx, "") }
	clients := Clients{Moto: c.Config.Copy(), Sim: c.SimConfig.Copy(), Clock: s.Now}
	clients.Moto.APIOptions = slices.Concat(c.Config.APIOptions, o.APIOptions)
	clients.Sim.APIOptions = slices.Concat(c.SimConfig.APIOptions, o.APIOptions)
	handlers, err := Handlers(fns, clients, o.Log, between)
	if err != nil {
		return nil, err
	}
	if h, ok := handlers["LifecycleFunction"].(func(context.Context, json.RawMessage) (any, error)); ok {
		handlers["LifecycleFunction"] = c.track(h)
	}
	if h, ok := handlers["RemediateFunction"].(func(context.Context, json.RawMessage) (any, error)); ok {
		handlers["RemediateFunction"] = c.trackDecisions(h)
	}
	c.Handlers = handlers
	c.App, err = local.DeployApp(ctx, c.Config, env.Gateway, tmpl, local.AppOptions{
		TemplatePath: o.TemplatePath, Pseudo: c.Pseudo, Parameters: o.Parameters, Prefix: o.Prefix, Handlers: handlers,
	})
	if err != nil {
		return nil, err
	}
	if err := c.App.Verify(ctx, c.Config, env.Gateway); err != nil {
		return nil, err
	}
	// The images a deployment expects in ECR before the first build: the
	// app's initial one and the nginx one the template names.
	planEnv := c.FunctionEnvironment("PlanFunction")
	for _, img := range []string{planEnv["IMAGE_REPOSITORY"] + ":" + stack.Defaults("").Service.ImageTag, planEnv["NGINX_IMAGE"]} {
		if err := local.PushImage(ctx, ecr.NewFromConfig(c.SimConfig), img); err != nil {
			return nil, err
		}
	}
	c.Calls.Reset()
	if c.Wiring, err = local.Wire(ctx, c.Config, c.App, c.Pseudo, o.Log); err != nil {
		return nil, err
	}
	in := s.Subscribe().C
	if o.Events != nil {
		in = o.Events(in)
	}
	c.Pump = c.Wiring.Pump(in)
	return c, nil
}

// Stop stops the event wiring.
func (c *OnSim) Stop() { c.Wiring.Stop() }

// FunctionEnvironment is the environment the template gives the function
// id, resolved.
func (c *OnSim) FunctionEnvironment(id string) map[string]string {
	for _, f := range c.App.Functions {
		if f.LogicalID == id {
			return f.Environment
		}
	}
	return nil
}

// StateMachine returns the ARN of the template's state machine id.
func (c *OnSim) StateMachine(id string) (string, error) {
	i := slices.IndexFunc(c.App.StateMachines, func(sm local.StateMachine) bool { return sm.LogicalID == id })
	if i < 0 {
		return "", fmt.Errorf("the template has no state machine %s", id)
	}
	return c.App.StateMachines[i].ARN, nil
}

// track paces the lifecycle function's checks, each of which follows the
// state machine's wait, and notes, for each invocation, the instance it
// acted on, the simulated time it finished at, and how long it took to its
// first mutating call.
func (c *OnSim) track(h func(context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var req struct {
			Op  string `json:"op"`
			Run *struct {
				Action struct {
					Kind       string `json:"kind"`
					InstanceID string `json:"instanceId"`
				} `json:"action"`
			} `json:"run"`
			Event *struct {
				Detail struct {
					InstanceID string `json:"EC2InstanceId"`
					Transition string `json:"LifecycleTransition"`
				} `json:"detail"`
			} `json:"event"`
		}
		_ = json.Unmarshal(raw, &req)
		id, kind := "", ""
		switch {
		case req.Run != nil:
			id, kind = req.Run.Action.InstanceID, req.Run.Action.Kind
		case req.Event != nil:
			id, kind = req.Event.Detail.InstanceID, lifecycle.KindLaunch
			if req.Event.Detail.Transition == events.TransitionTerminating {
				kind = lifecycle.KindDrain
			}
		}
		if req.Op == string(lifecycle.OpCheck) {
			if err := c.pace(ctx, id); err != nil {
				return nil, err
			}
		}
		inv := &invocation{start: time.Now()}
		out, err := h(context.WithValue(ctx, invocationKey{}, inv), raw)
		took := time.Since(inv.start)
		c.mu.Lock()
		c.seen[id] = c.Sim.Now()
		c.invocations = append(c.invocations, Invocation{Op: req.Op, Kind: kind, InstanceID: id, Took: took, FirstMutation: inv.first})
		c.mu.Unlock()
		return out, err
	}
}

// trackDecisions notes the alarm state changes the remediation function
// has decided on.
func (c *OnSim) trackDecisions(h func(context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var req struct {
			Op    string `json:"op"`
			Event *struct {
				Detail events.AlarmStateChange `json:"detail"`
			} `json:"event"`
		}
		out, err := h(ctx, raw)
		if json.Unmarshal(raw, &req) == nil && req.Op == string(remediate.OpDecide) && req.Event != nil {
			c.mu.Lock()
			c.decided[stateChange(req.Event.Detail)] = true
			c.mu.Unlock()
		}
		return out, err
	}
}

// stateChange identifies an alarm's state change; the bus gives the event
// a new ID.
func stateChange(d events.AlarmStateChange) string {
	return d.AlarmName + " " + d.State.Value + " " + d.State.Timestamp
}

// undecided lists the state changes of the stack's remediation alarms the
// simulator emitted whose remediation has not decided yet.
func (c *OnSim) undecided() []string {
	var out []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.Sim.Events() {
		if ev.DetailType != events.DetailTypeAlarmStateChange {
			continue
		}
		var d events.AlarmStateChange
		if json.Unmarshal(ev.Detail, &d) == nil && !c.decided[stateChange(d)] && remediate.Watches(c.Pseudo.StackName, d.AlarmName, d.State.Value, d.PreviousState.Value) {
			out = append(out, d.AlarmName+" "+d.State.Value)
		}
	}
	return out
}

// timeFirstMutation notes, in the invocation being timed, when it made its
// first mutating call.
func timeFirstMutation(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("TimeFirstMutation", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if inv, ok := ctx.Value(invocationKey{}).(*invocation); ok && inv.first == 0 && !awsclient.IsRead(middleware.GetOperationName(ctx)) {
			inv.first = time.Since(inv.start)
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.Before)
}

// HoldForHooks keeps the simulator's running clock (sim.Run) still while
// an instance of the stack's group waits on a lifecycle hook that the
// lifecycle state machine has not acted on since the wait began, for at
// most maxWait of wall time per wait, until ctx is done. On AWS the event
// reaches the state machine within a second; here it takes a moment of
// wall time, which at the clock's speed would be minutes, and could run
// the hook's timeout out before the execution for it has started.
func (c *OnSim) HoldForHooks(ctx context.Context, maxWait time.Duration) {
	var pending atomic.Bool
	c.Sim.SetHold(pending.Load)
	defer c.Sim.SetHold(nil)
	api := autoscaling.NewFromConfig(c.Sim.Config())
	for {
		pending.Store(c.unanswered(ctx, api, maxWait))
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// unanswered reports whether an instance waits on a lifecycle hook that
// the lifecycle function has not acted on since the wait began, for less
// than maxWait of wall time.
func (c *OnSim) unanswered(ctx context.Context, api *autoscaling.Client, maxWait time.Duration) bool {
	out, err := api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{c.group}})
	if err != nil {
		return false
	}
	now, wall := c.Sim.Now(), time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	waiting := false
	for _, g := range out.AutoScalingGroups {
		for _, i := range g.Instances {
			id, st := aws.ToString(i.InstanceId), i.LifecycleState
			if st != astypes.LifecycleStatePendingWait && st != astypes.LifecycleStateTerminatingWait {
				continue
			}
			key := id + " " + string(st)
			began, ok := c.waitBegan[key]
			if !ok {
				began = waitBegan{sim: now, wall: wall}
				c.waitBegan[key] = began
			}
			if c.seen[id].Before(began.sim) && wall.Sub(began.wall) < maxWait {
				waiting = true
			}
		}
	}
	return waiting
}

// Invocations returns the lifecycle function's calls so far, in order.
func (c *OnSim) Invocations() []Invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.invocations)
}

// Round lets one round of simulated time pass, as a wait loop's Wait
// state does locally, and waits for the lifecycle state machine to act at
// the new time.
func (c *OnSim) Round(ctx context.Context) error {
	if err := c.pace(ctx, ""); err != nil {
		return err
	}
	return c.Settle(ctx)
}

// Settle waits until the lifecycle state machine has acted, at the current
// simulated time, on every instance that waits on a lifecycle hook: for a
// caller whose clock moves without a state machine's rounds.
func (c *OnSim) Settle(ctx context.Context) error {
	return c.settle(ctx, c.Sim.Now(), "")
}

// pace lets a round of simulated time pass once the lifecycle state
// machine has acted, at the current simulated time, on every instance that
// waits on a lifecycle hook. self is the instance whose execution's round
// it is, which has reached the current time by coming here; when another
// round moved the clock meanwhile, this one lets no more time pass.
func (c *OnSim) pace(ctx context.Context, self string) error {
	since := c.Sim.Now()
	if self != "" {
		c.mu.Lock()
		c.seen[self] = since
		c.mu.Unlock()
	}
	if err := c.settle(ctx, since, self); err != nil {
		return err
	}
	if c.Sim.Now().Equal(since) {
		c.Sim.Advance(c.round)
	}
	return nil
}

// settle waits, in wall time, until the lifecycle function has acted on
// every instance of the stack's group that waits on a lifecycle hook, but
// except, at or after the simulated time since: the event has reached the
// state machine through the rules, and its execution has taken a step.
func (c *OnSim) settle(ctx context.Context, since time.Time, except string) error {
	api := autoscaling.NewFromConfig(c.Sim.Config())
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{c.group}})
		if err != nil {
			return fmt.Errorf("describing group %s: %w", c.group, err)
		}
		var unseen []string
		c.mu.Lock()
		for _, g := range out.AutoScalingGroups {
			for _, i := range g.Instances {
				id, st := aws.ToString(i.InstanceId), i.LifecycleState
				if (st == astypes.LifecycleStatePendingWait || st == astypes.LifecycleStateTerminatingWait) && id != except && c.seen[id].Before(since) {
					unseen = append(unseen, id+" "+string(st))
				}
			}
		}
		c.mu.Unlock()
		unseen = append(unseen, c.undecided()...)
		if len(unseen) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the lifecycle state machine did not act within a minute on %v", unseen)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
