package sim

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/ecsplane/ecsplane/internal/events"
)

// eventTimeFormat is EventBridge's time format: UTC to the second.
const eventTimeFormat = "2006-01-02T15:04:05Z"

// Event is an EventBridge event as AWS delivers it: aws-lambda-go's envelope
// with the detail as JSON, serialized with the same field names and order as
// the examples in AWS's documentation. internal/events parses it.
type Event = events.Envelope

// bus keeps the event log and feeds subscribers. The log is guarded by
// Sim.mu; the subscriber list has its own lock so that delivery never waits
// on the simulator.
type bus struct {
	log []Event

	subMu sync.Mutex
	subs  []*Subscription
}

// emit appends an event to the log and queues it for every subscriber. The
// caller holds Sim.mu. The detail's type names the event's source and detail
// type, so what the simulator emits is what internal/events parses.
func (s *Sim) emit(resources []string, detail events.Detail) {
	raw, err := json.Marshal(detail)
	if err != nil {
		s.log.Error("sim_event_marshal_failed", "detail_type", detail.EventDetailType(), "error", err)
		return
	}
	ev := events.New(s.newUUID(), s.account, s.region, s.clock.now.Truncate(time.Second), resources, detail).Envelope
	ev.Detail = raw
	s.bus.log = append(s.bus.log, ev)
	s.bus.subMu.Lock()
	for _, sub := range s.bus.subs {
		sub.push(ev)
	}
	s.bus.subMu.Unlock()
}

// Events returns every event emitted so far, in order.
func (s *Sim) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.bus.log...)
}

// EventLog returns the events emitted so far as JSON lines. The same seed and
// the same calls give the same bytes.
func (s *Sim) EventLog() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, ev := range s.bus.log {
		if err := enc.Encode(ev); err != nil {
			s.log.Error("sim_event_log_encode_failed", "id", ev.ID, "error", err)
		}
	}
	return buf.Bytes()
}

// Subscription delivers the events emitted after Subscribe, in order, on C.
// Delivery never blocks the simulator: events queue until read.
type Subscription struct {
	// C receives the events. It is closed by Close.
	C <-chan Event

	c      chan Event
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	done   chan struct{}
	closed bool
	bus    *bus
}

// Subscribe starts delivering events to a new subscription. Close it when
// done.
func (s *Sim) Subscribe() *Subscription {
	c := make(chan Event)
	sub := &Subscription{C: c, c: c, wake: make(chan struct{}, 1), done: make(chan struct{}), bus: &s.bus}
	s.bus.subMu.Lock()
	s.bus.subs = append(s.bus.subs, sub)
	s.bus.subMu.Unlock()
	go sub.forward()
	return sub
}

func (sub *Subscription) push(ev Event) {
	sub.mu.Lock()
	if !sub.closed {
		sub.queue = append(sub.queue, ev)
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *Subscription) forward() {
	defer close(sub.c)
	for {
		sub.mu.Lock()
		if len(sub.queue) == 0 {
			sub.mu.Unlock()
			select {
			case <-sub.wake:
				continue
			case <-sub.done:
				return
			}
		}
		ev := sub.queue[0]
		sub.queue = sub.queue[1:]
		sub.mu.Unlock()
		select {
		case sub.c <- ev:
		case <-sub.done:
			return
		}
	}
}

// Close stops delivery and closes C. Events not yet read are dropped.
func (sub *Subscription) Close() {
	sub.bus.subMu.Lock()
	for i, other := range sub.bus.subs {
		if other == sub {
			sub.bus.subs = append(sub.bus.subs[:i], sub.bus.subs[i+1:]...)
			break
		}
	}
	sub.bus.subMu.Unlock()
	sub.mu.Lock()
	if !sub.closed {
		sub.closed = true
		close(sub.done)
	}
	sub.mu.Unlock()
}
