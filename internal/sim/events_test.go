package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// scenario drives a group through launches with hooks, a scale-in, a crash
// and a zone outage. It is the workload of the shape and determinism tests.
func scenario(t testing.TB, seed uint64) *env {
	t.Helper()
	e := newEnv(t, sim.Options{Seed: seed})
	n := e.network(t)
	meta := func(h astypes.LifecycleHookSpecification) astypes.LifecycleHookSpecification {
		h.NotificationMetadata = aws.String(`{"cluster":"prod"}`)
		return h
	}
	e.group(t, n, "web", 4,
		meta(hook("join", "autoscaling:EC2_INSTANCE_LAUNCHING", "CONTINUE", 60)),
		meta(hook("drain", "autoscaling:EC2_INSTANCE_TERMINATING", "CONTINUE", 60)))
	ctx := context.Background()
	completed := map[string]bool{}
	// complete answers every lifecycle action the way the lifecycle handler
	// would, one simulated second after the event.
	complete := func() {
		for _, kind := range []string{launchAction, terminateAction} {
			for _, a := range lifecycleActions(t, e.sim, kind) {
				if completed[a.LifecycleActionToken] {
					continue
				}
				completed[a.LifecycleActionToken] = true
				_, err := e.asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
					AutoScalingGroupName: aws.String(a.AutoScalingGroupName), LifecycleHookName: aws.String(a.LifecycleHookName),
					LifecycleActionToken: aws.String(a.LifecycleActionToken), LifecycleActionResult: aws.String("CONTINUE"),
				})
				if err != nil && errCode(err) != "ValidationError" {
					t.Fatalf("CompleteLifecycleAction: %v", err)
				}
			}
		}
	}
	run := func(d time.Duration) {
		end := e.sim.Now().Add(d)
		for e.sim.Now().Before(end) {
			e.sim.Advance(time.Second)
			complete()
		}
	}
	run(3 * time.Minute)
	if _, err := e.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	run(3 * time.Minute)
	g := e.describeGroup(t, "web")
	if err := e.sim.CrashInstance(aws.ToString(g.Instances[0].InstanceId)); err != nil {
		t.Fatal(err)
	}
	run(5 * time.Minute)
	if err := e.sim.FailZone(n.zones[1]); err != nil {
		t.Fatal(err)
	}
	run(5 * time.Minute)
	if err := e.sim.RecoverZone(n.zones[1]); err != nil {
		t.Fatal(err)
	}
	run(15 * time.Minute)
	return e
}

func TestSameSeedGivesByteIdenticalEventLogs(t *testing.T) {
	first := scenario(t, 42).sim.EventLog()
	second := scenario(t, 42).sim.EventLog()
	if len(first) == 0 {
		t.Fatal("the scenario emitted no events")
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("event logs differ for the same seed:\n%s\n---\n%s", first, second)
	}
	if other := scenario(t, 43).sim.EventLog(); bytes.Equal(first, other) {
		t.Fatal("a different seed gave the same event log; IDs are not drawn from the seed")
	}
}

// keys returns a JSON object's keys in document order.
func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestEventsMatchDocumentedShapes(t *testing.T) {
	e := scenario(t, 9)
	forDocumentedExamples(t, "../../events/ec2-*.json", 6, e.sim.Events(), func(t *testing.T, got, want sim.Event, gotDetail, wantDetail map[string]any) {
		if got.Version != "0" || got.AccountID != sim.DefaultAccountID || got.Region != sim.DefaultRegion {
			t.Fatalf("envelope %+v is not the simulator's account and region", got)
		}
		// A launch that failed for lack of capacity has no instance, so
		// only the group's ARN can be named.
		if len(got.Resources) != len(want.Resources) && !(strings.Contains(want.DetailType, "Unsuccessful") && len(got.Resources) == 1) {
			t.Fatalf("resources %v, documented %d entries", got.Resources, len(want.Resources))
		}
		for _, r := range got.Resources {
			if !strings.HasPrefix(r, "arn:aws:") {
				t.Fatalf("resource %q is not an ARN", r)
			}
		}
		// The documented unsuccessful launch shows no Description; the
		// simulator's says which launch failed, as AWS's do.
		gk, wk := sortedKeys(gotDetail), sortedKeys(wantDetail)
		if strings.Join(gk, ",") != strings.Join(wk, ",") && !(strings.Contains(want.DetailType, "Unsuccessful") && gotDetail["Description"] != nil) {
			t.Fatalf("detail fields %v, documented %v", gk, wk)
		}
		for k, wv := range wantDetail {
			gv, ok := gotDetail[k]
			if !ok {
				t.Fatalf("detail lacks documented field %q", k)
			}
			if gt, wt := typeName(gv), typeName(wv); gt != wt {
				t.Fatalf("detail field %q is a %s, documented as a %s", k, gt, wt)
			}
		}
		for _, k := range []string{"Origin", "Destination", "LifecycleTransition", "StatusCode", "state"} {
			if wv, ok := wantDetail[k]; ok && gotDetail[k] != wv {
				t.Fatalf("detail %s = %v, documented %v", k, gotDetail[k], wv)
			}
		}
	})
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case float64:
		return "number"
	}
	return "other"
}

func TestSubscriptionDeliversEventsInOrder(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	sub := e.sim.Subscribe()
	n := e.network(t)
	e.group(t, n, "web", 2)
	e.sim.Advance(2 * time.Minute)
	want := e.sim.Events()
	if len(want) == 0 {
		t.Fatal("no events emitted")
	}
	for i, w := range want {
		select {
		case got := <-sub.C:
			if got.ID != w.ID {
				t.Fatalf("event %d: got %s (%s), want %s (%s)", i, got.ID, got.DetailType, w.ID, w.DetailType)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d of %d not delivered", i, len(want))
		}
	}
	sub.Close()
	if _, open := <-sub.C; open {
		t.Fatal("subscription channel still open after Close")
	}
}
