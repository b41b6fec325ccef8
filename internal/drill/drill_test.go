package drill_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ecsplane/ecsplane/internal/drill"
)

// TestRefusedBeforeAnyCall: the drills with no reversible mechanism on AWS
// are refused, saying why, without a client being touched (there is
// none).
func TestRefusedBeforeAnyCall(t *testing.T) {
	for _, name := range []string{"gray-failure", "bad-image"} {
		_, err := drill.Prepare(context.Background(), drill.Clients{}, name, drill.Options{Stack: "web-dev", Zone: "us-east-1a"})
		var refused *drill.RefusedError
		if !errors.As(err, &refused) || refused.Why == "" {
			t.Errorf("%s: %v, want a RefusedError with its reason", name, err)
		}
	}
	if _, err := drill.Prepare(context.Background(), drill.Clients{}, "meteor", drill.Options{}); err == nil {
		t.Error("an unknown drill was prepared")
	}
}
