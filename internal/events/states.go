package events

import "encoding/json"

// DetailTypeExecutionStatusChange is the detail type of a state machine
// execution's status change.
const DetailTypeExecutionStatusChange = "Step Functions Execution Status Change"

// Execution statuses, as the events name them.
const (
	ExecutionRunning   = "RUNNING"
	ExecutionSucceeded = "SUCCEEDED"
	ExecutionFailed    = "FAILED"
	ExecutionTimedOut  = "TIMED_OUT"
	ExecutionAborted   = "ABORTED"
)

// ExecutionStatusChange is the detail of a "Step Functions Execution Status
// Change" event (aws.states). Dates are milliseconds since the epoch; input
// and output are JSON text, and output is null until the execution ends.
//
// https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
type ExecutionStatusChange struct {
	ExecutionArn    string          `json:"executionArn"`
	StateMachineArn string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	StartDate       int64           `json:"startDate"`
	StopDate        *int64          `json:"stopDate"`
	Input           *string         `json:"input"`
	Output          *string         `json:"output"`
	InputDetails    json.RawMessage `json:"inputDetails"`
	OutputDetails   json.RawMessage `json:"outputDetails"`
	Error           *string         `json:"error"`
	Cause           *string         `json:"cause"`
}

// EventSource is aws.states.
func (ExecutionStatusChange) EventSource() string { return SourceStates }

// EventDetailType is "Step Functions Execution Status Change".
func (ExecutionStatusChange) EventDetailType() string { return DetailTypeExecutionStatusChange }

func (d ExecutionStatusChange) problems([]string) []string {
	var c checker
	c.matches("executionArn", d.ExecutionArn, arnRe)
	c.matches("stateMachineArn", d.StateMachineArn, arnRe)
	c.required("name", d.Name)
	c.oneOf("status", d.Status, ExecutionRunning, ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut, ExecutionAborted, "PENDING_REDRIVE")
	if d.StartDate <= 0 {
		c = append(c, "startDate is missing")
	}
	return c
}

// ParseExecutionStatusChange parses a "Step Functions Execution Status
// Change" event.
func ParseExecutionStatusChange(raw []byte) (Event[ExecutionStatusChange], error) {
	return Parse[ExecutionStatusChange](raw)
}
