package sim

import (
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	handle(asgID, "PutLifecycleHook", (*Sim).putLifecycleHook)
	handle(asgID, "DescribeLifecycleHooks", (*Sim).describeLifecycleHooks)
	handle(asgID, "DeleteLifecycleHook", (*Sim).deleteLifecycleHook)
	handle(asgID, "DescribeLifecycleHookTypes", (*Sim).describeLifecycleHookTypes)
	handle(asgID, "CompleteLifecycleAction", (*Sim).completeLifecycleAction)
	handle(asgID, "RecordLifecycleActionHeartbeat", (*Sim).recordLifecycleActionHeartbeat)
}

// Lifecycle transitions and results, as the API names them.
const (
	launchTransition    = "autoscaling:EC2_INSTANCE_LAUNCHING"
	terminateTransition = "autoscaling:EC2_INSTANCE_TERMINATING"
	resultContinue      = "CONTINUE"
	resultAbandon       = "ABANDON"
)

// Lifecycle hook limits, as AWS documents them.
const (
	defaultHeartbeat = 3600
	minHeartbeat     = 30
	maxHeartbeat     = 7200
	maxGlobalTimeout = 48 * time.Hour
	maxHooksPerGroup = 50
)

// lifecycleHook is a group's lifecycle hook.
type lifecycleHook struct {
	name          string
	transition    string
	defaultResult string
	heartbeat     int32
	metadata      string
	targetARN     string
	roleARN       string
}

// globalTimeout is the longest an instance can wait on the hook, however
// many heartbeats are recorded: 100 heartbeat timeouts, at most 48 hours.
func (h *lifecycleHook) globalTimeout() time.Duration {
	return min(100*time.Duration(h.heartbeat)*time.Second, maxGlobalTimeout)
}

// lifecycleAction is one instance's wait on one hook.
type lifecycleAction struct {
	token          string
	hook           *lifecycleHook
	deadline       time.Time
	globalDeadline time.Time
	timer          *timer
	result         string
}

// newLifecycleHook validates a hook definition. prev is the hook being
// updated, whose settings apply where the call leaves a field out.
func newLifecycleHook(name, transition, defaultResult *string, heartbeat *int32, metadata, target, role *string, prev *lifecycleHook) (*lifecycleHook, error) {
	h := &lifecycleHook{name: aws.ToString(name), defaultResult: resultAbandon, heartbeat: defaultHeartbeat}
	if prev != nil {
		c := *prev
		h = &c
	}
	if transition != nil {
		h.transition = *transition
	}
	if h.transition != launchTransition && h.transition != terminateTransition {
		return nil, validationError("Invalid Lifecycle Transition %s", h.transition)
	}
	if defaultResult != nil {
		if *defaultResult != resultContinue && *defaultResult != resultAbandon {
			return nil, validationError("Valid values for DefaultResult are CONTINUE or ABANDON")
		}
		h.defaultResult = *defaultResult
	}
	if heartbeat != nil {
		if *heartbeat < minHeartbeat || *heartbeat > maxHeartbeat {
			return nil, validationError("Heartbeat timeout must be between %d and %d seconds", minHeartbeat, maxHeartbeat)
		}
		h.heartbeat = *heartbeat
	}
	if metadata != nil {
		h.metadata = *metadata
	}
	if target != nil {
		h.targetARN = *target
	}
	if role != nil {
		h.roleARN = *role
	}
	return h, nil
}

// hooksFor returns the group's hooks for a transition, in name order.
func (g *asGroup) hooksFor(transition string) []*lifecycleHook {
	var out []*lifecycleHook
	for _, h := range g.hooks {
		if h.transition == transition {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// asgWait puts an instance into a wait state on every hook for its
// transition. All hooks are notified at once; the instance moves on when the
// last one completes.
func (s *Sim) asgWait(g *asGroup, ai *asgInstance, state types.LifecycleState, hooks []*lifecycleHook) {
	s.setASGInstanceState(g, ai, state)
	if ai.activity != nil {
		ai.activity.status = types.ScalingActivityStatusCodeMidLifecycleAction
	}
	for _, h := range hooks {
		a := &lifecycleAction{
			token: s.newUUID(), hook: h,
			deadline:       s.clock.now.Add(time.Duration(h.heartbeat) * time.Second),
			globalDeadline: s.clock.now.Add(h.globalTimeout()),
		}
		ai.actions = append(ai.actions, a)
		a.timer = s.after(a.deadline.Sub(s.clock.now), func() { s.lifecycleTimeout(g, ai, a) })
		origin, dest := "EC2", "AutoScalingGroup"
		if h.transition == terminateTransition {
			origin, dest = "AutoScalingGroup", "EC2"
		}
		s.emit([]string{g.arn}, events.LifecycleAction{
			LifecycleActionToken: a.token, AutoScalingGroupName: g.name, LifecycleHookName: h.name, EC2InstanceID: ai.id,
			LifecycleTransition: h.transition, NotificationMetadata: h.metadata, Origin: origin, Destination: dest,
		})
	}
}

// lifecycleTimeout applies a hook's default result when its heartbeat
// timeout passes without a completion.
func (s *Sim) lifecycleTimeout(g *asGroup, ai *asgInstance, a *lifecycleAction) {
	if a.result != "" {
		return
	}
	s.log.Debug("sim_lifecycle_timeout", "group", g.name, "instance_id", ai.id, "hook", a.hook.name, "result", a.hook.defaultResult)
	s.finishAction(g, ai, a, a.hook.defaultResult)
}

// finishAction records a hook's result and, once every hook of the wait has
// one, moves the instance on. ABANDON ends the remaining hooks at once:
// "ABANDON stops any remaining actions, such as other lifecycle hooks, and
// CONTINUE allows any other lifecycle hooks to complete."
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/completing-lifecycle-hooks.html
func (s *Sim) finishAction(g *asGroup, ai *asgInstance, a *lifecycleAction, result string) {
	a.result = result
	a.timer.stop()
	if result == resultAbandon {
		for _, other := range ai.actions {
			if other.result == "" {
				other.result = resultAbandon
				other.timer.stop()
			}
		}
	}
	abandoned := false
	for _, other := range ai.actions {
		if other.result == "" {
			return
		}
		if other.result == resultAbandon {
			abandoned = true
		}
	}
	ai.actions = nil
	switch ai.state {
	case types.LifecycleStatePendingWait:
		if abandoned {
			if act := ai.activity; act != nil {
				act.finish(s.clock.now, types.ScalingActivityStatusCodeCancelled, "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token "+a.token+" was abandoned: Lifecycle Action Completed with ABANDON Result")
				s.emitActivity(g, act, "EC2 Instance Launch Unsuccessful", string(types.ScalingActivityStatusCodeCancelled), ai.id, true)
				ai.activity = nil
			}
			s.asgBeginTerminate(g, ai, s.causef("an instance was taken out of service in response to a launch lifecycle action that was abandoned."))
			s.asgKick(g, s.timings.ScalingReaction)
			return
		}
		s.asgProceedLaunch(g, ai)
	case types.LifecycleStateTerminatingWait:
		s.asgProceedTerminate(g, ai)
	}
}

func (s *Sim) putLifecycleHook(in *autoscaling.PutLifecycleHookInput) (*autoscaling.PutLifecycleHookOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	prev := g.hooks[aws.ToString(in.LifecycleHookName)]
	if prev == nil && len(g.hooks) >= maxHooksPerGroup {
		return nil, &types.LimitExceededFault{Message: aws.String("Already at maximum number of lifecycle hooks for this Auto Scaling group.")}
	}
	h, err := newLifecycleHook(in.LifecycleHookName, in.LifecycleTransition, in.DefaultResult, in.HeartbeatTimeout, in.NotificationMetadata, in.NotificationTargetARN, in.RoleARN, prev)
	if err != nil {
		return nil, err
	}
	g.hooks[h.name] = h
	return &autoscaling.PutLifecycleHookOutput{}, nil
}

func (s *Sim) hookOut(g *asGroup, h *lifecycleHook) types.LifecycleHook {
	out := types.LifecycleHook{
		AutoScalingGroupName: aws.String(g.name), LifecycleHookName: aws.String(h.name), LifecycleTransition: aws.String(h.transition),
		DefaultResult: aws.String(h.defaultResult), HeartbeatTimeout: aws.Int32(h.heartbeat), GlobalTimeout: aws.Int32(int32(h.globalTimeout() / time.Second)),
	}
	if h.metadata != "" {
		out.NotificationMetadata = aws.String(h.metadata)
	}
	if h.targetARN != "" {
		out.NotificationTargetARN = aws.String(h.targetARN)
	}
	if h.roleARN != "" {
		out.RoleARN = aws.String(h.roleARN)
	}
	return out
}

func (s *Sim) describeLifecycleHooks(in *autoscaling.DescribeLifecycleHooksInput) (*autoscaling.DescribeLifecycleHooksOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	out := &autoscaling.DescribeLifecycleHooksOutput{LifecycleHooks: []types.LifecycleHook{}}
	names := make([]string, 0, len(g.hooks))
	for n := range g.hooks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(in.LifecycleHookNames) == 0 || containsString(in.LifecycleHookNames, n) {
			out.LifecycleHooks = append(out.LifecycleHooks, s.hookOut(g, g.hooks[n]))
		}
	}
	return out, nil
}

func (s *Sim) deleteLifecycleHook(in *autoscaling.DeleteLifecycleHookInput) (*autoscaling.DeleteLifecycleHookOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.LifecycleHookName)
	h, ok := g.hooks[name]
	if !ok {
		return nil, validationError("No Lifecycle Hook found with name %s for group %s", name, g.name)
	}
	delete(g.hooks, name)
	// Instances waiting on the deleted hook continue as if it had completed
	// with its default result.
	for _, ai := range g.sortedInstances() {
		for _, a := range ai.actions {
			if a.hook == h && a.result == "" {
				s.finishAction(g, ai, a, h.defaultResult)
				break
			}
		}
	}
	return &autoscaling.DeleteLifecycleHookOutput{}, nil
}

func (s *Sim) describeLifecycleHookTypes(*autoscaling.DescribeLifecycleHookTypesInput) (*autoscaling.DescribeLifecycleHookTypesOutput, error) {
	return &autoscaling.DescribeLifecycleHookTypesOutput{LifecycleHookTypes: []string{launchTransition, terminateTransition}}, nil
}

// findAction locates the pending action a Complete or Heartbeat call names,
// by token or by instance ID.
func (s *Sim) findAction(groupName, hookName, token, instanceID *string) (*asGroup, *asgInstance, *lifecycleAction, error) {
	g, err := s.findGroup(groupName)
	if err != nil {
		return nil, nil, nil, err
	}
	hook := aws.ToString(hookName)
	if _, ok := g.hooks[hook]; !ok {
		return nil, nil, nil, validationError("No Lifecycle Hook found with name %s for group %s", hook, g.name)
	}
	for _, ai := range g.sortedInstances() {
		for _, a := range ai.actions {
			if a.hook.name != hook || a.result != "" {
				continue
			}
			if (token != nil && a.token == *token) || (token == nil && instanceID != nil && ai.id == *instanceID) {
				return g, ai, a, nil
			}
		}
	}
	if token != nil {
		return nil, nil, nil, validationError("No active Lifecycle Action found with token %s", *token)
	}
	if instanceID != nil {
		return nil, nil, nil, validationError("No active Lifecycle Action found with instance ID %s", *instanceID)
	}
	return nil, nil, nil, validationError("Either LifecycleActionToken or InstanceId must be specified.")
}

func (s *Sim) completeLifecycleAction(in *autoscaling.CompleteLifecycleActionInput) (*autoscaling.CompleteLifecycleActionOutput, error) {
	result := aws.ToString(in.LifecycleActionResult)
	if result != resultContinue && result != resultAbandon {
		return nil, validationError("Valid values for LifecycleActionResult are CONTINUE or ABANDON")
	}
	g, ai, a, err := s.findAction(in.AutoScalingGroupName, in.LifecycleHookName, in.LifecycleActionToken, in.InstanceId)
	if err != nil {
		return nil, err
	}
	s.finishAction(g, ai, a, result)
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

func (s *Sim) recordLifecycleActionHeartbeat(in *autoscaling.RecordLifecycleActionHeartbeatInput) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	g, ai, a, err := s.findAction(in.AutoScalingGroupName, in.LifecycleHookName, in.LifecycleActionToken, in.InstanceId)
	if err != nil {
		return nil, err
	}
	next := s.clock.now.Add(time.Duration(a.hook.heartbeat) * time.Second)
	if next.After(a.globalDeadline) {
		next = a.globalDeadline
	}
	a.deadline = next
	a.timer.stop()
	a.timer = s.after(next.Sub(s.clock.now), func() { s.lifecycleTimeout(g, ai, a) })
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, nil
}
