package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// TestActionsShowLifecycleDetail: `ecsplane actions` shows a lifecycle
// action's instance, zone, tasks and durations beside its outcome.
func TestActionsShowLifecycleDetail(t *testing.T) {
	ctx := context.Background()
	l := cliLedger(t)
	for _, a := range []ledger.Action{
		{Subject: "web", Kind: ledger.KindLifecycle, Action: "launch", Outcome: "CONTINUE", Reason: "container instance 1b28 is ACTIVE with its agent connected after 50s",
			Detail: map[string]string{"instance": "i-0a1b", "zone": "us-east-1a", "duration": "1m5s", "heartbeats": "0"}},
		{Subject: "web", Kind: ledger.KindLifecycle, Action: "drain", Outcome: "CONTINUE", Reason: "deadline policy: the drain deadline of 10m0s passed",
			Detail: map[string]string{"instance": "i-0c2d", "zone": "us-east-1b", "tasks_drained": "2", "tasks_left": "1", "duration": "10m15s", "heartbeats": "9"}},
		{Subject: "web", Kind: ledger.KindBuild, Action: "build", Outcome: "SUCCEEDED"},
	} {
		if _, err := l.RecordAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := cli(t, "actions", "web")
	if code != exitOK {
		t.Fatalf("actions: exit %d: %s", code, errOut)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"OUTCOME DETAIL REASON",
		"lifecycle launch CONTINUE i-0a1b us-east-1a, held 1m5s container instance 1b28",
		"lifecycle drain CONTINUE i-0c2d us-east-1b, 2 tasks drained, 1 left, held 10m15s, 9 heartbeats deadline policy",
		"build build SUCCEEDED - -",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("actions output lacks %q:\n%s", want, out)
		}
	}
}
