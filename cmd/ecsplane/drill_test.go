package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/scenario"
)

// TestDrills runs each drill the local environment can run: its recovery
// figures are measured, and in the five simulated minutes after recovery
// every zone kept a healthy target and the load balancer held no unhealthy
// one, at every snapshot of the simulator. The drills that act through
// remediation are refused, naming their step, while the template declares
// no remediate state machine, or while their steps are not built; a drill
// against AWS is refused.
func TestDrills(t *testing.T) {
	awstest.UseEndpoint(t, "http://127.0.0.1:1")
	for _, name := range []string{"bad-image", "instance-loss"} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"drill", name, "--json", "--template", "../../template.yaml", "--report", filepath.Join(t.TempDir(), "drill.html")}, &out, &errOut)
			if err != nil {
				t.Fatalf("drill %s: %v\n%s", name, err, errOut.String())
			}
			var rec scenario.Record
			if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			figures := scenario.DrillFigures(name, &rec)
			for _, f := range scenario.Drills[name].Figures {
				if figures[f] <= 0 {
					t.Errorf("figure %s not measured: %v", f, figures)
				}
			}
			last := rec.Steps[len(rec.Steps)-1]
			if !rec.Passed || last.Do != "hold" || !last.Passed || last.Figures["snapshots_checked"] == 0 {
				t.Errorf("the hold after recovery: %+v", last)
			}
			for _, s := range rec.Samples {
				if !s.At.Before(last.VirtualStart) {
					for z, c := range s.Zones {
						if c.HealthyTargets == 0 || c.UnhealthyTargets > 0 {
							t.Errorf("%s at %s: %+v after recovery", z, s.At, c)
						}
					}
				}
			}
			if !strings.Contains(errOut.String(), "recovery figures") {
				t.Errorf("the figures were not printed:\n%s", errOut.String())
			}
		})
	}
	for _, name := range []string{"az-outage", "gray-failure"} {
		err := run(context.Background(), []string{"drill", name, "--template", "../../template.yaml", "--report", ""}, &bytes.Buffer{}, &bytes.Buffer{})
		if exitCode(err) != exitFailure || !errors.Is(err, scenario.ErrMissingMachinery) || !strings.Contains(err.Error(), `step 3 "`) {
			t.Errorf("drill %s: %v, want exit 1 naming step 3, a step that is not built", name, err)
		}
	}
	if err := run(context.Background(), []string{"drill", "bad-image", "--target", "aws"}, &bytes.Buffer{}, &bytes.Buffer{}); exitCode(err) != exitUsage {
		t.Errorf("drill --target aws: %v, want a usage error", err)
	}
}
