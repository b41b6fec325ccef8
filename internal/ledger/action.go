package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Action kinds.
const (
	KindBuild       = "build"
	KindTeardown    = "teardown"
	KindRemediation = "remediation"
	KindLifecycle   = "lifecycle"
)

// Action is an audit item: something the control plane did on its own, or
// a build it ran, and how it ended.
type Action struct {
	// Subject is what the action concerns: a service or a stack name.
	Subject      string            `dynamodbav:"subject" json:"subject"`
	ID           string            `dynamodbav:"id" json:"id"`
	Kind         string            `dynamodbav:"kind" json:"kind"`
	Action       string            `dynamodbav:"action" json:"action"`
	Outcome      string            `dynamodbav:"outcome" json:"outcome"`
	Reason       string            `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	ExecutionARN string            `dynamodbav:"execution_arn,omitempty" json:"execution_arn,omitempty"`
	Detail       map[string]string `dynamodbav:"detail,omitempty" json:"detail,omitempty"`
	At           time.Time         `dynamodbav:"at" json:"at"`
}

type actionItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	Action
}

const actionSK = "ACTION#"

func subjectPK(subject string) string { return "SUBJECT#" + subject }

// RecordAction writes an audit item and returns it with its ID and time.
func (l *Ledger) RecordAction(ctx context.Context, a Action) (*Action, error) {
	if a.Subject == "" || a.Kind == "" || a.Action == "" {
		return nil, errors.New("ledger: an action needs a subject, a kind and an action")
	}
	a.ID = l.newID()
	a.At = l.now().UTC()
	if err := l.putNew(ctx, actionItem{PK: subjectPK(a.Subject), SK: actionSK + a.ID, Type: "action", Action: a}); err != nil {
		return nil, fmt.Errorf("recording %s action %s on %s: %w", a.Kind, a.Action, a.Subject, err)
	}
	return &a, nil
}

// Actions lists a subject's audit items, newest first.
func (l *Ledger) Actions(ctx context.Context, subject string, page PageRequest) ([]Action, string, error) {
	return list[Action](ctx, l, subjectPK(subject), actionSK, page)
}
