package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	arctypes "github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/scenario"
)

// TestDrills runs each drill against the local environment: its recovery
// figures are measured, and in the five simulated minutes after recovery
// the load balancer held no unhealthy target and some healthy one, at
// every snapshot of the simulator, and every zone kept a healthy target
// unless the drill says otherwise. The zone drills also hold three
// simulated minutes while the zone is out of traffic in which no zone has
// an unhealthy target; gray-failure's zone is evacuated, and the report
// page draws each evacuation.
func TestDrills(t *testing.T) {
	awstest.UseEndpoint(t, "http://127.0.0.1:1")
	for _, name := range scenario.DrillNames() {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			page := filepath.Join(t.TempDir(), "drill.html")
			err := run(context.Background(), []string{"drill", name, "--json", "--template", "../../template.yaml", "--report", page}, &out, &errOut)
			if err != nil {
				t.Fatalf("drill %s: %v\n%s", name, err, errOut.String())
			}
			var rec scenario.Record
			if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			figures := scenario.DrillFigures(name, &rec)
			for _, f := range scenario.Drills[name].MeasuredFigures() {
				if figures[f] <= 0 {
					t.Errorf("figure %s not measured: %v", f, figures)
				}
			}
			t.Logf("FIGURES drill %s: %v", name, figures)
			if !rec.Passed {
				t.Fatalf("the drill did not pass: %s", rec.Error)
			}
			var holds []scenario.StepRecord
			for _, s := range rec.Steps {
				if s.Do == "hold" {
					holds = append(holds, s)
				}
			}
			last := rec.Steps[len(rec.Steps)-1]
			if last.Do != "hold" || last.Figures["snapshots_checked"] == 0 {
				t.Errorf("the hold after recovery: %+v", last)
			}
			eachZoneHealthy := scenario.Drills[name].Recovered == nil
			for _, s := range rec.Samples {
				if s.At.Before(last.VirtualStart) {
					continue
				}
				healthy := 0
				for z, c := range s.Zones {
					healthy += c.HealthyTargets
					if c.UnhealthyTargets > 0 || (eachZoneHealthy && c.HealthyTargets == 0) {
						t.Errorf("%s at %s: %+v after recovery", z, s.At, c)
					}
				}
				if healthy == 0 {
					t.Errorf("no healthy target at %s after recovery", s.At)
				}
			}
			if len(rec.Evacuations) > 0 {
				// The hold while the zone is out of traffic: no zone has an
				// unhealthy target at any of the simulator's snapshots.
				if len(holds) != 2 || holds[0].Figures["snapshots_checked"] == 0 {
					t.Fatalf("holds %+v, want one while the zone is out of traffic and one after", holds)
				}
				for _, s := range rec.Samples {
					if !s.At.Before(holds[0].VirtualStart) && s.At.Before(holds[0].VirtualEnd) {
						for z, c := range s.Zones {
							if c.UnhealthyTargets > 0 {
								t.Errorf("%s at %s: %+v while the zone is out of traffic", z, s.At, c)
							}
						}
					}
				}
				lanes := []string{"faults injected"}
				if e := rec.Evacuations[0]; e.Outcome != "" {
					lanes = append(lanes, "remediation", "evacuation of us-east-1a")
					if e.Outcome != "RESTORED" {
						t.Errorf("evacuation %+v, want RESTORED", e)
					}
				} else if name == "gray-failure" {
					t.Errorf("gray-failure without an evacuation: %+v", e)
				}
				checkPage(t, page, map[string][]string{"alarms-actions": lanes})
			}
			if !strings.Contains(errOut.String(), "recovery figures") {
				t.Errorf("the figures were not printed:\n%s", errOut.String())
			}
		})
	}
}

// TestDrillAgainstAWSRefused: a drill against AWS without --confirm naming
// the stack, or one with no reversible mechanism, is refused before any
// AWS call (the endpoint answers nothing).
func TestDrillAgainstAWSRefused(t *testing.T) {
	awstest.UseEndpoint(t, "http://127.0.0.1:1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"az-outage"}, "add --confirm web-dev"},
		{[]string{"instance-loss", "--confirm", "web-prod"}, "--confirm web-prod does not name the stack web-dev"},
		{[]string{"gray-failure", "--confirm", "web-dev"}, "Fault Injection Service"},
		{[]string{"bad-image", "--confirm", "web-dev"}, "without overwriting a real tag"},
		{[]string{"az-outage", "--confirm", "web-dev", "--json"}, "--json is for the local target"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"drill", "--target", "aws"}, tc.args...), &out, &errOut)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("drill %v: exit %d, %v, want a usage error saying %q", tc.args, exitCode(err), err, tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("drill %v printed %q before refusing", tc.args, out.String())
		}
	}
}

// drillsAgainstAWS runs `ecsplane drill --target aws` as against a real
// stack, here the kept local environment through the CLI's own AWS
// configuration and its endpoint overrides (the simulator serves ARC zonal
// shift and Auto Scaling): without --confirm it is refused and no shift
// starts; az-outage says what it will do, then shifts the load balancer
// away from the zone, sees the zone's targets taken out of traffic, cancels
// the shift and sees them serve again; instance-loss terminates an
// instance and sees its replacement and the zone's targets back.
func drillsAgainstAWS(t *testing.T, cmd func(args ...string) (string, string, error)) {
	t.Helper()
	shifts := func() []arctypes.ZonalShiftSummary {
		t.Helper()
		cfg, err := loadAWS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out, err := arc.NewFromConfig(cfg).ListZonalShifts(context.Background(), &arc.ListZonalShiftsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out.Items
	}
	before := len(shifts())
	if _, _, err := cmd("drill", "az-outage", "--target", "aws"); exitCode(err) != exitUsage {
		t.Errorf("drill --target aws without --confirm: %v, want a usage error", err)
	}
	if n := len(shifts()); n != before {
		t.Errorf("%d zonal shifts after the refused drill, want %d", n, before)
	}

	got, stderr, err := cmd("drill", "az-outage", "--target", "aws", "--confirm", "web-dev", "--hold", "3s", "--interval", "100ms", "--wait", "1m")
	if err != nil {
		t.Fatalf("drill az-outage --target aws: %v\n%s%s", err, got, stderr)
	}
	plan, started := strings.Index(got, "1. StartZonalShift"), strings.Index(got, "started zonal shift")
	if plan < 0 || started < plan || !strings.Contains(got, "cancelled zonal shift") {
		t.Errorf("the drill did not say what it would do before doing it, or did not cancel its shift:\n%s", got)
	}
	for _, f := range []string{"traffic_shifted_after_s", "traffic_returned_after_s"} {
		if !strings.Contains(got, f) {
			t.Errorf("figure %s not measured:\n%s", f, got)
		}
	}
	all := shifts()
	if len(all) != before+1 {
		t.Fatalf("%d zonal shifts, want the drill's one more than %d", len(all), before)
	}
	if zs := all[len(all)-1]; zs.Status != arctypes.ZonalShiftStatusCanceled || aws.ToString(zs.Comment) != "ecsplane drill az-outage" {
		t.Errorf("the drill's shift %s %q, want CANCELED", zs.Status, aws.ToString(zs.Comment))
	}

	got, stderr, err = cmd("drill", "instance-loss", "--target", "aws", "--confirm", "web-dev", "--interval", "100ms", "--wait", "2m")
	if err != nil {
		t.Fatalf("drill instance-loss --target aws: %v\n%s%s", err, got, stderr)
	}
	for _, want := range []string{"1. TerminateInstanceInAutoScalingGroup", "without decrementing its desired capacity", "replaced_after_s", "targets_restored_after_s"} {
		if !strings.Contains(got, want) {
			t.Errorf("drill instance-loss --target aws lacks %q:\n%s", want, got)
		}
	}
	t.Logf("FIGURES drills against the kept environment:\n%s", got)
}
