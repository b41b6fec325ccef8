package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

// Record ends every execution with its audit item: the decision (doing
// nothing included) with its reason, or the refused event or failure with
// its error. It releases what the execution holds: the capacity lease,
// and the claim on the state change, which it marks done. An evacuation
// that failed part-way is ended FAILED, its shifts left to expire at the
// expiry it records, so that a later alarm may evacuate again.
func (h *Handler) Record(ctx context.Context, req Request) (*ledger.Action, error) {
	if req.Run == nil && req.Error == nil {
		return nil, handlererr.Invalid("record needs the run, or the error a failed decide was caught with")
	}
	act := ledger.Action{Subject: h.Stack, Kind: ledger.KindRemediation, ExecutionARN: req.ExecutionARN}
	if req.Run != nil {
		r := req.Run
		act.Action, act.Outcome, act.Reason, act.Detail = r.Decision.Action, r.Progress.Outcome, r.Decision.Reason, decisionDetail(r)
		if r.Progress.State == StateDone && r.Progress.Detail != "" && r.Progress.Detail != r.Decision.Reason {
			act.Reason = r.Decision.Reason + "; " + r.Progress.Detail
		}
	} else {
		act.Action, act.Detail = ActionRefused, eventDetail(req.Event)
	}
	if req.Error != nil {
		act.Outcome, act.Reason = OutcomeFailed, req.Error.Message()
		if req.Error.Error == handlererr.NameInvalidInput {
			act.Outcome = OutcomeRefused
		}
		if act.Action == "" {
			act.Action = ActionRefused
		}
		act.Detail["error"] = req.Error.Error
	}
	if act.Action == "" {
		act.Action = ActionNone
	}
	if act.Outcome == "" {
		act.Outcome = OutcomeFailed
	}
	if err := h.release(ctx, req.Run, act.Outcome); err != nil {
		return nil, err
	}
	rec, err := h.Ledger.RecordAction(ctx, act)
	if err != nil {
		return nil, err
	}
	h.log().InfoContext(ctx, "recorded remediation", "alarm", act.Detail["alarm"], "action", rec.Action, "outcome", rec.Outcome, "action_id", rec.ID)
	return rec, nil
}

// release lets go of what the run holds. A retried record finds it
// released already.
func (h *Handler) release(ctx context.Context, r *Run, outcome string) error {
	if r == nil {
		return nil
	}
	if ev := r.Evacuation; ev.Active() && outcome == OutcomeFailed {
		ev.EndedAt, ev.Outcome = h.now(), OutcomeFailed
		if err := h.Ledger.SaveEvacuation(ctx, *ev); err != nil && !errors.Is(err, ledger.ErrNotOwner) {
			return err
		}
	}
	if r.Decision.Lease != nil {
		if err := h.Ledger.Release(ctx, r.Decision.Lease); err != nil && !errors.Is(err, ledger.ErrNotOwner) {
			return err
		}
	}
	if r.Decision.Action == ActionDuplicate || r.Decision.Key == "" {
		return nil
	}
	err := h.Ledger.CompleteKey(ctx, r.Decision.Key, r.Decision.ExecutionARN, outcome)
	if errors.Is(err, ledger.ErrNotOwner) {
		return nil
	}
	return err
}

// decisionDetail is what a run's audit item shows besides its reason.
func decisionDetail(r *Run) map[string]string {
	d := r.Decision
	out := map[string]string{"alarm": d.Alarm, "class": d.Class, "state": d.State, "scope": d.Scope, "event_id": d.EventID}
	if !d.StateAt.IsZero() {
		out["state_at"] = d.StateAt.Format(time.RFC3339)
	}
	if d.Zone != "" {
		out["zone"] = d.Zone
	}
	if d.Owner != "" {
		out["owner"] = d.Owner
	}
	if r.Evacuation != nil {
		for k, v := range evacuationDetail(r) {
			out[k] = v
		}
		out["duration"] = r.Progress.CheckedAt.Sub(d.DecidedAt).Round(time.Second).String()
	}
	return out
}

// eventDetail describes, as far as it can be read, the event a decide
// refused or failed on.
func eventDetail(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	var ev struct {
		ID         string                  `json:"id"`
		DetailType string                  `json:"detail-type"`
		Detail     events.AlarmStateChange `json:"detail"`
	}
	if json.Unmarshal(raw, &ev) != nil {
		return out
	}
	for k, v := range map[string]string{"event_id": ev.ID, "detail_type": ev.DetailType, "alarm": ev.Detail.AlarmName, "state": ev.Detail.State.Value} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
