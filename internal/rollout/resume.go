package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
)

// ResumeConfig is what the resume function reads from its environment.
type ResumeConfig struct {
	TableName string `env:"TABLE_NAME"`
	// BakeAlarms are the alarms that fail a bake, by name.
	BakeAlarms []string `env:"BAKE_ALARMS"`
}

// Resume is the resume function. The "ECS Deployment State Change" rule
// (COMPLETED and FAILED) and the bake alarms' "CloudWatch Alarm State
// Change" rule invoke it; it resumes the rollout step waiting for the
// event, if one is: ECS's verdict on a deployment goes to the step waiting
// for that deployment, an alarm going to ALARM fails the bake.
type Resume struct {
	Ledger *ledger.Ledger
	SFN    TaskAPI
	// Stack is the stack whose service the control plane manages.
	Stack      string
	BakeAlarms []string
	Log        *slog.Logger
}

// Resumed says what the resume function did with an event.
type Resumed struct {
	// Resumed is true when a waiting step was sent the event's result.
	Resumed bool `json:"resumed"`
	// Execution and Deployment are the rollout it resumed.
	Execution  string `json:"execution,omitempty"`
	Deployment string `json:"deployment,omitempty"`
	// Reason says what happened, or why nothing did.
	Reason string `json:"reason"`
}

// Handle parses the event strictly and resumes the step waiting for it. An
// event of the right kind that concerns no waiting step (another
// service's, an alarm outside the bake's set, a verdict nobody waits for)
// is answered without an error; a malformed one is an
// InvalidInputError.
func (r *Resume) Handle(ctx context.Context, raw json.RawMessage) (*Resumed, error) {
	ev, err := r.parse(raw)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	out := &Resumed{Reason: ev.ignore}
	switch {
	case ev.ignore != "":
	case ev.alarm != "":
		out, err = r.alarm(ctx, ev)
	default:
		out, err = r.deployment(ctx, ev)
	}
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	r.Log.InfoContext(ctx, "resume_handled", "event_id", ev.id, "resumed", out.Resumed, "execution", out.Execution, "reason", out.Reason)
	return out, nil
}

// resumeEvent is an event as the resume function reads it: ECS's verdict
// on a deployment of the service, or one of the bake's alarms going to
// ALARM, or why it concerns no rollout.
type resumeEvent struct {
	id string
	// ignore says why the event concerns no rollout step.
	ignore string
	// deployment, result: ECS's verdict.
	deployment string
	result     ECSResult
	// alarm, cause: an alarm of the bake's set in ALARM.
	alarm, cause string
}

// parse reads an event strictly: a malformed one is an
// InvalidInputError.
func (r *Resume) parse(raw json.RawMessage) (resumeEvent, error) {
	var env events.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return resumeEvent{}, handlererr.Invalid("the event is not an EventBridge event: " + err.Error())
	}
	switch {
	case env.Source == events.SourceECS && env.DetailType == events.DetailTypeECSDeploymentStateChange:
		ev, err := events.ParseDeploymentStateChange(raw)
		if err != nil {
			return resumeEvent{}, err
		}
		d := ev.Detail
		out := resumeEvent{id: ev.ID, deployment: d.DeploymentID, result: ECSResult{Status: string(service.ECSCompleted), DeploymentID: d.DeploymentID, Reason: d.Reason, At: ev.Time}}
		if d.EventName == events.DeploymentFailed {
			out.result.Status = string(service.ECSFailed)
		}
		if at, err := time.Parse(time.RFC3339Nano, d.UpdatedAt); err == nil {
			out.result.At = at
		}
		var svc string
		for _, res := range ev.Resources {
			if _, name, ok := ServiceOfARN(res); ok {
				svc = name
			}
		}
		switch {
		case svc != r.Stack:
			out.ignore = fmt.Sprintf("a deployment of service %q, not %q", svc, r.Stack)
		case d.EventName == events.DeploymentInProgress:
			out.ignore = "ECS has not given its verdict on " + d.DeploymentID
		}
		return out, nil
	case env.Source == events.SourceCloudWatch && env.DetailType == events.DetailTypeAlarmStateChange:
		ev, err := events.ParseAlarmStateChange(raw)
		if err != nil {
			return resumeEvent{}, err
		}
		a := ev.Detail
		out := resumeEvent{id: ev.ID, alarm: a.AlarmName, cause: fmt.Sprintf("alarm %s went to ALARM at %s: %s", a.AlarmName, ev.Time.Format(time.RFC3339), a.State.Reason)}
		switch {
		case a.State.Value != events.AlarmAlarm:
			out.ignore = fmt.Sprintf("alarm %s went to %s, not ALARM", a.AlarmName, a.State.Value)
		case !slices.Contains(r.BakeAlarms, a.AlarmName):
			out.ignore = fmt.Sprintf("alarm %s is not one of the bake's (%s)", a.AlarmName, strings.Join(r.BakeAlarms, ", "))
		}
		return out, nil
	}
	return resumeEvent{}, handlererr.Invalid(fmt.Sprintf("the resume function takes ECS deployment and alarm state changes, not %q from %q", env.DetailType, env.Source))
}

// ServiceOfARN returns the cluster and service an ECS service ARN names
// (arn:aws:ecs:<region>:<account>:service/<cluster>/<service>).
func ServiceOfARN(arn string) (cluster, name string, ok bool) {
	_, path, found := strings.Cut(arn, ":service/")
	if !found {
		return "", "", false
	}
	cluster, name, ok = strings.Cut(path, "/")
	return cluster, name, ok && cluster != "" && name != "" && !strings.Contains(name, "/")
}

func (r *Resume) deployment(ctx context.Context, ev resumeEvent) (*Resumed, error) {
	w, err := r.Ledger.GetWaiter(ctx, r.Stack, ledger.WaitECS(ev.deployment))
	if errors.Is(err, ledger.ErrNotFound) {
		return &Resumed{Reason: "no rollout step waits for ECS deployment " + ev.deployment}, nil
	}
	if err != nil {
		return nil, err
	}
	waiting, err := SendECSResult(ctx, r.SFN, w.Token, ev.result)
	if err != nil {
		return nil, err
	}
	if !waiting {
		return &Resumed{Execution: w.ExecutionARN, Deployment: w.DeploymentID, Reason: "the step that waited for ECS deployment " + ev.deployment + " no longer waits"}, nil
	}
	return &Resumed{Resumed: true, Execution: w.ExecutionARN, Deployment: w.DeploymentID, Reason: fmt.Sprintf("ECS deployment %s %s", ev.deployment, strings.ToLower(ev.result.Status))}, nil
}

func (r *Resume) alarm(ctx context.Context, ev resumeEvent) (*Resumed, error) {
	w, err := r.Ledger.GetWaiter(ctx, r.Stack, ledger.WaitBake)
	if errors.Is(err, ledger.ErrNotFound) {
		return &Resumed{Reason: "no rollout of " + r.Stack + " is baking"}, nil
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(w.Alarms, ev.alarm) {
		return &Resumed{Reason: fmt.Sprintf("the bake of %s does not watch alarm %s", w.DeploymentID, ev.alarm)}, nil
	}
	waiting, err := SendBakeAlarm(ctx, r.SFN, w.Token, ev.cause)
	if err != nil {
		return nil, err
	}
	if !waiting {
		return &Resumed{Execution: w.ExecutionARN, Deployment: w.DeploymentID, Reason: "the bake of " + w.DeploymentID + " no longer waits"}, nil
	}
	return &Resumed{Resumed: true, Execution: w.ExecutionARN, Deployment: w.DeploymentID, Reason: ev.cause}, nil
}
