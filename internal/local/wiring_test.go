package local_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
)

const testTemplate = "testdata/events-template.yaml"

// recorder keeps what a handler received.
type recorder struct {
	mu   sync.Mutex
	got  []json.RawMessage
	wake chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 100)} }

func (r *recorder) handle(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	r.mu.Lock()
	r.got = append(r.got, in)
	r.mu.Unlock()
	r.wake <- struct{}{}
	return in, nil
}

// next waits for the nth (0-based) payload.
func (r *recorder) next(t *testing.T, n int) json.RawMessage {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		if len(r.got) > n {
			v := r.got[n]
			r.mu.Unlock()
			return v
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("no payload %d within 30s", n)
		}
	}
}

// testApp is the test template deployed in moto's default account, which
// the Step Functions engine's own service calls act in, under a name
// prefix of its own.
type testApp struct {
	*local.App
	sf      *awstest.StepFunctions
	cfg     aws.Config
	pseudo  local.Pseudo
	echo    *recorder
	failing int
	mu      sync.Mutex
}

func deployTestApp(t *testing.T) *testApp {
	t.Helper()
	shared := awstest.NewStepFunctions(t)
	env := awstest.NewEnv(shared.Endpoint, local.Account)
	sf := &awstest.StepFunctions{Env: env, Gateway: shared.Gateway, SFN: sfn.NewFromConfig(env.Config)}
	ta := &testApp{sf: sf, cfg: env.Config, pseudo: local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "test"}, echo: newRecorder()}
	tmpl, err := local.LoadTemplate(testTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ta.App, err = local.DeployApp(context.Background(), ta.cfg, sf.Gateway, tmpl, local.AppOptions{
		TemplatePath: testTemplate, Pseudo: ta.pseudo, Prefix: "t" + strings.ToLower(rand.Text()[:8]) + "-",
		Handlers: map[string]any{
			"EchoFunction": ta.echo.handle,
			"FailingFunction": func(context.Context, json.RawMessage) error {
				ta.mu.Lock()
				ta.failing++
				ta.mu.Unlock()
				return handlererr.Boundary(&handlererr.NotReadyError{Msg: "instance i-1 is still draining"})
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ta
}

func (ta *testApp) wire(t *testing.T) *local.Wiring {
	t.Helper()
	w, err := local.Wire(context.Background(), ta.cfg, ta.App, ta.pseudo, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Dispatcher.Backoff = func(int) time.Duration { return time.Millisecond }
	t.Cleanup(w.Stop)
	return w
}

func (ta *testApp) stateMachine(id string) local.StateMachine {
	for _, sm := range ta.StateMachines {
		if sm.LogicalID == id {
			return sm
		}
	}
	panic("no state machine " + id)
}

func (ta *testApp) rule(id string) local.Rule {
	for _, r := range ta.Rules {
		if r.LogicalID == id {
			return r
		}
	}
	panic("no rule " + id)
}

func putFixture(t *testing.T, w *local.Wiring, name string, edit func(map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		raw, _ = json.Marshal(m)
	}
	ev, err := local.ParseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := w.Bus.Put(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

func waitOutcome(t *testing.T, w *local.Wiring, rule, eventID string) local.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := w.Dispatcher.WaitFor(ctx, func(o local.Outcome) bool { return o.Rule == rule && o.EventID == eventID })
	if err != nil {
		t.Fatalf("rule %s, event %s: %v; outcomes so far %+v", rule, eventID, err, w.Dispatcher.Outcomes())
	}
	return o
}

func receive(t *testing.T, cfg aws.Config, url string) sqstypes.Message {
	t.Helper()
	out, err := sqs.NewFromConfig(cfg).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("queue %s holds %d messages, want 1", url, len(out.Messages))
	}
	return out.Messages[0]
}

func attr(m sqstypes.Message, name string) string {
	return aws.ToString(m.MessageAttributes[name].StringValue)
}

// TestPushStartsStateMachineThroughItsRule puts an ECR push on the bus:
// moto's matcher fires the state machine's rule, moto applies the rule's
// input transformer, and the dispatcher starts the execution, named after
// the event, which runs with the waits shortened and publishes to the
// topic. The execution's own SUCCEEDED event then fires the
// AWS::Events::Rule on Step Functions' events. A redelivered event starts
// no second execution.
func TestPushStartsStateMachineThroughItsRule(t *testing.T) {
	ta := deployTestApp(t)
	w := ta.wire(t)
	rollout := ta.stateMachine("RolloutStateMachine")

	id := putFixture(t, w, "ecr-image-action-push.json", func(m map[string]any) {
		m["detail"].(map[string]any)["repository-name"] = "web"
	})
	o := waitOutcome(t, w, "RolloutStateMachineOnPush", id)
	if o.Result != local.Delivered || !strings.HasPrefix(o.Execution, strings.Replace(rollout.ARN, ":stateMachine:", ":execution:", 1)+":"+id+"-") {
		t.Fatalf("outcome %+v, want an execution of %s named after event %s", o, rollout.ARN, id)
	}
	exec := ta.sf.Wait(t, o.Execution, 30*time.Second)
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	if exec.Count(sfntypes.HistoryEventTypeWaitStateExited) != 1 {
		t.Error("the Settle wait did not run")
	}
	want := `{"service":"web","digest":"sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678","tag":"latest"}`
	assertJSON(t, "the transformed input", ta.echo.next(t, 0), want)
	published := receive(t, ta.cfg, ta.TopicQueues["OutcomeTopic"])
	assertJSON(t, "the published outcome", []byte(aws.ToString(published.Body)), want)

	// Step Functions' SUCCEEDED event reaches the echo function through
	// RolloutSucceededRule, in the typed shape.
	ev, err := events.ParseExecutionStatusChange(ta.echo.next(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Detail.Status != events.ExecutionSucceeded || ev.Detail.ExecutionArn != o.Execution || ev.Detail.StateMachineArn != rollout.ARN {
		t.Errorf("status event %+v", ev.Detail)
	}
	assertJSON(t, "the status event's output", []byte(aws.ToString(ev.Detail.Output)), `{"echo":`+want+`}`)

	// A redelivery of the same event, as SQS would make after a crash
	// between starting the execution and deleting the message.
	body := fmt.Sprintf(`{"event": {"version":"0","id":%q,"detail-type":"ECR Image Action","source":"aws.ecr","account":%q,"time":1573869274,"region":"us-east-1","resources":[],"detail":{}}, "input": %s}`, id, local.Account, want)
	if _, err := sqs.NewFromConfig(ta.cfg).SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(ta.RuleQueues[local.RouteKey("RolloutStateMachineOnPush", "RolloutStateMachineOnPushStepFunctionsTarget")]), MessageBody: aws.String(body),
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := 0
	if _, err := w.Dispatcher.WaitFor(ctx, func(o local.Outcome) bool {
		if o.Rule == "RolloutStateMachineOnPush" && o.EventID == id {
			seen++
		}
		return seen == 2
	}); err != nil {
		t.Fatal(err)
	}
	list, err := sfn.NewFromConfig(ta.cfg).ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(rollout.ARN)})
	if err != nil || len(list.Executions) != 1 {
		t.Fatalf("executions after a redelivery: %d (%v), want 1", len(list.Executions), err)
	}
}

func assertJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s is not JSON: %s", what, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// TestInputPathDeliversTheDetail sends an alarm to a function whose rule
// has InputPath $.detail: the function receives the detail alone.
func TestInputPathDeliversTheDetail(t *testing.T) {
	ta := deployTestApp(t)
	w := ta.wire(t)
	id := putFixture(t, w, "cloudwatch-alarm-state-change-alarm.json", nil)
	if o := waitOutcome(t, w, "EchoFunctionOnAlarm", id); o.Result != local.Delivered || o.Attempts != 1 {
		t.Fatalf("outcome %+v", o)
	}
	raw, _ := os.ReadFile("../../events/cloudwatch-alarm-state-change-alarm.json")
	var fixture struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &fixture); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, "the function's input", ta.echo.next(t, 0), string(fixture.Detail))
}

// TestFailedDeliveriesAreKept makes each kind of failure happen and finds
// the event where AWS would keep it: a state machine that no longer exists
// sends the event to the rule's dead-letter queue at once; a throttled
// function target is retried as its RetryPolicy allows and then
// dead-lettered; a function that keeps failing is retried by Lambda's
// asynchronous invocation and its event goes to the function's own
// dead-letter queue.
func TestFailedDeliveriesAreKept(t *testing.T) {
	ta := deployTestApp(t)
	w := ta.wire(t)
	ctx := context.Background()

	rollout := ta.stateMachine("RolloutStateMachine")
	if _, err := sfn.NewFromConfig(ta.cfg).DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(rollout.ARN)}); err != nil {
		t.Fatal(err)
	}
	id := putFixture(t, w, "ecr-image-action-push.json", func(m map[string]any) {
		m["detail"].(map[string]any)["repository-name"] = "web"
	})
	if o := waitOutcome(t, w, "RolloutStateMachineOnPush", id); o.Result != local.DeadLettered || o.Attempts != 1 {
		t.Fatalf("outcome %+v, want dead-lettered without retries", o)
	}
	m := receive(t, ta.cfg, ta.Queues["PushDeadLetters"])
	push := ta.rule("RolloutStateMachineOnPush")
	for name, want := range map[string]string{"ERROR_CODE": "NO_RESOURCE", "RULE_ARN": push.ARN, "TARGET_ARN": rollout.ARN, "RETRY_ATTEMPTS": "0", "EXHAUSTED_RETRY_CONDITION": ""} {
		if got := attr(m, name); got != want {
			t.Errorf("dead letter %s = %q, want %q", name, got, want)
		}
	}
	if dead, err := events.ParseECRImageAction([]byte(aws.ToString(m.Body))); err != nil || dead.ID != id {
		t.Errorf("the dead letter is not the event %s: %v\n%s", id, err, aws.ToString(m.Body))
	}

	w.Dispatcher.Lambda = throttled{}
	id = putFixture(t, w, "cloudwatch-alarm-state-change-alarm.json", nil)
	if o := waitOutcome(t, w, "EchoFunctionOnAlarm", id); o.Result != local.DeadLettered || o.Attempts != 3 {
		t.Fatalf("outcome %+v, want dead-lettered after 1 attempt and 2 retries", o)
	}
	m = receive(t, ta.cfg, ta.Queues["EchoFunctionOnAlarmQueue"])
	for name, want := range map[string]string{"ERROR_CODE": "THROTTLING", "RETRY_ATTEMPTS": "2", "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts"} {
		if got := attr(m, name); got != want {
			t.Errorf("dead letter %s = %q, want %q", name, got, want)
		}
	}
	w.Dispatcher.Lambda = lambda.NewFromConfig(ta.cfg)

	id = putFixture(t, w, "ec2-instance-terminate-lifecycle-action.json", nil)
	if o := waitOutcome(t, w, "FailingFunctionOnTerminate", id); o.Result != local.DeadLettered || o.Attempts != 2 || !strings.Contains(o.Error, "NotReadyError") {
		t.Fatalf("outcome %+v, want the function's event kept after 2 invocations", o)
	}
	ta.mu.Lock()
	calls := ta.failing
	ta.mu.Unlock()
	if calls != 2 {
		t.Errorf("the failing function ran %d times, want 2 (EventInvokeConfig allows 1 retry)", calls)
	}
	m = receive(t, ta.cfg, ta.Queues["FunctionFailures"])
	if got := attr(m, "ErrorMessage"); got != "instance i-1 is still draining" || attr(m, "RequestID") == "" {
		t.Errorf("function dead letter attributes %v", m.MessageAttributes)
	}
	if ev, err := events.ParseLifecycleAction([]byte(aws.ToString(m.Body))); err != nil || ev.ID != id {
		t.Errorf("the function's dead letter is not the event %s: %v", id, err)
	}
}

// throttled refuses every invocation as Lambda does when a function's
// concurrency is exhausted.
type throttled struct{}

func (throttled) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate Exceeded.", Fault: smithy.FaultClient}
}

// TestSimulatorEventsReachTheirRules pumps what the simulator emits onto
// the bus: an image pushed to the simulated ECR starts the rollout state
// machine through its rule.
func TestSimulatorEventsReachTheirRules(t *testing.T) {
	ta := deployTestApp(t)
	w := ta.wire(t)
	s := sim.New(sim.Options{Seed: 3, AccountID: local.Account})
	if _, err := ecr.NewFromConfig(s.Config()).CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe()
	defer sub.Close()
	pump := w.Pump(sub.C)
	digest, err := s.PushImage("web", "v2")
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, "the rollout's input", ta.echo.next(t, 0), fmt.Sprintf(`{"service":"web","digest":%q,"tag":"v2"}`, digest))
	if put, failed := pump.Counts(); put < 1 || failed != 0 {
		t.Errorf("pump put %d and failed %d events", put, failed)
	}
}

// TestParseEventRefusesMalformedTypedEvents checks that an event of a kind
// internal/events types must pass its strict parser before it is put.
func TestParseEventRefusesMalformedTypedEvents(t *testing.T) {
	var invalid *handlererr.InvalidInputError
	if _, err := local.ParseEvent([]byte(`{"source":"aws.ecr","detail-type":"ECR Image Action","detail":{"result":"SUCCESS"}}`)); !errors.As(err, &invalid) {
		t.Errorf("a malformed ECR event was accepted: %v", err)
	}
}
