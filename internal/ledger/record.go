package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// RecordRequest is the input of the record function: what a state machine
// reports about a build, teardown or other action. Error and Cause carry a
// caught failure as Step Functions passes it in a Catch ResultPath.
type RecordRequest struct {
	Subject      string            `json:"subject"`
	Kind         string            `json:"kind"`
	Action       string            `json:"action"`
	Outcome      string            `json:"outcome"`
	Reason       string            `json:"reason,omitempty"`
	ExecutionARN string            `json:"executionArn,omitempty"`
	Detail       map[string]string `json:"detail,omitempty"`
	Error        *struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"error,omitempty"`
}

var knownKinds = map[string]bool{KindBuild: true, KindTeardown: true, KindRemediation: true, KindLifecycle: true}

// Validate lists every problem with the request.
func (r RecordRequest) Validate() error {
	var problems []string
	if r.Subject == "" {
		problems = append(problems, "subject is required")
	}
	if !knownKinds[r.Kind] {
		problems = append(problems, "kind must be one of build, teardown, remediation, lifecycle")
	}
	if r.Action == "" {
		problems = append(problems, "action is required")
	}
	if r.Outcome == "" {
		problems = append(problems, "outcome is required")
	}
	if len(problems) > 0 {
		return handlererr.Invalid(problems...)
	}
	return nil
}

// Config is what the record function reads from its environment.
type Config struct {
	// TableName is the ledger table.
	TableName string `env:"TABLE_NAME"`
}

// RecordHandler is the record function. The CLI records its own builds and
// teardowns through it too.
type RecordHandler struct {
	Ledger *Ledger
	// Stack is the stack the control plane manages: the handler records
	// actions about it and refuses others. Empty accepts any subject.
	Stack string
	Log   *slog.Logger
}

// Handle decodes, validates and records one action.
func (h *RecordHandler) Handle(ctx context.Context, raw json.RawMessage) (*Action, error) {
	var req RecordRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, handlererr.Invalid("record request is not valid JSON: " + err.Error())
	}
	return h.Record(ctx, req)
}

// Record validates and records one action.
func (h *RecordHandler) Record(ctx context.Context, req RecordRequest) (*Action, error) {
	if err := req.Validate(); err != nil {
		return nil, handlererr.Boundary(err)
	}
	if h.Stack != "" && req.Subject != h.Stack {
		return nil, handlererr.Invalid(fmt.Sprintf("subject %q is not %q, the stack this control plane manages", req.Subject, h.Stack))
	}
	a := Action{
		Subject: req.Subject, Kind: req.Kind, Action: req.Action, Outcome: req.Outcome,
		Reason: req.Reason, ExecutionARN: req.ExecutionARN, Detail: req.Detail,
	}
	if req.Error != nil {
		if a.Detail == nil {
			a.Detail = map[string]string{}
		}
		a.Detail["error"] = req.Error.Error
		a.Detail["cause"] = req.Error.Cause
		if a.Reason == "" {
			a.Reason = req.Error.Error
		}
	}
	rec, err := h.Ledger.RecordAction(ctx, a)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	h.Log.InfoContext(ctx, "recorded action", "subject", rec.Subject, "kind", rec.Kind, "action", rec.Action, "outcome", rec.Outcome, "action_id", rec.ID)
	return rec, nil
}
