package scenario_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/scenario"
)

// TestDefaultScenarioParses: the repository's default scenario is valid,
// and covers the steps, the zone's gray failure and its recovery
// before the teardown.
func TestDefaultScenarioParses(t *testing.T) {
	sc, err := scenario.Load("../../scenarios/default.json")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, st := range sc.Steps {
		kinds = append(kinds, st.Do+" "+st.Expect.Status)
	}
	want := "build SUCCEEDED,push SUCCEEDED,push ROLLED_BACK_BY_ECS,load ,push ROLLED_BACK,load ,load ,degrade-zone ,recover-zone ,teardown SUCCEEDED"
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
}

// TestBadScenariosAreRefusedNamingTheStep: every problem is listed at once,
// each naming its step.
func TestBadScenariosAreRefusedNamingTheStep(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"unknown field", `{"name": "x", "steps": [{"name": "a", "do": "build", "timeout": "1m", "expect": {"status": "SUCCEEDED", "stauts": 1}}]}`, []string{`unknown field "stauts"`}},
		{"unknown kind", `{"name": "x", "steps": [{"name": "a", "do": "bulid", "timeout": "1m"}]}`, []string{`step 1 "a": unknown kind "bulid"`}},
		{"no steps", `{"name": "x", "steps": []}`, []string{"no steps"}},
		{"bad expectations", `{"name": "x", "steps": [
			{"name": "a", "do": "build", "timeout": "1m", "expect": {"status": "SUCCEEDED"}},
			{"name": "b", "do": "push", "tag": "v2", "timeout": "1m", "expect": {"status": "DONE", "drained": {"min": 1}}},
			{"name": "c", "do": "load", "timeout": "1m", "expect": {"tasks": {"min": 3, "max": 2}}},
			{"name": "d", "do": "push", "tag": "v3", "fault": "slow", "faultAt": "bake-started", "expect": {"status": "SUCCEEDED"}}]}`,
			[]string{`step 2 "b": expect.status "DONE" is not an outcome of a push step`, `step 2 "b": expect.drained does not apply to a push step`,
				`step 3 "c": a load step needs cpu`, `step 3 "c": expect.tasks: min 3 is over max 2`,
				`step 4 "d": no timeout`, `step 4 "d": unknown fault "slow"`, `step 4 "d": faultAt needs the server-errors fault`}},
		{"bad zone steps", `{"name": "x", "steps": [
			{"name": "a", "do": "degrade-zone", "zone": "us-east-1a", "failures": 1.5, "timeout": "1m", "expect": {"evacuation": {"phase": "gone", "zonalShift": "on"}}},
			{"name": "b", "do": "fail-zone", "zone": "us-east-1a", "failures": 0.5, "timeout": "1m", "expect": {"evacuation": {}}},
			{"name": "c", "do": "recover-zone", "timeout": "1m", "expect": {"status": "RESTORED"}},
			{"name": "d", "do": "build", "spec": {"service": {"desiredCount": "two"}}, "timeout": "1m", "expect": {"status": "SUCCEEDED"}}]}`,
			[]string{`step 1 "a": failures 1.5 is not a share`, `step 1 "a": expect.evacuation.phase "gone": want one of confirm`, `step 1 "a": expect.evacuation.zonalShift "on": want one of active, none`,
				`step 2 "b": failures does not apply to a fail-zone step`, `step 2 "b": expect.evacuation has no phase, outcome or zonalShift`,
				`step 3 "c": a recover-zone step needs zone`, `step 3 "c": expect.status does not apply`,
				`step 4 "d": spec: `}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenario.Parse(tc.name, []byte(tc.raw))
			var inv *scenario.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Parse: %v, want an InvalidError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestRange(t *testing.T) {
	one, three := 1, 3
	r := &scenario.Range{Min: &one, Max: &three}
	for n, want := range map[int]bool{0: false, 1: true, 3: true, 4: false} {
		if r.Holds(n) != want {
			t.Errorf("Holds(%d) = %v, want %v", n, !want, want)
		}
	}
	if (*scenario.Range)(nil).Holds(99) != true || r.String() != "1 to 3" {
		t.Errorf("a nil range holds everything; %s", r)
	}
}

// TestDrillScenarios: every drill is a valid scenario ending with the hold
// after recovery; an unknown drill is refused.
func TestDrillScenarios(t *testing.T) {
	for _, name := range scenario.DrillNames() {
		sc, err := scenario.DrillScenario(name, "us-east-1b")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if last := sc.Steps[len(sc.Steps)-1]; last.Do != "hold" || last.Expect.PerZone == nil || !last.Expect.PerZone.UnhealthyTargets.Holds(0) || last.Expect.PerZone.UnhealthyTargets.Holds(1) {
			t.Errorf("%s ends with %+v, want the hold with no unhealthy target", name, last)
		}
	}
	if _, err := scenario.DrillScenario("meteor", "us-east-1a"); err == nil || !strings.Contains(err.Error(), "bad-image") {
		t.Errorf("unknown drill: %v", err)
	}
}
