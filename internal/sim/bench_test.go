package sim_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// BenchmarkSimulatedHour runs one simulated hour of a two-zone group of 8
// instances with launch and terminate hooks answered by a responder, a
// scale-out and a scale-in, one instance crash and a 15-minute zone outage.
// The wall time per operation is the figure to report; it is not asserted.
func BenchmarkSimulatedHour(b *testing.B) {
	for b.Loop() {
		simulatedHour(b)
	}
}

func simulatedHour(b *testing.B) {
	e := newEnv(b, sim.Options{Seed: 1})
	n := e.network(b)
	e.group(b, n, "fleet", 8,
		hook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", "ABANDON", 300),
		hook("drain", "autoscaling:EC2_INSTANCE_TERMINATING", "CONTINUE", 300))
	ctx := context.Background()
	seen := 0
	// respond completes each lifecycle action it has not seen yet, as the
	// lifecycle handler does.
	respond := func() {
		events := e.sim.Events()
		for _, ev := range events[seen:] {
			if ev.DetailType != launchAction && ev.DetailType != terminateAction {
				continue
			}
			var a lifecycleAction
			if err := json.Unmarshal(ev.Detail, &a); err != nil {
				b.Fatal(err)
			}
			_, err := e.asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
				AutoScalingGroupName: aws.String(a.AutoScalingGroupName), LifecycleHookName: aws.String(a.LifecycleHookName),
				LifecycleActionToken: aws.String(a.LifecycleActionToken), LifecycleActionResult: aws.String("CONTINUE"),
			})
			if err != nil && errCode(err) != "ValidationError" {
				b.Fatal(err)
			}
		}
		seen = len(events)
	}
	setDesired := func(d int32) {
		if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("fleet"), DesiredCapacity: aws.Int32(d)}); err != nil {
			b.Fatal(err)
		}
	}
	start := e.sim.Now()
	script := map[time.Duration]func(){
		5 * time.Minute: func() { setDesired(10) },
		15 * time.Minute: func() {
			if err := e.sim.CrashInstance(aws.ToString(e.describeGroup(b, "fleet").Instances[0].InstanceId)); err != nil {
				b.Fatal(err)
			}
		},
		20 * time.Minute: func() {
			if err := e.sim.FailZone(n.zones[0]); err != nil {
				b.Fatal(err)
			}
		},
		35 * time.Minute: func() {
			if err := e.sim.RecoverZone(n.zones[0]); err != nil {
				b.Fatal(err)
			}
		},
		45 * time.Minute: func() { setDesired(8) },
	}
	const step = 5 * time.Second
	for elapsed := time.Duration(0); elapsed < time.Hour; elapsed += step {
		if act, ok := script[elapsed]; ok {
			act()
		}
		e.sim.Advance(step)
		respond()
		// A monitor polls the group as a dashboard or a handler would.
		if elapsed%time.Minute == 0 {
			e.describeGroup(b, "fleet")
		}
	}
	if got := e.sim.Now().Sub(start); got != time.Hour {
		b.Fatalf("simulated %s, want an hour", got)
	}
	if !e.settled(b, "fleet", map[string]int{n.zones[0]: 4, n.zones[1]: 4}) {
		b.Fatalf("after the hour the group is %v, want 4+4 InService", e.inService(b, "fleet"))
	}
}
