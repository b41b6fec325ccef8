package awstest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/local"
)

// The Step Functions engine sends Lambda invocations to the one port moto
// was started with, and that port must reach handlers registered in this
// process. So each test process runs its own moto and gateway for state
// machine tests, even when ECSPLANE_MOTO_ENDPOINT names a shared server.
var sfnShared struct {
	once sync.Once
	env  *local.Env
	err  error
}

func stopStepFunctions() {
	if sfnShared.env != nil {
		sfnShared.env.Stop()
	}
}

// StepFunctions runs real state machine definitions in moto's Step Functions
// engine, with Lambda tasks answered by Go handlers through the gateway.
type StepFunctions struct {
	*Env
	Gateway *local.Gateway
	SFN     *sfn.Client
	seq     atomic.Int64
}

// NewStepFunctions returns an isolated Step Functions environment.
func NewStepFunctions(t testing.TB) *StepFunctions {
	t.Helper()
	sfnShared.once.Do(func() {
		sfnShared.env, sfnShared.err = local.Start(context.Background(), os.Getenv(PythonEnv), nil)
	})
	if sfnShared.err != nil {
		t.Fatalf("starting moto with the Step Functions engine: %v", sfnShared.err)
	}
	env := NewEnv(sfnShared.env.Endpoint(), NewAccountID())
	return &StepFunctions{Env: env, Gateway: sfnShared.env.Gateway, SFN: sfn.NewFromConfig(env.Config)}
}

// Function registers handler under a name unique to this environment and
// returns the ARN to substitute into a definition.
func (s *StepFunctions) Function(name string, handler any) string {
	unique := name + "-" + s.AccountID
	s.Gateway.Register(unique, handler)
	return s.FunctionARN(name)
}

// FunctionARN is the ARN under which Function registered name.
func (s *StepFunctions) FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s-%s", s.Region, s.AccountID, name, s.AccountID)
}

// Invocations returns how many times the named function was invoked.
func (s *StepFunctions) Invocations(name string) int {
	return s.Gateway.Invocations(name + "-" + s.AccountID)
}

// Definition reads an ASL file and applies substitutions the way
// DefinitionSubstitutions does; see local.Definition.
func Definition(path string, subs map[string]string) (string, error) {
	return local.Definition(path, subs)
}

// CreateStateMachine creates a state machine from an ASL file.
func (s *StepFunctions) CreateStateMachine(t testing.TB, path string, subs map[string]string) string {
	t.Helper()
	def, err := Definition(path, subs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.SFN.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name:       aws.String(fmt.Sprintf("sm-%d", s.seq.Add(1))),
		Definition: aws.String(def),
		RoleArn:    aws.String(fmt.Sprintf("arn:aws:iam::%s:role/states", s.AccountID)),
	})
	if err != nil {
		t.Fatalf("creating state machine from %s: %v", path, err)
	}
	return aws.ToString(out.StateMachineArn)
}

// Execution is a finished execution with its history.
type Execution struct {
	ARN     string
	Status  types.ExecutionStatus
	Output  string
	Error   string
	Cause   string
	History []types.HistoryEvent
}

// Start starts an execution; moto requires a name, or every execution is
// called "None".
func (s *StepFunctions) Start(t testing.TB, stateMachineARN string, input any) string {
	t.Helper()
	b, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.SFN.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(stateMachineARN),
		Name:            aws.String(fmt.Sprintf("exec-%d", s.seq.Add(1))),
		Input:           aws.String(string(b)),
	})
	if err != nil {
		t.Fatalf("starting execution: %v", err)
	}
	return aws.ToString(out.ExecutionArn)
}

// Wait waits until the execution leaves RUNNING and returns it with its
// full history.
func (s *StepFunctions) Wait(t testing.TB, executionARN string, timeout time.Duration) *Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := execution.Wait(ctx, s.SFN, executionARN, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Execution{
		ARN: executionARN, Status: d.Status, Output: aws.ToString(d.Output),
		Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause), History: d.History,
	}
}

// Run starts an execution and waits for it.
func (s *StepFunctions) Run(t testing.TB, stateMachineARN string, input any) *Execution {
	t.Helper()
	return s.Wait(t, s.Start(t, stateMachineARN, input), 2*time.Minute)
}

// History returns the execution's events, oldest first.
func (s *StepFunctions) History(t testing.TB, executionARN string) []types.HistoryEvent {
	t.Helper()
	events, err := execution.History(context.Background(), s.SFN, executionARN)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// Count returns how many history events have the given type.
func (e *Execution) Count(typ types.HistoryEventType) int {
	n := 0
	for _, ev := range e.History {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// EnteredStates lists the names of the states entered, in order.
func (e *Execution) EnteredStates() []string {
	var names []string
	for _, ev := range e.History {
		if ev.StateEnteredEventDetails != nil {
			names = append(names, aws.ToString(ev.StateEnteredEventDetails.Name))
		}
	}
	return names
}

// FailedErrors lists the error names of failed Lambda task attempts, in
// order; retries show up here.
func (e *Execution) FailedErrors() []string {
	var names []string
	for _, ev := range e.History {
		if ev.LambdaFunctionFailedEventDetails != nil {
			names = append(names, aws.ToString(ev.LambdaFunctionFailedEventDetails.Error))
		}
		if ev.TaskFailedEventDetails != nil {
			names = append(names, aws.ToString(ev.TaskFailedEventDetails.Error))
		}
	}
	return names
}
