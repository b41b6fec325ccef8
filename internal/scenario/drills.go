package scenario

import (
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
}

// Drills are the drills `ecsplane drill` runs, by name. az-outage and
// gray-failure act through remediation: their zone steps are refused,
// naming the step, while they are not built.
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
	"az-outage": {
		About: "fail a zone: remediation evacuates it with a zonal shift and restores it when the zone has recovered",
		Failure: func(zone string) []Step {
			return []Step{{Name: "fail " + zone, Do: "fail-zone", Zone: zone, Timeout: Duration(time.Hour)},
				{Name: "recover " + zone, Do: "recover-zone", Zone: zone, Timeout: Duration(time.Hour)}}
		},
	},
	"gray-failure": {
		About: "degrade a zone: its targets fail a share of their checks and requests while its instances look healthy; remediation evacuates and restores it",
		Failure: func(zone string) []Step {
			return []Step{{Name: "degrade " + zone, Do: "degrade-zone", Zone: zone, Timeout: Duration(time.Hour)},
				{Name: "recover " + zone, Do: "recover-zone", Zone: zone, Timeout: Duration(time.Hour)}}
		},
	},
}

// DrillNames lists the drills, sorted.
func DrillNames() []string { return sortedKeys(Drills) }

// DrillScenario is the scenario of drill name in zone: the build, steady
// traffic, the failure, and five simulated minutes in which every zone
// keeps a healthy target and no target the load balancer holds is
// unhealthy.
func DrillScenario(name, zone string) (*Scenario, error) {
	d, ok := Drills[name]
	if !ok {
		return nil, fmt.Errorf("unknown drill %q: want one of %s", name, strings.Join(DrillNames(), ", "))
	}
	steps := []Step{
		{Name: "build the stack", Do: "build", Timeout: Duration(time.Hour), Speed: 90, Expect: Expect{Status: "SUCCEEDED", PerZone: &PerZone{Instances: atLeast(1), HealthyTargets: atLeast(1)}}},
		{Name: "steady traffic", Do: "load", CPU: ptr(60.0), RequestsPerSecond: ptr(50.0), Timeout: Duration(5 * time.Minute), Expect: Expect{Tasks: atLeast(2)}},
	}
	steps = append(steps, d.Failure(zone)...)
	steps = append(steps, Step{Name: "recovered: every zone serves from healthy targets only, for five minutes", Do: "hold", Timeout: Duration(5 * time.Minute),
		Expect: Expect{PerZone: &PerZone{HealthyTargets: atLeast(1), UnhealthyTargets: atMost(0)}}})
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
