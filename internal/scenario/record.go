package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// Record is everything a run observed: its steps and their figures, the
// timeline, the fleet sampled every 30 simulated seconds, and the ledger's
// history and actions at the end. --json prints it.
type Record struct {
	Scenario     string              `json:"scenario"`
	About        string              `json:"about,omitempty"`
	Stack        string              `json:"stack"`
	Passed       bool                `json:"passed"`
	Error        string              `json:"error,omitempty"`
	Started      time.Time           `json:"started"`
	WallSeconds  float64             `json:"wallSeconds"`
	VirtualStart time.Time           `json:"virtualStart"`
	VirtualEnd   time.Time           `json:"virtualEnd"`
	Steps        []StepRecord        `json:"steps"`
	Timeline     []Entry             `json:"timeline"`
	Samples      []Sample            `json:"samples"`
	Deployments  []ledger.Deployment `json:"deployments"`
	Actions      []ledger.Action     `json:"actions"`
	// Evacuations are the zone steps' times to evacuate and to restore.
	Evacuations []EvacuationFigures `json:"evacuations,omitempty"`
}

// EvacuationFigures are one zone fault's and its recovery's figures, in
// simulated seconds: from the fault to the zone's alarm, to the traffic
// shifted away and to traffic served from healthy targets only; from the
// recovery to the evacuation's end and to both zones serving again with no
// shift active. A figure the run did not measure is absent.
type EvacuationFigures struct {
	Zone                 string `json:"zone"`
	Fault                string `json:"fault"`
	Outcome              string `json:"outcome,omitempty"`
	AlarmAfterS          *int   `json:"alarmAfterS,omitempty"`
	EvacuatedAfterS      *int   `json:"evacuatedAfterS,omitempty"`
	ServingHealthyAfterS *int   `json:"servingHealthyAfterS,omitempty"`
	RestoredAfterS       *int   `json:"restoredAfterS,omitempty"`
	BalancedAfterS       *int   `json:"balancedAfterS,omitempty"`
}

// evacuations pairs each zone fault step with the recover-zone step of
// its zone after it.
func evacuations(steps []StepRecord) []EvacuationFigures {
	var out []EvacuationFigures
	open := map[string]int{}
	get := func(m map[string]int, k string) *int {
		if v, ok := m[k]; ok {
			return &v
		}
		return nil
	}
	for _, s := range steps {
		switch s.Do {
		case "degrade-zone", "fail-zone":
			open[s.Zone] = len(out)
			out = append(out, EvacuationFigures{Zone: s.Zone, Fault: s.Do, AlarmAfterS: get(s.Figures, "alarm_after_s"),
				EvacuatedAfterS: get(s.Figures, "evacuated_after_s"), ServingHealthyAfterS: get(s.Figures, "serving_healthy_after_s")})
		case "recover-zone":
			i, ok := open[s.Zone]
			if !ok {
				continue
			}
			delete(open, s.Zone)
			out[i].RestoredAfterS, out[i].BalancedAfterS = get(s.Figures, "restored_after_s"), get(s.Figures, "balanced_after_s")
			if s.Evacuation != nil {
				out[i].Outcome = s.Evacuation.Outcome
			}
		}
	}
	return out
}

// StepRecord is one step's outcome and figures.
type StepRecord struct {
	Index        int       `json:"index"`
	Name         string    `json:"name"`
	Do           string    `json:"do"`
	Zone         string    `json:"zone,omitempty"`
	Expect       Expect    `json:"expect"`
	Passed       bool      `json:"passed"`
	Error        string    `json:"error,omitempty"`
	Status       string    `json:"status,omitempty"`
	VirtualStart time.Time `json:"virtualStart"`
	VirtualEnd   time.Time `json:"virtualEnd"`
	WallSeconds  float64   `json:"wallSeconds"`
	// Figures are the step's counts: AWS calls to the stack's services
	// (mutating_calls, read_calls), state_transitions,
	// lambda_invocations, peaks and drains.
	Figures    map[string]int     `json:"figures,omitempty"`
	Deployment *ledger.Deployment `json:"deployment,omitempty"`
	// Evacuation is a zone step's evacuation as the ledger last showed it.
	Evacuation *ledger.Evacuation `json:"evacuation,omitempty"`
}

// Entry is one line of the timeline.
type Entry struct {
	Step int `json:"step"`
	// Category groups entries for the report's charts: delivery,
	// execution, deployment, rollout, lifecycle, alarm, image, ecs,
	// instance, fleet.
	Category     string        `json:"category,omitempty"`
	VirtualAt    time.Time     `json:"virtualAt"`
	Virtual      time.Duration `json:"virtual"`
	Wall         time.Duration `json:"wall"`
	Event        string        `json:"event"`
	StateMachine string        `json:"stateMachine,omitempty"`
	Outcome      string        `json:"outcome,omitempty"`
}

func (e Entry) String() string {
	return strings.TrimRight(fmt.Sprintf("%-9s %8s  %-66s %-22s %s", Clock(e.Virtual), fmt.Sprintf("%.1fs", e.Wall.Seconds()), e.Event, dash(e.StateMachine), e.Outcome), " ")
}

// Clock writes a simulated duration since the start as +h:mm:ss.
func Clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("+%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Sample is the fleet at one simulated moment, by zone.
type Sample struct {
	At    time.Time             `json:"at"`
	Zones map[string]ZoneCounts `json:"zones"`
}

// ZoneCounts are one zone's: the group's InService instances, the
// service's RUNNING tasks, and the load balancer's targets by health.
type ZoneCounts struct {
	Instances        int `json:"instances"`
	Tasks            int `json:"tasks"`
	HealthyTargets   int `json:"healthyTargets"`
	UnhealthyTargets int `json:"unhealthyTargets"`
}

// watchEvents puts the simulator's events that tell the story on the
// timeline, as they happen: pushes, ECS deployments, alarms, the group's
// launches and terminations and its lifecycle hooks.
func (r *runner) watchEvents(in <-chan sim.Event) {
	for ev := range in {
		if e, ok := describe(ev); ok {
			e.At = ev.Time
			r.line(e)
		}
	}
}

// describe is an event's timeline entry; ok is false for the events the
// timeline leaves out (task and container instance changes, service
// actions).
func describe(ev sim.Event) (entry, bool) {
	raw := mustJSON(ev)
	switch ev.DetailType {
	case events.DetailTypeECRImageAction:
		d, err := events.Parse[events.ECRImageAction](raw)
		if err != nil {
			return entry{}, false
		}
		return entry{Category: "image", Event: fmt.Sprintf("ECR %s %s:%s %s", strings.ToLower(d.Detail.ActionType), d.Detail.RepositoryName, d.Detail.ImageTag, shortDigest(d.Detail.ImageDigest)), Outcome: "event on the bus"}, true
	case events.DetailTypeECSDeploymentStateChange:
		d, err := events.Parse[events.DeploymentStateChange](raw)
		if err != nil {
			return entry{}, false
		}
		return entry{Category: "ecs", Event: fmt.Sprintf("ECS deployment %s %s", d.Detail.DeploymentID, strings.TrimPrefix(d.Detail.EventName, "SERVICE_DEPLOYMENT_")), Outcome: d.Detail.Reason}, true
	case events.DetailTypeAlarmStateChange:
		d, err := events.Parse[events.AlarmStateChange](raw)
		if err != nil {
			return entry{}, false
		}
		from, to := d.Detail.PreviousState.Value, d.Detail.State.Value
		if from != "ALARM" && to != "ALARM" {
			return entry{}, false
		}
		name := d.Detail.AlarmName
		if strings.HasPrefix(name, "TargetTracking-") {
			// Application Auto Scaling's own alarms, which move the
			// desired count; named after their policy and a UUID.
			name = "target tracking " + strings.TrimPrefix(name[strings.LastIndex(name, "-Alarm")+1:min(len(name), strings.LastIndex(name, "-Alarm")+10)], "Alarm")
			name = strings.TrimRight(name, "-")
		}
		return entry{Category: "alarm", Event: fmt.Sprintf("alarm %s %s → %s", name, from, to), Outcome: d.Detail.State.Reason}, true
	case events.DetailTypeLaunchLifecycleAction, events.DetailTypeTerminateLifecycleAction:
		d, err := events.Parse[events.LifecycleAction](raw)
		if err != nil {
			return entry{}, false
		}
		hook := "launch"
		if ev.DetailType == events.DetailTypeTerminateLifecycleAction {
			hook = "terminate"
		}
		return entry{Category: "hook", Event: fmt.Sprintf("%s hook holds %s", hook, d.Detail.EC2InstanceID), Outcome: "waits for the lifecycle state machine"}, true
	case events.DetailTypeLaunchSuccessful, events.DetailTypeTerminateSuccessful:
		var d events.ScalingActivity
		if json.Unmarshal(ev.Detail, &d) != nil {
			return entry{}, false
		}
		verb := "launched"
		if ev.DetailType == events.DetailTypeTerminateSuccessful {
			verb = "terminated"
		}
		return entry{Category: "instance", Event: fmt.Sprintf("instance %s %s in %s", d.EC2InstanceID, verb, d.Details.AvailabilityZone), Outcome: "Auto Scaling"}, true
	}
	return entry{}, false
}

func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

// PrintSummary prints the ledger's history and actions as tables, each
// step's figures, and the healthy targets per zone at every sample.
func PrintSummary(w io.Writer, rec *Record) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "==> the ledger's deployments (ecsplane history)")
	fmt.Fprintln(tw, "CREATED\tID\tCAUSE\tSTATUS\tTAG\tTASK DEFINITION\tREASON")
	for _, d := range rec.Deployments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.CreatedAt.Format(time.TimeOnly), d.ID, dash(d.Cause), d.Status, dash(d.ImageTag), dash(d.NewTaskDef[strings.LastIndex(d.NewTaskDef, "/")+1:]), dash(d.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "==> the ledger's actions (ecsplane actions)")
	fmt.Fprintln(tw, "AT\tKIND\tACTION\tOUTCOME\tINSTANCE\tZONE\tREASON")
	for _, a := range rec.Actions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.At.Format(time.TimeOnly), a.Kind, a.Action, a.Outcome, dash(a.Detail["instance"]), dash(a.Detail["zone"]), dash(a.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "==> figures by step (AWS calls are those to the stack's services during the step)")
	fmt.Fprintln(tw, "STEP\tKIND\tOUTCOME\tSIMULATED\tWALL\tTRANSITIONS\tINVOCATIONS\tMUTATING\tREADS\tOTHER")
	for _, s := range rec.Steps {
		outcome := s.Status
		if !s.Passed {
			outcome = "FAILED " + outcome
		} else if outcome == "" {
			outcome = "passed"
		}
		fmt.Fprintf(tw, "%d %s\t%s\t%s\t%s\t%.1fs\t%s\t%s\t%s\t%s\t%s\n", s.Index, s.Name, s.Do, outcome, s.VirtualEnd.Sub(s.VirtualStart).Round(time.Second), s.WallSeconds,
			figure(s.Figures, "state_transitions"), figure(s.Figures, "lambda_invocations"), figure(s.Figures, "mutating_calls"), figure(s.Figures, "read_calls"), otherFigures(s.Figures))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rec.Evacuations) > 0 {
		fmt.Fprintln(w, "==> evacuations: time to evacuate (from the fault) and to restore (from the recovery), simulated")
		t := EvacuationsTable(rec.Evacuations)
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(t.Header, "\t")))
		for _, row := range t.Rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "==> healthy targets per zone at every sample (every 30 s simulated; changes only)")
	zones := rec.Zones()
	fmt.Fprintf(tw, "VIRTUAL\t%s\n", strings.Join(zones, "\t"))
	last := ""
	for _, s := range rec.Samples {
		var cells []string
		for _, z := range zones {
			cells = append(cells, fmt.Sprint(s.Zones[z].HealthyTargets))
		}
		row := strings.Join(cells, "\t")
		if row == last {
			continue
		}
		last = row
		fmt.Fprintf(tw, "%s\t%s\n", Clock(s.At.Sub(rec.VirtualStart)), row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "    %d samples over %s simulated, in %.1fs wall\n", len(rec.Samples), rec.VirtualEnd.Sub(rec.VirtualStart).Round(time.Second), rec.WallSeconds)
	return nil
}

func figure(m map[string]int, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprint(v)
	}
	return "-"
}

// Zones are the zones the samples saw, sorted.
func (rec *Record) Zones() []string {
	seen := map[string]bool{}
	for _, s := range rec.Samples {
		for z := range s.Zones {
			seen[z] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
