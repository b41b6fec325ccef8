package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// TestActionsShowRemediation: `ecsplane actions` shows every remediation
// decision, doing nothing included, with its alarm, zone and reason, and
// an evacuation's milestones with their shifts.
func TestActionsShowRemediation(t *testing.T) {
	ctx := context.Background()
	l := cliLedger(t)
	for _, a := range []ledger.Action{
		{Subject: "web", Kind: ledger.KindRemediation, Action: "none", Outcome: "NOTHING", Reason: "web-cpu-high is in ALARM and target tracking scales the service",
			Detail: map[string]string{"alarm": "web-cpu-high", "state": "ALARM"}},
		{Subject: "web", Kind: ledger.KindRemediation, Action: "evacuation", Outcome: "evacuated", Reason: "us-east-1b serves the desired 2 from healthy targets",
			Detail: map[string]string{"alarm": "web-unhealthy-hosts-us-east-1a", "zone": "us-east-1a", "healthy_zone": "us-east-1b", "instances_drained": "i-0a1b", "shifts": "z-1 lb (active until 2025-01-01T01:00:00Z)"}},
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
		"remediation none NOTHING web-cpu-high ALARM web-cpu-high is in ALARM and target tracking scales the service",
		"remediation evacuation evacuated web-unhealthy-hosts-us-east-1a, us-east-1a → us-east-1b, drained i-0a1b, shifts z-1 lb (active until 2025-01-01T01:00:00Z) us-east-1b serves",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("actions output lacks %q:\n%s", want, out)
		}
	}
}
