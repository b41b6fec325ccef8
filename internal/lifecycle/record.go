package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

// Record ends every execution with an audit item: the action's kind,
// outcome (the result it was completed with, or GONE, DUPLICATE, REFUSED,
// FAILED), the reason, and its instance, zone, tasks and durations. It
// then releases the execution's claim on the token, as done; a duplicate
// or refused run holds none.
func (h *Handler) Record(ctx context.Context, req Request) (*ledger.Action, error) {
	if req.Run == nil && req.Error == nil {
		return nil, handlererr.Invalid("record needs the run, or the error a failed start was caught with")
	}
	act := ledger.Action{Subject: h.Stack, Kind: ledger.KindLifecycle, ExecutionARN: req.ExecutionARN}
	// token is the claim this execution holds, if any: none for a
	// duplicate, nor for a refused event.
	token := ""
	if req.Run != nil {
		act.Action, act.Outcome, act.Reason, act.Detail = runRecord(req.Run)
		if req.Run.Progress.State != StateDuplicate {
			token = req.Run.Action.Token
		}
	} else {
		act.Action, act.Detail = eventRecord(req.Event)
		if req.Error.Error != handlererr.NameInvalidInput {
			token = act.Detail["token"]
		}
	}
	if req.Error != nil {
		act.Outcome, act.Reason = OutcomeFailed, req.Error.Message()
		if req.Error.Error == handlererr.NameInvalidInput {
			act.Outcome = OutcomeRefused
		}
		if act.Detail == nil {
			act.Detail = map[string]string{}
		}
		act.Detail["error"] = req.Error.Error
	}
	if token != "" {
		if err := h.release(ctx, token, req.ExecutionARN, act.Outcome); err != nil {
			return nil, err
		}
	}
	rec, err := h.Ledger.RecordAction(ctx, act)
	if err != nil {
		return nil, err
	}
	h.log().InfoContext(ctx, "recorded lifecycle action", "action", rec.Action, "outcome", rec.Outcome, "instance_id", rec.Detail["instance"], "action_id", rec.ID)
	return rec, nil
}

// release marks the execution's claim done. A retried record finds it
// done already.
func (h *Handler) release(ctx context.Context, token, execution, outcome string) error {
	err := h.Ledger.CompleteKey(ctx, claimPrefix+token, execution, outcome)
	if !errors.Is(err, ledger.ErrNotOwner) {
		return err
	}
	c, gerr := h.Ledger.GetClaim(ctx, claimPrefix+token)
	switch {
	case errors.Is(gerr, ledger.ErrNotFound):
		// A failure before the claim: there is nothing to release.
		return nil
	case gerr != nil:
		return gerr
	case c.Owner == execution && c.State == ledger.IdemCompleted:
		return nil
	}
	h.log().WarnContext(ctx, "lifecycle claim held by another execution", "token", token, "owner", c.Owner, "state", c.State)
	return nil
}

// runRecord is the audit item of a run. Its duration is the time from Auto
// Scaling's start of the action to the run's last step.
func runRecord(r *Run) (action, outcome, reason string, detail map[string]string) {
	a, p := r.Action, r.Progress
	detail = map[string]string{
		"instance": a.InstanceID, "group": a.Group, "hook": a.Hook, "token": a.Token,
		"duration": p.CheckedAt.Sub(a.StartedAt).Round(time.Second).String(),
		"rounds":   strconv.Itoa(p.Round), "heartbeats": strconv.Itoa(p.Heartbeats),
	}
	set := func(k, v string) {
		if v != "" {
			detail[k] = v
		}
	}
	set("zone", a.Zone)
	set("container_instance", a.ContainerInstanceARN)
	set("drained_by", a.DrainedBy)
	set("owner", p.Owner)
	if !a.DeadlineAt.IsZero() {
		detail["deadline"] = a.DeadlineAt.Sub(a.StartedAt).Round(time.Second).String()
	}
	if a.Kind == KindDrain {
		detail["tasks_drained"] = strconv.Itoa(len(a.Tasks))
		detail["tasks_left"] = strconv.Itoa(p.TasksLeft)
	}
	switch p.State {
	case StateCompleted:
		outcome = p.Result
	case StateGone:
		outcome = OutcomeGone
	case StateDuplicate:
		outcome = OutcomeDuplicate
	default:
		outcome = OutcomeFailed
	}
	reason = p.Detail
	if p.Deadline {
		reason = "deadline policy: " + reason
	}
	return a.Kind, outcome, reason, detail
}

// eventRecord describes, as far as it can be read, the event a start
// refused or failed on.
func eventRecord(raw json.RawMessage) (string, map[string]string) {
	var ev struct {
		DetailType string                 `json:"detail-type"`
		Detail     events.LifecycleAction `json:"detail"`
	}
	detail := map[string]string{}
	if json.Unmarshal(raw, &ev) != nil {
		return "event", detail
	}
	for k, v := range map[string]string{"instance": ev.Detail.EC2InstanceID, "group": ev.Detail.AutoScalingGroupName, "hook": ev.Detail.LifecycleHookName, "token": ev.Detail.LifecycleActionToken} {
		if v != "" {
			detail[k] = v
		}
	}
	switch ev.DetailType {
	case events.DetailTypeLaunchLifecycleAction:
		return KindLaunch, detail
	case events.DetailTypeTerminateLifecycleAction:
		return KindDrain, detail
	}
	return "event", detail
}
