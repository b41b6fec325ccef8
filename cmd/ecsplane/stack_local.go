package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// localWait is the simulated time one Wait state of the build stands for
// in the local environment, where the state machine itself waits 0 s.
const localWait = 15 * time.Second

// localBuildSteps are `make local`'s build steps: statemachine/asl.json
// runs in moto's Step Functions engine with the plan, build, readiness and
// record handlers in process, their EC2, SSM, Auto Scaling, ECS, ELB,
// CloudWatch and Application Auto Scaling clients on the simulator; then
// the topology and the DNS name are printed.
func localBuildSteps(s *sim.Sim, stackName, definition string) []local.Step {
	var (
		h      *build.Handler
		calls  = awsclient.NewCalls()
		layers build.Layers
	)
	return []local.Step{
		{
			Name: "build the stack with the build state machine (AWS behaviour from internal/sim)",
			Run: func(ctx context.Context, ls *local.Session) error {
				cfg := s.Config()
				cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
				h = &build.Handler{
					Clients: build.NewClients(cfg),
					Config: build.Config{
						StackName:          stackName,
						ImageRepository:    fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", s.AccountID(), s.Region(), stackName),
						InstanceProfileARN: fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s-instance", s.AccountID(), stackName),
						ExecutionRoleARN:   fmt.Sprintf("arn:aws:iam::%s:role/%s-execution", s.AccountID(), stackName),
						TaskRoleARN:        fmt.Sprintf("arn:aws:iam::%s:role/%s-task", s.AccountID(), stackName),
					},
					Workload: build.Workload(s.Region(), ""),
					Log:      slog.New(slog.DiscardHandler),
				}
				start, wall := s.Now(), time.Now()
				exec, err := runLocalBuild(ctx, ls, h, s, definition)
				if err != nil {
					return err
				}
				if err := json.Unmarshal([]byte(aws.ToString(exec.Output)), &struct {
					Layers *build.Layers `json:"layers"`
				}{&layers}); err != nil {
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
				return build.PrintTopology(ctx, h.Clients, &layers, ls.Out)
			},
		},
	}
}

func runLocalBuild(ctx context.Context, ls *local.Session, h *build.Handler, s *sim.Sim, definition string) (*sfn.DescribeExecutionOutput, error) {
	rec := &ledger.RecordHandler{Ledger: ls.Ledger, Log: h.Log}
	ready := func(ctx context.Context, req build.Request) (*build.Progress, error) {
		// The state machine waits 0 s locally; each round of a wait loop
		// moves simulated time instead.
		if req.Previous != nil && req.Previous.Name == req.Check && !req.Previous.Done {
			if err := build.CompletePendingLaunches(ctx, h.Clients, &req.Layers); err != nil {
				return nil, err
			}
			s.Advance(localWait)
		}
		return h.Ready(ctx, req)
	}
	subs := map[string]string{"StackName": h.Config.StackName, "ReadyWaitSeconds": "0", "ReadyMaxAttempts": "200"}
	for name, fn := range map[string]any{"Plan": h.Plan, "Build": h.Build, "Ready": ready, "Record": rec.Handle} {
		fname := "ecsplane-" + strings.ToLower(name)
		ls.Env.Gateway.Register(fname, fn)
		subs[name+"FunctionArn"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", local.Region, localAccount, fname)
	}
	def, err := local.Definition(definition, subs)
	if err != nil {
		return nil, err
	}
	api := sfn.NewFromConfig(ls.Config)
	sm, err := api.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(h.Config.StackName + "-build"), Definition: aws.String(def),
		RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s-build", localAccount, h.Config.StackName)),
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
	for {
		d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		if err != nil {
			return nil, fmt.Errorf("describing the build: %w", err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				return nil, fmt.Errorf("build %s: %s: %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			return d, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// localAccount is moto's default account, which the local environment's
// static credentials act as.
const localAccount = "123456789012"
