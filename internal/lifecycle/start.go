package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

// Drainers, as Action.DrainedBy names them.
const (
	DrainedByWorkflow  = "ecsplane"
	DrainedByECS       = "ECS managed instance draining"
	DrainedByOther     = "already DRAINING"
	claimPrefix        = "lifecycle:"
	claimBeyondTimeout = time.Hour
)

// Start reads a lifecycle action event and begins its run. It refuses an
// event of another group or hook before any call, claims the action's
// token, sets the deadline from the hook's timeouts, and checks that the
// instance still waits on the hook. pollSeconds is the wait between two
// rounds. A launch whose instance has already
// joined the cluster is ready at once. A terminate sets the instance's
// container instance DRAINING, unless something already drains it, and
// notes its tasks and their targets.
func (h *Handler) Start(ctx context.Context, raw json.RawMessage, execution string, pollSeconds int) (*Run, error) {
	ev, err := events.ParseLifecycleAction(raw)
	if err != nil {
		return nil, err
	}
	run, limit, err := h.newRun(ev, execution)
	if err != nil {
		return nil, err
	}
	run.Action.PollSeconds = max(pollSeconds, 0)
	a, p := &run.Action, &run.Progress
	log := h.log().With("instance_id", a.InstanceID, "kind", a.Kind, "execution_arn", execution)
	owner, err := h.claim(ctx, a.Token, execution, limit)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		p.State, p.Owner = StateDuplicate, owner
		p.Detail = fmt.Sprintf("the %s of %s is already handled by execution %s", a.Kind, a.InstanceID, owner)
		log.InfoContext(ctx, "lifecycle action already claimed", "owner", owner)
		return run, nil
	}
	hb, global, gone, err := h.hookTimeouts(ctx, a)
	if err != nil {
		return nil, err
	}
	if gone != "" {
		return run.gone(gone), nil
	}
	a.HeartbeatTimeout = int32(hb / time.Second)
	a.DeadlineAt = a.StartedAt.Add(deadline(limit, hb, global))
	zone, gone, beat, err := h.member(ctx, a)
	if err != nil {
		return nil, err
	}
	if gone != "" {
		return run.gone(gone), nil
	}
	if beat {
		p.HeartbeatAt = p.CheckedAt
		p.Heartbeats++
	}
	a.Zone = zone
	ci, err := h.containerInstance(ctx, a)
	if err != nil {
		return nil, err
	}
	if a.Kind == KindLaunch {
		ok, detail := joined(ci)
		if ok {
			p.State = StateReady
		}
		p.Detail = detail
		log.InfoContext(ctx, "launch waits for the cluster", "ready", ok, "deadline", a.DeadlineAt)
		return run, nil
	}
	return run, h.drain(ctx, run, ci)
}

// newRun builds the run of a well-formed event, refusing one that is not
// for the stack's group and hook. limit is the configured deadline of the
// action's kind.
func (h *Handler) newRun(ev events.Event[events.LifecycleAction], execution string) (*Run, time.Duration, error) {
	d := ev.Detail
	kind, limit, result := KindLaunch, h.Config.LaunchDeadline, ResultAbandon
	if d.LifecycleTransition == events.TransitionTerminating {
		kind, limit, result = KindDrain, h.Config.DrainDeadline, h.Config.DrainDeadlineResult
	}
	hook := hookName(h.Stack, kind)
	var problems []string
	if g := groupName(h.Stack); d.AutoScalingGroupName != g {
		problems = append(problems, fmt.Sprintf("group %q is not %q, the group of stack %s", d.AutoScalingGroupName, g, h.Stack))
	}
	if d.LifecycleHookName != hook {
		problems = append(problems, fmt.Sprintf("hook %q is not %q, the stack's %s hook", d.LifecycleHookName, hook, kind))
	}
	if execution == "" {
		problems = append(problems, "executionArn is missing: the claim on the action needs an owner")
	}
	if len(problems) > 0 {
		return nil, 0, handlererr.Invalid(problems...)
	}
	return &Run{
		Action: Action{
			Kind: kind, Token: d.LifecycleActionToken, Group: d.AutoScalingGroupName, Hook: d.LifecycleHookName,
			InstanceID: d.EC2InstanceID, Cluster: clusterName(h.Stack), StartedAt: ev.Time.UTC(), DeadlineResult: result,
		},
		Progress: Progress{State: StateWaiting, CheckedAt: h.now()},
	}, limit, nil
}

// deadline is the configured limit, clamped to end two heartbeat timeouts
// before the hook's global timeout, so the policy always acts before Auto
// Scaling would apply the hook's default result.
func deadline(limit, heartbeat, global time.Duration) time.Duration {
	if latest := global - 2*heartbeat; latest > 0 && latest < limit {
		return latest
	}
	return limit
}

// claim takes the action's token for execution, and returns the owner
// when another execution holds it. A claim by the same execution is its
// own retried start.
func (h *Handler) claim(ctx context.Context, token, execution string, limit time.Duration) (string, error) {
	_, err := h.Ledger.ClaimKey(ctx, claimPrefix+token, execution, limit+claimBeyondTimeout)
	var dup *ledger.DuplicateError
	switch {
	case errors.As(err, &dup) && dup.Claim.Owner == execution:
		return "", nil
	case errors.As(err, &dup):
		return dup.Claim.Owner, nil
	case err != nil:
		return "", fmt.Errorf("claiming lifecycle action %s: %w", token, err)
	}
	return "", nil
}

// drain starts a terminate's drain: it sets the container instance
// DRAINING unless it already is or ECS's managed draining drains it, then
// notes its tasks and their targets.
func (h *Handler) drain(ctx context.Context, run *Run, ci *ecstypes.ContainerInstance) error {
	a, p := &run.Action, &run.Progress
	if ci == nil {
		p.State, p.Detail = StateReady, fmt.Sprintf("instance %s has no container instance in cluster %s: nothing to drain", a.InstanceID, a.Cluster)
		return nil
	}
	a.ContainerInstanceARN = aws.ToString(ci.ContainerInstanceArn)
	managed, err := h.managedDraining(ctx, ci)
	if err != nil {
		return err
	}
	switch {
	case managed:
		a.DrainedBy = DrainedByECS
	case aws.ToString(ci.Status) == string(ecstypes.ContainerInstanceStatusDraining):
		a.DrainedBy = DrainedByOther
	default:
		out, err := h.Clients.ECS.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
			Cluster: aws.String(a.Cluster), ContainerInstances: []string{a.ContainerInstanceARN}, Status: ecstypes.ContainerInstanceStatusDraining,
		})
		if err != nil {
			return fmt.Errorf("draining container instance %s: %w", a.ContainerInstanceARN, err)
		}
		if len(out.Failures) > 0 {
			run.gone(fmt.Sprintf("container instance %s could not be drained: %s", a.ContainerInstanceARN, aws.ToString(out.Failures[0].Reason)))
			return nil
		}
		a.DrainedBy = DrainedByWorkflow
		h.log().InfoContext(ctx, "draining container instance", "instance_id", a.InstanceID, "container_instance", a.ContainerInstanceARN, "zone", a.Zone)
	}
	tasks, err := h.tasks(ctx, a)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		a.Tasks = append(a.Tasks, aws.ToString(t.TaskArn))
	}
	if a.Targets, err = h.targets(ctx, a, tasks); err != nil {
		return err
	}
	p.TasksLeft = len(tasks)
	p.Detail = fmt.Sprintf("%s drains %d tasks with %d targets", a.DrainedBy, len(a.Tasks), len(a.Targets))
	if len(tasks) == 0 {
		p.State = StateReady
	}
	return nil
}

// gone ends the run: the instance or its action no longer exists. An empty
// reason leaves it as it is.
func (r *Run) gone(reason string) *Run {
	if reason != "" {
		r.Progress.State, r.Progress.Detail = StateGone, reason
	}
	return r
}
