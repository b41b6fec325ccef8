package sim

import (
	"container/heap"
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// maxTimersPerInstant bounds how many timers may fire at one virtual instant.
// Only a timer that reschedules itself with no delay could reach it; the bound
// turns that bug into a logged stall instead of a hang.
const maxTimersPerInstant = 1_000_000

// clock is the virtual clock and its timer queue. Fields are guarded by
// Sim.mu; speed is read by the retry backoff without the lock.
type clock struct {
	now    time.Time
	timers timerHeap
	seq    uint64
	speed  atomic.Uint64 // math.Float64bits of the real-time factor; 0 when stepped by hand
	hold   atomic.Pointer[func() bool]
}

// timer is a scheduled callback. Callbacks run with Sim.mu held.
type timer struct {
	at      time.Time
	seq     uint64
	fn      func()
	stopped bool
	index   int
}

// stop cancels the timer; stopping a fired or nil timer does nothing.
func (t *timer) stop() {
	if t != nil {
		t.stopped = true
	}
}

// timerHeap orders timers by time, then by scheduling order, so that timers
// due at the same instant fire in the order they were set.
type timerHeap []*timer

// Len, Less, Swap, Push and Pop implement heap.Interface.

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t, ok := x.(*timer)
	if !ok {
		return
	}
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return t
}

// after schedules fn to run d from now on the virtual clock. The caller holds
// Sim.mu.
func (s *Sim) after(d time.Duration, fn func()) *timer {
	if d < 0 {
		d = 0
	}
	s.clock.seq++
	t := &timer{at: s.clock.now.Add(d), seq: s.clock.seq, fn: fn}
	heap.Push(&s.clock.timers, t)
	return t
}

// Now returns the current virtual time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.now
}

// nextTimer returns the earliest live timer's time, dropping stopped ones.
func (s *Sim) nextTimer() (time.Time, bool) {
	for s.clock.timers.Len() > 0 {
		t := s.clock.timers[0]
		if !t.stopped {
			return t.at, true
		}
		heap.Pop(&s.clock.timers)
	}
	return time.Time{}, false
}

// fireUntil runs every timer due at or before target in time order, moving
// the clock to each timer's instant. The caller holds Sim.mu.
func (s *Sim) fireUntil(target time.Time) {
	fired := 0
	var instant time.Time
	for {
		at, ok := s.nextTimer()
		if !ok || at.After(target) {
			return
		}
		if !at.Equal(instant) {
			instant, fired = at, 0
		}
		fired++
		if fired > maxTimersPerInstant {
			s.log.Error("sim_timer_storm", "at", at, "fired", fired)
			return
		}
		t, _ := heap.Pop(&s.clock.timers).(*timer)
		if at.After(s.clock.now) {
			s.clock.now = at
		}
		t.fn()
		s.observed()
	}
}

// Advance moves the virtual clock forward by d, running everything that falls
// due on the way, in time order.
func (s *Sim) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.clock.now.Add(d)
	s.fireUntil(target)
	s.clock.now = target
}

// RunUntil advances the virtual clock one scheduled instant at a time until
// cond returns true or limit has elapsed, and reports whether cond held. cond
// runs without the simulator's lock, so it may call SDK clients.
func (s *Sim) RunUntil(cond func() bool, limit time.Duration) bool {
	s.mu.Lock()
	deadline := s.clock.now.Add(limit)
	s.mu.Unlock()
	for {
		if cond() {
			return true
		}
		s.mu.Lock()
		at, ok := s.nextTimer()
		if !ok || at.After(deadline) {
			s.clock.now = deadline
			s.mu.Unlock()
			return cond()
		}
		s.fireUntil(at)
		s.mu.Unlock()
	}
}

// Run moves the virtual clock with wall time, speed times faster, until ctx is
// done. It is the mode for interactive use such as the local environment;
// tests step the clock with Advance and RunUntil instead. While Run is active
// the SDK's retry backoff is scaled down by the same factor, and SetSpeed
// changes the factor.
func (s *Sim) Run(ctx context.Context, speed float64) {
	if speed <= 0 {
		speed = 1
	}
	s.clock.speed.Store(math.Float64bits(speed))
	defer s.clock.speed.Store(0)
	ticker := time.NewTicker(runTick)
	defer ticker.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			if h := s.clock.hold.Load(); h != nil && (*h)() {
				last = now
				continue
			}
			s.Advance(time.Duration(float64(now.Sub(last)) * s.Speed()))
			last = now
		}
	}
}

// Speed is the factor Run moves the clock by; 0 while the clock is stepped
// by hand.
func (s *Sim) Speed() float64 { return math.Float64frombits(s.clock.speed.Load()) }

// SetHold makes Run leave the clock where it is while hold reports true:
// for a caller whose reactions to the simulator's events take longer in
// wall time than they would on AWS, where, at Run's speed, they would let
// minutes pass. hold runs without the simulator's lock; nil removes it.
func (s *Sim) SetHold(hold func() bool) {
	if hold == nil {
		s.clock.hold.Store(nil)
		return
	}
	s.clock.hold.Store(&hold)
}

// SetSpeed changes the factor of a Run in progress from its next tick; it
// does nothing while the clock is stepped by hand.
func (s *Sim) SetSpeed(speed float64) {
	if speed <= 0 {
		return
	}
	for {
		old := s.clock.speed.Load()
		if old == 0 || s.clock.speed.CompareAndSwap(old, math.Float64bits(speed)) {
			return
		}
	}
}

// runTick is how often Run moves the clock.
const runTick = 10 * time.Millisecond

// scaledBackoff keeps the standard retryer's backoff schedule but maps it onto
// the simulator's time: no wall-clock wait while the clock is stepped by hand,
// and the delay divided by the speed-up under Run, but never less than two of
// Run's ticks, so that simulated time does pass between two attempts even
// when the scaled delay is shorter than a tick.
type scaledBackoff struct {
	sim  *Sim
	base retry.BackoffDelayer
}

// BackoffDelay implements retry.BackoffDelayer.
func (b scaledBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	d, derr := b.base.BackoffDelay(attempt, err)
	if derr != nil {
		return 0, derr
	}
	speed := math.Float64frombits(b.sim.clock.speed.Load())
	if speed <= 0 {
		return 0, nil
	}
	return max(time.Duration(float64(d)/speed), 2*runTick), nil
}
