package sim

import (
	"testing"
)

func TestHandlerPanicBecomesInternalFailure(t *testing.T) {
	key := opKey{"EC2", "TestPanic"}
	handle(key.service, key.operation, func(*Sim, *struct{}) (*struct{}, error) { panic("boom") })
	defer delete(handlers, key)
	s := New(Options{})
	out, _, err := s.dispatch(key.service, key.operation, &struct{}{})
	if out != nil || errorCode(err) != "InternalFailure" {
		t.Fatalf("dispatch of a panicking handler = %v, %v; want an InternalFailure error", out, err)
	}
	if calls := s.Calls(); len(calls) != 1 || calls[0].ErrorCode != "InternalFailure" {
		t.Fatalf("calls = %+v, want the failed attempt recorded", calls)
	}
	// The lock was released: the simulator still answers.
	s.Advance(1)
}
