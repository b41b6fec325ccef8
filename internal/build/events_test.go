package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// TestEventFixtures decodes every sample input strictly, as the handlers'
// requests, and resolves its spec, so the fixtures used with
// `sam local invoke -e` cannot drift from the handlers.
func TestEventFixtures(t *testing.T) {
	h := &Handler{Config: Config{StackName: "web-dev", ImageRepository: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
		InstanceProfileARN: "arn:aws:iam::123456789012:instance-profile/web", ExecutionRoleARN: "arn:aws:iam::123456789012:role/exec",
		TaskRoleARN: "arn:aws:iam::123456789012:role/task"}}
	for _, pattern := range []string{"plan.json", "build-*.json", "ready-*.json", "teardown-*.json"} {
		paths, err := filepath.Glob(filepath.Join(awstest.RepoRoot(t), "events", pattern))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no fixtures match %s (%v)", pattern, err)
		}
		for _, p := range paths {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var req Request
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				t.Errorf("%s: %v", filepath.Base(p), err)
				continue
			}
			if req.Check == "" {
				spec, err := h.Spec(req.Spec)
				if err != nil || spec.Name != "web-dev" || spec.Network.AZCount != stack.MinAZs {
					t.Errorf("%s: spec %+v, %v", filepath.Base(p), spec.Network, err)
				}
			}
			if req.Previous != nil && req.Waits.MaxAttempts == 0 {
				t.Errorf("%s: a wait-loop round without waits", filepath.Base(p))
			}
		}
	}
}

func TestWorkloadAgreesWithTheImages(t *testing.T) {
	spec := testSpec("wl", "123456789012")
	w := mustWorkload(t, spec)
	if w.LoadBalancedContainer != "nginx" || len(w.Containers) != 2 {
		t.Fatalf("workload %+v", w)
	}
	spec.Service.Port = 8080
	spec.Service.AppPort = 9000
	_, err := Workload("us-east-1", "")(spec)
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) || len(inv.Problems) != 2 {
		t.Fatalf("ports the images do not use: %v, want two problems", err)
	}
}
