package awstest

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

func TestMain(m *testing.M) { Main(m) }

func TestAccountsAreIsolated(t *testing.T) {
	a, b := Moto(t), Moto(t)
	ctx := context.Background()
	if _, err := sqs.NewFromConfig(a.Config).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")}); err != nil {
		t.Fatal(err)
	}
	got, err := sqs.NewFromConfig(b.Config).ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.QueueUrls) != 0 {
		t.Fatalf("account %s sees account %s's queues: %v", b.AccountID, a.AccountID, got.QueueUrls)
	}
	own, err := sqs.NewFromConfig(a.Config).ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(own.QueueUrls) != 1 {
		t.Fatalf("account %s lists %d queues, want 1", a.AccountID, len(own.QueueUrls))
	}
}

type probeOut struct {
	Ready    bool `json:"ready"`
	Attempts int  `json:"attempts"`
}

type harnessInput struct {
	SettleSeconds int  `json:"settleSeconds"`
	Bad           bool `json:"bad"`
}

func harnessMachine(t *testing.T, s *StepFunctions, failures int32) (arn string, recorded *atomic.Value) {
	var attempts atomic.Int32
	recorded = &atomic.Value{}
	subs := map[string]string{
		"ProbeFunctionArn": s.Function("probe", func(ctx context.Context) (probeOut, error) {
			n := attempts.Add(1)
			if n <= failures {
				return probeOut{}, &handlererr.NotReadyError{Msg: "nat-1 is pending"}
			}
			return probeOut{Ready: true, Attempts: int(n)}, nil
		}),
		"ApplyFunctionArn": s.Function("apply", func(ctx context.Context, in harnessInput) (map[string]string, error) {
			if in.Bad {
				return nil, handlererr.Boundary(handlererr.Invalid("image tag is empty"))
			}
			return map[string]string{"applied": "yes"}, nil
		}),
		"RecordFunctionArn": s.Function("record", func(ctx context.Context, in json.RawMessage) (string, error) {
			recorded.Store(string(in))
			return "recorded", nil
		}),
	}
	return s.CreateStateMachine(t, "testdata/harness.asl.json", subs), recorded
}

func TestHarnessRetryChoiceWaitSucceed(t *testing.T) {
	s := NewStepFunctions(t)
	arn, _ := harnessMachine(t, s, 2)
	exec := s.Run(t, arn, harnessInput{SettleSeconds: 0})

	if exec.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status = %s (%s: %s)", exec.Status, exec.Error, exec.Cause)
	}
	var out struct {
		Probe probeOut          `json:"probe"`
		Apply map[string]string `json:"apply"`
	}
	if err := json.Unmarshal([]byte(exec.Output), &out); err != nil {
		t.Fatalf("output %q: %v", exec.Output, err)
	}
	if out.Probe.Attempts != 3 || !out.Probe.Ready || out.Apply["applied"] != "yes" {
		t.Fatalf("output = %+v", out)
	}
	// The two NotReadyError attempts are in the history, then the success.
	if got, want := exec.FailedErrors(), []string{"NotReadyError", "NotReadyError"}; !reflect.DeepEqual(got, want) {
		t.Errorf("failed attempts = %v, want %v", got, want)
	}
	if got := s.Invocations("probe"); got != 3 {
		t.Errorf("probe invocations = %d, want 3", got)
	}
	if got, want := exec.EnteredStates(), []string{"Probe", "IsReady", "Settle", "Apply", "Done"}; !reflect.DeepEqual(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
	if exec.Count(types.HistoryEventTypeWaitStateExited) != 1 {
		t.Errorf("want one WaitStateExited event")
	}
}

func TestHarnessCatchTypedError(t *testing.T) {
	s := NewStepFunctions(t)
	arn, recorded := harnessMachine(t, s, 0)
	exec := s.Run(t, arn, harnessInput{Bad: true})

	if exec.Status != types.ExecutionStatusFailed || exec.Error != "ApplyRejected" {
		t.Fatalf("status = %s error = %s, want FAILED ApplyRejected", exec.Status, exec.Error)
	}
	var rec struct {
		Error struct {
			Error string `json:"Error"`
			Cause string `json:"Cause"`
		} `json:"error"`
	}
	raw, _ := recorded.Load().(string)
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatalf("record input %q: %v", raw, err)
	}
	if rec.Error.Error != handlererr.NameInvalidInput {
		t.Errorf("caught error name = %q, want %s", rec.Error.Error, handlererr.NameInvalidInput)
	}
	var cause struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal([]byte(rec.Error.Cause), &cause); err != nil || cause.ErrorMessage != "invalid input: image tag is empty" {
		t.Errorf("cause = %q (%v)", rec.Error.Cause, err)
	}
	if got, want := exec.EnteredStates(), []string{"Probe", "IsReady", "Settle", "Apply", "RecordFailure", "Rejected"}; !reflect.DeepEqual(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
}

func TestHarnessRetriesExhausted(t *testing.T) {
	s := NewStepFunctions(t)
	arn, _ := harnessMachine(t, s, 10)
	exec := s.Run(t, arn, harnessInput{})
	if exec.Status != types.ExecutionStatusFailed || exec.Error != handlererr.NameNotReady {
		t.Fatalf("status = %s error = %s, want FAILED NotReadyError", exec.Status, exec.Error)
	}
	// MaxAttempts 3 means one attempt plus three retries.
	if got := s.Invocations("probe"); got != 4 {
		t.Errorf("probe invocations = %d, want 4", got)
	}
}

func TestDefinitionRefusesMissingSubstitution(t *testing.T) {
	_, err := Definition("testdata/harness.asl.json", map[string]string{"ProbeFunctionArn": "x"})
	if err == nil {
		t.Fatal("want an error for unsubstituted placeholders")
	}
	if !strings.Contains(err.Error(), "${ApplyFunctionArn}") {
		t.Fatalf("error should name the placeholder: %v", err)
	}
}
