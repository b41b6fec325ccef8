package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// localWait is the simulated time one Wait state of the build stands for
// in the local environment, where the state machine itself waits 0 s.
const localWait = 15 * time.Second

// localBuildSteps are `make local`'s build steps: statemachine/build.asl.json
// runs in moto's Step Functions engine with the plan, layer and record
// functions in process, the layers' EC2, SSM, Auto Scaling, ECS, ELB,
// CloudWatch and Application Auto Scaling clients on the simulator and the
// ledger in moto; then the topology is printed.
func localBuildSteps(s *sim.Sim, stackName, definition string) []local.Step {
	var (
		cp      *controlplane.ControlPlane
		calls   = awsclient.NewCalls()
		outputs stack.Outputs
	)
	return []local.Step{
		{
			Name: "build the stack with the build state machine (AWS behaviour from internal/sim)",
			Run: func(ctx context.Context, ls *local.Session) error {
				cfg := s.Config()
				cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
				cp = controlplane.New(cfg, stackName, controlplane.StackConfig(s.AccountID(), s.Region(), stackName), ls.Ledger, nil)
				asg := autoscaling.NewFromConfig(cfg)
				// The state machine waits 0 s locally; each further round of
				// a wait loop moves simulated time instead, and stands in
				// for the lifecycle function's launch hook completions.
				wrap := controlplane.BetweenRounds(func(ctx context.Context, req step.Request) error {
					if err := controlplane.CompletePendingLaunches(ctx, asg, &req.Layers); err != nil {
						return err
					}
					s.Advance(localWait)
					return nil
				})
				start, wall := s.Now(), time.Now()
				exec, err := runLocalBuild(ctx, ls, cp, stackName, definition, wrap)
				if err != nil {
					return err
				}
				if err := json.Unmarshal([]byte(aws.ToString(exec.Output)), &struct {
					Layers *stack.Outputs `json:"layers"`
				}{&outputs}); err != nil {
					return fmt.Errorf("reading the build's output: %w", err)
				}
				fmt.Fprintf(ls.Out, "    build %s: %d mutating and %d read AWS calls; %s simulated in %s\n",
					exec.Status, awsclient.Total(calls.Mutations()), awsclient.Total(calls.Reads()),
					s.Now().Sub(start), time.Since(wall).Round(time.Millisecond))
				return nil
			},
		},
		{
			Name: "print the stack's topology",
			Run: func(ctx context.Context, ls *local.Session) error {
				return controlplane.PrintTopology(ctx, cp.Clients, &outputs, ls.Out)
			},
		},
	}
}

func runLocalBuild(ctx context.Context, ls *local.Session, cp *controlplane.ControlPlane, stackName, definition string, wrap func(string, controlplane.StepFunc) controlplane.StepFunc) (*execution.Result, error) {
	subs := map[string]string{"StackName": stackName, "ReadyWaitSeconds": "0", "ReadyMaxAttempts": "200"}
	for key, fn := range cp.Functions(wrap) {
		name := "ecsplane-" + strings.ToLower(strings.TrimSuffix(key, "FunctionArn"))
		ls.Env.Gateway.Register(name, fn)
		subs[key] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", local.Region, localAccount, name)
	}
	def, err := local.Definition(definition, subs)
	if err != nil {
		return nil, err
	}
	api := sfn.NewFromConfig(ls.Config)
	sm, err := api.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(stackName + "-build"), Definition: aws.String(def),
		RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s-build", localAccount, stackName)),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the build state machine: %w", err)
	}
	start, err := api.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: sm.StateMachineArn, Name: aws.String("local-build"), Input: aws.String(`{"spec": {}}`),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the build: %w", err)
	}
	exec, err := execution.Wait(ctx, api, aws.ToString(start.ExecutionArn), 50*time.Millisecond, nil)
	if err != nil {
		return nil, err
	}
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		return nil, fmt.Errorf("build %s: %s: %s", exec.Status, aws.ToString(exec.Error), aws.ToString(exec.Cause))
	}
	return exec, nil
}

// localAccount is moto's default account, which the local environment's
// static credentials act as.
const localAccount = "123456789012"
