package sim

import (
	"bytes"
	"encoding/json"
	"sync"
)

// eventTimeFormat is EventBridge's time format: UTC to the second.
const eventTimeFormat = "2006-01-02T15:04:05Z"

// Event is an EventBridge event as AWS delivers it: the envelope fields and a
// service-specific detail, serialized with the same field names and order as
// the examples in AWS's documentation.
type Event struct {
	// Version is the envelope version, always "0".
	Version string `json:"version"`
	// ID is the event's unique ID, a UUID.
	ID string `json:"id"`
	// DetailType names the kind of event, such as "EC2 Instance-launch
	// Lifecycle Action".
	DetailType string `json:"detail-type"`
	// Source is the emitting service, such as "aws.autoscaling".
	Source string `json:"source"`
	// Account is the simulated account ID.
	Account string `json:"account"`
	// Time is the virtual time of the event, in UTC to the second.
	Time string `json:"time"`
	// Region is the simulated region.
	Region string `json:"region"`
	// Resources lists the ARNs of the resources involved.
	Resources []string `json:"resources"`
	// Detail is the service-specific payload.
	Detail json.RawMessage `json:"detail"`
}

// bus keeps the event log and feeds subscribers. The log is guarded by
// Sim.mu; the subscriber list has its own lock so that delivery never waits
// on the simulator.
type bus struct {
	log []Event

	subMu sync.Mutex
	subs  []*Subscription
}

// emit appends an event to the log and queues it for every subscriber. The
// caller holds Sim.mu. detail is marshalled as is, so detail types must be
// structs (fixed field order) rather than maps.
func (s *Sim) emit(source, detailType string, resources []string, detail any) {
	raw, err := json.Marshal(detail)
	if err != nil {
		s.log.Error("sim_event_marshal_failed", "detail_type", detailType, "error", err)
		return
	}
	if resources == nil {
		resources = []string{}
	}
	ev := Event{
		Version:    "0",
		ID:         s.newUUID(),
		DetailType: detailType,
		Source:     source,
		Account:    s.account,
		Time:       s.clock.now.UTC().Format(eventTimeFormat),
		Region:     s.region,
		Resources:  resources,
		Detail:     raw,
	}
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
