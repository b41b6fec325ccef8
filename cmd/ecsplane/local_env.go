package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// localWait is the simulated time one round of a wait loop stands for in
// the local environment, where the state machines wait 0 s.
const localWait = 15 * time.Second

// localParameters shorten the rollout's waits, which moto's engine waits
// in wall-clock time while the simulator's clock runs --speed times faster:
// a bake of 3 s (3 simulated minutes at the default speed), a round of 1 s
// for the lease and the gate, a minute for an ECS event before reading ECS.
var localParameters = map[string]string{
	"RolloutBakeSeconds": "3", "RolloutPollSeconds": "1", "RolloutEcsWaitSeconds": "60", "RolloutGateTimeoutSeconds": "60",
}

// localControlPlane is template.yaml's control plane in the embedded AWS
// environment (controlplane.OnSim), with what the CLI prints of it.
type localControlPlane struct {
	*controlplane.OnSim
	env *local.Env
}

// startLocalControlPlane creates the template's application in env under
// names that start with prefix, for the stack called stackName, and wires
// its rules. Each further round of a wait loop moves the simulator's clock
// by localWait.
func startLocalControlPlane(ctx context.Context, env *local.Env, templatePath, stackName, prefix string, s *sim.Sim) (*localControlPlane, error) {
	c, err := controlplane.StartOnSim(ctx, env, s, controlplane.Options{
		TemplatePath: templatePath, StackName: stackName, Prefix: prefix, Parameters: localParameters, Round: localWait,
	})
	if err != nil {
		return nil, err
	}
	return &localControlPlane{OnSim: c, env: env}, nil
}

// table is the ledger table's local name.
func (lc *localControlPlane) table() string { return lc.App.Tables[local.LedgerTableID] }

// session is the state the scenario's steps share.
func (lc *localControlPlane) session(out io.Writer) *local.Session {
	return &local.Session{
		Env: lc.env, App: lc.App, Config: lc.Config, Table: lc.table(), Out: out,
		Ledger: ledger.New(dynamodb.NewFromConfig(lc.Config), lc.table()),
	}
}

// summary says what was created from the template.
func (lc *localControlPlane) summary() string {
	return fmt.Sprintf("created from the template and checked in moto: functions %d, state machines %d, rules %d, tables %d, queues %d, topics %d, parameters %d",
		len(lc.App.Functions), len(lc.App.StateMachines), len(lc.App.Rules), len(lc.App.Tables), len(lc.App.Queues), len(lc.App.Topics), len(lc.App.Parameters))
}

// eventSummary says how many of the simulator's events went onto the bus
// and what the rules delivered.
func (lc *localControlPlane) eventSummary() string {
	put, refused := lc.Pump.Counts()
	return fmt.Sprintf("simulator events put on the bus: %d (%d refused); deliveries by the template's rules: %d", put, refused, len(lc.Wiring.Dispatcher.Outcomes()))
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
		"ECSPLANE_STACK=" + lc.Pseudo.StackName,
	}
	if arn, err := lc.StateMachine("RolloutStateMachine"); err == nil {
		out = append(out, stateMachineSetting.env+"="+arn)
	}
	planEnv := lc.FunctionEnvironment("PlanFunction")
	for _, k := range []string{"IMAGE_REPOSITORY", "NGINX_IMAGE", "INSTANCE_PROFILE_ARN", "EXECUTION_ROLE_ARN", "TASK_ROLE_ARN", "LOG_GROUP", "DNS_NAME_PARAMETER"} {
		if v, ok := planEnv[k]; ok {
			out = append(out, "ECSPLANE_"+k+"="+v)
		}
	}
	return out
}

// keep serves the simulator to other processes, prints the exports and
// what the environment holds, and waits until ctx is done (Ctrl-C).
func (lc *localControlPlane) keep(ctx context.Context, out io.Writer) {
	lc.env.Gateway.Handle(sim.RemotePath, lc.Sim.RemoteHandler())
	fmt.Fprintln(out, "==> the environment stays up; in another shell:")
	for _, e := range lc.exports() {
		fmt.Fprintf(out, "    export %s\n", shellQuote(e))
	}
	for _, sm := range lc.App.StateMachines {
		fmt.Fprintf(out, "    state machine %s: %s\n", sm.LogicalID, sm.ARN)
	}
	for _, r := range lc.App.Rules {
		fmt.Fprintf(out, "    rule %s on %s\n", r.Name, r.EventBusName)
	}
	for id, url := range lc.App.TopicQueues {
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
