package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// localBuildSteps are `make local`'s build steps: the template's build
// state machine runs in moto's Step Functions engine, started as
// `ecsplane stack apply --state-machine` starts it on AWS, with the plan,
// layer and record functions in process, the layers' EC2, SSM, Auto
// Scaling, ECS, ELB, CloudWatch, Application Auto Scaling and ECR clients
// on the simulator and the ledger, the roles and the containers' log group
// in moto; then the topology is printed.
func localBuildSteps(lc *localControlPlane) []local.Step {
	var outputs stack.Outputs
	return []local.Step{
		{
			Name: "build the stack with the template's build state machine (AWS behaviour from internal/sim)",
			Run: func(ctx context.Context, ls *local.Session) error {
				start, wall := lc.Sim.Now(), time.Now()
				exec, err := runLocalBuild(ctx, lc)
				if err != nil {
					return err
				}
				var plan build.PlanResult
				if err := json.Unmarshal([]byte(aws.ToString(exec.Output)), &struct {
					Layers *stack.Outputs    `json:"layers"`
					Plan   *build.PlanResult `json:"plan"`
				}{&outputs, &plan}); err != nil {
					return fmt.Errorf("reading the build's output: %w", err)
				}
				fmt.Fprintf(ls.Out, "    preflight: %d checks passed%s\n", len(plan.Preflight.Checked), skipped(plan.Preflight.Skipped))
				fmt.Fprintf(ls.Out, "    build %s: %d mutating and %d read AWS calls; %s simulated in %s\n",
					exec.Status, awsclient.Total(lc.Calls.Mutations()), awsclient.Total(lc.Calls.Reads()),
					lc.Sim.Now().Sub(start).Round(time.Second), time.Since(wall).Round(time.Millisecond))
				return nil
			},
		},
		{
			Name: "print the stack's topology",
			Run: func(ctx context.Context, ls *local.Session) error {
				return controlplane.PrintTopology(ctx, build.NewClients(lc.Sim.Config(), build.Options{}), &outputs, ls.Out)
			},
		},
	}
}

func runLocalBuild(ctx context.Context, lc *localControlPlane) (*execution.Result, error) {
	arn, err := lc.StateMachine("BuildStateMachine")
	if err != nil {
		return nil, err
	}
	api := sfn.NewFromConfig(lc.Config)
	start, err := api.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(arn), Name: aws.String("local-build"), Input: aws.String(`{"spec": {}}`),
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
