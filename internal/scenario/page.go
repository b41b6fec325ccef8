package scenario

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/report"
)

// Page is the report page of a run: the fleet's samples per zone, the
// steps and the rollouts, the alarms and the lifecycle actions over
// simulated time, then the tables and the timeline.
func (rec *Record) Page() report.Page {
	verdict := "passed"
	if !rec.Passed {
		verdict = "FAILED: " + rec.Error
	}
	p := report.Page{
		Title:    fmt.Sprintf("ecsplane: scenario %s, %s", rec.Scenario, verdict),
		Subtitle: rec.About,
		Source: fmt.Sprintf("Stack %s in the local environment. %s simulated in %.1f s of wall time. The counts per zone are the simulator's snapshots (sim.Observe) every 30 s of simulated time; "+
			"the rollouts, alarms and actions are the timeline's, from the simulator's events, the rules' deliveries, the executions and the ledger.",
			rec.Stack, rec.VirtualEnd.Sub(rec.VirtualStart).Round(time.Second), rec.WallSeconds),
		From: rec.VirtualStart, To: rec.VirtualEnd,
	}
	zones := rec.Zones()
	perZone := func(id, title, note string, value func(ZoneCounts) int) report.Chart {
		c := report.Chart{ID: id, Title: title, Note: note}
		for _, z := range zones {
			s := report.Series{Name: z}
			last := -1
			for _, smp := range rec.Samples {
				if v := value(smp.Zones[z]); v != last {
					s.Points = append(s.Points, report.Point{At: smp.At, Value: float64(v)})
					last = v
				}
			}
			c.Lines = append(c.Lines, s)
		}
		return c
	}
	p.Charts = append(p.Charts,
		perZone("tasks", "Tasks RUNNING per zone", "The service's tasks; target tracking moves their count.", func(z ZoneCounts) int { return z.Tasks }),
		perZone("healthy-targets", "Healthy targets per zone", "What the load balancer routes to.", func(z ZoneCounts) int { return z.HealthyTargets }),
		perZone("instances", "Instances InService per zone", "The Auto Scaling group's; managed scaling moves their count, the lifecycle state machine lets them in and drains them.", func(z ZoneCounts) int { return z.Instances }),
		rec.stepsChart(), rec.eventsChart())
	for _, e := range rec.Timeline {
		p.Timeline = append(p.Timeline, report.Row{Virtual: Clock(e.Virtual), Wall: fmt.Sprintf("%.1fs", e.Wall.Seconds()), Event: e.Event, StateMachine: e.StateMachine, Outcome: e.Outcome})
	}
	steps := report.Table{Title: "Steps and their figures", Header: []string{"step", "kind", "expected", "outcome", "simulated", "wall", "transitions", "invocations", "mutating calls", "reads", "other"}}
	for _, s := range rec.Steps {
		outcome := s.Status
		if !s.Passed {
			outcome = "FAILED " + s.Status + ": " + s.Error
		}
		steps.Rows = append(steps.Rows, []string{fmt.Sprintf("%d %s", s.Index, s.Name), s.Do, dash(s.Expect.Status), dash(outcome), s.VirtualEnd.Sub(s.VirtualStart).Round(time.Second).String(),
			fmt.Sprintf("%.1fs", s.WallSeconds), figure(s.Figures, "state_transitions"), figure(s.Figures, "lambda_invocations"), figure(s.Figures, "mutating_calls"), figure(s.Figures, "read_calls"), otherFigures(s.Figures)})
	}
	p.Tables = append(p.Tables, steps)
	if len(rec.Evacuations) > 0 {
		p.Tables = append(p.Tables, EvacuationsTable(rec.Evacuations))
	}
	p.Tables = append(p.Tables, DeploymentsTable(rec.Deployments), ActionsTable(rec.Actions))
	return p
}

// stepsChart has a lane of the steps and one of the rollouts, each span
// coloured by its outcome.
func (rec *Record) stepsChart() report.Chart {
	c := report.Chart{ID: "deployments", Title: "Steps and deployments", Note: "Each step from its start to its outcome; each push's rollout with the verdict the ledger recorded."}
	for _, s := range rec.Steps {
		class := "ok"
		if !s.Passed {
			class = "bad"
		}
		c.Spans = append(c.Spans, report.Span{Lane: "steps", Label: fmt.Sprintf("%d %s", s.Index, s.Do), Class: class, From: s.VirtualStart, To: s.VirtualEnd})
		if s.Deployment != nil {
			c.Spans = append(c.Spans, report.Span{Lane: "rollouts", Label: s.Deployment.ImageTag + " " + string(s.Deployment.Status), Class: StatusClass(s.Deployment.Status), From: s.VirtualStart, To: s.VirtualEnd})
		}
	}
	return c
}

// eventsChart has a lane per alarm, with a span for each time it was in
// ALARM, and lanes of the control plane's actions.
func (rec *Record) eventsChart() report.Chart {
	c := report.Chart{ID: "alarms-actions", Title: "Alarms and actions", Note: "An alarm's time in ALARM; the lifecycle state machine's launches and drains, the faults injected, remediation's decisions and each evacuation from its first phase to its end."}
	// open are the alarms in ALARM, evacuating the evacuations not ended,
	// by lane, since when.
	open, evacuating := map[string]time.Time{}, map[string]time.Time{}
	for _, e := range rec.Timeline {
		switch e.Category {
		case "alarm":
			name := strings.TrimPrefix(e.Event, "alarm ")
			name = name[:strings.LastIndex(name[:strings.LastIndex(name, " → ")], " ")]
			if strings.HasSuffix(e.Event, "→ ALARM") {
				open[name] = e.VirtualAt
			} else if from, ok := open[name]; ok {
				c.Spans = append(c.Spans, report.Span{Lane: name, Label: "ALARM", Class: "bad", From: from, To: e.VirtualAt})
				delete(open, name)
			}
		case "lifecycle":
			class := "ok"
			if !strings.Contains(e.Outcome, "CONTINUE") {
				class = "warn"
			}
			c.Marks = append(c.Marks, report.Mark{Lane: "lifecycle actions", Label: e.Outcome, Class: class, At: e.VirtualAt})
		case "remediation":
			rest, isMilestone := strings.CutPrefix(e.Event, "evacuation of ")
			if !isMilestone {
				c.Marks = append(c.Marks, report.Mark{Lane: "remediation", Label: e.Outcome, Class: "info", At: e.VirtualAt})
				break
			}
			zone, phase, _ := strings.Cut(rest, ": ")
			c.Marks = append(c.Marks, report.Mark{Lane: "remediation", Label: phase + ": " + e.Outcome, Class: "info", At: e.VirtualAt})
			lane := "evacuation of " + zone
			if from, ok := evacuating[lane]; !ok && phase != remediate.PhaseEnded {
				evacuating[lane] = e.VirtualAt
			} else if ok && phase == remediate.PhaseEnded {
				c.Spans = append(c.Spans, report.Span{Lane: lane, Label: "evacuation", Class: "warn", From: from, To: e.VirtualAt})
				delete(evacuating, lane)
			}
		case "fault":
			c.Marks = append(c.Marks, report.Mark{Lane: "faults injected", Label: e.Event, Class: "bad", At: e.VirtualAt})
		}
	}
	for name, from := range open {
		c.Spans = append(c.Spans, report.Span{Lane: name, Label: "ALARM", Class: "bad", From: from, To: rec.VirtualEnd})
	}
	for lane, from := range evacuating {
		c.Spans = append(c.Spans, report.Span{Lane: lane, Label: "evacuation", Class: "warn", From: from, To: rec.VirtualEnd})
	}
	return c
}

// EvacuationsTable is the run's evacuations with their times to evacuate
// and to restore.
func EvacuationsTable(es []EvacuationFigures) report.Table {
	t := report.Table{Title: "Evacuations: time to evacuate (from the fault) and to restore (from the recovery), simulated",
		Header: []string{"zone", "fault", "alarm", "traffic shifted away", "serving healthy only", "restored", "both zones serving", "outcome"}}
	secs := func(v *int) string {
		if v == nil {
			return "not measured"
		}
		return (time.Duration(*v) * time.Second).String()
	}
	for _, e := range es {
		t.Rows = append(t.Rows, []string{e.Zone, e.Fault, secs(e.AlarmAfterS), secs(e.EvacuatedAfterS), secs(e.ServingHealthyAfterS), secs(e.RestoredAfterS), secs(e.BalancedAfterS), dash(e.Outcome)})
	}
	return t
}

// StatusClass colours a deployment's status.
func StatusClass(s ledger.Status) string {
	switch s {
	case ledger.StatusSucceeded, ledger.StatusSkipped:
		return "ok"
	case ledger.StatusRolledBack, ledger.StatusRolledBackByECS, ledger.StatusFailed, ledger.StatusAborted:
		return "bad"
	}
	return "warn"
}

// DeploymentsTable is the ledger's history as `ecsplane history` shows it.
func DeploymentsTable(ds []ledger.Deployment) report.Table {
	t := report.Table{Title: "The ledger's deployments", Header: []string{"created", "cause", "status", "tag", "task definition", "reason"}}
	for _, d := range ds {
		t.Rows = append(t.Rows, []string{d.CreatedAt.Format(time.DateTime), dash(d.Cause), string(d.Status), dash(d.ImageTag), dash(d.NewTaskDef[strings.LastIndex(d.NewTaskDef, "/")+1:]), dash(d.Reason)})
	}
	return t
}

// ActionsTable is the ledger's actions as `ecsplane actions` shows them.
func ActionsTable(as []ledger.Action) report.Table {
	t := report.Table{Title: "The ledger's actions", Header: []string{"at", "kind", "action", "outcome", "instance", "zone", "reason"}}
	for _, a := range as {
		t.Rows = append(t.Rows, []string{a.At.Format(time.DateTime), a.Kind, a.Action, a.Outcome, dash(a.Detail["instance"]), dash(a.Detail["zone"]), dash(a.Reason)})
	}
	return t
}

func otherFigures(m map[string]int) string {
	var other []string
	for _, k := range sortedKeys(m) {
		switch {
		case slices.Contains([]string{"state_transitions", "lambda_invocations", "mutating_calls", "read_calls"}, k):
		case strings.HasSuffix(k, "_after_s"):
			other = append(other, fmt.Sprintf("%s after %ds", strings.ReplaceAll(strings.TrimSuffix(k, "_after_s"), "_", " "), m[k]))
		default:
			other = append(other, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), m[k]))
		}
	}
	return dash(strings.Join(other, ", "))
}

// RenderReport writes the run's report page.
func RenderReport(w io.Writer, rec *Record) error { return report.Render(w, rec.Page()) }
