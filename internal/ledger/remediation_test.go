package ledger_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// TestCooldownOneActionPerCooldown races three executions for one alarm's
// cooldown: one takes it, the others learn who holds it and until when;
// the holder may take it again (a retried step), and once it has run out
// the next action takes it.
func TestCooldownOneActionPerCooldown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	until := f.clock.Now().Add(15 * time.Minute)
	var (
		mu      sync.Mutex
		winners []string
		held    []*ledger.CooldownError
		wg      sync.WaitGroup
	)
	for _, owner := range []string{"exec-a", "exec-b", "exec-c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.l.TakeCooldown(ctx, "web", "web-unhealthy-hosts-us-east-1a#zone:us-east-1a", owner, until)
			mu.Lock()
			defer mu.Unlock()
			var ce *ledger.CooldownError
			switch {
			case err == nil:
				winners = append(winners, owner)
			case errors.As(err, &ce):
				held = append(held, ce)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 || len(held) != 2 {
		t.Fatalf("winners %v, refused %d; want one winner", winners, len(held))
	}
	for _, ce := range held {
		if ce.Cooldown.Owner != winners[0] || !ce.Cooldown.Until.Equal(until) {
			t.Errorf("refused with %+v, want %s's cooldown until %s", ce.Cooldown, winners[0], until)
		}
	}
	if _, err := f.l.TakeCooldown(ctx, "web", "web-unhealthy-hosts-us-east-1a#zone:us-east-1a", winners[0], until); err != nil {
		t.Errorf("the holder taking its cooldown again: %v", err)
	}
	// Another alarm's cooldown is its own.
	if _, err := f.l.TakeCooldown(ctx, "web", "web-cpu-high#service", "exec-d", until); err != nil {
		t.Errorf("another key: %v", err)
	}
	f.clock.Advance(15 * time.Minute)
	c, err := f.l.TakeCooldown(ctx, "web", "web-unhealthy-hosts-us-east-1a#zone:us-east-1a", "exec-e", f.clock.Now().Add(15*time.Minute))
	if err != nil || c.Owner != "exec-e" {
		t.Fatalf("after the cooldown: %+v, %v", c, err)
	}
}

// TestEvacuationOneAtATime: a stack has one evacuation at a time. A second
// execution is refused with the running one; the running one saves what it
// changes, only it may, and once it ended the next may begin.
func TestEvacuationOneAtATime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.l.CurrentEvacuation(ctx, "web"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("a stack never evacuated: %v, want ErrNotFound", err)
	}
	e, err := f.l.BeginEvacuation(ctx, ledger.Evacuation{Subject: "web", Zone: "us-east-1a", ZoneID: "use1-az1", Healthy: "us-east-1b", ExecutionARN: "exec-a", Phase: "prescale", GroupDesiredBefore: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.BeginEvacuation(ctx, ledger.Evacuation{Subject: "web", Zone: "us-east-1b", ExecutionARN: "exec-b"}); err == nil {
		t.Fatal("a second evacuation began while the first runs")
	} else if ae := (*ledger.EvacuationActiveError)(nil); !errors.As(err, &ae) || ae.Evacuation.Zone != "us-east-1a" || ae.Evacuation.ExecutionARN != "exec-a" {
		t.Fatalf("second evacuation: %v, want the first one named", err)
	}
	if _, err := f.l.BeginEvacuation(ctx, *e); err != nil {
		t.Fatalf("the same execution beginning it again: %v", err)
	}
	f.clock.Advance(time.Minute)
	e.Shifts = append(e.Shifts, ledger.Shift{Resource: "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/web-asg", ID: "z-1", Expiry: f.clock.Now().Add(2 * time.Hour)})
	e.Phase = "evacuated"
	if err := f.l.SaveEvacuation(ctx, *e); err != nil {
		t.Fatal(err)
	}
	other := *e
	other.ExecutionARN = "exec-b"
	if err := f.l.SaveEvacuation(ctx, other); !errors.Is(err, ledger.ErrNotOwner) {
		t.Fatalf("another execution saving it: %v, want ErrNotOwner", err)
	}
	got, err := f.l.CurrentEvacuation(ctx, "web")
	if err != nil || !got.Active() || got.Phase != "evacuated" || len(got.Shifts) != 1 || !got.Shifts[0].Expiry.Equal(f.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("current evacuation %+v, %v", got, err)
	}
	e.EndedAt, e.Outcome = f.clock.Now(), "RESTORED"
	if err := f.l.SaveEvacuation(ctx, *e); err != nil {
		t.Fatal(err)
	}
	if err := f.l.SaveEvacuation(ctx, *e); !errors.Is(err, ledger.ErrNotOwner) {
		t.Fatalf("saving an ended evacuation: %v, want ErrNotOwner", err)
	}
	if _, err := f.l.BeginEvacuation(ctx, ledger.Evacuation{Subject: "web", Zone: "us-east-1b", ExecutionARN: "exec-b"}); err != nil {
		t.Fatalf("an evacuation after the last one ended: %v", err)
	}
}
