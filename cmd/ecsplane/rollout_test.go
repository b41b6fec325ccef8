package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

// rolloutCommands runs status, history, deploy --wait, rollback --wait and
// abort against the environment `local --keep` keeps, after its scenario
// rolled out a good image (v1.1.0) and a bad one (v1.2.0, rolled back by
// ECS).
func rolloutCommands(t *testing.T, cmd func(args ...string) (string, string, error)) {
	t.Helper()
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	statusNow := func() serviceStatus {
		t.Helper()
		out, stderr, err := cmd("status", "--json", "web-dev")
		var st serviceStatus
		if err != nil || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("status --json: %v\n%s%s", err, out, stderr)
		}
		return st
	}

	got, stderr, err := cmd("status", "web-dev")
	if err != nil || !strings.Contains(got, "revision lease: free") || !strings.Contains(got, "rollout in progress: none") || !strings.Contains(got, "ZONE") {
		t.Errorf("status: %v\n%s%s", err, got, stderr)
	}
	if st := statusNow(); len(st.Zones) != 2 || st.Zones[0].HealthyTargets < 1 || st.Zones[1].HealthyTargets < 1 || len(st.Deployments) == 0 {
		t.Errorf("status --json: %+v, want two zones with a healthy target each and ECS's deployment", st)
	}
	got, _, err = cmd("history", "web-dev")
	if h := flat(got); err != nil || !strings.Contains(h, "image ROLLED_BACK_BY_ECS v1.2.0") || !strings.Contains(h, "image SUCCEEDED v1.1.0") || !strings.Contains(h, "circuit breaker") {
		t.Errorf("history after the scenario's rollouts: %v\n%s", err, got)
	}

	if got, stderr, err = cmd("abort", "web-dev"); err != nil || !strings.Contains(got, "nothing to abort: no rollout of web-dev is in progress") {
		t.Errorf("abort with nothing in progress: %v %q %q", err, got, stderr)
	}

	// latest, the initial image, pinned by its digest this time.
	got, stderr, err = cmd("deploy", "--tag", "latest", "--wait", "--interval", "100ms", "web-dev")
	if err != nil || !strings.Contains(got, "lease-taken") || !strings.Contains(got, "bake-ended") || !strings.Contains(got, "SUCCEEDED sha256:") {
		t.Fatalf("deploy --tag latest --wait: %v\n%s%s", err, got, stderr)
	}
	latest := statusNow().Image
	if !strings.Contains(latest, "@sha256:") {
		t.Errorf("after deploy --tag latest the service runs %s, want an image pinned by digest", latest)
	}
	digest := latest[strings.Index(latest, "@")+1:]
	got, _, err = cmd("deploy", "--digest", digest, "--wait", "--json", "--interval", "100ms", "web-dev")
	var o rollout.Outcome
	if err != nil || json.Unmarshal([]byte(got), &o) != nil || o.Status != ledger.StatusSkipped || !o.Succeeded {
		t.Errorf("deploy of the running digest: %v %+v\n%s", err, o, got)
	}

	got, stderr, err = cmd("rollback", "--wait", "--interval", "100ms", "web-dev")
	if err != nil || !strings.Contains(got, "SUCCEEDED sha256:") {
		t.Fatalf("rollback --wait: %v\n%s%s", err, got, stderr)
	}
	if img := statusNow().Image; img == latest || !strings.Contains(img, "@sha256:") {
		t.Errorf("after the rollback the service runs %s, want v1.1.0's digest, not %s", img, latest)
	}
	if got, _, _ := cmd("history", "--limit", "1", "web-dev"); !strings.Contains(flat(got), "rollback SUCCEEDED v1.1.0") {
		t.Errorf("the rollback's record: %s", got)
	}

	// A rollout aborted while it runs: the service returns to what it ran.
	before := statusNow().Image
	if got, stderr, err = cmd("deploy", "--tag", "latest", "web-dev"); err != nil || !strings.Contains(got, "started the deploy of sha256:") {
		t.Fatalf("deploy without --wait: %v\n%s%s", err, got, stderr)
	}
	deadline := time.Now().Add(time.Minute)
	for statusNow().Rollout == nil {
		if time.Now().After(deadline) {
			t.Fatal("status showed no rollout in progress after deploy")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, stderr, err = cmd("abort", "--json", "web-dev")
	var aborted struct {
		Aborted    bool               `json:"aborted"`
		Deployment *ledger.Deployment `json:"deployment"`
	}
	if err != nil || json.Unmarshal([]byte(got), &aborted) != nil || !aborted.Aborted || aborted.Deployment.Status != ledger.StatusAborted {
		t.Fatalf("abort: %v %+v\n%s%s", err, aborted, got, stderr)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		st := statusNow()
		if st.Rollout == nil && st.Leases[ledger.ScopeRevision] == nil && st.Image == before && len(st.Deployments) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after abort: %+v, want no rollout, no lease, and %s running alone; the aborted record: %+v", st, before, aborted.Deployment)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
