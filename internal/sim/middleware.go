package sim

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Middleware IDs, for tests that position their own middleware relative to
// the simulator's.
const (
	CaptureInputID = "SimCaptureInput"
	AnswerID       = "SimAnswer"
)

type inputKey struct{}

// captureInput keeps an operation's typed input for the answering
// middleware.
var captureInput = middleware.InitializeMiddlewareFunc(CaptureInputID, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	return next.HandleInitialize(middleware.WithStackValue(ctx, inputKey{}, in.Parameters), in)
})

// addMiddleware installs the simulator in an operation's stack: one
// Initialize middleware after the SDK's input validation keeps the typed
// input, and one Finalize middleware after retry and signing answers it.
func (s *Sim) addMiddleware(stack *middleware.Stack) error { return s.install(stack, false) }

// addOverlay is addMiddleware for ConfigOver: the operations of services
// the simulator does not simulate go on to the network.
func (s *Sim) addOverlay(stack *middleware.Stack) error { return s.install(stack, true) }

func (s *Sim) install(stack *middleware.Stack, passThrough bool) error {
	if err := stack.Initialize.Add(captureInput, middleware.After); err != nil {
		return err
	}
	answer := middleware.FinalizeMiddlewareFunc(AnswerID, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
		if _, simulated := services[svc]; passThrough && !simulated {
			return next.HandleFinalize(ctx, in)
		}
		out, requestID, err := s.dispatch(svc, op, middleware.GetStackValue(ctx, inputKey{}))
		var md middleware.Metadata
		awsmiddleware.SetRequestIDMetadata(&md, requestID)
		if err != nil {
			return middleware.FinalizeOutput{}, md, wrapResponseError(requestID, err)
		}
		return middleware.FinalizeOutput{Result: out}, md, nil
	})
	return stack.Finalize.Add(answer, middleware.After)
}

// dispatch runs one attempt of an operation: record it, apply injected
// faults, then the handler.
func (s *Sim) dispatch(svc, op string, input any) (out any, requestID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	requestID = s.faults.requestID()
	defer func() {
		// A handler bug must not take the caller's process down: it becomes
		// the error AWS gives for its own faults.
		if r := recover(); r != nil {
			s.log.Error("sim_handler_panic", "service", svc, "operation", op, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			out, err = nil, apiError("InternalFailure", "The simulator failed to process %s %s: %v", svc, op, r)
		}
		s.calls.add(Call{Time: s.clock.now, Service: svc, Operation: op, ErrorCode: errorCode(err)})
	}()
	h, ok := handlers[opKey{svc, op}]
	if !ok {
		return nil, requestID, unsupported(svc, op)
	}
	if ferr := s.faults.before(s, svc, op); ferr != nil {
		return nil, requestID, ferr
	}
	if dryRun(input) {
		return nil, requestID, apiError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	out, err = h(s, input)
	s.observed()
	return out, requestID, err
}

// dryRun reports whether an EC2-style input asks for a permission check only.
func dryRun(input any) bool {
	v := reflect.ValueOf(input)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("DryRun")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.Bool {
		return false
	}
	return f.Elem().Bool()
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if err != nil {
		return "error"
	}
	return ""
}

// Call is one attempt of an API operation, as the simulator received it.
type Call struct {
	// Time is the virtual time of the attempt.
	Time time.Time
	// Service is the SDK's ServiceID, such as "EC2".
	Service string
	// Operation is the operation name, such as "DescribeInstances".
	Operation string
	// ErrorCode is the API error code returned, empty on success.
	ErrorCode string
}

// Mutating reports whether the operation changes state, judged by AWS's
// naming convention: everything but Describe*, Get* and List* mutates.
func (c Call) Mutating() bool {
	for _, p := range []string{"Describe", "Get", "List"} {
		if strings.HasPrefix(c.Operation, p) {
			return false
		}
	}
	return true
}

type callLog struct {
	calls []Call
}

func (l *callLog) add(c Call) { l.calls = append(l.calls, c) }

// Calls returns every attempt received so far, in order. Retries appear as
// separate attempts.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls.calls...)
}

// CallCount returns how many attempts of service's operation the simulator
// received; an empty operation counts all of the service's operations.
func (s *Sim) CallCount(service, operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls.calls {
		if c.Service == service && (operation == "" || c.Operation == operation) {
			n++
		}
	}
	return n
}
