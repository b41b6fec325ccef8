package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// TestServingHealthy: a zone the load balancer is shifted away from does
// not count; any other zone's unhealthy target does.
func TestServingHealthy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		zones   map[string]*ZoneCounts
		shifted []string
		want    bool
		why     string
	}{
		{"both healthy", map[string]*ZoneCounts{"a": {HealthyTargets: 1}, "b": {HealthyTargets: 1}}, nil, true, ""},
		{"a unhealthy, not shifted", map[string]*ZoneCounts{"a": {HealthyTargets: 1, UnhealthyTargets: 1}, "b": {HealthyTargets: 1}}, nil, false, "a serves traffic with 1 unhealthy targets"},
		{"a unhealthy, shifted away", map[string]*ZoneCounts{"a": {UnhealthyTargets: 2}, "b": {HealthyTargets: 2}}, []string{"a"}, true, ""},
		{"only the shifted zone is healthy", map[string]*ZoneCounts{"a": {HealthyTargets: 2}, "b": {}}, []string{"a"}, false, "no healthy target serves traffic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := servingHealthy(counts{byZone: tc.zones}, tc.shifted)
			if got != tc.want || why != tc.why {
				t.Errorf("servingHealthy = %v %q, want %v %q", got, why, tc.want, tc.why)
			}
		})
	}
}

// TestEvacuationFigures: each zone fault is paired with the recovery of
// its zone after it; a figure not measured stays absent.
func TestEvacuationFigures(t *testing.T) {
	steps := []StepRecord{
		{Do: "build"},
		{Do: "degrade-zone", Zone: "a", Figures: map[string]int{"alarm_after_s": 150, "evacuated_after_s": 300, "serving_healthy_after_s": 330}},
		{Do: "fail-zone", Zone: "b", Figures: map[string]int{"alarm_after_s": 30}},
		{Do: "recover-zone", Zone: "a", Figures: map[string]int{"restored_after_s": 280, "balanced_after_s": 260}, Evacuation: &ledger.Evacuation{Outcome: "RESTORED"}},
		{Do: "recover-zone", Zone: "c"},
	}
	got := evacuations(steps)
	if len(got) != 2 {
		t.Fatalf("%d evacuations, want 2: %+v", len(got), got)
	}
	a, b := got[0], got[1]
	if a.Zone != "a" || *a.AlarmAfterS != 150 || *a.EvacuatedAfterS != 300 || *a.ServingHealthyAfterS != 330 || *a.RestoredAfterS != 280 || *a.BalancedAfterS != 260 || a.Outcome != "RESTORED" {
		t.Errorf("zone a: %+v", a)
	}
	if b.Zone != "b" || b.Fault != "fail-zone" || *b.AlarmAfterS != 30 || b.EvacuatedAfterS != nil || b.RestoredAfterS != nil {
		t.Errorf("zone b, never recovered: %+v", b)
	}
	table := EvacuationsTable(got)
	if row := strings.Join(table.Rows[1], " "); !strings.Contains(row, "30s not measured") {
		t.Errorf("zone b's row %q, want its alarm and the rest not measured", row)
	}
}

// TestEvacuationLane: the report's alarms-and-actions chart draws an
// evacuation from its first milestone to its end, and one not ended to
// the end of the run.
func TestEvacuationLane(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2025, 1, 1, 0, m, 0, 0, time.UTC) }
	rec := &Record{VirtualStart: at(0), VirtualEnd: at(60), Timeline: []Entry{
		{Category: "remediation", VirtualAt: at(10), Event: "evacuation of a: confirm"},
		{Category: "remediation", VirtualAt: at(15), Event: "evacuation of a: evacuated"},
		{Category: "remediation", VirtualAt: at(25), Event: "evacuation of a: ended"},
		{Category: "remediation", VirtualAt: at(26), Event: "execution 1 ended SUCCEEDED", Outcome: "evacuate RESTORED"},
		{Category: "remediation", VirtualAt: at(40), Event: "evacuation of b: confirm"},
	}}
	c := rec.eventsChart()
	spans := map[string][2]time.Time{}
	for _, s := range c.Spans {
		spans[s.Lane] = [2]time.Time{s.From, s.To}
	}
	if spans["evacuation of a"] != [2]time.Time{at(10), at(25)} || spans["evacuation of b"] != [2]time.Time{at(40), at(60)} {
		t.Errorf("spans %v", spans)
	}
	if len(c.Marks) != 5 {
		t.Errorf("%d remediation marks, want 5", len(c.Marks))
	}
}

// TestHeldSince: the figure is the start of the last unbroken run of
// looks at which the condition held; a break removes it.
func TestHeldSince(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var h heldSince
	m := map[string]int{}
	for i, ok := range []bool{false, true, true, false, true, true} {
		h.hold(m, "x_after_s", ok, from.Add(time.Duration(i)*10*time.Second), from)
		if _, set := m["x_after_s"]; set != ok {
			t.Fatalf("look %d: figure set %v with the condition %v", i, set, ok)
		}
	}
	if m["x_after_s"] != 40 {
		t.Errorf("figure %d s, want 40 s: the run that began at the fifth look", m["x_after_s"])
	}
}
