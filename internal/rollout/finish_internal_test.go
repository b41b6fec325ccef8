package rollout

import (
	"encoding/json"
	"testing"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
)

// TestEvidenceOrder: whichever came first, what the waits heard of ECS or
// what Finish reads, a deployment ECS failed or rolled back is never
// SUCCEEDED, and one ECS completed succeeds after its bake even when the
// read lags.
func TestEvidenceOrder(t *testing.T) {
	rec := &ledger.Deployment{ECSDeploymentID: "ecs-svc/2"}
	failedCause, _ := json.Marshal(ECSResult{Status: "FAILED", DeploymentID: "ecs-svc/2", Reason: "ECS deployment circuit breaker: tasks failed to start."})
	failed, _ := json.Marshal(CaughtError{Error: ErrECSFailed, Cause: string(failedCause)})
	completed, _ := json.Marshal(ECSResult{Status: "COMPLETED", DeploymentID: "ecs-svc/2", Reason: "completed"})
	rolledBack, _ := json.Marshal(ECSResult{Status: "COMPLETED", DeploymentID: "ecs-svc/1", Reason: "rolling back to deploymentId ecs-svc/1"})
	noRollback, _ := json.Marshal(ECSResult{Status: "COMPLETED", Reason: "ECS made no rollback"})
	passed := &CaughtError{Error: ErrTimeout}
	tests := []struct {
		name  string
		es    ExecutionState
		read  service.ECSOutcome
		want  ledger.Status
		step  string
		undec bool
	}{
		{"failure heard, rollback heard, read still in progress", ExecutionState{ECS: failed, ECSRollback: rolledBack}, service.ECSOutcome{State: service.ECSInProgress}, ledger.StatusRolledBackByECS, "", false},
		{"failure heard, read completed", ExecutionState{ECS: failed, ECSRollback: rolledBack, Bake: passed}, service.ECSOutcome{State: service.ECSCompleted}, ledger.StatusRolledBackByECS, "", false},
		{"failure heard, no rollback made, read unknown", ExecutionState{ECS: failed, ECSRollback: noRollback}, service.ECSOutcome{}, ledger.StatusFailed, service.StepDeploy, false},
		{"failure polled, rollback read", ExecutionState{ECSPoll: &ECSResult{Status: "FAILED", DeploymentID: "ecs-svc/2", Polls: 2}}, service.ECSOutcome{State: service.ECSFailed, Rollback: service.ECSCompleted}, ledger.StatusRolledBackByECS, "", false},
		{"completion heard, rollback read after the bake", ExecutionState{ECS: completed, Bake: passed}, service.ECSOutcome{State: service.ECSFailed, Rollback: service.ECSCompleted}, ledger.StatusRolledBackByECS, "", false},
		{"completion heard, the read lags", ExecutionState{ECS: completed, Bake: passed}, service.ECSOutcome{State: service.ECSInProgress}, ledger.StatusSucceeded, "", false},
		{"completion of another deployment heard", ExecutionState{ECS: json.RawMessage(rolledBack), Bake: passed}, service.ECSOutcome{State: service.ECSInProgress}, "", "", true},
		{"a poll of the rollback is not the rollout's", ExecutionState{ECS: completed, ECSPoll: &ECSResult{Status: "FAILED", DeploymentID: "ecs-svc/3"}, Bake: passed}, service.ECSOutcome{State: service.ECSCompleted}, ledger.StatusSucceeded, "", false},
	}
	for _, tt := range tests {
		e := service.Evidence{Bakes: true, ECS: withHeard(tt.read, heardECS(tt.es, rec))}
		if tt.es.Bake != nil {
			e.Bake = service.BakePassed
		}
		v := service.Decide(e)
		if v.Done == tt.undec || v.Status != tt.want || v.Step != tt.step {
			t.Errorf("%s: %+v from %+v, want %q step %q", tt.name, v, e.ECS, tt.want, tt.step)
		}
	}
}
