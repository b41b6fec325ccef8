package build

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

func TestProgressCountsAndBoundsTheWait(t *testing.T) {
	var w Waits
	if err := json.Unmarshal([]byte(`{"seconds": "15", "maxAttempts": 3}`), &w); err != nil || w.Seconds != 15 || w.MaxAttempts != 3 {
		t.Fatalf("waits %+v, %v: substitutions are strings, input numbers", w, err)
	}
	req := Request{Waits: w}
	p, err := progress("nat", req, false, "pending")
	if err != nil || p.Attempt != 1 || p.WaitSeconds != 15 {
		t.Fatalf("first round %+v, %v", p, err)
	}
	req.Previous = p
	if p, err = progress("nat", req, false, "pending"); err != nil || p.Attempt != 2 {
		t.Fatalf("second round %+v, %v", p, err)
	}
	// A new check starts counting again.
	if q, err := progress("alb", req, false, "provisioning"); err != nil || q.Attempt != 1 {
		t.Fatalf("other check %+v, %v", q, err)
	}
	req.Previous = p
	_, err = progress("nat", req, false, "still pending")
	var nr *handlererr.NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("third round of 3 = %v, want a NotReadyError", err)
	}
	if p, err := progress("nat", req, true, "available"); err != nil || !p.Done {
		t.Fatalf("done on the last round = %+v, %v", p, err)
	}
	if err := json.Unmarshal([]byte(`{"seconds": "soon"}`), &w); err == nil {
		t.Error("a non-integer wait was accepted")
	}
}
