package handlererr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

// typeName mirrors how the Lambda runtime names an error's type.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func TestBoundary(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantType string
		wantMsg  string
	}{
		{
			name:     "wrapped not ready keeps context",
			err:      fmt.Errorf("waiting for nat: %w", &NotReadyError{Msg: "nat-1 is pending"}),
			wantType: NameNotReady,
			wantMsg:  "waiting for nat: nat-1 is pending",
		},
		{
			name:     "invalid input keeps problems",
			err:      fmt.Errorf("parsing event: %w", Invalid("missing detail", "bad tag")),
			wantType: NameInvalidInput,
			wantMsg:  "invalid input: missing detail; bad tag",
		},
		{
			name:     "throttling becomes retryable",
			err:      fmt.Errorf("creating vpc: %w", &smithy.GenericAPIError{Code: "Throttling", Message: "slow down"}),
			wantType: NameRetryable,
			wantMsg:  "creating vpc: api error Throttling: slow down",
		},
		{
			name:     "conflict",
			err:      fmt.Errorf("acquiring lock: %w", &ConflictError{Msg: "held by exec-1"}),
			wantType: NameConflict,
			wantMsg:  "acquiring lock: held by exec-1",
		},
		{
			name:     "validation error passes through",
			err:      &smithy.GenericAPIError{Code: "ValidationError", Message: "nope"},
			wantType: "GenericAPIError",
			wantMsg:  "api error ValidationError: nope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Boundary(tt.err)
			if typeName(got) != tt.wantType {
				t.Errorf("type = %s, want %s", typeName(got), tt.wantType)
			}
			if got.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", got.Error(), tt.wantMsg)
			}
		})
	}
	if Boundary(nil) != nil {
		t.Error("Boundary(nil) must be nil")
	}
}

func TestUnwrap(t *testing.T) {
	cause := errors.New("root")
	err := &RetryableError{Msg: "ctx", Err: cause}
	if !errors.Is(err, cause) {
		t.Fatal("RetryableError must unwrap to its cause")
	}
	if err.Error() != "ctx: root" {
		t.Fatalf("message = %q", err.Error())
	}
}

func TestCaughtMessage(t *testing.T) {
	for _, c := range []struct {
		caught Caught
		want   string
	}{
		{Caught{Error: "InvalidInputError", Cause: `{"errorMessage":"invalid input: x","errorType":"InvalidInputError"}`}, "invalid input: x"},
		{Caught{Error: "States.Timeout", Cause: "the task timed out"}, "the task timed out"},
		{Caught{Error: "States.Timeout"}, "States.Timeout with no cause"},
	} {
		if got := c.caught.Message(); got != c.want {
			t.Errorf("%+v.Message() = %q, want %q", c.caught, got, c.want)
		}
	}
}

// TestServe: a request that is not JSON never reaches run and is an
// InvalidInputError naming what it should be; run's errors come out typed.
func TestServe(t *testing.T) {
	type req struct{ N int }
	ran := 0
	run := func(_ context.Context, r req) (any, error) {
		ran++
		if r.N < 0 {
			return nil, fmt.Errorf("wrapped: %w", &NotReadyError{Msg: "not yet"})
		}
		return r.N * 2, nil
	}
	ctx := context.Background()
	_, err := Serve(ctx, json.RawMessage(`{`), "test request", run)
	var invalid *InvalidInputError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "test request is not valid JSON") || ran != 0 {
		t.Errorf("malformed: %v (ran %d)", err, ran)
	}
	if out, err := Serve(ctx, json.RawMessage(`{"N":21}`), "test request", run); err != nil || out != 42 {
		t.Errorf("valid: %v %v", out, err)
	}
	_, err = Serve(ctx, json.RawMessage(`{"N":-1}`), "test request", run)
	var notReady *NotReadyError
	if !errors.As(err, &notReady) || !strings.Contains(err.Error(), "wrapped: not yet") {
		t.Errorf("run's error: %v", err)
	}
}
