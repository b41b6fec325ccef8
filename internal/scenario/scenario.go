// Package scenario runs a scenario written as data (scenarios/*.json)
// against the template's control plane in the local environment: each
// step is an action (build the stack, push an image, set the load, tear
// down) and the outcome it must reach, within a timeout in simulated time.
//
// The runner only acts as AWS and its users would: it pushes images to
// the simulated ECR and sets load and faults in the simulator, whose
// events reach the template's rules through moto's bus; it starts the
// build and teardown state machines as `ecsplane stack apply|destroy
// --state-machine` starts them on AWS. Everything else it observes: the
// dispatcher's deliveries, the executions, the ledger, the simulator's
// events and its snapshots (sim.Observe). Each observation is a line of
// the timeline, and the step's outcome is checked against what it expects.
package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Scenario is an ordered list of steps.
type Scenario struct {
	Name  string `json:"name"`
	About string `json:"about,omitempty"`
	// Speed is how many simulated seconds pass per wall second, unless a
	// step says otherwise; the command's --speed when zero.
	Speed float64 `json:"speed,omitempty"`
	Steps []Step  `json:"steps"`
}

// Step is one action and the outcome it must reach.
type Step struct {
	Name string `json:"name"`
	// Do is the step's kind, a key of Kinds.
	Do string `json:"do"`
	// Spec is a build's stack spec, as `ecsplane stack apply` takes it;
	// the defaults when not given.
	Spec json.RawMessage `json:"spec,omitempty"`
	// Tag and Fault are a push's: the tag pushed, and how the image
	// misbehaves (see Faults).
	Tag   string `json:"tag,omitempty"`
	Fault string `json:"fault,omitempty"`
	// FaultAt delays the fault until the rollout's record reaches this
	// phase (bake-started, say): the image turns bad after ECS has
	// accepted it. Only the server-errors fault reaches running tasks.
	FaultAt string `json:"faultAt,omitempty"`
	// CPU and RequestsPerSecond are a load's: the service's CPU demand in
	// percent of one task's reservation, shared by its running tasks, and
	// the requests the load balancer receives.
	CPU               *float64 `json:"cpu,omitempty"`
	RequestsPerSecond *float64 `json:"requestsPerSecond,omitempty"`
	// Zone is a zone step's Availability Zone.
	Zone string `json:"zone,omitempty"`
	// Failures is a degrade-zone's share (0 to 1) of health checks and
	// requests to the zone's targets that time out; 0.7 when not given.
	Failures *float64 `json:"failures,omitempty"`
	// Timeout is how much simulated time the step may take.
	Timeout Duration `json:"timeout"`
	// Speed overrides the scenario's speed for this step.
	Speed  float64 `json:"speed,omitempty"`
	Expect Expect  `json:"expect"`
}

// Expect is what a step must reach. A step checks only the fields its kind
// accepts; its outcome must match every field given.
type Expect struct {
	// Status is an execution's status for build and teardown, a
	// rollout's ledger status for a push.
	Status string `json:"status,omitempty"`
	// Tasks are the service's RUNNING tasks, Instances the group's
	// InService instances.
	Tasks     *Range `json:"tasks,omitempty"`
	Instances *Range `json:"instances,omitempty"`
	// PerZone applies to every zone of the stack.
	PerZone *PerZone `json:"perZone,omitempty"`
	// Drained counts the lifecycle state machine's drains, completed
	// with CONTINUE, during the step.
	Drained *Range `json:"drained,omitempty"`
	// NothingTagged: a teardown's dry run finds nothing tagged for the
	// stack, and the simulator runs no instance or task.
	NothingTagged bool `json:"nothingTagged,omitempty"`
	// Evacuation is what remediation's evacuation of a zone step's zone
	// must reach.
	Evacuation *Evacuation `json:"evacuation,omitempty"`
}

// Evacuation is an evacuation's state as the ledger records it, and the
// load balancer's zonal shift away from the zone.
type Evacuation struct {
	// Phase is the phase it has reached (evacuated, say), Outcome how it
	// ended (RESTORED, say).
	Phase   string `json:"phase,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	// ZonalShift is "active" while ARC shifts the load balancer's traffic
	// away from the zone, "none" when no shift does.
	ZonalShift string `json:"zonalShift,omitempty"`
}

// The values Evacuation's fields may take.
var (
	evacuationPhases   = []string{remediate.PhaseConfirm, remediate.PhasePreScale, remediate.PhaseDrain, remediate.PhaseEvacuated, remediate.PhaseProbe, remediate.PhaseRebalance, remediate.PhaseEnded}
	evacuationOutcomes = []string{remediate.OutcomeRestored, remediate.OutcomeAborted, remediate.OutcomeNothing, remediate.OutcomeNotified, remediate.OutcomeFailed}
	zonalShiftStates   = []string{shiftActive, shiftNone}
)

const (
	shiftActive = "active"
	shiftNone   = "none"
)

// PerZone are counts each zone must have.
type PerZone struct {
	Instances        *Range `json:"instances,omitempty"`
	Tasks            *Range `json:"tasks,omitempty"`
	HealthyTargets   *Range `json:"healthyTargets,omitempty"`
	UnhealthyTargets *Range `json:"unhealthyTargets,omitempty"`
}

// Range bounds a count; a missing bound does not apply.
type Range struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// Holds reports whether n is within the range.
func (r *Range) Holds(n int) bool {
	return r == nil || ((r.Min == nil || n >= *r.Min) && (r.Max == nil || n <= *r.Max))
}

func (r *Range) String() string {
	switch {
	case r.Min != nil && r.Max != nil && *r.Min == *r.Max:
		return fmt.Sprint(*r.Min)
	case r.Min != nil && r.Max != nil:
		return fmt.Sprintf("%d to %d", *r.Min, *r.Max)
	case r.Min != nil:
		return fmt.Sprintf("at least %d", *r.Min)
	case r.Max != nil:
		return fmt.Sprintf("at most %d", *r.Max)
	}
	return "any"
}

// Duration is a time.Duration written as Go writes one ("20m", "90s").
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"20m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// InvalidError is a scenario the runner refuses before it acts: every
// problem, each naming its step.
type InvalidError struct {
	Source   string
	Problems []string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("scenario %s is invalid: %s", e.Source, strings.Join(e.Problems, "; "))
}

// StepError is a step whose outcome was not the one expected, or which
// could not run.
type StepError struct {
	// Index counts from 1.
	Index int
	Name  string
	Err   error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %d %q: %v", e.Index, e.Name, e.Err) }

func (e *StepError) Unwrap() error { return e.Err }

// Load reads and checks a scenario file.
func Load(path string) (*Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, raw)
}

// Parse reads a scenario strictly (an unknown field is an error) and
// checks every step against its kind; source names it in errors.
func Parse(source string, raw []byte) (*Scenario, error) {
	var sc Scenario
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, &InvalidError{Source: source, Problems: []string{err.Error()}}
	}
	if dec.More() {
		return nil, &InvalidError{Source: source, Problems: []string{"more than one JSON value"}}
	}
	var problems []string
	if len(sc.Steps) == 0 {
		problems = append(problems, "no steps")
	}
	if sc.Speed < 0 {
		problems = append(problems, fmt.Sprintf("speed %g is negative", sc.Speed))
	}
	for i, st := range sc.Steps {
		for _, p := range st.problems() {
			problems = append(problems, fmt.Sprintf("step %d %q: %s", i+1, st.Name, p))
		}
	}
	if len(problems) > 0 {
		return nil, &InvalidError{Source: source, Problems: problems}
	}
	return &sc, nil
}

// problems checks a step against its kind.
func (st Step) problems() []string {
	var out []string
	if st.Name == "" {
		out = append(out, "no name")
	}
	k, ok := Kinds[st.Do]
	if !ok {
		return append(out, fmt.Sprintf("unknown kind %q: want one of %s", st.Do, strings.Join(KindNames(), ", ")))
	}
	if st.Timeout <= 0 {
		out = append(out, "no timeout (simulated time, such as \"20m\")")
	}
	if st.Speed < 0 {
		out = append(out, fmt.Sprintf("speed %g is negative", st.Speed))
	}
	given := map[string]bool{
		"tag": st.Tag != "", "fault": st.Fault != "", "faultAt": st.FaultAt != "", "cpu": st.CPU != nil, "requestsPerSecond": st.RequestsPerSecond != nil, "zone": st.Zone != "", "failures": st.Failures != nil, "spec": len(st.Spec) > 0,
		"expect.status": st.Expect.Status != "", "expect.tasks": st.Expect.Tasks != nil, "expect.instances": st.Expect.Instances != nil,
		"expect.perZone": st.Expect.PerZone != nil, "expect.drained": st.Expect.Drained != nil, "expect.nothingTagged": st.Expect.NothingTagged,
		"expect.evacuation": st.Expect.Evacuation != nil,
	}
	for _, f := range slices.Sorted(maps.Keys(given)) {
		if given[f] && !slices.Contains(k.Fields, f) {
			out = append(out, fmt.Sprintf("%s does not apply to a %s step (it takes %s)", f, st.Do, strings.Join(k.Fields, ", ")))
		}
	}
	for _, f := range k.Required {
		if !given[f] {
			out = append(out, fmt.Sprintf("a %s step needs %s", st.Do, f))
		}
	}
	if st.Expect.Status != "" && len(k.Statuses) > 0 && !slices.Contains(k.Statuses, st.Expect.Status) {
		out = append(out, fmt.Sprintf("expect.status %q is not an outcome of a %s step: want one of %s", st.Expect.Status, st.Do, strings.Join(k.Statuses, ", ")))
	}
	if _, ok := Faults[st.Fault]; st.Fault != "" && !ok {
		out = append(out, fmt.Sprintf("unknown fault %q: want one of %s", st.Fault, strings.Join(slices.Sorted(maps.Keys(Faults)), ", ")))
	}
	if st.FaultAt != "" && !slices.Contains(phases, st.FaultAt) {
		out = append(out, fmt.Sprintf("faultAt %q is not a rollout phase: want one of %s", st.FaultAt, strings.Join(phases, ", ")))
	}
	if st.FaultAt != "" && st.Fault != "server-errors" {
		out = append(out, fmt.Sprintf("faultAt needs the server-errors fault, the one that reaches running tasks; got %q", st.Fault))
	}
	if len(st.Spec) > 0 {
		if _, err := stack.Decode(st.Spec); err != nil {
			out = append(out, "spec: "+err.Error())
		}
	}
	if f := st.Failures; f != nil && (*f <= 0 || *f > 1) {
		out = append(out, fmt.Sprintf("failures %g is not a share above 0 and at most 1", *f))
	}
	if e := st.Expect.Evacuation; e != nil {
		for _, x := range []struct {
			field, got string
			want       []string
		}{
			{"phase", e.Phase, evacuationPhases}, {"outcome", e.Outcome, evacuationOutcomes}, {"zonalShift", e.ZonalShift, zonalShiftStates},
		} {
			if x.got != "" && !slices.Contains(x.want, x.got) {
				out = append(out, fmt.Sprintf("expect.evacuation.%s %q: want one of %s", x.field, x.got, strings.Join(x.want, ", ")))
			}
		}
		if *e == (Evacuation{}) {
			out = append(out, "expect.evacuation has no phase, outcome or zonalShift")
		}
	}
	for name, r := range st.Expect.ranges() {
		if r != nil && r.Min == nil && r.Max == nil {
			out = append(out, fmt.Sprintf("expect.%s has neither min nor max", name))
		}
		if r != nil && r.Min != nil && r.Max != nil && *r.Min > *r.Max {
			out = append(out, fmt.Sprintf("expect.%s: min %d is over max %d", name, *r.Min, *r.Max))
		}
	}
	return out
}

// phases are the rollout phases a fault may wait for.
var phases = []string{string(ledger.PhaseLeaseTaken), string(ledger.PhaseUpdateSent), string(ledger.PhaseECSCompleted), string(ledger.PhaseBakeStarted)}

func (e Expect) ranges() map[string]*Range {
	m := map[string]*Range{"tasks": e.Tasks, "instances": e.Instances, "drained": e.Drained}
	if e.PerZone != nil {
		m["perZone.instances"], m["perZone.tasks"], m["perZone.healthyTargets"], m["perZone.unhealthyTargets"] = e.PerZone.Instances, e.PerZone.Tasks, e.PerZone.HealthyTargets, e.PerZone.UnhealthyTargets
	}
	return m
}

// ErrMissingMachinery is a step whose kind needs a part of the control
// plane the template does not declare.
var ErrMissingMachinery = errors.New("the control plane lacks what this step needs")
