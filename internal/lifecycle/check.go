package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Check is one round of the wait loop. The run is ready once a launch's
// instance has joined the cluster, or once every task a drain found is
// STOPPED and none of their targets takes or drains traffic. Otherwise,
// past the deadline, the deadline policy acts; before it, the hook gets a
// heartbeat when one is due.
func (h *Handler) Check(ctx context.Context, run *Run) (*Progress, error) {
	a, p := &run.Action, run.Progress
	now := h.now()
	// The last round's length stands for the next one's, and the state
	// machine's wait is the least it can be.
	round := max(now.Sub(p.CheckedAt), time.Duration(a.PollSeconds)*time.Second)
	p.Round++
	p.CheckedAt = now
	_, gone, beat, err := h.member(ctx, a)
	if err != nil {
		return nil, err
	}
	if gone != "" {
		p.State, p.Detail = StateGone, gone
		return &p, nil
	}
	if beat {
		p.HeartbeatAt = now
		p.Heartbeats++
	}
	ready, detail, err := h.ready(ctx, a, &p)
	if err != nil {
		return nil, err
	}
	elapsed := now.Sub(a.StartedAt).Round(time.Second)
	switch {
	case ready:
		p.State, p.Detail = StateReady, fmt.Sprintf("%s after %s", detail, elapsed)
	case !now.Before(a.DeadlineAt):
		p.State = StateDeadline
		p.Detail = fmt.Sprintf("the %s deadline of %s passed: %s", a.Kind, a.DeadlineAt.Sub(a.StartedAt).Round(time.Second), detail)
	default:
		p.State, p.Detail = StateWaiting, detail
		if heartbeatDue(a, &p, now, round) {
			gone, err := h.heartbeat(ctx, a)
			if err != nil {
				return nil, err
			}
			if gone != "" {
				p.State, p.Detail = StateGone, gone
				return &p, nil
			}
			p.HeartbeatAt = now
			p.Heartbeats++
		}
	}
	h.log().InfoContext(ctx, "checked lifecycle action", "instance_id", a.InstanceID, "kind", a.Kind, "state", p.State, "round", p.Round, "detail", p.Detail)
	return &p, nil
}

// ready says whether the action can complete with CONTINUE.
func (h *Handler) ready(ctx context.Context, a *Action, p *Progress) (bool, string, error) {
	if a.Kind == KindLaunch {
		ci, err := h.containerInstance(ctx, a)
		if err != nil {
			return false, "", err
		}
		ok, detail := joined(ci)
		return ok, detail, nil
	}
	if a.ContainerInstanceARN == "" {
		return true, "nothing to drain", nil
	}
	running, err := h.tasks(ctx, a)
	if err != nil {
		return false, "", err
	}
	left, err := h.targetsLeft(ctx, a, running)
	if err != nil {
		return false, "", err
	}
	p.TasksLeft = len(running)
	if len(running) == 0 && len(left) == 0 {
		return true, fmt.Sprintf("%d tasks STOPPED and their targets drained", len(a.Tasks)), nil
	}
	var parts []string
	for _, t := range running {
		parts = append(parts, fmt.Sprintf("%s %s", lastSegment(aws.ToString(t.TaskArn)), aws.ToString(t.LastStatus)))
	}
	return false, fmt.Sprintf("%d tasks not STOPPED [%s]; %d targets not drained [%s]", len(running), strings.Join(parts, ", "), len(left), strings.Join(left, ", ")), nil
}

// heartbeatDue reports whether the hook needs a heartbeat now: by the next
// round, as long as the last one, half the heartbeat timeout would have
// passed since the last heartbeat or the action's start.
func heartbeatDue(a *Action, p *Progress, now time.Time, round time.Duration) bool {
	last := p.HeartbeatAt
	if last.Before(a.StartedAt) {
		last = a.StartedAt
	}
	return now.Sub(last)+round >= time.Duration(a.HeartbeatTimeout)*time.Second/2
}

// heartbeat extends the hook's timeout, or says why the action is gone.
func (h *Handler) heartbeat(ctx context.Context, a *Action) (string, error) {
	_, err := h.Clients.AutoScaling.RecordLifecycleActionHeartbeat(ctx, heartbeatInput(a))
	if err == nil {
		h.log().InfoContext(context.WithoutCancel(ctx), "recorded lifecycle heartbeat", "instance_id", a.InstanceID, "hook", a.Hook)
		return "", nil
	}
	return h.ended(ctx, a, "recording a heartbeat", err)
}

// ended tells an action that ended from a failed call on it. Auto Scaling
// answers a token that is no longer valid with a ValidationError that has
// no code of its own, so the instance's state decides.
func (h *Handler) ended(ctx context.Context, a *Action, doing string, err error) (string, error) {
	if awserr.Code(err) == "ValidationError" {
		if _, gone, merr := h.listed(ctx, a); merr == nil && gone != "" {
			return gone, nil
		}
	}
	return "", fmt.Errorf("%s for %s on %s: %w", doing, a.InstanceID, a.Hook, err)
}

// Complete completes the lifecycle action: with CONTINUE when the run is
// ready, with the deadline's result when the deadline passed. The notice
// the state machine publishes says what the deadline policy did.
func (h *Handler) Complete(ctx context.Context, run *Run) (*Progress, error) {
	a, p := &run.Action, run.Progress
	p.CheckedAt = h.now()
	result := ResultContinue
	switch p.State {
	case StateReady:
	case StateDeadline:
		result, p.Deadline = a.DeadlineResult, true
	default:
		return nil, handlererr.Invalid(fmt.Sprintf("complete needs a run that is %s or %s, not %s", StateReady, StateDeadline, p.State))
	}
	_, err := h.Clients.AutoScaling.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(a.Group), LifecycleHookName: aws.String(a.Hook), LifecycleActionToken: aws.String(a.Token),
		InstanceId: aws.String(a.InstanceID), LifecycleActionResult: aws.String(result),
	})
	if err != nil {
		gone, err := h.ended(ctx, a, "completing the lifecycle action", err)
		if err != nil {
			return nil, err
		}
		p.State, p.Detail = StateGone, gone
		return &p, nil
	}
	p.State, p.Result = StateCompleted, result
	if p.Deadline {
		p.Notice = fmt.Sprintf("ecsplane: the %s of instance %s (%s) in group %s hit its deadline: %s. Its lifecycle action was completed with %s.",
			a.Kind, a.InstanceID, a.Zone, a.Group, p.Detail, result)
	}
	h.log().InfoContext(ctx, "completed lifecycle action", "instance_id", a.InstanceID, "kind", a.Kind, "result", result, "deadline", p.Deadline)
	return &p, nil
}

func lastSegment(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}
