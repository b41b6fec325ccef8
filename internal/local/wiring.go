package local

import (
	"context"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/events"
)

// Wiring runs the event side of a deployed App: the dispatcher that takes
// what the rules matched to their real targets, Step Functions' status
// change events for the app's state machines, and pumps that put events
// on the bus.
type Wiring struct {
	Bus        *Bus
	Dispatcher *Dispatcher
	Executions *ExecutionEvents

	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Wire starts the dispatcher and the status change events of app, reached
// through cfg, until Stop.
func Wire(ctx context.Context, cfg aws.Config, app *App, pseudo Pseudo, log *slog.Logger) (*Wiring, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := NewDispatcher(ctx, cfg, app, log)
	if err != nil {
		return nil, err
	}
	bus := &Bus{API: eventbridge.NewFromConfig(cfg)}
	var machines []string
	for _, sm := range app.StateMachines {
		machines = append(machines, sm.ARN)
	}
	w := &Wiring{
		Bus: bus, Dispatcher: d, log: log,
		Executions: &ExecutionEvents{SFN: sfn.NewFromConfig(cfg), Bus: bus, StateMachines: machines, Account: pseudo.AccountID, Region: pseudo.Region, Log: log},
	}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.wg.Go(func() { d.Run(w.ctx) })
	w.wg.Go(func() { w.Executions.Run(w.ctx) })
	return w, nil
}

// Pump puts every event read from in on the bus until in is closed or the
// wiring stops.
func (w *Wiring) Pump(in <-chan events.Envelope) *Pump {
	p := &Pump{Bus: w.Bus, Log: w.log}
	w.wg.Go(func() { p.Run(w.ctx, in) })
	return p
}

// Stop stops the dispatcher, the status events and the pumps, and waits
// for them.
func (w *Wiring) Stop() {
	w.cancel()
	w.wg.Wait()
}
