package controlplane_test

import (
	"encoding/json"
	"testing"
)

// The lifecycle function's samples. Its calls reach moto, which has no
// such group: a terminate of the stack's group claims the action and ends
// it as gone; another group's event is refused before any call; a refused
// start is recorded.
func init() {
	binarySteps = append(binarySteps,
		binaryStep{Function: "LifecycleFunction", Event: "lifecycle-start-terminate.json", Check: wantRun("drain", "gone")},
		binaryStep{Function: "LifecycleFunction", Event: "lifecycle-start-other-group.json", Error: "InvalidInputError"},
		binaryStep{Function: "LifecycleFunction", Event: "lifecycle-record-refused.json", Check: wantFields(map[string]any{"subject": "web-dev", "kind": "lifecycle", "action": "launch", "outcome": "REFUSED"})},
		binaryStep{Function: "LifecycleFunction", Event: "step-network-reconcile.json", Error: "InvalidInputError"},
	)
}

// wantRun checks a start's answer: the run's kind and state.
func wantRun(kind, state string) func(*testing.T, []byte) {
	return func(t *testing.T, answer []byte) {
		t.Helper()
		var run struct {
			Action struct {
				Kind string `json:"kind"`
			} `json:"action"`
			Progress struct {
				State  string `json:"state"`
				Detail string `json:"detail"`
			} `json:"progress"`
		}
		if err := json.Unmarshal(answer, &run); err != nil || run.Action.Kind != kind || run.Progress.State != state || run.Progress.Detail == "" {
			t.Errorf("answer %s (%v), want a %s run %s with its reason", answer, err, kind, state)
		}
	}
}
