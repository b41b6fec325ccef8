package sim_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// lifecycleAction is the detail of a lifecycle action event.
type lifecycleAction struct {
	LifecycleActionToken string
	AutoScalingGroupName string
	LifecycleHookName    string
	EC2InstanceID        string `json:"EC2InstanceId"`
	LifecycleTransition  string
}

// lifecycleActions returns the lifecycle action events of a kind so far.
func lifecycleActions(t testing.TB, s *sim.Sim, detailType string) []lifecycleAction {
	t.Helper()
	var out []lifecycleAction
	for _, ev := range s.Events() {
		if ev.DetailType != detailType {
			continue
		}
		var d lifecycleAction
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatalf("decoding %s: %v", detailType, err)
		}
		out = append(out, d)
	}
	return out
}

const (
	launchAction    = "EC2 Instance-launch Lifecycle Action"
	terminateAction = "EC2 Instance-terminate Lifecycle Action"
)

func hook(name, transition, defaultResult string, heartbeat int32) astypes.LifecycleHookSpecification {
	return astypes.LifecycleHookSpecification{
		LifecycleHookName: aws.String(name), LifecycleTransition: aws.String(transition),
		DefaultResult: aws.String(defaultResult), HeartbeatTimeout: aws.Int32(heartbeat),
	}
}

func TestTerminatingInstanceWaitsForLifecycleAction(t *testing.T) {
	const heartbeat = 300
	tests := []struct {
		name string
		// act runs while the instance waits; it returns how much more
		// simulated time may pass before the instance must be gone.
		act func(t *testing.T, e *env, a lifecycleAction) time.Duration
		// wantWaitFor is how long the instance must stay in
		// Terminating:Wait when nothing else completes it.
		wantWaitFor time.Duration
	}{
		{
			name: "complete by token",
			act: func(t *testing.T, e *env, a lifecycleAction) time.Duration {
				e.sim.Advance(4 * time.Minute)
				if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStateTerminatingWait {
					t.Fatalf("before completion: state %q, want Terminating:Wait", got)
				}
				_, err := e.asg.CompleteLifecycleAction(context.Background(), &autoscaling.CompleteLifecycleActionInput{
					AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("drain"),
					LifecycleActionToken: aws.String(a.LifecycleActionToken), LifecycleActionResult: aws.String("CONTINUE"),
				})
				if err != nil {
					t.Fatalf("CompleteLifecycleAction: %v", err)
				}
				return time.Minute
			},
			wantWaitFor: 4 * time.Minute,
		},
		{
			name: "complete by instance ID",
			act: func(t *testing.T, e *env, a lifecycleAction) time.Duration {
				_, err := e.asg.CompleteLifecycleAction(context.Background(), &autoscaling.CompleteLifecycleActionInput{
					AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("drain"),
					InstanceId: aws.String(a.EC2InstanceID), LifecycleActionResult: aws.String("ABANDON"),
				})
				if err != nil {
					t.Fatalf("CompleteLifecycleAction: %v", err)
				}
				return time.Minute
			},
			wantWaitFor: 0,
		},
		{
			name: "heartbeat timeout applies the default result",
			act: func(t *testing.T, e *env, a lifecycleAction) time.Duration {
				e.sim.Advance(heartbeat*time.Second - time.Second)
				if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStateTerminatingWait {
					t.Fatalf("just before the timeout: state %q, want Terminating:Wait", got)
				}
				return 2 * time.Minute
			},
			wantWaitFor: heartbeat * time.Second,
		},
		{
			name: "heartbeats extend the wait",
			act: func(t *testing.T, e *env, a lifecycleAction) time.Duration {
				for range 3 {
					e.sim.Advance(heartbeat*time.Second - 10*time.Second)
					_, err := e.asg.RecordLifecycleActionHeartbeat(context.Background(), &autoscaling.RecordLifecycleActionHeartbeatInput{
						AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("drain"),
						LifecycleActionToken: aws.String(a.LifecycleActionToken),
					})
					if err != nil {
						t.Fatalf("RecordLifecycleActionHeartbeat: %v", err)
					}
				}
				// Three heartbeats have kept it waiting well past one timeout.
				e.sim.Advance(heartbeat*time.Second - 10*time.Second)
				if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStateTerminatingWait {
					t.Fatalf("after heartbeats: state %q, want Terminating:Wait", got)
				}
				return 2 * time.Minute
			},
			// Three heartbeats 290 s apart, then a full timeout after the
			// last one.
			wantWaitFor: 3*(heartbeat-10)*time.Second + heartbeat*time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sim.Options{Seed: 7})
			n := e.network(t)
			e.group(t, n, "web", 2, hook("drain", "autoscaling:EC2_INSTANCE_TERMINATING", "CONTINUE", heartbeat))
			advanceUntil(t, e.sim, 5*time.Minute, "group in service", func() bool { return len(e.inService(t, "web")) == 2 })

			if _, err := e.asg.SetDesiredCapacity(context.Background(), &autoscaling.SetDesiredCapacityInput{
				AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(1),
			}); err != nil {
				t.Fatal(err)
			}
			advanceUntil(t, e.sim, time.Minute, "terminate lifecycle action", func() bool { return len(lifecycleActions(t, e.sim, terminateAction)) == 1 })
			a := lifecycleActions(t, e.sim, terminateAction)[0]
			if a.LifecycleHookName != "drain" || a.AutoScalingGroupName != "web" || a.LifecycleTransition != "autoscaling:EC2_INSTANCE_TERMINATING" {
				t.Fatalf("lifecycle action event = %+v", a)
			}
			if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStateTerminatingWait {
				t.Fatalf("state %q, want Terminating:Wait", got)
			}
			if got := e.ec2State(t, a.EC2InstanceID); got != types.InstanceStateNameRunning {
				t.Fatalf("EC2 state while waiting = %q, want running", got)
			}

			waitStart := e.sim.Now()
			limit := tt.act(t, e, a)
			advanceUntil(t, e.sim, limit, "wait over", func() bool {
				return e.instanceState(t, "web", a.EC2InstanceID) != astypes.LifecycleStateTerminatingWait
			})
			if got := e.sim.Now().Sub(waitStart); got != tt.wantWaitFor {
				t.Fatalf("the instance waited in Terminating:Wait for %s, want %s", got, tt.wantWaitFor)
			}
			advanceUntil(t, e.sim, limit, "instance terminated", func() bool {
				return e.instanceState(t, "web", a.EC2InstanceID) == "" && e.ec2State(t, a.EC2InstanceID) == types.InstanceStateNameTerminated
			})
		})
	}
}

func TestLaunchingInstanceWaitsForLifecycleAction(t *testing.T) {
	const heartbeat = 120
	tests := []struct {
		name          string
		defaultResult string
		complete      string // "" to let the timeout decide
		heartbeats    int
		wantInService bool
	}{
		{name: "continue", defaultResult: "ABANDON", complete: "CONTINUE", wantInService: true},
		{name: "abandon", defaultResult: "CONTINUE", complete: "ABANDON"},
		{name: "timeout with default continue", defaultResult: "CONTINUE", wantInService: true},
		{name: "timeout with default abandon", defaultResult: "ABANDON"},
		{name: "heartbeats then continue", defaultResult: "ABANDON", complete: "CONTINUE", heartbeats: 3, wantInService: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sim.Options{Seed: 3})
			n := e.network(t)
			e.group(t, n, "web", 1, hook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", tt.defaultResult, heartbeat))
			advanceUntil(t, e.sim, time.Minute, "launch lifecycle action", func() bool { return len(lifecycleActions(t, e.sim, launchAction)) == 1 })
			a := lifecycleActions(t, e.sim, launchAction)[0]

			// Long enough for EC2 to report it running, short of the timeout.
			e.sim.Advance(heartbeat*time.Second - time.Second)
			if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStatePendingWait {
				t.Fatalf("state %q, want Pending:Wait", got)
			}
			if got := e.ec2State(t, a.EC2InstanceID); got != types.InstanceStateNameRunning {
				t.Fatalf("EC2 state = %q, want running", got)
			}
			for range tt.heartbeats {
				if _, err := e.asg.RecordLifecycleActionHeartbeat(context.Background(), &autoscaling.RecordLifecycleActionHeartbeatInput{
					AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("join"), InstanceId: aws.String(a.EC2InstanceID),
				}); err != nil {
					t.Fatalf("RecordLifecycleActionHeartbeat: %v", err)
				}
				e.sim.Advance(heartbeat*time.Second - time.Second)
				if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStatePendingWait {
					t.Fatalf("after a heartbeat: state %q, want Pending:Wait", got)
				}
			}
			if tt.complete != "" {
				if _, err := e.asg.CompleteLifecycleAction(context.Background(), &autoscaling.CompleteLifecycleActionInput{
					AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("join"),
					LifecycleActionToken: aws.String(a.LifecycleActionToken), LifecycleActionResult: aws.String(tt.complete),
				}); err != nil {
					t.Fatalf("CompleteLifecycleAction: %v", err)
				}
			}
			if tt.wantInService {
				advanceUntil(t, e.sim, time.Minute, "InService", func() bool { return e.instanceState(t, "web", a.EC2InstanceID) == astypes.LifecycleStateInService })
				return
			}
			advanceUntil(t, e.sim, 2*time.Minute, "abandoned instance terminated", func() bool {
				return e.ec2State(t, a.EC2InstanceID) == types.InstanceStateNameTerminated
			})
			// The group replaces it, and the replacement waits on the hook too.
			advanceUntil(t, e.sim, time.Minute, "replacement", func() bool { return len(lifecycleActions(t, e.sim, launchAction)) == 2 })
		})
	}
}

func TestLifecycleActionErrors(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 5})
	n := e.network(t)
	e.group(t, n, "web", 1, hook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", "ABANDON", 300))
	advanceUntil(t, e.sim, time.Minute, "launch lifecycle action", func() bool { return len(lifecycleActions(t, e.sim, launchAction)) == 1 })
	ctx := context.Background()
	tests := []struct {
		name string
		in   autoscaling.CompleteLifecycleActionInput
	}{
		{"unknown token", autoscaling.CompleteLifecycleActionInput{LifecycleActionToken: aws.String("00000000-0000-4000-8000-000000000000"), LifecycleHookName: aws.String("join"), LifecycleActionResult: aws.String("CONTINUE")}},
		{"unknown instance", autoscaling.CompleteLifecycleActionInput{InstanceId: aws.String("i-00000000000000000"), LifecycleHookName: aws.String("join"), LifecycleActionResult: aws.String("CONTINUE")}},
		{"unknown hook", autoscaling.CompleteLifecycleActionInput{InstanceId: aws.String("i-00000000000000000"), LifecycleHookName: aws.String("nope"), LifecycleActionResult: aws.String("CONTINUE")}},
		{"bad result", autoscaling.CompleteLifecycleActionInput{InstanceId: aws.String("i-00000000000000000"), LifecycleHookName: aws.String("join"), LifecycleActionResult: aws.String("MAYBE")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.AutoScalingGroupName = aws.String("web")
			_, err := e.asg.CompleteLifecycleAction(ctx, &in)
			if got := errCode(err); got != "ValidationError" {
				t.Fatalf("error code %q (%v), want ValidationError", got, err)
			}
		})
	}
}

func TestInstanceFailingDuringLaunchWaitIsReplacedOnceInService(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 8})
	n := e.network(t)
	e.group(t, n, "web", 1, hook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", "ABANDON", 600))
	advanceUntil(t, e.sim, time.Minute, "launch lifecycle action", func() bool { return len(lifecycleActions(t, e.sim, launchAction)) == 1 })
	a := lifecycleActions(t, e.sim, launchAction)[0]
	if err := e.sim.CrashInstance(a.EC2InstanceID); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(5 * time.Minute)
	if got := e.instanceState(t, "web", a.EC2InstanceID); got != astypes.LifecycleStatePendingWait {
		t.Fatalf("crashed instance during the launch wait: %q, want still Pending:Wait", got)
	}
	if _, err := e.asg.CompleteLifecycleAction(context.Background(), &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("join"),
		InstanceId: aws.String(a.EC2InstanceID), LifecycleActionResult: aws.String("CONTINUE"),
	}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "failed instance terminated", func() bool {
		return e.ec2State(t, a.EC2InstanceID) == types.InstanceStateNameTerminated
	})
	advanceUntil(t, e.sim, time.Minute, "replacement launched", func() bool { return len(lifecycleActions(t, e.sim, launchAction)) == 2 })
}

// TestAbandonEndsTheRemainingHooks follows "Complete a lifecycle action":
// "ABANDON stops any remaining actions, such as other lifecycle hooks, and
// CONTINUE allows any other lifecycle hooks to complete." An instance waits
// on two hooks of the same transition; one is completed, the other never.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/completing-lifecycle-hooks.html
func TestAbandonEndsTheRemainingHooks(t *testing.T) {
	for _, tc := range []struct {
		transition, detailType, result string
		// wantWait is how long the instance still waits after the
		// completion: none after ABANDON, the other hook's timeout after
		// CONTINUE.
		wantWait time.Duration
	}{
		{"autoscaling:EC2_INSTANCE_TERMINATING", terminateAction, "ABANDON", 0},
		{"autoscaling:EC2_INSTANCE_TERMINATING", terminateAction, "CONTINUE", 300 * time.Second},
		{"autoscaling:EC2_INSTANCE_LAUNCHING", launchAction, "ABANDON", 0},
		{"autoscaling:EC2_INSTANCE_LAUNCHING", launchAction, "CONTINUE", 300 * time.Second},
	} {
		t.Run(tc.transition+" "+tc.result, func(t *testing.T) {
			e := newEnv(t, sim.Options{Seed: 9})
			n := e.network(t)
			e.group(t, n, "web", 1, hook("a", tc.transition, "CONTINUE", 300), hook("b", tc.transition, "CONTINUE", 300))
			ctx := context.Background()
			if tc.detailType == terminateAction {
				advanceUntil(t, e.sim, 5*time.Minute, "in service", func() bool { return len(e.inService(t, "web")) == 1 })
				if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(0)}); err != nil {
					t.Fatal(err)
				}
			}
			advanceUntil(t, e.sim, time.Minute, "two lifecycle actions", func() bool { return len(lifecycleActions(t, e.sim, tc.detailType)) == 2 })
			a := lifecycleActions(t, e.sim, tc.detailType)[0]
			waiting := e.instanceState(t, "web", a.EC2InstanceID)
			e.sim.Advance(time.Minute)
			if _, err := e.asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
				AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String(a.LifecycleHookName),
				LifecycleActionToken: aws.String(a.LifecycleActionToken), LifecycleActionResult: aws.String(tc.result),
			}); err != nil {
				t.Fatal(err)
			}
			completed := e.sim.Now()
			advanceUntil(t, e.sim, 10*time.Minute, "wait over", func() bool { return e.instanceState(t, "web", a.EC2InstanceID) != waiting })
			// The other hook was notified at the same moment, a minute
			// before the completion.
			want := max(tc.wantWait-time.Minute, 0)
			if got := e.sim.Now().Sub(completed); got != want {
				t.Fatalf("the instance waited %s more after %s, want %s", got, tc.result, want)
			}
		})
	}
}

// TestForgottenLaunchHookAbandonsAndReplaces: a launch hook left with AWS's
// defaults (ABANDON, a 3600 s heartbeat timeout) that nothing completes
// holds the instance for exactly the timeout; then the instance is abandoned
// and terminated and the group launches a replacement, which waits on the
// hook in turn. A test that forgets to answer a hook cannot pass by it.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html
func TestForgottenLaunchHookAbandonsAndReplaces(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 10})
	n := e.network(t)
	e.group(t, n, "web", 0)
	ctx := context.Background()
	if _, err := e.asg.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("forgotten"), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_LAUNCHING"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "launch lifecycle action", func() bool { return len(lifecycleActions(t, e.sim, launchAction)) == 1 })
	a := lifecycleActions(t, e.sim, launchAction)[0]
	held := e.sim.Now()
	advanceUntil(t, e.sim, 2*time.Hour, "abandoned", func() bool { return e.instanceState(t, "web", a.EC2InstanceID) != astypes.LifecycleStatePendingWait })
	if got := e.sim.Now().Sub(held); got != time.Hour {
		t.Fatalf("the forgotten hook held the instance for %s, want its 3600 s timeout", got)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "abandoned instance terminated and replaced", func() bool {
		return e.ec2State(t, a.EC2InstanceID) == types.InstanceStateNameTerminated && len(lifecycleActions(t, e.sim, launchAction)) == 2
	})
}
