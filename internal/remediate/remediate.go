// Package remediate is the remediation workflow that
// statemachine/remediate.asl.json runs, one execution per state change of
// one of the stack's alarms that the template's rule passes on: an alarm
// going to ALARM, or from ALARM back to OK.
//
// Decide reads the event strictly, refuses another stack's alarm before
// any call, claims the state change (a duplicate delivery records that it
// found the claim and changes nothing), and applies the Policy table:
//
//   - a zone's alarm in ALARM, with the other zone healthy, nothing
//     evacuated, and the other zone able to carry the whole desired count,
//     evacuates the zone. The evacuation takes the cooldown of the alarm
//     and zone, the service's capacity lease, and begins the stack's one
//     evacuation in the ledger; its first change is a zonal shift of the
//     Auto Scaling group away from the zone, so that the group launches
//     only into the healthy zone, and the pre-scale raises the group's
//     desired capacity by the instances the healthy zone lacks;
//   - the same with the other zone unhealthy too, another zone evacuated,
//     or not enough capacity, records and notifies instead; so does a
//     service at its maximum count whose CPU or memory alarm fires, or a
//     group at its maximum whose capacity alarm fires (optionally the
//     scalable target's maximum is raised within a configured ceiling);
//   - everything else records why it does nothing.
//
// An evacuation then runs in the state machine's Wait/Choice loop, one
// Check a round, through its phases: prescale (until the healthy zone's
// container instances can take the impaired zone's tasks), drain (the
// impaired zone's instances leave the group, each drained by its
// terminate hook through the lifecycle state machine, while ECS starts
// their tasks' replacements in the healthy zone before it stops them),
// then, once the healthy zone serves the whole desired count from healthy
// targets, a zonal shift of the load balancer away from the zone. While
// evacuated it extends both shifts before they expire, as long as the zone
// has not been seen healthy; once the zone's alarms have stayed OK for the
// configured periods (and a cooldown since its last attempt) it probes:
// the group's shift ends, so capacity returns to the zone and ECS
// rebalances into it while the load balancer still sends it no requests.
// If the zone's alarms fire, the evacuation starts over; once its targets
// are healthy, the load balancer's shift ends and the restore waits until
// the tasks are balanced again. Every decision, doing nothing included,
// ends in an audit item; the evacuation's milestones are audit items as
// they happen.
package remediate

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

// Op is what one invocation of the remediation function does.
type Op string

// The ops, one per kind of Task state of the state machine.
const (
	// OpDecide reads the event, applies the policy and, for an
	// evacuation, begins its pre-scale.
	OpDecide Op = "decide"
	// OpCheck is one round of an evacuation.
	OpCheck Op = "check"
	// OpRecord writes the execution's audit item and releases what it
	// holds.
	OpRecord Op = "record"
)

// Actions a decision takes, as the audit items name them.
const (
	ActionNone      = "none"
	ActionNotify    = "notify"
	ActionEvacuate  = "evacuate"
	ActionRaise     = "raise"
	ActionDuplicate = "duplicate"
	ActionRefused   = "refused"
)

// States of a run, which the state machine's Choice states read.
const (
	// StateWaiting asks for another round after the wait.
	StateWaiting = "waiting"
	// StateDone ends the execution with its record.
	StateDone = "done"
)

// Phases of an evacuation.
const (
	// PhaseConfirm changes nothing: the other zone must stay healthy for
	// the configured periods before anything moves.
	PhaseConfirm   = "confirm"
	PhasePreScale  = "prescale"
	PhaseDrain     = "drain"
	PhaseEvacuated = "evacuated"
	PhaseProbe     = "probe"
	PhaseRebalance = "rebalance"
	PhaseEnded     = "ended"
)

// Outcomes an execution ends with.
const (
	OutcomeNothing   = "NOTHING"
	OutcomeNotified  = "NOTIFIED"
	OutcomeRaised    = "RAISED"
	OutcomeRestored  = "RESTORED"
	OutcomeAborted   = "ABORTED"
	OutcomeDuplicate = "DUPLICATE"
	OutcomeRefused   = "REFUSED"
	OutcomeFailed    = "FAILED"
)

// Config is what the remediation function reads from its environment.
type Config struct {
	// TableName is the ledger table.
	TableName string `env:"TABLE_NAME"`
	// Cooldown is the least time between two actions for one alarm and
	// scope, and between two restore attempts of an evacuation.
	Cooldown time.Duration `env:"COOLDOWN"`
	// RestoreOKPeriods is how many of its periods each of the zone's
	// alarms must have stayed OK before a restore.
	RestoreOKPeriods int `env:"RESTORE_OK_PERIODS"`
	// ShiftExpiry is the zonal shifts' expiry; an evacuation extends them
	// by as much once less than half of it is left.
	ShiftExpiry time.Duration `env:"SHIFT_EXPIRY"`
	// PhaseDeadline is how long an evacuation's pre-scale, drain, probe or
	// rebalance may take before the evacuation gives up and notifies.
	PhaseDeadline time.Duration `env:"PHASE_DEADLINE"`
	// MaxCountCeiling, when above the service's maximum count, lets a
	// scaling alarm at the maximum raise it up to the ceiling; 0 never
	// raises.
	MaxCountCeiling int32 `env:"MAX_COUNT_CEILING"`
	// ConfirmPeriods is how many periods of the impaired zone's alarms the
	// other zone must stay healthy, by its alarms, its targets and its
	// alarms' own metrics, before an evacuation changes anything: two zones
	// that degrade together fire their alarms periods apart. 0 evacuates
	// at once.
	ConfirmPeriods int `env:"CONFIRM_PERIODS"`
}

// Validate lists every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Cooldown <= 0 || c.PhaseDeadline <= 0 {
		errs = append(errs, fmt.Errorf("COOLDOWN %s and PHASE_DEADLINE %s must be positive", c.Cooldown, c.PhaseDeadline))
	}
	if c.RestoreOKPeriods < 1 {
		errs = append(errs, fmt.Errorf("RESTORE_OK_PERIODS %d must be at least 1", c.RestoreOKPeriods))
	}
	if c.ShiftExpiry < time.Minute || c.ShiftExpiry > 72*time.Hour || c.ShiftExpiry%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("SHIFT_EXPIRY %s must be whole minutes from 1m to 72h, as zonal shift takes it", c.ShiftExpiry))
	}
	if c.ConfirmPeriods < 0 {
		errs = append(errs, fmt.Errorf("CONFIRM_PERIODS %d must not be negative", c.ConfirmPeriods))
	}
	if c.MaxCountCeiling < 0 {
		errs = append(errs, fmt.Errorf("MAX_COUNT_CEILING %d must not be negative", c.MaxCountCeiling))
	}
	return errors.Join(errs...)
}

// Request is what the state machine passes the function.
type Request struct {
	Op Op `json:"op"`
	// Event is the EventBridge event (decide), or the event a failed
	// decide was given (record).
	Event        json.RawMessage `json:"event,omitempty"`
	ExecutionARN string          `json:"executionArn,omitempty"`
	// PollSeconds is one round of the wait loop, from a substitution.
	PollSeconds step.Int `json:"pollSeconds,omitempty"`
	// Run is what decide returned, with the last round's changes.
	Run *Run `json:"run,omitempty"`
	// Error is a failure a Catch caught, for record.
	Error *handlererr.Caught `json:"error,omitempty"`
}

// Run is one execution: its decision and, for an evacuation, how far it
// got.
type Run struct {
	Decision   Decision           `json:"decision"`
	Evacuation *ledger.Evacuation `json:"evacuation,omitempty"`
	Progress   Progress           `json:"progress"`
}

// Decision is what decide made of the event.
type Decision struct {
	Alarm     string `json:"alarm"`
	Class     string `json:"class"`
	Component string `json:"component"`
	Zone      string `json:"zone,omitempty"`
	Scope     string `json:"scope"`
	// State is the alarm's new state, StateAt when it changed to it.
	State   string    `json:"state"`
	StateAt time.Time `json:"stateAt"`
	EventID string    `json:"eventId"`
	// Key claims the state change against duplicate deliveries.
	Key          string `json:"key"`
	ExecutionARN string `json:"executionArn"`
	PollSeconds  int    `json:"pollSeconds"`
	Action       string `json:"action"`
	Reason       string `json:"reason"`
	// Owner is the execution that handles a duplicate's state change, or
	// holds the cooldown.
	Owner string `json:"owner,omitempty"`
	// DecidedAt is the decision's time on AWS's clock.
	DecidedAt time.Time `json:"decidedAt"`
	// Lease is the service's capacity lease an evacuation or a raise
	// holds.
	Lease *ledger.Lease `json:"lease,omitempty"`
}

// Progress is where the run stands after its last step.
type Progress struct {
	State string `json:"state"`
	Phase string `json:"phase,omitempty"`
	// PhaseSince is when the evacuation entered its phase.
	PhaseSince time.Time `json:"phaseSince,omitzero"`
	Detail     string    `json:"detail"`
	Round      int       `json:"round"`
	// Rounds is how many rounds to wait before the next check, and
	// WaitSeconds that in seconds, which the Wait state reads.
	Rounds      int `json:"rounds"`
	WaitSeconds int `json:"waitSeconds"`
	// Notify asks the state machine to publish Notice before it goes on.
	Notify    bool      `json:"notify"`
	Notice    string    `json:"notice,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
	Outcome   string    `json:"outcome,omitempty"`
}

// Handler is the remediation function.
type Handler struct {
	Clients Clients
	Ledger  *ledger.Ledger
	// Stack is the stack whose alarms the function acts on; it refuses
	// any other's.
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
	return handlererr.Serve(ctx, raw, "remediation request", h.handle)
}

func (h *Handler) handle(ctx context.Context, req Request) (any, error) {
	switch req.Op {
	case OpDecide:
		return h.Decide(ctx, req.Event, req.ExecutionARN, int(req.PollSeconds))
	case OpCheck:
		if req.Run == nil || req.Run.Evacuation == nil || req.Run.Decision.ExecutionARN == "" {
			return nil, handlererr.Invalid("check needs the run of an evacuation that decide returned")
		}
		return h.Check(ctx, req.Run)
	case OpRecord:
		return h.Record(ctx, req)
	}
	return nil, handlererr.Invalid(fmt.Sprintf("op %q is not one of %s, %s, %s", req.Op, OpDecide, OpCheck, OpRecord))
}

// wait sets the run to wait n rounds before its next check.
func (r *Run) wait(n int) {
	r.Progress.State, r.Progress.Rounds = StateWaiting, max(n, 1)
	r.Progress.WaitSeconds = r.Progress.Rounds * r.Decision.PollSeconds
}

// done ends the run with its outcome and reason.
func (r *Run) done(outcome, detail string) {
	r.Progress.State, r.Progress.Outcome, r.Progress.Detail = StateDone, outcome, detail
}

// notify asks the state machine to publish a notice.
func (r *Run) notify(format string, args ...any) {
	r.Progress.Notify, r.Progress.Notice = true, fmt.Sprintf(format, args...)
}
