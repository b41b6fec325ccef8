package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
)

// finish decides the rollout's outcome from its record, ECS's service
// deployments and the execution's state, records it, releases the lease
// and returns the outcome the state machine publishes. It runs again
// harmlessly: an ended record is left as it is.
func (h *Handler) finish(ctx context.Context, in Invocation, es ExecutionState) (*Outcome, error) {
	led := h.Clients.Ledger
	st := es.Rollout
	if st == nil || st.DeploymentID == "" {
		// Prepare failed before it recorded the rollout: record it now,
		// so that the push leaves a trace.
		var err error
		if st, err = h.recordUnprepared(ctx, in); err != nil {
			return nil, err
		}
	}
	rec, err := led.GetDeployment(ctx, st.Service, st.DeploymentID)
	if err != nil {
		return nil, err
	}
	if !rec.Status.Terminal() {
		e, phases, err := h.evidence(ctx, st, es, rec)
		if err != nil {
			return nil, err
		}
		v := service.Decide(e)
		if !v.Done {
			v = service.Verdict{Done: true, Status: ledger.StatusFailed, Step: failedStep(st, rec),
				Reason: "the rollout ended before ECS's verdict: " + v.Reason}
		}
		phases = append(phases, ledger.Phase{Phase: ledger.PhaseFinished, Detail: string(v.Status)})
		change := ledger.Change{To: v.Status, Reason: v.Reason, FailedStep: v.Step, Phases: phases}
		if rec, err = led.Update(ctx, rec, change); err != nil {
			var illegal *ledger.IllegalTransitionError
			if !errors.As(err, &illegal) {
				return nil, err
			}
			// A verdict the record's state cannot move to means the steps
			// left it somewhere they should not have: say so, truthfully.
			change.To, change.FailedStep = ledger.StatusFailed, service.StepFinish
			change.Reason = fmt.Sprintf("the verdict %s (%s) does not follow %s", v.Status, v.Reason, rec.Status)
			if rec, err = led.Update(ctx, rec, change); err != nil {
				return nil, err
			}
		}
		h.Log.InfoContext(ctx, "rollout_finished", "execution", in.Execution, "deployment_id", rec.ID, "status", rec.Status, "reason", rec.Reason)
	}
	if err := h.release(ctx, st, rec); err != nil {
		return nil, err
	}
	out := OutcomeOf(rec)
	return &out, nil
}

// release gives up what the rollout held: its lease, its claim on the
// digest (completed with the outcome), and its waiters.
func (h *Handler) release(ctx context.Context, st *State, rec *ledger.Deployment) error {
	return releaseRollout(ctx, h.Clients.Ledger, st.Lease, rec)
}

func releaseRollout(ctx context.Context, led *ledger.Ledger, lease *ledger.Lease, rec *ledger.Deployment) error {
	var errs []error
	if lease != nil {
		errs = append(errs, service.ReleaseLease(ctx, led, lease))
	} else if cur, err := led.CurrentLock(ctx, rec.Service, ledger.ScopeRevision); err == nil && cur.Owner == rec.ExecutionARN {
		errs = append(errs, service.ReleaseLease(ctx, led, cur))
	} else if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		errs = append(errs, err)
	}
	if rec.Cause == ledger.CauseImage {
		err := led.CompleteKey(ctx, dedupeKey(rec.Service, rec.ImageDigest), rec.ExecutionARN, fmt.Sprintf("%s %s", rec.Status, rec.ID))
		if err != nil && !errors.Is(err, ledger.ErrNotOwner) {
			errs = append(errs, err)
		}
	}
	for _, id := range []string{rec.ECSDeploymentID, rec.RollbackDeploymentID} {
		if id != "" {
			errs = append(errs, led.DeleteWaiter(ctx, rec.Service, ledger.WaitECS(id), rec.ExecutionARN))
		}
	}
	errs = append(errs, led.DeleteWaiter(ctx, rec.Service, ledger.WaitBake, rec.ExecutionARN))
	return errors.Join(errs...)
}

// recordUnprepared records a rollout whose Prepare failed before it
// recorded it. Its trigger parsed before (or the Catch would have sent it
// to Ignored).
func (h *Handler) recordUnprepared(ctx context.Context, in Invocation) (*State, error) {
	trig, err := ParseTrigger(in.State, h.Config)
	if err != nil {
		return nil, err
	}
	rec, err := h.Clients.Ledger.CreateDeployment(ctx, ledger.NewDeployment{
		ID: ledger.DeploymentID(in.Started, in.Execution), Service: h.Stack, Cause: trig.Cause,
		ImageTag: trig.Tag, ImageDigest: trig.Digest, Image: trig.Image, EventID: trig.EventID, ExecutionARN: in.Execution,
	})
	if err != nil {
		return nil, err
	}
	return &State{Service: h.Stack, DeploymentID: rec.ID, Trigger: trig}, nil
}

// failedStep is the step a failure came from, which the record's progress
// says: before the rollout went ahead, Prepare; then the bake once it
// started; else the deployment.
func failedStep(st *State, rec *ledger.Deployment) string {
	switch {
	case st.Next != NextDeploy:
		return service.StepPrepare
	case rec.Reached(ledger.PhaseBakeStarted):
		return service.StepBake
	}
	return service.StepDeploy
}

// evidence gathers what the verdict is decided from, and the timeline's
// phases that only Finish sees end.
func (h *Handler) evidence(ctx context.Context, st *State, es ExecutionState, rec *ledger.Deployment) (service.Evidence, []ledger.Phase, error) {
	e := service.Evidence{Bakes: rec.Bakes(), Decided: st.Decided, DecidedReason: st.DecidedReason, DecidedStep: st.DecidedStep}
	var phases []ledger.Phase
	if step, f := es.failure(); f != nil {
		e.Failure, e.Step = f.Message(), step
	}
	var err error
	if e.ECS, err = service.ServiceDeploymentOutcome(ctx, h.Clients.ECS, rec.ServiceDeploymentARN); err != nil {
		return e, nil, err
	}
	e.ECS = withHeard(e.ECS, heardECS(es, rec))
	if e.ECS.Rollback != service.ECSUnknown && !rec.Reached(ledger.PhaseECSRolledBack) {
		phases = append(phases, ledger.Phase{Phase: ledger.PhaseECSRolledBack, Detail: fmt.Sprintf("%s: %s", e.ECS.Rollback, e.ECS.RollbackReason)})
	}
	switch b := es.Bake; {
	case b == nil:
	case b.Error == ErrTimeout:
		e.Bake = service.BakePassed
		phases = append(phases, ledger.Phase{Phase: ledger.PhaseBakeEnded, Detail: "passed: no alarm of its set went to ALARM"})
	case b.Error == ErrBakeAlarm:
		e.Bake, e.BakeReason = service.BakeAlarm, b.Cause
	default:
		e.Bake, e.BakeReason = service.BakeError, b.Message()
	}
	if rec.RollbackServiceDeploymentARN != "" {
		if e.Rollback, err = service.ServiceDeploymentOutcome(ctx, h.Clients.ECS, rec.RollbackServiceDeploymentARN); err != nil {
			return e, nil, err
		}
		phases = append(phases, ledger.Phase{Phase: ledger.PhaseRollbackEnded, Detail: fmt.Sprintf("%s: %s", e.Rollback.State, e.Rollback.Reason)})
	} else if ce := caught(es.Rollback); ce != nil {
		e.Rollback = service.ECSOutcome{State: service.ECSFailed, Reason: ce.Message()}
	} else if r := rollbackResult(es.Rollback); r.Status == "NOT_NEEDED" && e.Failure != "" {
		e.Failure += "; no rollback: " + r.Reason
	}
	return e, phases, nil
}

// heardECS is what the waits heard of ECS's deployment of the new
// revision, by event or by a poll: its verdict, and how ECS's own rollback
// of it ended when the rollout watched one.
func heardECS(es ExecutionState, rec *ledger.Deployment) service.ECSOutcome {
	var o service.ECSOutcome
	var r ECSResult
	if ce := caught(es.ECS); ce != nil {
		_ = json.Unmarshal([]byte(ce.Cause), &r)
	} else if len(es.ECS) > 0 {
		_ = json.Unmarshal(es.ECS, &r)
	}
	if p := es.ECSPoll; p != nil && p.DeploymentID == rec.ECSDeploymentID && p.Status != string(service.ECSInProgress) {
		r = *p
	}
	if r.DeploymentID != "" && r.DeploymentID == rec.ECSDeploymentID {
		o.State, o.Reason = service.ECSState(r.Status), r.Reason
	}
	if o.State != service.ECSFailed || len(es.ECSRollback) == 0 {
		return o
	}
	if ce := caught(es.ECSRollback); ce != nil {
		var rb ECSResult
		if json.Unmarshal([]byte(ce.Cause), &rb) == nil && rb.DeploymentID != "" {
			o.Rollback, o.RollbackReason = service.ECSFailed, rb.Reason
		}
	} else if rb := rollbackResult(es.ECSRollback); rb.DeploymentID != "" && rb.Status == string(service.ECSCompleted) {
		o.Rollback, o.RollbackReason = service.ECSCompleted, rb.Reason
	}
	return o
}

// withHeard merges what the waits heard of ECS into what Finish read of
// it, whichever came first: a failure or a rollback heard is never undone
// by a read that does not show it (yet, or any more), and a completion
// heard stands for a read that shows none.
func withHeard(read, heard service.ECSOutcome) service.ECSOutcome {
	switch {
	case heard.State == service.ECSFailed && read.State != service.ECSFailed:
		read.State, read.Reason = service.ECSFailed, heard.Reason
	case heard.State == service.ECSCompleted && (read.State == service.ECSUnknown || read.State == service.ECSInProgress):
		read.State, read.Reason = service.ECSCompleted, heard.Reason
	}
	if read.Rollback == service.ECSUnknown && heard.Rollback != service.ECSUnknown {
		read.Rollback, read.RollbackReason = heard.Rollback, heard.RollbackReason
	}
	return read
}

func rollbackResult(raw json.RawMessage) ECSResult {
	var r ECSResult
	_ = json.Unmarshal(raw, &r)
	return r
}
