package remediate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/service"
)

// firstMutation notes, per call of the handler, the time from its start to
// its first call that changes the stack; the ledger's writes do not count.
type firstMutation struct {
	start time.Time
	first time.Duration
}

func (f *firstMutation) middleware(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("FirstMutation", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if f.first == 0 && !awsclient.IsRead(middleware.GetOperationName(ctx)) {
			f.first = time.Since(f.start)
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.Before)
}

// BenchmarkDecideToFirstMutation runs the remediation function's decide on
// a zone alarm in ALARM of a stack built on the simulator, with the ledger
// in moto: each decides an evacuation, whose first change is the group's
// zonal shift; between two, the evacuation is undone and the cooldown let
// run out, untimed. It reports the time from the event to that first
// mutating call at p50 and p99 (budget: p99 ≤ 50 ms), and the whole
// decide's.
func BenchmarkDecideToFirstMutation(b *testing.B) {
	sc := newScenario(b, oneTaskPerInstance, nil)
	ctx := context.Background()
	fm := &firstMutation{}
	cfg := sc.sim.ConfigOver(sc.local.Config)
	cfg.APIOptions = append(cfg.APIOptions, fm.middleware)
	led := ledger.New(dynamodb.NewFromConfig(sc.local.Config), sc.local.App.Tables[local.LedgerTableID], ledger.WithClock(sc.sim.Now))
	h := &remediate.Handler{
		Clients: remediate.NewClients(cfg), Ledger: led, Stack: sc.name, Now: sc.sim.Now,
		Config: remediate.Config{Cooldown: time.Minute, RestoreOKPeriods: 3, ShiftExpiry: 30 * time.Minute, PhaseDeadline: time.Hour},
	}
	zone := sc.out.Network.AZs[0]
	alarm := service.ZoneAlarmName(sc.spec, service.AlarmUnhealthy, zone)
	arcc, asg := arc.NewFromConfig(sc.sim.Config()), autoscaling.NewFromConfig(sc.sim.Config())
	// The template's rules stop here: the benchmark calls the function
	// itself, on a zone alarm in ALARM.
	sc.local.Stop()
	setAlarm(b, sc, alarm, "ALARM")
	ev := lastAlarmEvent(b, sc, alarm)
	var first, took []time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		sc.sim.Advance(2 * time.Minute)
		setAlarm(b, sc, alarm, "ALARM")
		n++
		raw := decideRequest(b, ev, sc.sim.Now(), fmt.Sprintf("arn:aws:states:us-east-1:123456789012:execution:bench:%d", n))
		b.StartTimer()
		fm.start, fm.first = time.Now(), 0
		out, err := h.Handle(ctx, raw)
		d := time.Since(fm.start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		r := out.(*remediate.Run)
		if r.Decision.Action != remediate.ActionEvacuate || fm.first == 0 {
			b.Fatalf("decide %d: %s %s (first mutation %s)", n, r.Decision.Action, r.Decision.Reason, fm.first)
		}
		first, took = append(first, fm.first), append(took, d)
		undo(b, sc, h, r, arcc, asg)
		b.StartTimer()
	}
	b.ReportMetric(ms(percentile(first, 50)), "event-to-first-mutation-p50-ms")
	b.ReportMetric(ms(percentile(first, 99)), "event-to-first-mutation-p99-ms")
	b.ReportMetric(ms(percentile(took, 50)), "decide-p50-ms")
	b.ReportMetric(ms(percentile(took, 99)), "decide-p99-ms")
	b.ReportMetric(float64(len(first)), "decides")
}

// undo ends a decided evacuation as its restore would: the group's shift
// cancelled, its capacity back, the lease released, the evacuation ended.
func undo(b *testing.B, sc *scenario, h *remediate.Handler, r *remediate.Run, arcc *arc.Client, asg *autoscaling.Client) {
	ctx := context.Background()
	for _, s := range r.Evacuation.Shifts {
		if _, err := arcc.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: aws.String(s.ID)}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(sc.out.Compute.AutoScalingGroupName), DesiredCapacity: aws.Int32(r.Evacuation.GroupDesiredBefore)}); err != nil {
		b.Fatal(err)
	}
	if err := h.Ledger.Release(ctx, r.Decision.Lease); err != nil {
		b.Fatal(err)
	}
	r.Evacuation.EndedAt, r.Evacuation.Outcome = sc.sim.Now(), remediate.OutcomeAborted
	if err := h.Ledger.SaveEvacuation(ctx, *r.Evacuation); err != nil {
		b.Fatal(err)
	}
}

// decideRequest is the state machine's decide request for ev, as a new
// state change at at.
func decideRequest(b *testing.B, ev events.Envelope, at time.Time, execution string) []byte {
	var d events.AlarmStateChange
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		b.Fatal(err)
	}
	d.State.Value, d.PreviousState.Value, d.State.Timestamp = events.AlarmAlarm, events.AlarmOK, at.UTC().Format("2006-01-02T15:04:05.000+0000")
	ev.Detail, _ = json.Marshal(d)
	ev.ID = fmt.Sprintf("bench-%d", at.UnixNano())
	raw, err := json.Marshal(map[string]any{"op": "decide", "event": ev, "executionArn": execution, "pollSeconds": 0})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func percentile(v []time.Duration, p int) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	i := (p*len(s) + 99) / 100
	return s[max(i, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// setAlarm sets the alarm's state, as CloudWatch's SetAlarmState does; the
// fleet's next evaluation may change it again.
func setAlarm(b testing.TB, sc *scenario, alarm, state string) {
	cw := cloudwatch.NewFromConfig(sc.sim.Config())
	if _, err := cw.SetAlarmState(context.Background(), &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(alarm), StateValue: cwtypes.StateValue(state), StateReason: aws.String("benchmark"),
	}); err != nil {
		b.Fatal(err)
	}
}
