package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// OnSim is template.yaml's control plane in the local environment, on a
// simulator: every resource the template declares, created in moto under a
// name prefix; every function's handler from the registry, with the
// simulator's clients and clock for the stack's services and moto's for
// the rest; the rules wired to their real targets; and the simulator's
// events put on the bus, so the template's rules start what they start on
// AWS. The state machines wait 0 s; each further round of a wait loop lets
// Round of simulated time pass instead.
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

	round time.Duration
	group string
	mu    sync.Mutex
	// seen is when the lifecycle function last acted on each instance, on
	// the simulator's clock.
	seen map[string]time.Time
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
		Sim: s, Calls: awsclient.NewCalls(), round: o.Round, seen: map[string]time.Time{},
		Pseudo: local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: o.StackName},
		Config: local.Config(env.Endpoint()), group: compute.GroupName(stack.Spec{Name: o.StackName}),
	}
	c.SimConfig = s.ConfigOver(c.Config)
	c.SimConfig.APIOptions = append(c.SimConfig.APIOptions, c.Calls.Middleware())
	fns, err := tmpl.Functions(local.NewNames(tmpl, c.Pseudo, o.Parameters, o.Prefix, nil))
	if err != nil {
		return nil, err
	}
	between := func(context.Context) error {
		s.Advance(o.Round)
		return nil
	}
	handlers, err := Handlers(fns, Clients{Moto: c.Config, Sim: c.SimConfig, Clock: s.Now}, o.Log, between)
	if err != nil {
		return nil, err
	}
	if h, ok := handlers["LifecycleFunction"].(func(context.Context, json.RawMessage) (any, error)); ok {
		handlers["LifecycleFunction"] = c.track(h)
	}
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
	c.Pump = c.Wiring.Pump(s.Subscribe().C)
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

// track notes, for each invocation of the lifecycle function, the
// instance it acted on and the simulated time it finished at.
func (c *OnSim) track(h func(context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		out, err := h(ctx, raw)
		var req struct {
			Run *struct {
				Action struct {
					InstanceID string `json:"instanceId"`
				} `json:"action"`
			} `json:"run"`
			Event *struct {
				Detail struct {
					InstanceID string `json:"EC2InstanceId"`
				} `json:"detail"`
			} `json:"event"`
		}
		if json.Unmarshal(raw, &req) == nil {
			id := ""
			switch {
			case req.Run != nil:
				id = req.Run.Action.InstanceID
			case req.Event != nil:
				id = req.Event.Detail.InstanceID
			}
			c.mu.Lock()
			c.seen[id] = c.Sim.Now()
			c.mu.Unlock()
		}
		return out, err
	}
}

// Round lets one round of simulated time pass, as a wait loop's Wait
// state does locally, then Settles.
func (c *OnSim) Round(ctx context.Context) error {
	c.Sim.Advance(c.round)
	return c.Settle(ctx)
}

// Settle waits, in wall time, until the lifecycle state machine has acted
// on every instance of the stack's group that waits on a lifecycle hook
// since the simulated time Settle was called at: the event has reached the
// machine through the rules and its execution has taken a round. A caller
// that moves the simulated clock itself, without a state machine's pace,
// settles between its rounds so that no hook times out unseen.
func (c *OnSim) Settle(ctx context.Context) error {
	since := c.Sim.Now()
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
				st := i.LifecycleState
				if (st == astypes.LifecycleStatePendingWait || st == astypes.LifecycleStateTerminatingWait) && c.seen[aws.ToString(i.InstanceId)].Before(since) {
					unseen = append(unseen, aws.ToString(i.InstanceId)+" "+string(st))
				}
			}
		}
		c.mu.Unlock()
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
