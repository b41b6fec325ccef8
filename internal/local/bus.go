package local

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

// PutEventsAPI is the EventBridge call that puts events on a bus.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ PutEventsAPI = (*eventbridge.Client)(nil)

// Bus puts events on an EventBridge bus, moto's in the local environment,
// whose rules then decide what they start. AWS's own services put their
// events on the default bus themselves, and PutEvents refuses their aws.*
// sources to anyone else; moto accepts them, which is how the local
// environment stands in for ECS, Auto Scaling, CloudWatch, ECR and Step
// Functions.
//
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
type Bus struct {
	API PutEventsAPI
	// Name is the bus; the default bus when empty.
	Name string
}

// maxPutEntries is PutEvents' limit on entries per call.
const maxPutEntries = 10

// Put puts the events on the bus in order and returns the IDs the bus gave
// them. An entry the bus refuses is an error naming it.
func (b *Bus) Put(ctx context.Context, evs ...events.Envelope) ([]string, error) {
	var ids []string
	for len(evs) > 0 {
		n := min(len(evs), maxPutEntries)
		entries := make([]ebtypes.PutEventsRequestEntry, n)
		for i, ev := range evs[:n] {
			entries[i] = ebtypes.PutEventsRequestEntry{
				Source: aws.String(ev.Source), DetailType: aws.String(ev.DetailType), Detail: aws.String(string(ev.Detail)),
				Resources: ev.Resources,
			}
			// Without a time the bus stamps the event with its own.
			if !ev.Time.IsZero() {
				entries[i].Time = aws.Time(ev.Time)
			}
			if b.Name != "" {
				entries[i].EventBusName = aws.String(b.Name)
			}
		}
		out, err := b.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return ids, fmt.Errorf("putting events: %w", err)
		}
		for i, e := range out.Entries {
			if e.ErrorCode != nil {
				return ids, fmt.Errorf("putting event %s (%s): %s: %s", evs[i].ID, evs[i].DetailType, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
			}
			ids = append(ids, aws.ToString(e.EventId))
		}
		evs = evs[n:]
	}
	return ids, nil
}

// PutTyped puts one typed event, in the shape internal/events defines.
func PutTyped[D events.Detail](ctx context.Context, b *Bus, ev events.Event[D]) (string, error) {
	raw, err := json.Marshal(ev.Detail)
	if err != nil {
		return "", fmt.Errorf("encoding %s detail: %w", ev.DetailType, err)
	}
	env := ev.Envelope
	env.Detail = raw
	ids, err := b.Put(ctx, env)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// ReadEventFile reads an EventBridge event from a file: the envelope
// (source, detail-type, resources, time) and its detail, which must be a
// JSON object. When the source and detail type are ones internal/events
// types, the event must also pass that type's strict parser, so that a
// malformed event is refused here rather than by the handler it reaches.
func ReadEventFile(path string) (events.Envelope, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("reading event: %w", err)
	}
	return ParseEvent(raw)
}

// ParseEvent parses an EventBridge event as ReadEventFile does.
func ParseEvent(raw []byte) (events.Envelope, error) {
	var ev events.Envelope
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("not an EventBridge event: %w", err)
	}
	var problems []string
	if ev.Source == "" {
		problems = append(problems, "source is missing")
	}
	if ev.DetailType == "" {
		problems = append(problems, "detail-type is missing")
	}
	var detail map[string]any
	if err := json.Unmarshal(ev.Detail, &detail); err != nil || detail == nil {
		problems = append(problems, "detail is not a JSON object")
	}
	if len(problems) > 0 {
		return ev, fmt.Errorf("not an EventBridge event: %s", strings.Join(problems, "; "))
	}
	if err := events.Check(raw); err != nil {
		return ev, err
	}
	return ev, nil
}

// Pump puts every event read from in on the bus until in is closed or ctx
// is done: how the simulator's events (sim.Subscribe) reach the rules. An
// event the bus refuses is logged and counted, never silently lost.
type Pump struct {
	Bus    *Bus
	Log    *slog.Logger
	put    atomic.Int64
	failed atomic.Int64
}

// Run pumps until in is closed or ctx is done.
func (p *Pump) Run(ctx context.Context, in <-chan events.Envelope) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-in:
			if !ok {
				return
			}
			if _, err := p.Bus.Put(ctx, ev); err != nil {
				if ctx.Err() != nil {
					return
				}
				p.failed.Add(1)
				log.Error("event_put_failed", "source", ev.Source, "detail_type", ev.DetailType, "id", ev.ID, "error", err)
				continue
			}
			p.put.Add(1)
		}
	}
}

// Counts returns how many events the pump put and how many the bus
// refused.
func (p *Pump) Counts() (put, failed int64) { return p.put.Load(), p.failed.Load() }
