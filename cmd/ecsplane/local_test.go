package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/awstest"
)

// lockedBuffer is an output the command writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLocalKeep runs `ecsplane local --keep` and then, as a user would from
// another shell with the printed exports, the other commands against the
// kept environment: the plan of the built stack (its EC2, ECS, ELB… calls
// reach the kept simulator), invoke, events put, history and actions.
// Cancelling, as Ctrl-C does, stops everything it started.
func TestLocalKeep(t *testing.T) {
	// runLocal sets these for its own history step; t.Setenv restores them.
	awstest.UseEndpoint(t, "http://127.0.0.1:1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan error, 1)
	page := filepath.Join(t.TempDir(), "report.html")
	go func() {
		done <- run(ctx, []string{"local", "--keep", "--template", "../../template.yaml", "--scenario", "../../scenarios/keep.json", "--report", page}, &out, &errOut)
	}()
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops everything it started") {
		select {
		case err := <-done:
			t.Fatalf("local --keep returned before keeping: %v\n%s\n%s", err, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("local --keep printed no exports within 5 minutes:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	exports := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if kv, ok := strings.CutPrefix(line, "    export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			exports[k] = v
			t.Setenv(k, v)
		}
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", simEndpointEnv, tableEnv, "ECSPLANE_STACK", "ECSPLANE_INSTANCE_PROFILE_ARN", stateMachineSetting.env, repositorySetting.env} {
		if exports[k] == "" {
			t.Fatalf("no export of %s:\n%s", k, out.String())
		}
	}

	cmd := func(args ...string) (string, string, error) {
		var o, e bytes.Buffer
		err := run(context.Background(), args, &o, &e)
		return o.String(), e.String(), err
	}
	// The stack the scenario built is in the kept simulator, so a plan in
	// this "other process" finds nothing to change.
	got, stderr, err := cmd("stack", "plan")
	if err != nil || !strings.Contains(got, "stack web-dev: no changes") {
		t.Errorf("stack plan: %v\n%s%s", err, got, stderr)
	}
	got, stderr, err = cmd("invoke", "RecordFunction", "--event", "../../events/record-build-succeeded.json")
	var rec struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
	}
	if err != nil || json.Unmarshal([]byte(got), &rec) != nil || rec.ID == "" || rec.Subject != "web-dev" {
		t.Errorf("invoke RecordFunction: %v\n%s%s", err, got, stderr)
	}
	if _, stderr, err = cmd("invoke", "RecordFunction", "--event", "../../events/plan.json"); !errors.Is(err, errFunction) || !strings.HasPrefix(stderr, "InvalidInputError: ") {
		t.Errorf("invoke with another function's event: %v %q, want InvalidInputError", err, stderr)
	}
	if got, stderr, err = cmd("events", "put", "../../events/ecr-image-action-push.json"); err != nil || !strings.Contains(got, `put "ECR Image Action" from aws.ecr as event `) {
		t.Errorf("events put: %v\n%s%s", err, got, stderr)
	}
	// The scenario's build and the invoked record, in the ledger.
	got, _, err = cmd("actions", "web-dev")
	if flat := strings.Join(strings.Fields(got), " "); err != nil || !strings.Contains(flat, "build build SUCCEEDED") || !strings.Contains(flat, "build apply SUCCEEDED") {
		t.Errorf("actions: %v\n%s", err, got)
	}
	if got, _, err = cmd("history", "web-dev"); err != nil || !strings.Contains(strings.Join(strings.Fields(got), " "), "create SUCCEEDED") {
		t.Errorf("history: %v\n%s", err, got)
	}
	// The run's report page, and the page `ecsplane report` makes of the
	// kept stack from the simulator's CloudWatch metrics and the ledger,
	// both in headless Chromium.
	zones := []string{"us-east-1a", "us-east-1b"}
	checkPage(t, page, map[string][]string{"tasks": zones, "healthy-targets": zones, "instances": zones, "deployments": {"steps", "rollouts"}, "alarms-actions": {"lifecycle actions"}})
	fromCW := filepath.Join(t.TempDir(), "report.html")
	if got, stderr, err := cmd("report", "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-01T02:00:00Z", "--out", fromCW, "web-dev"); err != nil {
		t.Errorf("report: %v\n%s%s", err, got, stderr)
	}
	checkPage(t, fromCW, map[string][]string{"healthy-targets": {"healthy us-east-1a", "healthy us-east-1b"}, "cpu": {"CPU %"}, "deployments": {"deployments", "lifecycle actions"}})
	rolloutCommands(t, cmd)
	drillsAgainstAWS(t, cmd)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("local --keep ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("local --keep did not stop within a minute of Ctrl-C")
	}
	if resp, err := http.Get(exports["AWS_ENDPOINT_URL"]); err == nil {
		resp.Body.Close()
		t.Errorf("the environment still answers after Ctrl-C")
	}
}

// TestLocalScenarioFailsAtTheStepThatDiffers runs a scenario whose second
// step expects a good image to be rolled back: the run exits 1 naming that
// step, its record says what happened, and the step after it never runs.
func TestLocalScenarioFailsAtTheStepThatDiffers(t *testing.T) {
	awstest.UseEndpoint(t, "http://127.0.0.1:1")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"local", "--json", "--template", "../../template.yaml", "--scenario", "testdata/wrong-expectation.json", "--report", filepath.Join(t.TempDir(), "report.html")}, &out, &errOut)
	if exitCode(err) != exitFailure || err == nil || !strings.Contains(err.Error(), `step 2 "push a good v2 and expect it rolled back": ended SUCCEEDED, want ROLLED_BACK`) {
		t.Fatalf("exit code %d, %v, want 1 naming step 2\n%s", exitCode(err), err, errOut.String())
	}
	var rec struct {
		Passed bool
		Steps  []struct {
			Name, Status string
			Passed       bool
		}
	}
	if jerr := json.Unmarshal(out.Bytes(), &rec); jerr != nil || rec.Passed || len(rec.Steps) != 2 || !rec.Steps[0].Passed || rec.Steps[1].Passed || rec.Steps[1].Status != "SUCCEEDED" {
		t.Errorf("record %+v (%v), want the build passed, the push failed with SUCCEEDED, and no third step", rec, jerr)
	}
}
