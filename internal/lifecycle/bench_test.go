package lifecycle_test

import (
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
)

// BenchmarkLifecycle runs launches and drains through the template's
// lifecycle state machine on the simulator: a built stack grows from 2
// instances to 3, with a task on each, and is scaled in to 2 again, six
// times, so that one action runs at a time. It reports, per launch and per
// drain, the state transitions and the lifecycle function's invocations;
// and, in wall time, the function's time from a drain's start to its first
// call that changes the stack (DRAINING), and a launch's start, at p50 and
// p99. Building the stack is not timed.
func BenchmarkLifecycle(b *testing.B) {
	var launchStates, launchCalls, drainStates, drainCalls []float64
	var firstMutation, launchStart []time.Duration
	for b.Loop() {
		b.StopTimer()
		sc := newScenario(b, scenarioOptions{seed: 37})
		b.StartTimer()
		for range 6 {
			sc.grow(3)
			sc.scaleIn(2)
			sc.keepTasks(2)
			sc.until("the service shrinks", 10*time.Minute, func() bool { return sc.steady(2) })
		}
		b.StopTimer()
		for rule, into := range map[string][2]*[]float64{launchRule: {&launchStates, &launchCalls}, terminateRule: {&drainStates, &drainCalls}} {
			for _, e := range sc.executions(rule) {
				states, calls := transitions(e)
				*into[0] = append(*into[0], float64(states))
				*into[1] = append(*into[1], float64(calls))
			}
		}
		for _, inv := range sc.local.Invocations() {
			switch {
			case inv.Op == string(lifecycle.OpStart) && inv.Kind == lifecycle.KindDrain && inv.FirstMutation > 0:
				firstMutation = append(firstMutation, inv.FirstMutation)
			case inv.Op == string(lifecycle.OpStart) && inv.Kind == lifecycle.KindLaunch:
				launchStart = append(launchStart, inv.Took)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(mean(launchStates), "transitions/launch")
	b.ReportMetric(mean(launchCalls), "invocations/launch")
	b.ReportMetric(mean(drainStates), "transitions/drain")
	b.ReportMetric(mean(drainCalls), "invocations/drain")
	b.ReportMetric(ms(awstest.Percentile(firstMutation, 50)), "drain-start-to-DRAINING-p50-ms")
	b.ReportMetric(ms(awstest.Percentile(firstMutation, 99)), "drain-start-to-DRAINING-p99-ms")
	b.ReportMetric(ms(awstest.Percentile(launchStart, 50)), "launch-start-p50-ms")
	b.ReportMetric(ms(awstest.Percentile(launchStart, 99)), "launch-start-p99-ms")
	b.ReportMetric(float64(len(firstMutation)), "drains")
	b.ReportMetric(float64(len(launchStart)), "launches")
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
