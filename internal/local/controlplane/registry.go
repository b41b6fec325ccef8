package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/config"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Clients are the configurations the local handlers' clients are built
// on: moto's services (DynamoDB, Step Functions, SNS, SQS, EventBridge, and
// SSM for the template's own parameters) and the simulator's (EC2, SSM's
// public AMI parameters, Auto Scaling, ECS, ELB, CloudWatch, Application
// Auto Scaling, ECR). The local environment puts the simulator over moto
// (sim.ConfigOver), so that a layer's or the plan's IAM, DynamoDB and
// CloudWatch Logs calls on Sim reach moto. The rollout's functions send
// their task results to moto's Step Functions, which runs the state
// machines.
type Clients struct {
	Moto, Sim aws.Config
	// Clock is the time on AWS's side, the simulator's, which lifecycle
	// hooks and their deadlines follow; time.Now when nil.
	Clock func() time.Time
}

// handlerFor builds one function's handler from its environment, as its
// main does from the process's.
type handlerFor func(env *funcEnv) (any, error)

// funcEnv is one function's configuration in the local environment: its
// template environment in place of the process's, and the local clients
// in place of those lambdaenv.Load builds.
type funcEnv struct {
	lambdaenv.Shared
	lookup  config.Lookup
	clients Clients
	log     *slog.Logger
	// between runs before each further round of a wait loop.
	between func(ctx context.Context) error
}

// load reads the function's own configuration, reporting every missing
// variable with the shared ones.
func (e *funcEnv) load(own any) error {
	errs := []error{config.Load(&e.Shared, e.lookup)}
	if own != nil {
		errs = append(errs, config.Load(own, e.lookup))
	}
	return errors.Join(errs...)
}

// layer is a layer function: its step handler on the simulator, wrapped
// as the caller asks.
func layer[C any](l step.Layer[C], clients func(e *funcEnv) (C, error)) handlerFor {
	return func(e *funcEnv) (any, error) {
		c, err := clients(e)
		if err != nil {
			return nil, err
		}
		h := &step.Handler[C]{Layer: l, Clients: c, Stack: e.StackName, Log: e.log}
		var fn StepFunc = h.Handle
		if e.between != nil {
			fn = BetweenRounds(func(ctx context.Context, _ step.Request) error { return e.between(ctx) })(l.Name, fn)
		}
		return fn, nil
	}
}

// registry is every function of template.yaml by logical ID, each built
// as its functions/<name>/main.go builds it. A function the template adds
// without an entry here cannot run locally, and the local environment
// refuses to start.
var registry = map[string]handlerFor{
	"RecordFunction": func(e *funcEnv) (any, error) {
		var cfg ledger.Config
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		h := &ledger.RecordHandler{Ledger: ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName), Stack: e.StackName, Log: e.log}
		return h.Handle, nil
	},
	"PlanFunction": func(e *funcEnv) (any, error) {
		var cfg build.Config
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		c := build.NewClients(e.clients.Sim, build.Options{DNSNameParameter: cfg.DNSNameParameter})
		c.Ingress.SSM = ssm.NewFromConfig(e.clients.Moto)
		h := &build.PlanHandler{Clients: c, Stack: e.StackName, Config: cfg, Log: e.log}
		return h.Plan, nil
	},
	"NetworkFunction": layer(network.Step, func(e *funcEnv) (network.Clients, error) {
		return network.NewClients(awsclient.WithConsistencyRetries(e.clients.Sim)), e.load(nil)
	}),
	"SecurityFunction": layer(security.Step, func(e *funcEnv) (security.Clients, error) {
		return security.NewClients(awsclient.WithConsistencyRetries(e.clients.Sim)), e.load(nil)
	}),
	"ComputeFunction": layer(compute.Step, func(e *funcEnv) (compute.Clients, error) {
		return compute.NewClients(awsclient.WithConsistencyRetries(e.clients.Sim)), e.load(nil)
	}),
	"IngressFunction": layer(ingress.Step, func(e *funcEnv) (ingress.Clients, error) {
		var cfg ingress.Config
		err := e.load(&cfg)
		c := ingress.NewClients(awsclient.WithConsistencyRetries(e.clients.Sim), cfg)
		// The DNS name's parameter is the template's, created in moto.
		c.SSM = ssm.NewFromConfig(e.clients.Moto)
		return c, err
	}),
	"LifecycleFunction": func(e *funcEnv) (any, error) {
		var cfg lifecycle.Config
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		h := &lifecycle.Handler{
			Clients: lifecycle.NewClients(e.clients.Sim), Ledger: ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName),
			Stack: e.StackName, Config: cfg, Now: e.clients.Clock, Log: e.log,
		}
		return h.Handle, nil
	},
	"RemediateFunction": func(e *funcEnv) (any, error) {
		var cfg remediate.Config
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		// Cooldowns and leases run on the simulator's clock, as the
		// decisions that take them do.
		var opts []ledger.Option
		if e.clients.Clock != nil {
			opts = append(opts, ledger.WithClock(e.clients.Clock))
		}
		h := &remediate.Handler{
			Clients: remediate.NewClients(e.clients.Sim), Ledger: ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName, opts...),
			Stack: e.StackName, Config: cfg, Now: e.clients.Clock, Log: e.log,
		}
		if e.between == nil {
			return h.Handle, nil
		}
		// An evacuation's rounds follow the state machine's wait, which
		// lets simulated time pass instead.
		return func(ctx context.Context, raw json.RawMessage) (any, error) {
			var req struct {
				Op remediate.Op `json:"op"`
			}
			if json.Unmarshal(raw, &req) == nil && req.Op == remediate.OpCheck {
				if err := e.between(ctx); err != nil {
					return nil, err
				}
			}
			return h.Handle(ctx, raw)
		}, nil
	},
	"ServiceFunction": layer(service.Step(), func(e *funcEnv) (service.Clients, error) {
		var cfg service.Config
		err := e.load(&cfg)
		led := ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName)
		return service.NewClients(awsclient.WithConsistencyRetries(e.clients.Sim), led), err
	}),
	"RolloutFunction": func(e *funcEnv) (any, error) {
		var cfg rollout.Config
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		h := &rollout.Handler{
			Clients: rollout.Clients{
				ECS: ecs.NewFromConfig(e.clients.Sim), CloudWatch: service.NewCloudWatch(e.clients.Sim), SFN: sfn.NewFromConfig(e.clients.Moto),
				Ledger: ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName),
			},
			Config: cfg, Stack: e.StackName, Region: e.clients.Sim.Region, Log: e.log,
		}
		return h.Handle, nil
	},
	"RolloutResumeFunction": func(e *funcEnv) (any, error) {
		var cfg rollout.ResumeConfig
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		h := &rollout.Resume{
			Ledger: ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName), SFN: sfn.NewFromConfig(e.clients.Moto),
			Stack: e.StackName, BakeAlarms: cfg.BakeAlarms, Log: e.log,
		}
		return h.Handle, nil
	},
	"RolloutCleanupFunction": func(e *funcEnv) (any, error) {
		var cfg rollout.CleanupConfig
		if err := e.load(&cfg); err != nil {
			return nil, err
		}
		h := &rollout.Cleanup{
			Ledger: ledger.New(dynamodb.NewFromConfig(e.clients.Moto), cfg.TableName), ECS: ecs.NewFromConfig(e.clients.Sim),
			Stack: e.StackName, StateMachineARN: cfg.StateMachineARN, Log: e.log,
		}
		return h.Handle, nil
	},
}

// Registered lists the logical IDs the registry has handlers for, sorted.
func Registered() []string {
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Handlers builds the handler of every function in fns (local.App's, with
// their template environment resolved), by logical ID, with their clients
// on c. between, when set, runs before each further round of a layer's
// wait loop (a check or teardown round), where the local state machines
// wait 0 s: it lets simulated time pass instead. A function
// the registry does not know, or whose environment lacks a variable its
// main reads, is an error naming it.
func Handlers(fns []local.Function, c Clients, log *slog.Logger, between func(ctx context.Context) error) (map[string]any, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := map[string]any{}
	var errs []error
	for _, f := range fns {
		newHandler, ok := registry[f.LogicalID]
		if !ok {
			errs = append(errs, fmt.Errorf("function %s has no local handler in internal/local/controlplane's registry", f.LogicalID))
			continue
		}
		env := &funcEnv{lookup: lookupIn(f.Environment), clients: c, log: log.With("function", f.LogicalID), between: between}
		h, err := newHandler(env)
		if err != nil {
			errs = append(errs, fmt.Errorf("function %s: %w", f.LogicalID, err))
			continue
		}
		out[f.LogicalID] = h
	}
	return out, errors.Join(errs...)
}

func lookupIn(env map[string]string) config.Lookup {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}
