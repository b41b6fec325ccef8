package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

// ExecutionsAPI lists and describes executions.
type ExecutionsAPI interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ ExecutionsAPI = (*sfn.Client)(nil)

// ExecutionEvents puts a "Step Functions Execution Status Change" event on
// the bus whenever an execution of one of its state machines starts or
// ends, in internal/events' typed shape, as Step Functions does for
// standard workflows. moto does not emit them, so this watches the
// executions instead: every Interval it lists them and reports each new
// status. An execution that both started and ended between two looks is
// reported RUNNING, then with its final status, as AWS would have.
//
// https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
type ExecutionEvents struct {
	SFN ExecutionsAPI
	Bus *Bus
	// StateMachines are the ARNs of the state machines to watch.
	StateMachines []string
	// Account and Region go into the events' envelopes.
	Account, Region string
	// Interval is how often executions are listed; 200 ms when zero.
	Interval time.Duration
	Log      *slog.Logger

	seen map[string]sfntypes.ExecutionStatus
}

// Run watches until ctx is done.
func (w *ExecutionEvents) Run(ctx context.Context) {
	interval := w.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			log.Error("execution_events_failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll looks at the executions once and puts an event for each status
// change since the last look.
func (w *ExecutionEvents) Poll(ctx context.Context) error {
	if w.seen == nil {
		w.seen = map[string]sfntypes.ExecutionStatus{}
	}
	for _, sm := range w.StateMachines {
		p := sfn.NewListExecutionsPaginator(w.SFN, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("listing the executions of %s: %w", sm, err)
			}
			for _, e := range page.Executions {
				arn := aws.ToString(e.ExecutionArn)
				last, known := w.seen[arn]
				if known && last == e.Status {
					continue
				}
				d, err := w.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
				if err != nil {
					return fmt.Errorf("describing %s: %w", arn, err)
				}
				var evs []events.Envelope
				if !known && d.Status != sfntypes.ExecutionStatusRunning {
					evs = append(evs, w.event(d, sfntypes.ExecutionStatusRunning))
				}
				evs = append(evs, w.event(d, d.Status))
				if _, err := w.Bus.Put(ctx, evs...); err != nil {
					return err
				}
				w.seen[arn] = d.Status
			}
		}
	}
	return nil
}

// event builds the status change event of execution d reporting status.
func (w *ExecutionEvents) event(d *sfn.DescribeExecutionOutput, status sfntypes.ExecutionStatus) events.Envelope {
	included := json.RawMessage(`{"included":true}`)
	detail := events.ExecutionStatusChange{
		ExecutionArn: aws.ToString(d.ExecutionArn), StateMachineArn: aws.ToString(d.StateMachineArn),
		Name: aws.ToString(d.Name), Status: string(status), StartDate: aws.ToTime(d.StartDate).UnixMilli(),
		Input: d.Input, InputDetails: included,
	}
	at := aws.ToTime(d.StartDate)
	if status != sfntypes.ExecutionStatusRunning {
		stop := aws.ToTime(d.StopDate)
		if d.StopDate == nil {
			stop = time.Now()
		}
		ms := stop.UnixMilli()
		detail.StopDate, at = &ms, stop
		detail.Error, detail.Cause = d.Error, d.Cause
		if status == sfntypes.ExecutionStatusSucceeded {
			detail.Output, detail.OutputDetails = d.Output, included
		}
	}
	raw, _ := json.Marshal(detail)
	env := events.New(rand.Text(), w.Account, w.Region, at, []string{detail.ExecutionArn}, detail).Envelope
	env.Detail = raw
	return env
}
