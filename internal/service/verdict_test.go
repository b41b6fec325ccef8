package service

import (
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// TestDecide walks every combination of ECS's verdict and rollback, the
// bake, the control plane's rollback and a failed step that a rollout or a
// build can end with.
func TestDecide(t *testing.T) {
	completed := ECSOutcome{State: ECSCompleted, Reason: "ECS deployment ecs-svc/2 completed."}
	breaker := "ECS deployment circuit breaker: task failed to start."
	rolledBack := ECSOutcome{State: ECSFailed, Reason: breaker, Rollback: ECSCompleted, RollbackReason: "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."}
	tests := []struct {
		name   string
		e      Evidence
		done   bool
		status ledger.Status
		step   string
		reason []string
	}{
		{"a good image", Evidence{Bakes: true, ECS: completed, Bake: BakePassed}, true, ledger.StatusSucceeded, "", []string{"completed", "the bake passed"}},
		{"the build's deployment, which has no bake", Evidence{ECS: completed}, true, ledger.StatusSucceeded, "", []string{"completed"}},
		{"ECS still rolling out", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSInProgress, Reason: "1 of 2 running"}}, false, "", "", []string{"1 of 2 running"}},
		{"ECS completed, no bake yet", Evidence{Bakes: true, ECS: completed}, false, "", "", nil},
		{"the circuit breaker rolled back", Evidence{Bakes: true, ECS: rolledBack}, true, ledger.StatusRolledBackByECS, "", []string{breaker, "rolling back to deploymentId ecs-svc/1"}},
		{"ECS rolled back, whatever the bake says", Evidence{Bakes: true, ECS: rolledBack, Bake: BakePassed}, true, ledger.StatusRolledBackByECS, "", []string{breaker}},
		{"ECS rolled back and a later step failed", Evidence{Bakes: true, ECS: rolledBack, Failure: "boom", Step: StepBake}, true, ledger.StatusRolledBackByECS, "", []string{breaker}},
		{"ECS rolled back by its alarms", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSFailed, Reason: "ECS deployment alarms: web-target-5xx in ALARM state.", Rollback: ECSCompleted}}, true, ledger.StatusRolledBackByECS, "", []string{"web-target-5xx in ALARM"}},
		{"ECS's rollback still running", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSFailed, Reason: breaker, Rollback: ECSInProgress}}, true, ledger.StatusRolledBackByECS, "", []string{breaker, "had not finished"}},
		{"ECS's rollback failed", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSFailed, Reason: breaker, Rollback: ECSFailed, RollbackReason: "no capacity"}}, true, ledger.StatusFailed, StepECSRollback, []string{breaker, "no capacity"}},
		{"ECS failed without a rollback", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSFailed, Reason: breaker}}, true, ledger.StatusFailed, StepDeploy, []string{"did not roll it back", breaker}},
		{"ECS stopped the deployment", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSStopped, Reason: "replaced"}}, true, ledger.StatusFailed, StepDeploy, []string{"replaced"}},
		{"the bake alarmed and the rollback completed", Evidence{Bakes: true, ECS: completed, Bake: BakeAlarm, BakeReason: "web-target-5xx went to ALARM", Rollback: ECSOutcome{State: ECSCompleted}}, true, ledger.StatusRolledBack, "", []string{"web-target-5xx went to ALARM", "previous revision again"}},
		{"the bake alarmed and the rollback failed", Evidence{Bakes: true, ECS: completed, Bake: BakeAlarm, BakeReason: "alarm", Rollback: ECSOutcome{State: ECSFailed, Reason: "circuit breaker"}}, true, ledger.StatusFailed, StepRollback, []string{"alarm", "did not complete (failed): circuit breaker"}},
		{"the bake alarmed and nothing rolled back", Evidence{Bakes: true, ECS: completed, Bake: BakeAlarm, BakeReason: "alarm"}, true, ledger.StatusFailed, StepBake, []string{"was not rolled back"}},
		{"the bake could not watch and the rollback completed", Evidence{Bakes: true, ECS: completed, Bake: BakeError, BakeReason: "DescribeAlarms denied", Rollback: ECSOutcome{State: ECSCompleted}}, true, ledger.StatusRolledBack, "", []string{"DescribeAlarms denied"}},
		{"a step failed after the update, rolled back", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSStopped}, Failure: "RetryableError: throttled", Step: StepDeploy, Rollback: ECSOutcome{State: ECSCompleted}}, true, ledger.StatusRolledBack, "", []string{"step deploy failed: RetryableError: throttled"}},
		{"a step failed before any change", Evidence{Bakes: true, Failure: "register: invalid", Step: StepDeploy}, true, ledger.StatusFailed, StepDeploy, []string{"register: invalid"}},
		{"prepare failed", Evidence{Bakes: true, Failure: "ledger down", Step: StepPrepare}, true, ledger.StatusFailed, StepPrepare, []string{"ledger down"}},
		{"skipped", Evidence{Bakes: true, Decided: ledger.StatusSkipped, DecidedReason: "the service already runs sha256:aa"}, true, ledger.StatusSkipped, "", []string{"already runs"}},
		{"superseded", Evidence{Bakes: true, Decided: ledger.StatusSuperseded, DecidedReason: "a newer push"}, true, ledger.StatusSuperseded, "", []string{"newer push"}},
		{"blocked by the gate", Evidence{Bakes: true, Decided: ledger.StatusBlocked, DecidedReason: "web-elb-5xx stayed in ALARM"}, true, ledger.StatusBlocked, "", []string{"stayed in ALARM"}},
		{"ECS rolled back, though Prepare decided before", Evidence{Bakes: true, Decided: ledger.StatusSkipped, DecidedReason: "already runs", ECS: rolledBack}, true, ledger.StatusRolledBackByECS, "", []string{breaker}},
		{"ECS's rollback still running, though Prepare decided before", Evidence{Bakes: true, Decided: ledger.StatusSuperseded, ECS: ECSOutcome{State: ECSFailed, Reason: breaker, Rollback: ECSInProgress}}, true, ledger.StatusRolledBackByECS, "", []string{breaker}},
		{"ECS's rollback failed, though Prepare decided before", Evidence{Bakes: true, Decided: ledger.StatusBlocked, ECS: ECSOutcome{State: ECSFailed, Reason: breaker, Rollback: ECSFailed}}, true, ledger.StatusFailed, StepECSRollback, []string{breaker}},
		{"ECS's rollback read with a completed state", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSCompleted, Rollback: ECSCompleted, RollbackReason: "rolling back to deploymentId ecs-svc/1"}, Bake: BakePassed}, true, ledger.StatusRolledBackByECS, "", []string{"rolling back"}},
		{"a stopped deployment ECS rolled back", Evidence{Bakes: true, ECS: ECSOutcome{State: ECSStopped, Rollback: ECSCompleted}, Bake: BakePassed}, true, ledger.StatusRolledBackByECS, "", nil},
		{"a decision before the change, with ECS's verdict after it", Evidence{Bakes: true, Decided: ledger.StatusSkipped, ECS: completed, Bake: BakePassed}, true, ledger.StatusSucceeded, "", []string{"the bake passed"}},
		{"a decision before the change, with ECS's failure after it", Evidence{Bakes: true, Decided: ledger.StatusSkipped, ECS: ECSOutcome{State: ECSFailed, Reason: breaker}}, true, ledger.StatusFailed, StepDeploy, []string{breaker}},
		{"SUCCEEDED is never decided before ECS", Evidence{Bakes: true, Decided: ledger.StatusSucceeded}, false, "", "", nil},
	}
	for _, tt := range tests {
		v := Decide(tt.e)
		if v.Done != tt.done || v.Status != tt.status || v.Step != tt.step {
			t.Errorf("%s: %+v, want done=%t %q step %q", tt.name, v, tt.done, tt.status, tt.step)
		}
		for _, r := range tt.reason {
			if !strings.Contains(v.Reason, r) {
				t.Errorf("%s: reason %q lacks %q", tt.name, v.Reason, r)
			}
		}
	}
}

// TestDecideNeverSucceedsAfterAnECSRollback tries an ECS rollback in any
// state with every state of the deployment it was read with (evidence can
// arrive in any order), every outcome decided before the change, every
// bake result, our rollback and failure: none succeeds, and none ends
// otherwise than by ECS's rollback.
func TestDecideNeverSucceedsAfterAnECSRollback(t *testing.T) {
	decided := []ledger.Status{"", ledger.StatusSucceeded, ledger.StatusSkipped, ledger.StatusSuperseded, ledger.StatusBlocked, ledger.StatusFailed, ledger.StatusAborted}
	for _, state := range []ECSState{ECSUnknown, ECSInProgress, ECSCompleted, ECSFailed, ECSStopped} {
		for _, rb := range []ECSState{ECSInProgress, ECSCompleted, ECSFailed} {
			for _, d := range decided {
				for _, bakes := range []bool{true, false} {
					for _, bake := range []BakeResult{BakeNotRun, BakePassed, BakeAlarm, BakeError} {
						for _, ours := range []ECSState{ECSUnknown, ECSInProgress, ECSCompleted, ECSFailed} {
							for _, failure := range []string{"", "boom"} {
								e := Evidence{Bakes: bakes, Decided: d, ECS: ECSOutcome{State: state, Rollback: rb}, Bake: bake, Rollback: ECSOutcome{State: ours}, Failure: failure, Step: StepBake}
								v := Decide(e)
								want := ledger.StatusRolledBackByECS
								if rb == ECSFailed {
									want = ledger.StatusFailed
								}
								if !v.Done || v.Status != want {
									t.Errorf("%+v: %+v, want %s", e, v, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestDecideNeverSucceedsWithoutECS: no evidence short of ECS's completed
// deployment succeeds, whatever was decided before.
func TestDecideNeverSucceedsWithoutECS(t *testing.T) {
	for _, state := range []ECSState{ECSUnknown, ECSInProgress, ECSFailed, ECSStopped} {
		for _, d := range []ledger.Status{"", ledger.StatusSucceeded, ledger.StatusSkipped} {
			for _, bake := range []BakeResult{BakeNotRun, BakePassed} {
				e := Evidence{Bakes: true, Decided: d, ECS: ECSOutcome{State: state}, Bake: bake}
				if v := Decide(e); v.Status == ledger.StatusSucceeded {
					t.Errorf("%+v: %+v", e, v)
				}
			}
		}
	}
}
