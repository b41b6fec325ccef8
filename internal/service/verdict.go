package service

import (
	"fmt"
	"strings"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// ECSState is where ECS is with one of its deployments.
type ECSState string

// ECS deployment states, as the verdict reads them.
const (
	// ECSUnknown: no deployment was started, or ECS was not asked.
	ECSUnknown    ECSState = ""
	ECSInProgress ECSState = "IN_PROGRESS"
	ECSCompleted  ECSState = "COMPLETED"
	ECSFailed     ECSState = "FAILED"
	// ECSStopped: a newer deployment replaced it before it finished.
	ECSStopped ECSState = "STOPPED"
)

// ECSOutcome is what ECS says of one deployment: its state and reason, and
// ECS's own rollback of it, when ECS made one.
type ECSOutcome struct {
	State  ECSState `json:"state,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Rollback is the state of ECS's rollback of a failed deployment (the
	// circuit breaker's, its deployment alarms', or a stop request's), and
	// RollbackReason its reason; empty when ECS made none.
	Rollback       ECSState `json:"rollback,omitempty"`
	RollbackReason string   `json:"rollbackReason,omitempty"`
}

// BakeResult is how a rollout's bake ended.
type BakeResult string

// Bake results.
const (
	BakeNotRun BakeResult = ""
	// BakePassed: the bake time ran out with no alarm of its set in ALARM.
	BakePassed BakeResult = "PASSED"
	// BakeAlarm: an alarm of its set went to ALARM during the bake.
	BakeAlarm BakeResult = "ALARM"
	// BakeError: the bake could not watch its alarms.
	BakeError BakeResult = "ERROR"
)

// Evidence is everything a deployment's outcome is decided from.
type Evidence struct {
	// Bakes is set for a rollout of an image, which bakes after ECS
	// completes it; the build's deployments end on ECS's verdict.
	Bakes bool
	// Decided is an outcome reached before the service was changed
	// (SKIPPED, SUPERSEDED, BLOCKED, FAILED), with its reason. It stands
	// only while nothing says ECS deployed, and is never SUCCEEDED.
	Decided       ledger.Status
	DecidedReason string
	DecidedStep   string
	// ECS is ECS's deployment of the new revision.
	ECS ECSOutcome
	// Bake is how the bake ended, BakeReason why.
	Bake       BakeResult
	BakeReason string
	// Rollback is the deployment with which the control plane returned the
	// service to its previous revision, when it made one.
	Rollback ECSOutcome
	// Failure is the error a step failed with, and Step that step.
	Failure string
	Step    string
}

// Verdict is a deployment's outcome, as a ledger status.
type Verdict struct {
	// Done is false while the evidence leaves the outcome open: ECS has
	// not given its verdict and nothing failed.
	Done bool
	// Status is the outcome once Done.
	Status ledger.Status
	Reason string
	// Step is the step that failed, for FAILED.
	Step string
}

// Steps a FAILED deployment names.
const (
	StepPrepare     = "prepare"
	StepDeploy      = "deploy"
	StepECSRollback = "ecs-rollback"
	StepBake        = "bake"
	StepRollback    = "rollback"
	StepFinish      = "finish"
)

// Decide is the one verdict on a deployment, from what ECS says of its
// deployment and of its rollback, how the bake ended, the control plane's
// own rollback, and the step that failed, if one did. A deployment ECS
// rolled back is never SUCCEEDED, whatever else the evidence says.
func Decide(e Evidence) Verdict {
	done := func(s ledger.Status, reason ...string) Verdict {
		return Verdict{Done: true, Status: s, Reason: JoinReasons(reason...)}
	}
	failed := func(step string, reason ...string) Verdict {
		v := done(ledger.StatusFailed, reason...)
		v.Step = step
		return v
	}
	// why is what made the control plane roll back: the bake's alarm, or
	// the step that failed.
	why := func() string {
		if e.Failure != "" {
			return fmt.Sprintf("step %s failed: %s", e.Step, e.Failure)
		}
		if e.Bake == BakeAlarm || e.Bake == BakeError {
			return "the bake failed: " + e.BakeReason
		}
		return ""
	}
	// ECS's rollback comes first, whatever state the deployment was read
	// in and whatever else was decided: a deployment ECS rolled back is
	// never SUCCEEDED. An outcome decided before the service changed holds
	// only while nothing says ECS deployed.
	switch {
	case e.ECS.Rollback == ECSCompleted:
		return done(ledger.StatusRolledBackByECS, e.ECS.Reason, e.ECS.RollbackReason)
	case e.ECS.Rollback == ECSFailed:
		return failed(StepECSRollback, "ECS failed the deployment: "+e.ECS.Reason, "and its rollback failed: "+e.ECS.RollbackReason)
	case e.ECS.Rollback != ECSUnknown:
		return done(ledger.StatusRolledBackByECS, e.ECS.Reason, e.ECS.RollbackReason, "ECS's rollback had not finished when the rollout ended")
	case e.Decided != "" && e.Decided != ledger.StatusSucceeded && e.ECS.State == ECSUnknown && e.Rollback.State == ECSUnknown:
		v := done(e.Decided, e.DecidedReason)
		v.Step = e.DecidedStep
		return v
	case e.Rollback.State == ECSCompleted:
		return done(ledger.StatusRolledBack, why(), "the service runs its previous revision again")
	case e.Rollback.State != ECSUnknown:
		return failed(StepRollback, why(), fmt.Sprintf("returning to the previous revision did not complete (%s): %s", strings.ToLower(string(e.Rollback.State)), e.Rollback.Reason))
	case e.ECS.State == ECSFailed:
		return failed(StepDeploy, "ECS failed the deployment and did not roll it back: "+e.ECS.Reason)
	case e.Failure != "":
		return failed(e.Step, e.Failure)
	case e.ECS.State == ECSCompleted && !e.Bakes:
		return done(ledger.StatusSucceeded, e.ECS.Reason)
	case e.ECS.State == ECSCompleted && e.Bake == BakePassed:
		return done(ledger.StatusSucceeded, e.ECS.Reason, "the bake passed")
	case e.ECS.State == ECSCompleted && e.Bake != BakeNotRun:
		return failed(StepBake, why(), "and the service was not rolled back")
	case e.ECS.State == ECSStopped:
		return failed(StepDeploy, "ECS stopped the deployment before it completed: "+e.ECS.Reason)
	}
	return Verdict{Reason: e.ECS.Reason}
}

// JoinReasons joins the non-empty reasons with "; ".
func JoinReasons(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}
