package scenario

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Drill is a chaos drill: the failure it injects, as steps after the
// stack's build and steady traffic, then a hold in which the counts of a
// recovered stack must stay true at every moment. The failure steps run at
// 60x, where a second of local event delivery is a simulated minute, so
// that the figures stay close to what the control plane would take on AWS.
type Drill struct {
	About string
	// Failure are the drill's steps for zone; Figures name the figures of
	// recovery the failure step measures.
	Failure func(zone string) []Step
	Figures []string
	// Spec is the stack's spec for the drill's build; the defaults when
	// nil.
	Spec json.RawMessage
	// Measured are the figures every run measures; all of Figures when
	// nil.
	Measured []string
	// Recovered are the counts the five minutes after recovery must keep
	// at every moment; every zone with a healthy target and none with an
	// unhealthy one when nil.
	Recovered *Expect
}

// Drills are the drills `ecsplane drill` runs, by name. az-outage and
// gray-failure act through remediation.
var Drills = map[string]Drill{
	"bad-image": {
		About: "push an image whose pulls fail: ECS's circuit breaker rolls it back and the rollout records ROLLED_BACK_BY_ECS, while the running revision keeps serving",
		Failure: func(string) []Step {
			return []Step{{Name: "push v0-drill, whose pulls fail", Do: "push", Tag: "v0-drill", Fault: "pull-fails", Timeout: Duration(time.Hour), Speed: 60,
				Expect: Expect{Status: "ROLLED_BACK_BY_ECS", PerZone: &PerZone{HealthyTargets: atLeast(1)}}}}
		},
		Figures: []string{"ecs_verdict_after_s", "finished_after_s"},
	},
	"instance-loss": {
		About: "crash an instance of the group in the zone: Auto Scaling replaces it, its launch goes through the lifecycle state machine, ECS places the tasks again",
		Failure: func(zone string) []Step {
			return []Step{{Name: "lose an instance in " + zone, Do: "lose-instance", Zone: zone, Timeout: Duration(time.Hour), Speed: 60,
				Expect: Expect{PerZone: &PerZone{Instances: atLeast(1), HealthyTargets: atLeast(1), UnhealthyTargets: atMost(0)}}}}
		},
		Figures: []string{"replaced_after_s", "targets_restored_after_s"},
	},
	// The data plane may absorb an outage on its own before a zone alarm
	// fires: Auto Scaling replaces the zone's instances in the other zone
	// and ECS places the tasks there. The drill's stack alarms after one
	// period, so that remediation may evacuate the zone first; either way
	// the zone must leave traffic with every serving target healthy, and
	// serve again after the recovery.
	"az-outage": {
		Spec:  json.RawMessage(`{"service": {"alarms": {"evaluationPeriods": 1}}}`),
		About: "fail a zone, on a stack whose alarms evaluate one period: the zone leaves traffic, through remediation's evacuation (an ARC zonal shift) when the zone's alarm fires first, else through the data plane's own replacement; after the recovery both zones serve again",
		Failure: func(zone string) []Step {
			return []Step{
				{Name: "fail " + zone + ": its instances stop serving; it leaves traffic", Do: "fail-zone", Zone: zone, Timeout: Duration(time.Hour), Speed: 60,
					Expect: Expect{Tasks: atLeast(2)}},
				outOfTraffic(),
				{Name: "recover " + zone + "; both zones serve again", Do: "recover-zone", Zone: zone, Timeout: Duration(time.Hour), Speed: 60,
					Expect: Expect{PerZone: &PerZone{HealthyTargets: atLeast(1)}}},
			}
		},
		Figures:   evacuationFigures,
		Measured:  []string{"serving_healthy_after_s", "balanced_after_s"},
		Recovered: servedHealthy,
	},
	"gray-failure": {
		About: "degrade a zone (its targets fail 70% of their checks and requests while its instances pass their status checks): remediation evacuates it as for an outage and restores it once it has recovered",
		Failure: func(zone string) []Step {
			return evacuationSteps("degrade-zone", "degrade "+zone+": 70% of its targets' checks and requests time out", zone)
		},
		Figures: evacuationFigures,
	},
}

// FigureAbout says what each drill's figure measures.
var FigureAbout = map[string]string{
	"ecs_verdict_after_s":      "from the push to ECS's verdict on its deployment",
	"finished_after_s":         "from the push to the rollout's end",
	"replaced_after_s":         "from the crash to a replacement InService",
	"targets_restored_after_s": "from the crash to the zone's healthy targets back",
	"alarm_after_s":            "from the fault to the zone's alarm that started the evacuation",
	"evacuated_after_s":        "from the fault to the load balancer's zonal shift away from the zone",
	"serving_healthy_after_s":  "from the fault to the zone out of traffic, every serving target healthy, from then on",
	"restored_after_s":         "from the recovery to the evacuation's end, RESTORED",
	"balanced_after_s":         "from the recovery to both zones serving from healthy targets, no shift active, from then on",
}

// evacuationFigures are the figures of a zone's evacuation and restore,
// in simulated seconds from the fault and from the recovery.
var evacuationFigures = []string{"alarm_after_s", "evacuated_after_s", "serving_healthy_after_s", "restored_after_s", "balanced_after_s"}

// servedHealthy is what the evacuation drills keep after the restore: the
// service's tasks running and no unhealthy target in any zone. A zone may
// be without a healthy target for a while: the restore scales the group
// back, and Auto Scaling may take the instance the zone's task returned to.
var servedHealthy = &Expect{Tasks: atLeast(2), PerZone: &PerZone{UnhealthyTargets: atMost(0)}}

// evacuationSteps fail the zone with the fault step do until remediation
// has evacuated it, hold three minutes in which traffic is served from
// healthy targets only, then recover the zone until it is restored.
func evacuationSteps(do, name, zone string) []Step {
	return []Step{
		{Name: name + "; remediation evacuates it", Do: do, Zone: zone, Timeout: Duration(time.Hour), Speed: 60,
			Expect: Expect{Evacuation: &Evacuation{Phase: "evacuated", ZonalShift: shiftActive}, Tasks: atLeast(2)}},
		outOfTraffic(),
		{Name: "recover " + zone + "; remediation restores it", Do: "recover-zone", Zone: zone, Timeout: Duration(time.Hour), Speed: 60,
			Expect: Expect{Evacuation: &Evacuation{Outcome: "RESTORED", ZonalShift: shiftNone}, PerZone: &PerZone{HealthyTargets: atLeast(1)}}},
	}
}

// outOfTraffic holds three minutes while the zone is out of traffic, in
// which no zone has an unhealthy target and the service's tasks run.
func outOfTraffic() Step {
	return Step{Name: "the zone out of traffic: traffic served from healthy targets only, for three minutes", Do: "hold", Timeout: Duration(3 * time.Minute), Speed: 60,
		Expect: Expect{Tasks: atLeast(2), PerZone: &PerZone{UnhealthyTargets: atMost(0)}}}
}

// MeasuredFigures are the figures every run of the drill measures.
func (d Drill) MeasuredFigures() []string {
	if d.Measured != nil {
		return d.Measured
	}
	return d.Figures
}

// DrillNames lists the drills, sorted.
func DrillNames() []string { return sortedKeys(Drills) }

// DrillScenario is the scenario of drill name in zone: the build, steady
// traffic, the failure, and five simulated minutes in which no target the
// load balancer holds is unhealthy and, unless the drill says otherwise,
// every zone keeps a healthy target.
func DrillScenario(name, zone string) (*Scenario, error) {
	d, ok := Drills[name]
	if !ok {
		return nil, fmt.Errorf("unknown drill %q: want one of %s", name, strings.Join(DrillNames(), ", "))
	}
	steps := []Step{
		{Name: "build the stack", Do: "build", Spec: d.Spec, Timeout: Duration(time.Hour), Speed: 90, Expect: Expect{Status: "SUCCEEDED", PerZone: &PerZone{Instances: atLeast(1), HealthyTargets: atLeast(1)}}},
		{Name: "steady traffic", Do: "load", CPU: ptr(60.0), RequestsPerSecond: ptr(50.0), Timeout: Duration(5 * time.Minute), Expect: Expect{Tasks: atLeast(2)}},
	}
	steps = append(steps, d.Failure(zone)...)
	hold := Step{Name: "recovered: every zone serves from healthy targets only, for five minutes", Do: "hold", Timeout: Duration(5 * time.Minute),
		Expect: Expect{PerZone: &PerZone{HealthyTargets: atLeast(1), UnhealthyTargets: atMost(0)}}}
	if d.Recovered != nil {
		hold.Name, hold.Expect = "recovered: traffic served from healthy targets only, for five minutes", *d.Recovered
	}
	steps = append(steps, hold)
	sc := &Scenario{Name: "drill " + name, About: d.About, Steps: steps}
	var problems []string
	for i, st := range steps {
		for _, p := range st.problems() {
			problems = append(problems, fmt.Sprintf("step %d %q: %s", i+1, st.Name, p))
		}
	}
	if len(problems) > 0 {
		return nil, &InvalidError{Source: "drill " + name, Problems: problems}
	}
	return sc, nil
}

// DrillFigures are the recovery figures of a drill's run: each figure the
// drill names, from the step that measured it.
func DrillFigures(name string, rec *Record) map[string]int {
	out := map[string]int{}
	for _, s := range rec.Steps {
		for _, f := range Drills[name].Figures {
			if v, ok := s.Figures[f]; ok {
				out[f] = v
			}
		}
	}
	return out
}

func atLeast(n int) *Range { return &Range{Min: &n} }
func atMost(n int) *Range  { return &Range{Max: &n} }
func ptr[T any](v T) *T    { return &v }
