// Package controlplane runs the control plane's functions in process, on
// the local environment and in the tests: the handlers the state machines
// call through the gateway, template.yaml's whole control plane on a
// simulator (OnSim), and the stack's topology as `make local` prints it.
package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/step"
)

// StepFunc is a layer function's handler.
type StepFunc = func(context.Context, step.Request) (any, error)

// ControlPlane is the control plane's functions in process, as the state
// machines call them through the gateway: the plan handler, each layer's
// step handler, which serves the layer's steps as its own function does
// on Lambda, and the record handler.
type ControlPlane struct {
	Clients build.Clients
	Plan    *build.PlanHandler
	Steps   map[string]*step.Handler[build.Clients]
	Record  *ledger.RecordHandler
}

// New builds the functions of the stack called stackName, with
// their AWS clients on cfg, the plan's configuration planCfg, and led as
// the ledger.
func New(cfg aws.Config, stackName string, planCfg build.Config, led *ledger.Ledger, log *slog.Logger) *ControlPlane {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if led != nil && planCfg.TableName == "" {
		planCfg.TableName = led.Table()
	}
	c := build.NewClients(cfg, build.Options{DNSNameParameter: planCfg.DNSNameParameter, Ledger: led})
	cp := &ControlPlane{
		Clients: c,
		Plan:    &build.PlanHandler{Clients: c, Stack: stackName, Config: planCfg, Log: log},
		Steps:   map[string]*step.Handler[build.Clients]{},
		Record:  &ledger.RecordHandler{Ledger: led, Log: log},
	}
	for _, l := range build.Layers {
		cp.Steps[l.Name] = &step.Handler[build.Clients]{Layer: l, Clients: c, Stack: stackName, Log: log}
	}
	return cp
}

// Functions returns every function's handler, keyed by its ARN's
// DefinitionSubstitutions key. wrap, when set, wraps each layer's handler.
func (cp *ControlPlane) Functions(wrap func(layer string, h StepFunc) StepFunc) map[string]any {
	fns := map[string]any{"PlanFunctionArn": cp.Plan.Plan, "RecordFunctionArn": cp.Record.Handle}
	for _, l := range build.Layers {
		var h StepFunc = cp.Steps[l.Name].Handle
		if wrap != nil {
			h = wrap(l.Name, h)
		}
		fns[build.FunctionArnKey(l.Name)] = h
	}
	return fns
}

// BetweenRounds wraps layer handlers so that each further round of a wait
// loop (a check or a teardown round that was not done) first calls
// between. The state machines wait 0 s in local runs and tests; between
// lets simulated time pass instead.
func BetweenRounds(between func(ctx context.Context, req step.Request) error) func(string, StepFunc) StepFunc {
	return func(layer string, h StepFunc) StepFunc {
		return func(ctx context.Context, req step.Request) (any, error) {
			name := req.Check
			if req.Op == step.OpDestroy {
				name = layer
			}
			if p := req.Previous; req.Op != step.OpReconcile && p != nil && p.Name == name && !p.Done {
				if err := between(ctx, req); err != nil {
					return nil, err
				}
			}
			return h(ctx, req)
		}
	}
}

// StackConfig is what the template gives the plan function, for a stack
// called name in account and region: the app's repository, the nginx
// image next to it, the roles the template declares, and the containers'
// log group. The local environment and the tests use it.
func StackConfig(account, region, name string) build.Config {
	repo := fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", account, region, name)
	return build.Config{
		ImageRepository:    repo,
		NginxImage:         repo + "-nginx:stable",
		InstanceProfileARN: fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s-instance", account, name),
		ExecutionRoleARN:   fmt.Sprintf("arn:aws:iam::%s:role/%s-execution", account, name),
		TaskRoleARN:        fmt.Sprintf("arn:aws:iam::%s:role/%s-task", account, name),
		LogGroup:           "/ecs/" + name,
	}
}

// CreatePrerequisites creates, with awsCfg's IAM and ECR clients, what a
// stack built with cfg needs and the control plane does not create, as a
// deployment of the template at templatePath provides it: the template's
// roles and instance profile, under the names of cfg's ARNs, and the
// repositories with the initial images (the app's tag, and the nginx
// image).
func CreatePrerequisites(ctx context.Context, awsCfg aws.Config, templatePath string, cfg build.Config, tag string) error {
	tmpl, err := local.LoadTemplate(templatePath)
	if err != nil {
		return err
	}
	name := func(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
	account := strings.Split(cfg.ExecutionRoleARN, ":")[4]
	names := local.NewNames(tmpl, local.Pseudo{AccountID: account, Region: awsCfg.Region}, nil, "", map[string]string{
		"InstanceRole": name(cfg.InstanceProfileARN), "InstanceProfile": name(cfg.InstanceProfileARN),
		"TaskExecutionRole": name(cfg.ExecutionRoleARN), "TaskRole": name(cfg.TaskRoleARN),
	})
	if err := local.CreateRoles(ctx, iam.NewFromConfig(awsCfg), tmpl, names); err != nil {
		return err
	}
	for _, img := range []string{cfg.ImageRepository + ":" + tag, cfg.NginxImage} {
		if err := local.PushImage(ctx, ecr.NewFromConfig(awsCfg), img); err != nil {
			return err
		}
	}
	return nil
}
