package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/local"
)

// handlerTimes times the rollout's handlers as the gateway serves them, by
// function and, for the rollout function, by step: wall time from the
// invocation's arrival to its answer, the calls to the simulator and to
// moto included.
type handlerTimes struct {
	mu   sync.Mutex
	took map[string][]time.Duration
}

// timed serves the world's handler of the function id through h.
func (h *handlerTimes) timed(w *world, id string) {
	i := slices.IndexFunc(w.app.Functions, func(f local.Function) bool { return f.LogicalID == id })
	inner := lambda.NewHandler(w.handlers[id])
	w.sf.Gateway.RegisterHandler(w.app.Functions[i].Name, lambdaHandlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		key := id
		var in struct {
			Step string `json:"step"`
		}
		if json.Unmarshal(payload, &in) == nil && in.Step != "" {
			key += " " + in.Step
		}
		start := time.Now()
		out, err := inner.Invoke(ctx, payload)
		took := time.Since(start)
		h.mu.Lock()
		h.took[key] = append(h.took[key], took)
		h.mu.Unlock()
		return out, err
	}))
}

type lambdaHandlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f lambdaHandlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// report logs each handler's p50 and p99, and reports the slowest p99.
func (h *handlerTimes) report(b *testing.B) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var worst time.Duration
	var out []string
	for _, k := range slices.Sorted(maps.Keys(h.took)) {
		v := h.took[k]
		worst = max(worst, awstest.Percentile(v, 99))
		out = append(out, fmt.Sprintf("%s p50 %s p99 %s (%d)", k, awstest.Percentile(v, 50).Round(10*time.Microsecond), awstest.Percentile(v, 99).Round(10*time.Microsecond), len(v)))
	}
	b.Logf("handler wall time: %s", strings.Join(out, "; "))
	b.ReportMetric(float64(worst)/float64(time.Millisecond), "slowest-handler-p99-ms")
}

// pollingShape is the design the rollout machine is compared with: the
// same steps, but every wait a loop that polls every interval, each round
// a Wait state, a Task state whose function reads ECS (during the
// deployment) or the alarms (during the bake), and a Choice state.
type pollingShape struct {
	// fixedStates are the states entered once: Prepare, Prepared, Deploy,
	// Finish, Notify, Ended and Done, as in the event-driven machine,
	// without its two waits.
	fixedStates int
	// fixedInvocations are Prepare's, Deploy's and Finish's.
	fixedInvocations int
	// roundStates are a round's Wait, Task and Choice; each round invokes
	// one function, which makes one read.
	roundStates int
}

var polling = pollingShape{fixedStates: 7, fixedInvocations: 3, roundStates: 3}

// figures are a rollout's costs: state transitions, Lambda invocations,
// and AWS calls by service.
type figures struct {
	transitions, invocations int
	calls                    map[string]int
}

// over is the polling design's figures for a rollout that takes d seconds
// (ECS's deployment and the bake together), polled every interval seconds;
// fixedCalls are the calls the steps it shares with the event-driven
// machine make, less the event waits' own (the waiters' writes and the
// task result sent).
func (p pollingShape) over(d, interval int, fixedCalls map[string]int) figures {
	rounds := d / interval
	calls := maps.Clone(fixedCalls)
	// About half the rounds read ECS, half the alarms: the 10-minute
	// rollout of the comparison is 5 minutes of deployment, 5 of bake.
	calls["ECS"] += rounds / 2
	calls["CloudWatch"] += rounds - rounds/2
	return figures{transitions: p.fixedStates + rounds*p.roundStates, invocations: p.fixedInvocations + rounds, calls: calls}
}

func total(calls map[string]int) int { return awsclient.Total(calls) }

// BenchmarkSuccessfulRollout rolls good images out through the real
// machine on the simulator, with two bake times and two simulator speeds
// (ECS deployments of different wall lengths), and reports per rollout its
// state transitions, Lambda invocations (the resume function's included)
// and AWS calls, next to the polling design's over a 10-minute rollout
// polled every 15 s. The event-driven figures do not move with the bake
// time or ECS's.
func BenchmarkSuccessfulRollout(b *testing.B) {
	for _, c := range []struct {
		bake  string
		speed float64
	}{{"2", 120}, {"6", 120}, {"2", 30}} {
		b.Run(fmt.Sprintf("bake=%ss/speed=%g", c.bake, c.speed), func(b *testing.B) {
			w := newWorld(b, worldOptions{Speed: c.speed, Params: map[string]string{"RolloutBakeSeconds": c.bake}})
			times := &handlerTimes{took: map[string][]time.Duration{}}
			for _, id := range []string{"RolloutFunction", "RolloutResumeFunction"} {
				times.timed(w, id)
			}
			var sum figures
			sum.calls = map[string]int{}
			retries := 0
			for i := 0; i < b.N; i++ {
				before := w.invocations()
				delivered := len(w.wiring.Dispatcher.Outcomes())
				w.calls.Reset()
				w.push(fmt.Sprintf("v9.%d.0", i))
				ex := w.wait(w.started())
				if ex.Status != sfntypes.ExecutionStatusSucceeded {
					b.Fatalf("rollout %d: %s %s %s", i, ex.Status, ex.Error, ex.Cause)
				}
				sum.transitions += len(ex.EnteredStates())
				// Retries after a function error are reported apart, as in
				// TestGoodImageSucceeds.
				r, _ := w.retriesSince(delivered)
				sum.invocations += rolloutInvocations(before, w.invocations()) - r
				retries += r
				for op, n := range w.calls.Mutations() {
					svc, _, _ := strings.Cut(op, ":")
					sum.calls[svc] += n
				}
				for op, n := range w.calls.Reads() {
					svc, _, _ := strings.Cut(op, ":")
					sum.calls[svc] += n
				}
				// The state machine's SNS Publish, a direct integration.
				sum.calls["SNS"]++
			}
			per := func(n int) float64 { return float64(n) / float64(b.N) }
			b.ReportMetric(per(sum.transitions), "transitions/rollout")
			b.ReportMetric(per(sum.invocations), "invocations/rollout")
			b.ReportMetric(per(total(sum.calls)), "calls/rollout")
			b.ReportMetric(per(retries), "retried-invocations/rollout")
			if per(sum.transitions) > maxTransitions || per(sum.invocations) > maxInvocations {
				b.Errorf("%.1f transitions and %.1f invocations per rollout, budgets %d and %d", per(sum.transitions), per(sum.invocations), maxTransitions, maxInvocations)
			}
			calls := map[string]int{}
			for k, v := range sum.calls {
				calls[k] = v / b.N
			}
			// The calls the polling design would not make: the waiters'
			// writes and deletes, and the task result the resume function
			// sends.
			shared := map[string]int{}
			maps.Copy(shared, calls)
			shared["DynamoDB"] -= 4
			delete(shared, "SFN")
			p := polling.over(600, 15, shared)
			keys := func(m map[string]int) string {
				var out []string
				for _, k := range slices.Sorted(maps.Keys(m)) {
					out = append(out, fmt.Sprintf("%s %d", k, m[k]))
				}
				return strings.Join(out, ", ")
			}
			b.Logf("event-driven, per rollout: %.0f transitions, %.0f Lambda invocations, %d AWS calls (%s)", per(sum.transitions), per(sum.invocations), total(calls), keys(calls))
			times.report(b)
			b.Logf("polling every 15 s over 10 minutes: %d transitions, %d Lambda invocations, %d AWS calls (%s)", p.transitions, p.invocations, total(p.calls), keys(p.calls))
		})
	}
}
