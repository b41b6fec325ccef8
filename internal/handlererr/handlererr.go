// Package handlererr defines the typed errors that Lambda handlers return.
//
// The Lambda runtime reports an error's Go type name as its errorType, and the
// state machines' Retry and Catch clauses match on those names. Handlers build
// errors with context wrapping as usual and call Boundary just before
// returning, so the runtime sees one of these types, unwrapped, with the full
// message.
package handlererr

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// Error names as the state machines match them.
const (
	NameNotReady     = "NotReadyError"
	NameRetryable    = "RetryableError"
	NameInvalidInput = "InvalidInputError"
	NameConflict     = "ConflictError"
)

// NotReadyError means a resource exists but has not reached the state the
// step waits for. State machines retry it with their own wait loop.
type NotReadyError struct {
	Msg string
	Err error
}

func (e *NotReadyError) Error() string { return join(e.Msg, e.Err) }
func (e *NotReadyError) Unwrap() error { return e.Err }

// RetryableError means a transient failure: throttling that outlived the SDK
// retryer, a server fault, or an eventual-consistency window.
type RetryableError struct {
	Msg string
	Err error
}

func (e *RetryableError) Error() string { return join(e.Msg, e.Err) }
func (e *RetryableError) Unwrap() error { return e.Err }

// InvalidInputError means the event or request is malformed or refers to
// something that is not ours. It is never retried, and the handler made no
// AWS mutation before returning it.
type InvalidInputError struct {
	// Problems lists every problem found, so a caller can fix all at once.
	Problems []string
}

func (e *InvalidInputError) Error() string {
	return "invalid input: " + strings.Join(e.Problems, "; ")
}

// Invalid returns an InvalidInputError for the given problems.
func Invalid(problems ...string) *InvalidInputError {
	return &InvalidInputError{Problems: problems}
}

// ConflictError means another actor holds what this step needs, for example
// the per-service deployment lock or an idempotency key.
type ConflictError struct {
	Msg string
	Err error
}

func (e *ConflictError) Error() string { return join(e.Msg, e.Err) }
func (e *ConflictError) Unwrap() error { return e.Err }

func join(msg string, err error) string {
	switch {
	case err == nil:
		return msg
	case msg == "":
		return err.Error()
	default:
		return msg + ": " + err.Error()
	}
}

// Boundary converts err into the typed error the state machine matches on,
// keeping the whole wrapped message. It returns nil for nil. A typed error
// anywhere in the chain wins; otherwise AWS errors that the SDK would retry
// become RetryableError, and anything else is returned as is, which the state
// machine treats as a failure (States.TaskFailed or the type's own name).
func Boundary(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var (
		notReady  *NotReadyError
		retryable *RetryableError
		invalid   *InvalidInputError
		conflict  *ConflictError
	)
	switch {
	case errors.As(err, &invalid):
		return &InvalidInputError{Problems: invalid.Problems}
	case errors.As(err, &conflict):
		return &ConflictError{Msg: msg}
	case errors.As(err, &notReady):
		return &NotReadyError{Msg: msg}
	case errors.As(err, &retryable):
		return &RetryableError{Msg: msg}
	case awserr.IsRetryable(err):
		return &RetryableError{Msg: msg}
	}
	return err
}

// Caught is a failure as a state machine's Catch passes it on in its
// ResultPath: the error's name and its cause, which for a function's error
// is the function's JSON error.
type Caught struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Message is the failure's message: the errorMessage of a function's
// error, else the cause as it is.
func (e *Caught) Message() string {
	var cause struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(e.Cause), &cause) == nil && cause.ErrorMessage != "" {
		return cause.ErrorMessage
	}
	if e.Cause != "" {
		return e.Cause
	}
	return e.Error + " with no cause"
}

// Serve decodes raw as a request of type T and runs it: a request that is
// not JSON is an InvalidInputError naming what it should have been, and
// run's error is returned through Boundary.
func Serve[T any](ctx context.Context, raw json.RawMessage, what string, run func(context.Context, T) (any, error)) (any, error) {
	var req T
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, Invalid(what + " is not valid JSON: " + err.Error())
	}
	out, err := run(ctx, req)
	if err != nil {
		return nil, Boundary(err)
	}
	return out, nil
}
