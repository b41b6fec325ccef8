package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// localWait is the simulated time one round of a wait loop stands for in
// the local environment, where the state machines wait 0 s.
const localWait = 15 * time.Second

// localControlPlane is template.yaml's control plane in the embedded AWS
// environment: every resource created from the template, the functions'
// handlers from controlplane's registry on the simulator and moto, and the
// rules' event wiring, fed with the simulator's events.
type localControlPlane struct {
	env    *local.Env
	sim    *sim.Sim
	app    *local.App
	wiring *local.Wiring
	pump   *local.Pump
	pseudo local.Pseudo
	// cfg reaches moto's services through the gateway.
	cfg aws.Config
	// simCfg reaches the simulator, counting the calls.
	simCfg aws.Config
	calls  *awsclient.Calls
}

// startLocalControlPlane creates the template's application in env under
// names that start with prefix, for the stack called stackName, and wires
// its rules. Each further round of a build or teardown wait loop first
// completes pending launch hooks (the lifecycle function's part that lets
// instances in) and moves the simulator's clock by localWait.
func startLocalControlPlane(ctx context.Context, env *local.Env, templatePath, stackName, prefix string, s *sim.Sim) (*localControlPlane, error) {
	tmpl, err := local.LoadTemplate(templatePath)
	if err != nil {
		return nil, err
	}
	lc := &localControlPlane{
		env: env, sim: s, calls: awsclient.NewCalls(),
		pseudo: local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: stackName},
		cfg:    local.Config(env.Endpoint()),
	}
	lc.simCfg = s.ConfigOver(lc.cfg)
	lc.simCfg.APIOptions = append(lc.simCfg.APIOptions, lc.calls.Middleware())
	fns, err := tmpl.Functions(local.NewNames(tmpl, lc.pseudo, nil, prefix, nil))
	if err != nil {
		return nil, err
	}
	asg := autoscaling.NewFromConfig(lc.simCfg)
	between := controlplane.BetweenRounds(func(ctx context.Context, req step.Request) error {
		if err := controlplane.CompletePendingLaunches(ctx, asg, &req.Layers); err != nil {
			return err
		}
		s.Advance(localWait)
		return nil
	})
	handlers, err := controlplane.Handlers(fns, controlplane.Clients{Moto: lc.cfg, Sim: lc.simCfg}, slog.New(slog.DiscardHandler), between)
	if err != nil {
		return nil, err
	}
	lc.app, err = local.DeployApp(ctx, lc.cfg, env.Gateway, tmpl, local.AppOptions{
		TemplatePath: templatePath, Pseudo: lc.pseudo, Prefix: prefix, Handlers: handlers,
	})
	if err != nil {
		return nil, err
	}
	if err := lc.app.Verify(ctx, lc.cfg, env.Gateway); err != nil {
		return nil, err
	}
	// The images a deployment expects in ECR before the first build: the
	// app's initial one and the nginx one the template names.
	planEnv := lc.functionEnvironment("PlanFunction")
	for _, img := range []string{planEnv["IMAGE_REPOSITORY"] + ":" + stack.Defaults("").Service.ImageTag, planEnv["NGINX_IMAGE"]} {
		if err := local.PushImage(ctx, ecr.NewFromConfig(lc.simCfg), img); err != nil {
			return nil, err
		}
	}
	lc.calls.Reset()
	if lc.wiring, err = local.Wire(ctx, lc.cfg, lc.app, lc.pseudo, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	lc.pump = lc.wiring.Pump(s.Subscribe().C)
	return lc, nil
}

// Stop stops the event wiring.
func (lc *localControlPlane) Stop() { lc.wiring.Stop() }

// table is the ledger table's local name.
func (lc *localControlPlane) table() string { return lc.app.Tables[local.LedgerTableID] }

// session is the state the scenario's steps share.
func (lc *localControlPlane) session(out io.Writer) *local.Session {
	return &local.Session{
		Env: lc.env, App: lc.app, Config: lc.cfg, Table: lc.table(), Out: out,
		Ledger: ledger.New(dynamodb.NewFromConfig(lc.cfg), lc.table()),
	}
}

// summary says what was created from the template.
func (lc *localControlPlane) summary() string {
	return fmt.Sprintf("created from the template and checked in moto: functions %d, state machines %d, rules %d, tables %d, queues %d, topics %d, parameters %d",
		len(lc.app.Functions), len(lc.app.StateMachines), len(lc.app.Rules), len(lc.app.Tables), len(lc.app.Queues), len(lc.app.Topics), len(lc.app.Parameters))
}

// eventSummary says how many of the simulator's events went onto the bus
// and what the rules delivered.
func (lc *localControlPlane) eventSummary() string {
	put, refused := lc.pump.Counts()
	return fmt.Sprintf("simulator events put on the bus: %d (%d refused); deliveries by the template's rules: %d", put, refused, len(lc.wiring.Dispatcher.Outcomes()))
}

// stateMachine returns the ARN of the template's state machine id.
func (lc *localControlPlane) stateMachine(id string) (string, error) {
	i := slices.IndexFunc(lc.app.StateMachines, func(sm local.StateMachine) bool { return sm.LogicalID == id })
	if i < 0 {
		return "", fmt.Errorf("the template has no state machine %s", id)
	}
	return lc.app.StateMachines[i].ARN, nil
}

// exports are the variables that point the AWS CLI and every ecsplane
// command at the kept environment: its endpoint and credentials, the
// simulator's endpoint, the ledger table, and the stack settings the plan
// function is given in the template, as `ecsplane stack` reads them.
func (lc *localControlPlane) exports() []string {
	out := []string{
		"AWS_ENDPOINT_URL=" + lc.env.Endpoint(), "AWS_REGION=" + local.Region, "AWS_DEFAULT_REGION=" + local.Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		simEndpointEnv + "=" + lc.env.Endpoint(), tableEnv + "=" + lc.table(),
		"ECSPLANE_STACK=" + lc.pseudo.StackName,
	}
	planEnv := lc.functionEnvironment("PlanFunction")
	for _, k := range []string{"IMAGE_REPOSITORY", "NGINX_IMAGE", "INSTANCE_PROFILE_ARN", "EXECUTION_ROLE_ARN", "TASK_ROLE_ARN", "LOG_GROUP", "DNS_NAME_PARAMETER"} {
		if v, ok := planEnv[k]; ok {
			out = append(out, "ECSPLANE_"+k+"="+v)
		}
	}
	return out
}

// functionEnvironment is the environment the template gives the function
// id, resolved.
func (lc *localControlPlane) functionEnvironment(id string) map[string]string {
	for _, f := range lc.app.Functions {
		if f.LogicalID == id {
			return f.Environment
		}
	}
	return nil
}

// keep serves the simulator to other processes, prints the exports and
// what the environment holds, and waits until ctx is done (Ctrl-C).
func (lc *localControlPlane) keep(ctx context.Context, out io.Writer) {
	lc.env.Gateway.Handle(sim.RemotePath, lc.sim.RemoteHandler())
	fmt.Fprintln(out, "==> the environment stays up; in another shell:")
	for _, e := range lc.exports() {
		fmt.Fprintf(out, "    export %s\n", shellQuote(e))
	}
	for _, sm := range lc.app.StateMachines {
		fmt.Fprintf(out, "    state machine %s: %s\n", sm.LogicalID, sm.ARN)
	}
	for _, r := range lc.app.Rules {
		fmt.Fprintf(out, "    rule %s on %s\n", r.Name, r.EventBusName)
	}
	for id, url := range lc.app.TopicQueues {
		fmt.Fprintf(out, "    topic %s's messages: %s\n", id, url)
	}
	fmt.Fprintln(out, "==> Ctrl-C stops everything it started")
	<-ctx.Done()
	fmt.Fprintln(out, "==> stopping")
}

// shellQuote quotes KEY=VALUE's value for a POSIX shell when it needs it.
func shellQuote(kv string) string {
	k, v, _ := strings.Cut(kv, "=")
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:") == "" {
		return kv
	}
	return k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
