package awserr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestClassification(t *testing.T) {
	api := func(code string, fault smithy.ErrorFault) error {
		return fmt.Errorf("describing thing: %w", &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault})
	}
	tests := []struct {
		name                                       string
		err                                        error
		notFound, conflict, depViol, exists, retry bool
	}{
		{name: "subnet not found", err: api("InvalidSubnetID.NotFound", smithy.FaultClient), notFound: true},
		{name: "conditional check", err: api("ConditionalCheckFailedException", smithy.FaultClient), conflict: true},
		{name: "dependency violation", err: api("DependencyViolation", smithy.FaultClient), depViol: true},
		{name: "duplicate group", err: api("InvalidGroup.Duplicate", smithy.FaultClient), exists: true},
		{name: "throttling", err: api("ThrottlingException", smithy.FaultClient), retry: true},
		{name: "request limit", err: api("RequestLimitExceeded", smithy.FaultClient), retry: true},
		{name: "server fault", err: api("InternalFailure", smithy.FaultServer), retry: true},
		{name: "validation", err: api("ValidationError", smithy.FaultClient)},
		{name: "plain error", err: errors.New("boom")},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{IsNotFound(tt.err), IsConflict(tt.err), IsDependencyViolation(tt.err), IsAlreadyExists(tt.err), IsRetryable(tt.err)}
			want := []bool{tt.notFound, tt.conflict, tt.depViol, tt.exists, tt.retry}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("classifier %d: got %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestCode(t *testing.T) {
	err := fmt.Errorf("wrap: %w", &smithy.GenericAPIError{Code: "X.Y"})
	if got := Code(err); got != "X.Y" {
		t.Fatalf("Code = %q, want X.Y", got)
	}
	if got := Code(errors.New("x")); got != "" {
		t.Fatalf("Code of non-API error = %q, want empty", got)
	}
}
