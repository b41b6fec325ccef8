package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
)

// CleanupConfig is what the cleanup function reads from its environment.
type CleanupConfig struct {
	TableName string `env:"TABLE_NAME"`
	// StateMachineARN is the rollout state machine, whose executions the
	// function cleans up after.
	StateMachineARN string `env:"STATE_MACHINE_ARN"`
}

// RevertAPI is what returning a service to its previous revision calls.
type RevertAPI interface {
	service.ServicesAPI
	service.UpdateAPI
	service.ServiceDeploymentsAPI
	StopAPI
}

// Cleanup is the cleanup function: the rule on the rollout state machine's
// own "Step Functions Execution Status Change" events (FAILED, TIMED_OUT,
// ABORTED) invokes it, so that an execution stopped from the console,
// killed by a timeout or failed in a way its Catch clauses did not handle
// leaves neither a lease nor an unfinished record behind.
type Cleanup struct {
	Ledger *ledger.Ledger
	ECS    RevertAPI
	// Stack is the stack whose service the control plane manages.
	Stack           string
	StateMachineARN string
	Log             *slog.Logger
}

// CleanedUp says what the cleanup function did.
type CleanedUp struct {
	Execution  string        `json:"execution"`
	Deployment string        `json:"deployment,omitempty"`
	Status     ledger.Status `json:"status,omitempty"`
	// Ended is true when the record was left unfinished and the cleanup
	// ended it.
	Ended  bool   `json:"ended"`
	Reason string `json:"reason"`
}

// Handle parses the status change strictly and cleans up after the
// execution.
func (c *Cleanup) Handle(ctx context.Context, raw json.RawMessage) (*CleanedUp, error) {
	ev, err := events.ParseExecutionStatusChange(raw)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	d := ev.Detail
	out := &CleanedUp{Execution: d.ExecutionArn}
	switch d.Status {
	case events.ExecutionFailed, events.ExecutionTimedOut, events.ExecutionAborted:
	default:
		out.Reason = fmt.Sprintf("the execution is %s: its own steps record it", d.Status)
		return out, nil
	}
	if d.StateMachineArn != c.StateMachineARN {
		out.Reason = fmt.Sprintf("an execution of %s, not of the rollout state machine %s", d.StateMachineArn, c.StateMachineARN)
		return out, nil
	}
	status, reason := ledger.StatusFailed, fmt.Sprintf("the execution %s", strings.ToLower(strings.ReplaceAll(d.Status, "_", " ")))
	if d.Status == events.ExecutionAborted {
		status, reason = ledger.StatusAborted, "the execution was stopped from outside"
	}
	if d.Error != nil && *d.Error != "" {
		reason += ": " + *d.Error
		if d.Cause != nil && *d.Cause != "" {
			reason += ": " + *d.Cause
		}
	}
	rec, err := c.Ledger.FindByExecution(ctx, c.Stack, d.ExecutionArn)
	if errors.Is(err, ledger.ErrNotFound) {
		// It ended before it recorded anything; the lease it may hold is
		// still released.
		out.Reason = "the execution recorded no deployment"
		return out, handlererr.Boundary(releaseRollout(ctx, c.Ledger, nil, &ledger.Deployment{Service: c.Stack, ExecutionARN: d.ExecutionArn}))
	}
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	out.Deployment = rec.ID
	if !rec.Status.Terminal() {
		if rec, err = Abandon(ctx, c.ECS, c.Ledger, c.Stack, rec, status, reason); err != nil {
			return nil, handlererr.Boundary(err)
		}
		out.Ended = true
	}
	out.Status, out.Reason = rec.Status, rec.Reason
	if err := releaseRollout(ctx, c.Ledger, nil, rec); err != nil {
		return nil, handlererr.Boundary(err)
	}
	c.Log.InfoContext(ctx, "rollout_cleaned_up", "execution", d.ExecutionArn, "deployment_id", rec.ID, "status", rec.Status, "ended", out.Ended)
	return out, nil
}

// Abandon ends a rollout that will reach no verdict of its own (stopped,
// failed outside its Catch clauses, aborted) with status: a revision it
// rolled out and ECS has not judged yet is stopped with ECS's own
// StopServiceDeployment and its ROLLBACK stop type; one ECS completed is
// replaced by the previous revision with UpdateService; ECS's or the
// rollout's own rollback in flight is left to finish. The record says
// which. The caller releases the lease.
//
// What it does is decided on the version of the record it ends: when a
// step changed the record meanwhile (its update reached ECS, say), it
// looks again, so an abort racing the deploy step never ends the record
// on a stale reading and leaves the step's update in place. A record that
// has ended meanwhile is an IllegalTransitionError.
func Abandon(ctx context.Context, api RevertAPI, led *ledger.Ledger, cluster string, rec *ledger.Deployment, status ledger.Status, reason string) (*ledger.Deployment, error) {
	const attempts = 5
	for i := 0; ; i++ {
		if rec.Status.Terminal() {
			return nil, &ledger.IllegalTransitionError{From: rec.Status, To: status}
		}
		did, err := revert(ctx, api, cluster, rec)
		if err != nil {
			return nil, err
		}
		ended, err := led.Transition(ctx, rec, ledger.Change{To: status, Reason: service.JoinReasons(reason, did),
			Phases: []ledger.Phase{{Phase: ledger.PhaseFinished, Detail: string(status)}}})
		if !errors.Is(err, ledger.ErrStale) || i == attempts-1 {
			return ended, err
		}
		if rec, err = led.GetDeployment(ctx, rec.Service, rec.ID); err != nil {
			return nil, err
		}
	}
}

// revert returns the service to the revision it ran before rec, as Abandon
// says, and tells what it did.
func revert(ctx context.Context, api RevertAPI, cluster string, rec *ledger.Deployment) (string, error) {
	switch {
	case rec.ServiceDeploymentARN == "" && (rec.NewTaskDef == "" || rec.PreviousTaskDef == ""):
		return "the service was not changed", nil
	case rec.ServiceDeploymentARN == "":
		// The revision is registered but the update is not recorded: it
		// may have reached ECS before its record. The service says.
		svc, err := service.DescribeService(ctx, api, cluster, rec.Service)
		if err != nil {
			return "", err
		}
		if aws.ToString(svc.TaskDefinition) != rec.NewTaskDef {
			return "the service was not changed; an update still on its way is undone by the step that sends it", nil
		}
		st, err := service.UpdateRevision(ctx, api, cluster, rec.Service, rec.PreviousTaskDef)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("the rollout's update reached the service before its record; returned the service to %s (ECS deployment %s)", rec.PreviousTaskDef, st.DeploymentID), nil
	case rec.Status == ledger.StatusRollingBack:
		return "its rollback to " + rec.PreviousTaskDef + " continues", nil
	case rec.PreviousTaskDef == "":
		return "there is no previous revision to return to", nil
	}
	o, err := service.ServiceDeploymentOutcome(ctx, api, rec.ServiceDeploymentARN)
	if err != nil {
		return "", err
	}
	switch o.State {
	case service.ECSInProgress:
		_, err := api.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{
			ServiceDeploymentArn: aws.String(rec.ServiceDeploymentARN), StopType: ecstypes.StopServiceDeploymentStopTypeRollback,
		})
		var conflict *ecstypes.ConflictException
		if err == nil {
			return fmt.Sprintf("stopped ECS deployment %s; ECS rolls the service back", rec.ECSDeploymentID), nil
		}
		if !errors.As(err, &conflict) {
			return "", fmt.Errorf("stopping service deployment %s: %w", rec.ServiceDeploymentARN, err)
		}
		// ECS refuses (it finished meanwhile, or has nothing to roll back
		// to): return to the previous revision the plain way.
	case service.ECSFailed:
		if o.Rollback != service.ECSUnknown {
			return "ECS rolled the deployment back", nil
		}
	case service.ECSStopped:
		return "a newer deployment replaced it", nil
	}
	st, err := service.UpdateRevision(ctx, api, cluster, rec.Service, rec.PreviousTaskDef)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("returned the service to %s (ECS deployment %s)", rec.PreviousTaskDef, st.DeploymentID), nil
}

// Release gives up what a rollout held: the revision lease when its
// execution still holds it, its claim on the digest (completed with its
// outcome) and its waiters.
func Release(ctx context.Context, led *ledger.Ledger, rec *ledger.Deployment) error {
	return releaseRollout(ctx, led, nil, rec)
}

// Running returns the rollout in progress on the service, if any: the
// record of the execution that holds the revision lease, or else the
// newest unfinished record of a rollout (waiting for the lease, say), and
// the lease, if someone holds it. Both are nil when nothing runs.
func Running(ctx context.Context, led *ledger.Ledger, service string) (*ledger.Deployment, *ledger.Lease, error) {
	lease, err := led.CurrentLock(ctx, service, ledger.ScopeRevision)
	if errors.Is(err, ledger.ErrNotFound) {
		lease, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if lease != nil {
		rec, err := led.FindByExecution(ctx, service, lease.Owner)
		if err == nil && !rec.Status.Terminal() {
			return rec, lease, nil
		}
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return nil, nil, err
		}
	}
	ds, _, err := led.History(ctx, service, ledger.PageRequest{Limit: 50})
	if err != nil {
		return nil, nil, err
	}
	for i := range ds {
		if d := &ds[i]; !d.Status.Terminal() && d.Bakes() {
			return d, lease, nil
		}
	}
	return nil, lease, nil
}
