package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// The dispatcher's API needs, with the SDK's own signatures.
type (
	// DispatchSQSAPI reads the rules' stand-in queues and writes dead
	// letters.
	DispatchSQSAPI interface {
		ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
		DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
		SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
		GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	}
	// DispatchSFNAPI starts state machine targets.
	DispatchSFNAPI interface {
		StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	}
	// DispatchLambdaAPI invokes function targets through the gateway.
	DispatchLambdaAPI interface {
		Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
	}
	// DispatchSNSAPI publishes to topic targets and failure destinations.
	DispatchSNSAPI interface {
		Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
	}
)

var (
	_ DispatchSQSAPI    = (*sqs.Client)(nil)
	_ DispatchSFNAPI    = (*sfn.Client)(nil)
	_ DispatchLambdaAPI = (*lambda.Client)(nil)
	_ DispatchSNSAPI    = (*sns.Client)(nil)
)

// Result is what became of one event for one rule target.
type Result string

// Results of a delivery.
const (
	// Delivered: the target accepted the event (an execution started, a
	// function ran).
	Delivered Result = "delivered"
	// DeadLettered: the delivery failed and the event went to the target's
	// dead-letter queue, or a function's failure to its on-failure
	// destination.
	DeadLettered Result = "dead-lettered"
	// Dropped: the delivery failed and there was nowhere to keep the
	// event, as on AWS.
	Dropped Result = "dropped"
)

// Outcome is what the dispatcher did with one event for one rule target.
type Outcome struct {
	Rule, Target string
	EventID      string
	Result       Result
	// Execution is the execution a state machine target started.
	Execution string
	// Attempts is the number of delivery attempts.
	Attempts int
	// Error is the last failure's code and message, when there was one.
	Error string
}

// Dispatcher delivers what moto's rules put on their stand-in queues to the
// rules' real targets, as EventBridge would: StartExecution for a state
// machine, an asynchronous invocation through the gateway for a function,
// Publish for a topic, SendMessage for a queue. It applies a target's
// Input and InputPath (moto has applied its InputTransformer), retries a
// failed delivery within the target's RetryPolicy, and then sends the event
// to the target's dead-letter queue with EventBridge's attributes. A
// function that returns an error is retried and its event sent to the
// function's own dead-letter queue or on-failure destination, as Lambda
// does for asynchronous invocations. Nothing is lost silently: an event
// with nowhere to go is logged and reported as Dropped.
//
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
type Dispatcher struct {
	SQS    DispatchSQSAPI
	SFN    DispatchSFNAPI
	Lambda DispatchLambdaAPI
	SNS    DispatchSNSAPI
	Log    *slog.Logger
	// Backoff is the wait before the nth retry. AWS backs off
	// exponentially over up to 24 hours; locally the default doubles from
	// 50 ms to at most 1 s, so that a failing target reaches its
	// dead-letter queue within seconds.
	Backoff func(n int) time.Duration

	routes []route

	mu       sync.Mutex
	outcomes []Outcome
	notify   chan struct{}
}

type targetKind int

const (
	kindFunction targetKind = iota + 1
	kindStateMachine
	kindTopic
	kindQueue
)

type route struct {
	rule     Rule
	target   Target
	queueURL string
	kind     targetKind
	fn       Function
	// dest is the target's name, ARN or URL, as its API wants it.
	dest    string
	dlqURL  string
	path    jsonPath
	failURL string // a function's on-failure queue
	failARN string // a function's on-failure topic
}

// NewDispatcher routes every target of app's rules. A target the local
// environment does not have, or a dead-letter queue it cannot find, is an
// error.
func NewDispatcher(ctx context.Context, cfg aws.Config, app *App, log *slog.Logger) (*Dispatcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{
		SQS: sqs.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg),
		Log: log, Backoff: defaultBackoff, notify: make(chan struct{}),
	}
	queueURL := func(arn string) (string, error) {
		for id, url := range app.Queues {
			if a, _ := app.Names.ARN(id); a == arn {
				return url, nil
			}
		}
		name := arn[strings.LastIndex(arn, ":")+1:]
		out, err := d.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("queue %s: %w", arn, err)
		}
		return aws.ToString(out.QueueUrl), nil
	}
	for _, r := range app.Rules {
		for _, t := range r.Targets {
			rt := route{rule: r, target: t, queueURL: app.RuleQueues[RouteKey(r.LogicalID, t.ID)]}
			if err := d.resolveTarget(app, &rt, queueURL); err != nil {
				return nil, fmt.Errorf("rule %s, target %s: %w", r.LogicalID, t.ID, err)
			}
			if t.InputPath != "" {
				p, err := parseJSONPath(t.InputPath)
				if err != nil {
					return nil, fmt.Errorf("rule %s, target %s: InputPath: %w", r.LogicalID, t.ID, err)
				}
				rt.path = p
			}
			if t.DeadLetterARN != "" {
				url, err := queueURL(t.DeadLetterARN)
				if err != nil {
					return nil, fmt.Errorf("rule %s, target %s: dead-letter %w", r.LogicalID, t.ID, err)
				}
				rt.dlqURL = url
			}
			d.routes = append(d.routes, rt)
		}
	}
	return d, nil
}

func (d *Dispatcher) resolveTarget(app *App, rt *route, queueURL func(string) (string, error)) error {
	for _, f := range app.Functions {
		if f.ARN == rt.target.ARN {
			rt.kind, rt.fn, rt.dest = kindFunction, f, f.Name
			switch {
			case strings.HasPrefix(f.OnFailure, "arn:aws:sqs:"):
				url, err := queueURL(f.OnFailure)
				if err != nil {
					return fmt.Errorf("function %s's on-failure %w", f.LogicalID, err)
				}
				rt.failURL = url
			case strings.HasPrefix(f.OnFailure, "arn:aws:sns:"):
				rt.failARN = f.OnFailure
			case f.OnFailure != "":
				return fmt.Errorf("function %s: the local environment keeps failed invocations in SQS or SNS only, not %s", f.LogicalID, f.OnFailure)
			}
			return nil
		}
	}
	for _, sm := range app.StateMachines {
		if sm.ARN == rt.target.ARN {
			rt.kind, rt.dest = kindStateMachine, sm.ARN
			return nil
		}
	}
	for _, arn := range app.Topics {
		if arn == rt.target.ARN {
			rt.kind, rt.dest = kindTopic, arn
			return nil
		}
	}
	if strings.HasPrefix(rt.target.ARN, "arn:aws:sqs:") {
		url, err := queueURL(rt.target.ARN)
		if err != nil {
			return err
		}
		rt.kind, rt.dest = kindQueue, url
		return nil
	}
	return fmt.Errorf("the local environment has no target %s", rt.target.ARN)
}

func defaultBackoff(n int) time.Duration {
	return min(50*time.Millisecond<<min(n-1, 5), time.Second)
}

// Run reads every target's queue until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, rt := range d.routes {
		wg.Go(func() { d.poll(ctx, rt) })
	}
	wg.Wait()
}

// visibilityTimeout is how long a message being delivered stays hidden;
// one whose handling failed (its dead-letter queue was unreachable) comes
// back after it, and the deterministic execution name keeps the redelivery
// from starting a second execution.
const visibilityTimeout = 300

func (d *Dispatcher) poll(ctx context.Context, rt route) {
	for ctx.Err() == nil {
		out, err := d.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(rt.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			VisibilityTimeout:           visibilityTimeout,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			if ctx.Err() == nil {
				d.Log.Error("dispatcher_receive_failed", "rule", rt.rule.LogicalID, "target", rt.target.ID, "error", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, m := range out.Messages {
			if err := d.handle(ctx, rt, m); err != nil {
				d.Log.Error("dispatcher_delivery_unfinished", "rule", rt.rule.LogicalID, "target", rt.target.ID, "error", err)
				continue
			}
			if _, err := d.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(rt.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil && ctx.Err() == nil {
				d.Log.Error("dispatcher_delete_failed", "rule", rt.rule.LogicalID, "error", err)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// delivery is one message of a stand-in queue: the whole event, and the
// input moto's transformer built when the target has one.
type delivery struct {
	event   json.RawMessage
	eventID string
	input   json.RawMessage
}

// parseDelivery reads a stand-in queue's message and gives the event back
// its EventBridge form: moto hands the event's time over in epoch seconds
// and adds its ingestion time.
func parseDelivery(body string) (delivery, error) {
	var msg struct {
		Event json.RawMessage `json:"event"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal([]byte(body), &msg); err != nil || len(msg.Event) == 0 {
		return delivery{}, fmt.Errorf("message is not an event delivery: %q", body)
	}
	dec := json.NewDecoder(bytes.NewReader(msg.Event))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return delivery{}, fmt.Errorf("event: %w", err)
	}
	delete(ev, "ingestion-time")
	if n, ok := ev["time"].(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return delivery{}, fmt.Errorf("event time %s: %w", n, err)
		}
		ev["time"] = time.Unix(0, int64(f*float64(time.Second))).UTC().Format(time.RFC3339)
	}
	id, _ := ev["id"].(string)
	if id == "" {
		return delivery{}, errors.New("event has no id")
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return delivery{}, err
	}
	return delivery{event: raw, eventID: id, input: msg.Input}, nil
}

// input is what the target receives: the transformer's output, the
// constant Input, the part InputPath selects, or the whole event.
func (rt route) input(dl delivery) (json.RawMessage, error) {
	switch {
	case rt.target.InputTransformer != nil:
		return dl.input, nil
	case rt.target.Input != "":
		return json.RawMessage(rt.target.Input), nil
	case rt.path != nil:
		dec := json.NewDecoder(bytes.NewReader(dl.event))
		dec.UseNumber()
		var ev any
		if err := dec.Decode(&ev); err != nil {
			return nil, err
		}
		v, err := rt.path.apply(ev)
		if err != nil {
			return nil, fmt.Errorf("InputPath %s: %w", rt.target.InputPath, err)
		}
		return json.Marshal(v)
	}
	return dl.event, nil
}

// failure is a failed delivery attempt with EventBridge's error code.
type failure struct {
	code      string
	retryable bool
	err       error
}

func (f *failure) Error() string { return f.code + ": " + f.err.Error() }

// handle delivers one message. It returns an error only when the event
// could be neither delivered nor kept, so that the message stays queued.
func (d *Dispatcher) handle(ctx context.Context, rt route, m sqstypes.Message) error {
	dl, err := parseDelivery(aws.ToString(m.Body))
	if err != nil {
		return d.deadLetter(ctx, rt, delivery{event: json.RawMessage(aws.ToString(m.Body))}, &failure{code: "INVALID_JSON", err: err}, "", 0)
	}
	sent := time.Now()
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		sent = time.UnixMilli(ms)
	}
	for attempt := 1; ; attempt++ {
		o := Outcome{Rule: rt.rule.LogicalID, Target: rt.target.ID, EventID: dl.eventID, Result: Delivered, Attempts: attempt}
		in, err := rt.input(dl)
		var f *failure
		if err != nil {
			f = &failure{code: "INVALID_PARAMETER", err: err}
		} else if f = d.deliver(ctx, rt, in, &o); f == nil {
			d.record(o)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		retries := attempt - 1
		switch {
		case !f.retryable:
			return d.deadLetter(ctx, rt, dl, f, "", retries)
		case retries >= rt.target.MaximumRetryAttempts:
			return d.deadLetter(ctx, rt, dl, f, "MaximumRetryAttempts", retries)
		case time.Since(sent) > time.Duration(rt.target.MaximumEventAgeSec)*time.Second:
			return d.deadLetter(ctx, rt, dl, f, "MaximumEventAgeInSeconds", retries)
		}
		d.Log.Warn("dispatcher_retrying", "rule", rt.rule.LogicalID, "target", rt.target.ID, "event_id", dl.eventID, "attempt", attempt, "error", f)
		sleep(ctx, d.Backoff(attempt))
	}
}

// deliver makes one delivery attempt and completes o.
func (d *Dispatcher) deliver(ctx context.Context, rt route, in json.RawMessage, o *Outcome) *failure {
	switch rt.kind {
	case kindStateMachine:
		out, err := d.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(rt.dest), Name: aws.String(executionName(rt, o.EventID)), Input: aws.String(string(in)),
		})
		if awserr.Code(err) == "ExecutionAlreadyExists" {
			// A redelivery of an event whose execution has finished.
			return nil
		}
		if err != nil {
			return classify(err)
		}
		o.Execution = aws.ToString(out.ExecutionArn)
		return nil
	case kindFunction:
		return d.invokeAsync(ctx, rt, in, o)
	case kindTopic:
		_, err := d.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(rt.dest), Message: aws.String(string(in))})
		return classify(err)
	case kindQueue:
		_, err := d.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(rt.dest), MessageBody: aws.String(string(in))})
		return classify(err)
	}
	return &failure{code: "NO_RESOURCE", err: errors.New("unknown target")}
}

// executionName derives a valid execution name from the event's ID and the
// rule target, so that a redelivered event cannot start a second
// execution, while two rules that send the same event to one state machine
// still start one execution each.
func executionName(rt route, eventID string) string {
	sum := sha256.Sum256([]byte(rt.rule.ARN + "\x00" + rt.target.ID))
	id := queueNameUnsafe.ReplaceAllString(eventID, "_")
	if len(id) > 64 {
		id = id[:64]
	}
	return id + "-" + hex.EncodeToString(sum[:4])
}

// invokeAsync invokes a function target as EventBridge does, asynchronously:
// EventBridge's delivery fails only when Lambda refuses the invocation (no
// such function, throttling). A function that returns an error is retried
// AsyncRetries times, and then its event goes to the function's
// on-failure queue or topic; o says which, and how many invocations it
// took.
func (d *Dispatcher) invokeAsync(ctx context.Context, rt route, in json.RawMessage, o *Outcome) *failure {
	var out *lambda.InvokeOutput
	for attempt := 0; attempt <= rt.fn.AsyncRetries; attempt++ {
		if attempt > 0 {
			sleep(ctx, d.Backoff(attempt))
		}
		var err error
		out, err = d.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(rt.dest), Payload: in, InvocationType: lambdatypes.InvocationTypeRequestResponse})
		if err != nil {
			return classify(err)
		}
		o.Attempts = attempt + 1
		if out.FunctionError == nil {
			return nil
		}
		d.Log.Warn("dispatcher_function_error", "function", rt.fn.LogicalID, "event_id", o.EventID, "attempt", attempt+1, "error", string(out.Payload))
	}
	// Lambda accepted the event: what follows is Lambda's handling of a
	// failed asynchronous invocation, not a failed EventBridge delivery.
	res, err := d.functionFailed(ctx, rt, in, out, o.Attempts)
	if err != nil {
		return &failure{code: "INTERNAL_ERROR", retryable: true, err: err}
	}
	o.Result, o.Error = res, string(out.Payload)
	return nil
}

// functionFailed keeps a function's failed asynchronous invocation as Lambda
// does: a dead-letter queue or topic receives the event with RequestID,
// ErrorCode and ErrorMessage attributes; an on-failure destination
// receives an invocation record.
//
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
func (d *Dispatcher) functionFailed(ctx context.Context, rt route, in json.RawMessage, out *lambda.InvokeOutput, attempts int) (Result, error) {
	var fe struct {
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(out.Payload, &fe)
	requestID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	body := string(in)
	attrs := map[string]string{"RequestID": requestID, "ErrorCode": strconv.Itoa(int(out.StatusCode)), "ErrorMessage": truncate(fe.ErrorMessage, 1024)}
	if rt.fn.OnFailureRecord {
		rec, err := json.Marshal(invocationRecord{
			Version: "1.0", Timestamp: time.Now().UTC().Format(time.RFC3339Nano),
			RequestContext:  recordRequestContext{RequestID: requestID, FunctionARN: rt.fn.ARN + ":$LATEST", Condition: "RetriesExhausted", ApproximateInvokeCount: attempts},
			RequestPayload:  in,
			ResponseContext: recordResponseContext{StatusCode: int(out.StatusCode), ExecutedVersion: "$LATEST", FunctionError: aws.ToString(out.FunctionError)},
			ResponsePayload: out.Payload,
		})
		if err != nil {
			return "", err
		}
		body, attrs = string(rec), nil
	}
	switch {
	case rt.failURL != "":
		_, err := d.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(rt.failURL), MessageBody: aws.String(body), MessageAttributes: sqsAttributes(attrs)})
		return DeadLettered, err
	case rt.failARN != "":
		_, err := d.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(rt.failARN), Message: aws.String(body), MessageAttributes: snsAttributes(attrs)})
		return DeadLettered, err
	}
	d.Log.Error("dispatcher_function_event_dropped", "function", rt.fn.LogicalID, "error", fe.ErrorMessage,
		"why", "the function has no DeadLetterQueue or on-failure destination")
	return Dropped, nil
}

// invocationRecord is what Lambda sends an asynchronous invocation's
// on-failure destination.
type invocationRecord struct {
	Version         string                `json:"version"`
	Timestamp       string                `json:"timestamp"`
	RequestContext  recordRequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage       `json:"requestPayload"`
	ResponseContext recordResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage       `json:"responsePayload"`
}

type recordRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type recordResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"`
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// deadLetter sends the event to the target's dead-letter queue with the
// attributes EventBridge sets: RULE_ARN, TARGET_ARN, ERROR_CODE,
// ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION when the retry policy ran out,
// and RETRY_ATTEMPTS.
//
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
func (d *Dispatcher) deadLetter(ctx context.Context, rt route, dl delivery, f *failure, exhausted string, retries int) error {
	o := Outcome{Rule: rt.rule.LogicalID, Target: rt.target.ID, EventID: dl.eventID, Attempts: retries + 1, Error: f.Error(), Result: DeadLettered}
	if rt.dlqURL == "" {
		d.Log.Error("dispatcher_event_dropped", "rule", rt.rule.LogicalID, "target", rt.target.ID, "event_id", dl.eventID, "error", f,
			"why", "the target has no DeadLetterConfig")
		o.Result = Dropped
		d.record(o)
		return nil
	}
	attrs := map[string]string{
		"RULE_ARN": rt.rule.ARN, "TARGET_ARN": rt.target.ARN, "ERROR_CODE": f.code,
		"ERROR_MESSAGE": truncate(f.err.Error(), 1024), "RETRY_ATTEMPTS": strconv.Itoa(retries),
	}
	if exhausted != "" {
		attrs["EXHAUSTED_RETRY_CONDITION"] = exhausted
	}
	if _, err := d.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(rt.dlqURL), MessageBody: aws.String(string(dl.event)), MessageAttributes: sqsAttributes(attrs)}); err != nil {
		return fmt.Errorf("sending event %s to the dead-letter queue: %w", dl.eventID, err)
	}
	d.Log.Warn("dispatcher_event_dead_lettered", "rule", rt.rule.LogicalID, "target", rt.target.ID, "event_id", dl.eventID, "error", f)
	d.record(o)
	return nil
}

func sqsAttributes(m map[string]string) map[string]sqstypes.MessageAttributeValue {
	out := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m {
		if v != "" {
			out[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	return out
}

func snsAttributes(m map[string]string) map[string]snstypes.MessageAttributeValue {
	out := map[string]snstypes.MessageAttributeValue{}
	for k, v := range m {
		if v != "" {
			out[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	return out
}

// classify turns a target API's error into EventBridge's error code and
// whether EventBridge retries it: a missing target or missing permission
// goes to the dead-letter queue at once; throttling, server faults and
// network failures are retried.
func classify(err error) *failure {
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	switch {
	case awserr.IsThrottling(err) || awserr.Code(err) == "ExecutionLimitExceeded":
		return &failure{code: "THROTTLING", retryable: true, err: err}
	case awserr.IsNotFound(err) || awserr.Code(err) == "StateMachineDeleting" || awserr.Code(err) == "AWS.SimpleQueueService.NonExistentQueue":
		return &failure{code: "NO_RESOURCE", err: err}
	case strings.HasPrefix(awserr.Code(err), "AccessDenied") || awserr.Code(err) == "AuthorizationError":
		return &failure{code: "NO_PERMISSIONS", err: err}
	case awserr.Code(err) == "InvalidExecutionInput" || awserr.Code(err) == "InvalidRequestContentException":
		return &failure{code: "INVALID_JSON", err: err}
	case errors.As(err, &apiErr) && apiErr.ErrorFault() != smithy.FaultServer:
		return &failure{code: "INVALID_PARAMETER", err: err}
	case errors.As(err, &apiErr):
		return &failure{code: "INTERNAL_ERROR", retryable: true, err: err}
	}
	return &failure{code: "CONNECTION_FAILURE", retryable: true, err: err}
}

func (d *Dispatcher) record(o Outcome) {
	d.mu.Lock()
	d.outcomes = append(d.outcomes, o)
	close(d.notify)
	d.notify = make(chan struct{})
	d.mu.Unlock()
}

// Outcomes returns what the dispatcher did so far, in order.
func (d *Dispatcher) Outcomes() []Outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Outcome(nil), d.outcomes...)
}

// WaitFor waits until an outcome satisfies match and returns it.
func (d *Dispatcher) WaitFor(ctx context.Context, match func(Outcome) bool) (Outcome, error) {
	seen := 0
	for {
		d.mu.Lock()
		for ; seen < len(d.outcomes); seen++ {
			if match(d.outcomes[seen]) {
				o := d.outcomes[seen]
				d.mu.Unlock()
				return o, nil
			}
		}
		ch := d.notify
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return Outcome{}, fmt.Errorf("waiting for a dispatch outcome: %w", ctx.Err())
		case <-ch:
		}
	}
}
