// Package lifecycle is the Auto Scaling lifecycle workflow that
// statemachine/lifecycle.asl.json runs, one execution per lifecycle action
// of the stack's group:
//
//   - launch: the instance completes its launch hook with CONTINUE only once
//     it is a container instance of the cluster, ACTIVE, with its agent
//     connected; at the launch deadline it is ABANDONed, and the group
//     replaces it;
//   - terminate: the container instance is set to DRAINING (unless it
//     already drains, or ECS's managed instance draining drains it), and the
//     hook completes with CONTINUE once every task that ran on it is STOPPED
//     and their targets have drained; at the drain deadline it completes
//     with the configured result, and the state machine publishes a
//     notification.
//
// The state machine holds the waits (a Wait/Choice loop); the function
// never sleeps. Each round it heartbeats the hook when the time since the
// last heartbeat, plus one more round, would reach half the hook's
// heartbeat timeout. The deadlines are measured from the event's time, when
// Auto Scaling began the action, and are clamped to act at least two
// heartbeat timeouts before the hook's global timeout (100 heartbeat
// timeouts, at most 48 hours).
//
// The action's token is the idempotency key: the first execution claims it
// in the ledger, and an execution for a duplicate event records that it
// found the claim and changes nothing. An event for another group or hook
// is refused before any call. Every execution ends with an audit item in
// the ledger.
package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Op is what one invocation of the lifecycle function does.
type Op string

// The ops, one per Task state of the state machine.
const (
	// OpStart reads the event, claims the action and, for a terminate,
	// starts the drain.
	OpStart Op = "start"
	// OpCheck is one round of the wait loop: readiness or drain progress,
	// a heartbeat when due, the deadline.
	OpCheck Op = "check"
	// OpComplete completes the lifecycle action.
	OpComplete Op = "complete"
	// OpRecord writes the audit item and releases the claim.
	OpRecord Op = "record"
)

// Kinds of action, as the ledger names them.
const (
	KindLaunch = "launch"
	KindDrain  = "drain"
)

// States of a run, which the state machine's Choice states read.
const (
	// StateWaiting asks for another round.
	StateWaiting = "waiting"
	// StateReady: complete with CONTINUE.
	StateReady = "ready"
	// StateDeadline: the deadline passed; complete with its result.
	StateDeadline = "deadline"
	// StateCompleted: the action was completed.
	StateCompleted = "completed"
	// StateGone: the instance or its action is gone; nothing to complete.
	StateGone = "gone"
	// StateDuplicate: another execution handles the action.
	StateDuplicate = "duplicate"
)

// Results of a lifecycle action, as Auto Scaling names them.
const (
	ResultContinue = "CONTINUE"
	ResultAbandon  = "ABANDON"
)

// Outcomes the ledger records besides the two results.
const (
	OutcomeGone      = "GONE"
	OutcomeDuplicate = "DUPLICATE"
	OutcomeRefused   = "REFUSED"
	OutcomeFailed    = "FAILED"
)

// Config is what the lifecycle function reads from its environment.
type Config struct {
	// TableName is the ledger table.
	TableName string `env:"TABLE_NAME"`
	// LaunchDeadline is how long an instance may take to join the cluster
	// before its launch is abandoned.
	LaunchDeadline time.Duration `env:"LAUNCH_DEADLINE"`
	// DrainDeadline is how long a drain may take before the deadline
	// policy completes the action with DrainDeadlineResult.
	DrainDeadline       time.Duration `env:"DRAIN_DEADLINE"`
	DrainDeadlineResult string        `env:"DRAIN_DEADLINE_RESULT"`
}

// Validate lists every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.LaunchDeadline <= 0 || c.DrainDeadline <= 0 {
		errs = append(errs, fmt.Errorf("LAUNCH_DEADLINE %s and DRAIN_DEADLINE %s must be positive", c.LaunchDeadline, c.DrainDeadline))
	}
	if c.DrainDeadlineResult != ResultContinue && c.DrainDeadlineResult != ResultAbandon {
		errs = append(errs, fmt.Errorf("DRAIN_DEADLINE_RESULT %q must be %s or %s", c.DrainDeadlineResult, ResultContinue, ResultAbandon))
	}
	return errors.Join(errs...)
}

// Request is what the state machine passes the function.
type Request struct {
	Op Op `json:"op"`
	// Event is the EventBridge event (start), or the event a failed start
	// was given (record).
	Event json.RawMessage `json:"event,omitempty"`
	// ExecutionARN owns the action's claim.
	ExecutionARN string `json:"executionArn,omitempty"`
	// PollSeconds is the wait between two rounds (start), a number or,
	// from a substitution, a string.
	PollSeconds step.Int `json:"pollSeconds,omitempty"`
	// Run is the state start returned, with the last round's progress.
	Run *Run `json:"run,omitempty"`
	// Error is a failure a Catch caught, for record.
	Error *handlererr.Caught `json:"error,omitempty"`
}

// Run is one lifecycle action and how far the workflow got with it.
type Run struct {
	Action   Action   `json:"action"`
	Progress Progress `json:"progress"`
}

// Action is what start learned of the lifecycle action.
type Action struct {
	Kind       string `json:"kind"`
	Token      string `json:"token"`
	Group      string `json:"group"`
	Hook       string `json:"hook"`
	InstanceID string `json:"instanceId"`
	Zone       string `json:"zone,omitempty"`
	Cluster    string `json:"cluster"`
	// ContainerInstanceARN is the instance's container instance, when it
	// has one.
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
	// StartedAt is the event's time: when Auto Scaling began the action.
	StartedAt  time.Time `json:"startedAt"`
	DeadlineAt time.Time `json:"deadlineAt"`
	// DeadlineResult completes the action at the deadline.
	DeadlineResult string `json:"deadlineResult"`
	// HeartbeatTimeout is the hook's, in seconds.
	HeartbeatTimeout int32 `json:"heartbeatTimeout"`
	// PollSeconds is the state machine's wait between two rounds.
	PollSeconds int `json:"pollSeconds"`
	// DrainedBy says who set the container instance DRAINING.
	DrainedBy string `json:"drainedBy,omitempty"`
	// Tasks are the tasks on the instance when the drain began, and
	// Targets their load balancer targets.
	Tasks   []string `json:"tasks,omitempty"`
	Targets []Target `json:"targets,omitempty"`
}

// Target is one target of a drained task.
type Target struct {
	TargetGroupARN string `json:"targetGroupArn"`
	ID             string `json:"id"`
	Port           int32  `json:"port"`
	// Task owns the target.
	Task string `json:"task"`
}

// Progress is where the run stands after its last step.
type Progress struct {
	State  string `json:"state"`
	Detail string `json:"detail"`
	// Round counts the checks.
	Round int `json:"round"`
	// CheckedAt is the time of the run's last step on AWS's clock.
	CheckedAt   time.Time `json:"checkedAt"`
	HeartbeatAt time.Time `json:"heartbeatAt"`
	Heartbeats  int       `json:"heartbeats"`
	// TasksLeft are the drained tasks not STOPPED yet.
	TasksLeft int `json:"tasksLeft"`
	// Result is what the action was completed with.
	Result string `json:"result,omitempty"`
	// Deadline is set when the deadline policy acted.
	Deadline bool `json:"deadline"`
	// Notice is the notification the state machine publishes when the
	// deadline policy acted.
	Notice string `json:"notice,omitempty"`
	// Owner is the execution that holds a duplicate's claim.
	Owner string `json:"owner,omitempty"`
}

// Handler is the lifecycle function.
type Handler struct {
	Clients Clients
	Ledger  *ledger.Ledger
	// Stack is the stack whose group's actions the function handles; it
	// refuses any other group's.
	Stack  string
	Config Config
	// Now is the time on AWS's side; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

// Handle decodes a request and runs its op. Errors are the typed errors the
// state machine's Retry and Catch match.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	return handlererr.Serve(ctx, raw, "lifecycle request", h.handle)
}

func (h *Handler) handle(ctx context.Context, req Request) (any, error) {
	needRun := func() error {
		if req.Run == nil || req.Run.Action.Token == "" {
			return handlererr.Invalid(fmt.Sprintf("op %s needs the run that start returned", req.Op))
		}
		return nil
	}
	switch req.Op {
	case OpStart:
		return h.Start(ctx, req.Event, req.ExecutionARN, int(req.PollSeconds))
	case OpCheck:
		if err := needRun(); err != nil {
			return nil, err
		}
		return h.Check(ctx, req.Run)
	case OpComplete:
		if err := needRun(); err != nil {
			return nil, err
		}
		return h.Complete(ctx, req.Run)
	case OpRecord:
		return h.Record(ctx, req)
	}
	return nil, handlererr.Invalid(fmt.Sprintf("op %q is not one of %s, %s, %s, %s", req.Op, OpStart, OpCheck, OpComplete, OpRecord))
}
