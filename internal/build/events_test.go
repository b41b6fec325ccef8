package build_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// TestEventFixtures decodes every sample input strictly, as the plan's and
// the layer functions' requests, so the fixtures used with
// `sam local invoke -e` cannot drift from the handlers.
func TestEventFixtures(t *testing.T) {
	cfg := controlplane.StackConfig("123456789012", "us-east-1", "web-dev")
	strict := func(p string, v any) {
		t.Helper()
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
	var plan build.PlanRequest
	strict(filepath.Join(awstest.RepoRoot(t), "events", "plan.json"), &plan)
	resolved, err := build.Resolve(plan.Spec, "web-dev", cfg)
	if err != nil || resolved.Name != "web-dev" || resolved.Network.AZCount != stack.MinAZs {
		t.Errorf("plan.json: spec %+v, %v", resolved.Network, err)
	}
	paths, err := filepath.Glob(filepath.Join(awstest.RepoRoot(t), "events", "step-*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no step fixtures (%v)", err)
	}
	ops := map[step.Op]bool{}
	for _, p := range paths {
		var req step.Request
		strict(p, &req)
		ops[req.Op] = true
		switch req.Op {
		case step.OpReconcile:
			// Reconcile steps read the spec the plan resolved, as it is.
			if s, err := stack.Decode(req.Spec); err != nil || s.Validate() != nil {
				t.Errorf("%s: the spec is not a resolved spec: %v %v", filepath.Base(p), err, s.Validate())
			}
		case step.OpDestroy:
			if s, err := stack.Identify(req.Spec); err != nil || s.Name != "web-dev" {
				t.Errorf("%s: %+v %v", filepath.Base(p), s, err)
			}
		case step.OpCheck:
			if req.Previous != nil && req.Waits.MaxAttempts == 0 {
				t.Errorf("%s: a wait-loop round without waits", filepath.Base(p))
			}
		default:
			t.Errorf("%s: op %q", filepath.Base(p), req.Op)
		}
		layer := strings.Split(strings.TrimPrefix(filepath.Base(p), "step-"), "-")[0]
		if !hasLayer(layer) {
			t.Errorf("%s names no layer of the table", filepath.Base(p))
		}
	}
	if len(ops) != 3 {
		t.Errorf("the fixtures cover ops %v, want reconcile, check and destroy", ops)
	}
}

func hasLayer(name string) bool {
	for _, l := range build.Layers {
		if l.Name == name {
			return true
		}
	}
	return false
}

func TestResolveChecksTheWorkloadWithTheSpec(t *testing.T) {
	cfg := controlplane.StackConfig("123456789012", "us-east-1", "wl")
	_, err := build.Resolve(json.RawMessage(`{"service": {"port": 8080, "appPort": 9000}}`), "wl", cfg)
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) || len(inv.Problems) != 2 {
		t.Fatalf("ports the images do not use: %v, want two problems", err)
	}
	// A spec may name another nginx image, but not another stack.
	spec, err := build.Resolve(json.RawMessage(`{"service": {"nginxImage": "registry.example/nginx:2"}}`), "wl", cfg)
	if err != nil || spec.Service.NginxImage != "registry.example/nginx:2" || spec.Service.LogGroup != "/ecs/wl" {
		t.Fatalf("resolved %+v, %v", spec.Service, err)
	}
	if _, err := build.Resolve(json.RawMessage(`{"name": "other"}`), "wl", cfg); !errors.As(err, &inv) {
		t.Fatalf("another stack's spec: %v", err)
	}
}
