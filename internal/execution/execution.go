// Package execution follows a Step Functions execution to its end. The
// CLI, `make local` and the test harness all wait for executions with Wait.
package execution

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// API is the subset of the Step Functions client Wait calls.
type API interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

var _ API = (*sfn.Client)(nil)

// Result is a finished execution with its whole history, oldest first.
type Result struct {
	*sfn.DescribeExecutionOutput
	History []types.HistoryEvent
}

// Wait polls the execution every interval until it leaves RUNNING and
// returns it with its history. onEvent, when set, sees each history event
// once, as it appears. ctx bounds the wait.
func Wait(ctx context.Context, api API, arn string, interval time.Duration, onEvent func(types.HistoryEvent)) (*Result, error) {
	seen := 0
	for {
		d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("describing execution %s: %w", arn, err)
		}
		running := d.Status == types.ExecutionStatusRunning
		if onEvent != nil || !running {
			events, err := History(ctx, api, arn)
			if err != nil {
				return nil, err
			}
			if onEvent != nil {
				for _, e := range events[seen:] {
					onEvent(e)
				}
				seen = len(events)
			}
			if !running {
				return &Result{DescribeExecutionOutput: d, History: events}, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for execution %s: %w", arn, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// History returns the execution's events, oldest first.
func History(ctx context.Context, api API, arn string) ([]types.HistoryEvent, error) {
	var events []types.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(api, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", arn, err)
		}
		events = append(events, page.Events...)
	}
	return events, nil
}
