package rollout

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
)

// Invocation is what a Task state sends the rollout function.
type Invocation struct {
	Step Step `json:"step"`
	// State is the execution's whole state: its input, and what the
	// earlier steps and waits put in it (ExecutionState).
	State json.RawMessage `json:"state"`
	// Execution is the execution's ARN, which owns the lease; Started its
	// start time.
	Execution string    `json:"execution"`
	Started   time.Time `json:"started"`
	// Token is the task token of a step that waits for one.
	Token string `json:"token,omitempty"`
}

// Next is where the state machine goes after Prepare.
type Next string

// Where Prepare leads.
const (
	// NextDeploy: the lease is taken and the gate is open.
	NextDeploy Next = "deploy"
	// NextWait: another round after WaitSeconds, for the lease or the
	// gate.
	NextWait Next = "wait"
	// NextFinish: the rollout ended before any change (skipped,
	// superseded, blocked).
	NextFinish Next = "finish"
	// NextIgnore: a duplicate of a rollout already accepted; nothing is
	// recorded.
	NextIgnore Next = "ignore"
)

// waitingFor is what a rollout waited for in its last round.
type waitingFor string

const (
	waitingForLease waitingFor = "lease"
	waitingForGate  waitingFor = "gate"
)

// State is the rollout as the execution carries it, $.rollout: what
// Prepare decided and learnt. The deployment record holds the rest.
type State struct {
	Next         Next    `json:"next"`
	Service      string  `json:"service"`
	DeploymentID string  `json:"deploymentId,omitempty"`
	Trigger      Trigger `json:"trigger"`
	// Lease is the revision lease once taken.
	Lease *ledger.Lease `json:"lease,omitempty"`
	// Decided is the outcome Prepare reached for NextFinish, and its
	// reason.
	Decided       ledger.Status `json:"decided,omitempty"`
	DecidedReason string        `json:"decidedReason,omitempty"`
	DecidedStep   string        `json:"decidedStep,omitempty"`
	// Duplicate says whose duplicate a NextIgnore is.
	Duplicate string `json:"duplicate,omitempty"`
	// Waiting is what the last round waited for, since when.
	Waiting      waitingFor `json:"waiting,omitempty"`
	WaitingSince time.Time  `json:"waitingSince,omitzero"`
	// The waits' lengths, for the state machine's Wait and its
	// TimeoutSecondsPath.
	WaitSeconds    int `json:"waitSeconds"`
	ECSWaitSeconds int `json:"ecsWaitSeconds"`
	BakeSeconds    int `json:"bakeSeconds"`
}

// CaughtError is an error as a Catch clause's ResultPath holds it.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Message is the error's message: a function's errorMessage, or the
// cause as it is.
func (e *CaughtError) Message() string {
	var fe struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(e.Cause), &fe) == nil && fe.ErrorMessage != "" {
		return e.Error + ": " + fe.ErrorMessage
	}
	if e.Cause == "" {
		return e.Error
	}
	return e.Error + ": " + e.Cause
}

// ECSResult is how a wait for ECS ended: what the resume function, or the
// step itself, sends as the task's result, or a poll of ECS reads.
type ECSResult struct {
	// Status is COMPLETED, FAILED (service.ECSState) or, for a poll,
	// IN_PROGRESS.
	Status       string    `json:"status"`
	DeploymentID string    `json:"deploymentId"`
	Reason       string    `json:"reason,omitempty"`
	At           time.Time `json:"at,omitzero"`
	// Polls counts the reads of ECS after an event wait ran out.
	Polls int `json:"polls,omitempty"`
}

// ExecutionState is the execution's state as the steps read it: Prepare's
// State, and what each wait and Catch put next to it.
type ExecutionState struct {
	Rollout *State `json:"rollout"`
	// ECS is Deploy's result: ECS's verdict, or the caught failure.
	ECS json.RawMessage `json:"ecs"`
	// ECSPoll is the last read of ECS after a wait ran out.
	ECSPoll *ECSResult `json:"ecsPoll"`
	// ECSRollback is how the wait for ECS's own rollback ended.
	ECSRollback json.RawMessage `json:"ecsRollback"`
	// Bake is how the bake ended: the timeout (passed) or BakeAlarm.
	Bake *CaughtError `json:"bake"`
	// Rollback is how the control plane's rollback ended.
	Rollback json.RawMessage `json:"rollback"`
	// PrepareFailure, DeployFailure and BakeFailure are the error a step
	// failed with, by the part of the rollout it failed in; at most one is
	// set, since a failure leads to the rollback and the verdict.
	PrepareFailure *CaughtError `json:"prepareFailure"`
	DeployFailure  *CaughtError `json:"deployFailure"`
	BakeFailure    *CaughtError `json:"bakeFailure"`
}

// failure is the error a step failed with, and the part of the rollout it
// failed in, as service.Decide names it.
func (es ExecutionState) failure() (string, *CaughtError) {
	switch {
	case es.PrepareFailure != nil:
		return service.StepPrepare, es.PrepareFailure
	case es.DeployFailure != nil:
		return service.StepDeploy, es.DeployFailure
	case es.BakeFailure != nil:
		return service.StepBake, es.BakeFailure
	}
	return "", nil
}

func parseState(raw json.RawMessage) (ExecutionState, error) {
	var es ExecutionState
	if err := json.Unmarshal(raw, &es); err != nil {
		return es, reject(ReasonMalformed, "the execution's state is not a JSON object: %v", err)
	}
	return es, nil
}

// rollout returns the execution's rollout state, which every step after
// Prepare needs.
func (es ExecutionState) rollout() (*State, error) {
	if es.Rollout == nil || es.Rollout.DeploymentID == "" {
		return nil, handlererr.Invalid("the execution's state has no rollout: Prepare has not run")
	}
	return es.Rollout, nil
}

// caught reads a result that is a caught error, or nil when it is not one.
func caught(raw json.RawMessage) *CaughtError {
	var ce CaughtError
	if len(raw) == 0 || json.Unmarshal(raw, &ce) != nil || ce.Error == "" {
		return nil
	}
	return &ce
}

// Outcome is a rollout's end, as Finish returns it and the state machine
// publishes it.
type Outcome struct {
	Service      string        `json:"service"`
	DeploymentID string        `json:"deploymentId"`
	Status       ledger.Status `json:"status"`
	Reason       string        `json:"reason,omitempty"`
	FailedStep   string        `json:"failedStep,omitempty"`
	Cause        string        `json:"cause"`
	Digest       string        `json:"digest"`
	Tag          string        `json:"tag,omitempty"`
	Previous     string        `json:"previousTaskDefinition,omitempty"`
	New          string        `json:"taskDefinition,omitempty"`
	Execution    string        `json:"executionArn"`
	// Succeeded is true for the outcomes with nothing left to fix:
	// SUCCEEDED, SKIPPED, SUPERSEDED. The state machine ends the execution
	// failed for the others.
	Succeeded       bool           `json:"succeeded"`
	AcceptedAt      time.Time      `json:"acceptedAt"`
	FinishedAt      time.Time      `json:"finishedAt"`
	DurationSeconds float64        `json:"durationSeconds"`
	Timeline        []ledger.Phase `json:"timeline"`
}

// OutcomeOf is the outcome a finished deployment record says.
func OutcomeOf(d *ledger.Deployment) Outcome {
	o := Outcome{
		Service: d.Service, DeploymentID: d.ID, Status: d.Status, Reason: d.Reason, FailedStep: d.FailedStep, Cause: d.Cause,
		Digest: d.ImageDigest, Tag: d.ImageTag, Previous: d.PreviousTaskDef, New: d.NewTaskDef, Execution: d.ExecutionARN,
		AcceptedAt: d.CreatedAt, FinishedAt: d.UpdatedAt, Timeline: d.Timeline,
	}
	if at, ok := d.At(ledger.PhaseFinished); ok {
		o.FinishedAt = at
	}
	o.DurationSeconds = o.FinishedAt.Sub(o.AcceptedAt).Seconds()
	switch d.Status {
	case ledger.StatusSucceeded, ledger.StatusSkipped, ledger.StatusSuperseded:
		o.Succeeded = true
	}
	return o
}

// String is the outcome on one line.
func (o Outcome) String() string {
	s := fmt.Sprintf("%s %s (%s)", o.Status, o.Digest, o.DeploymentID)
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}
