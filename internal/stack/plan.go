package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Action is what a change does to a resource.
type Action string

// Actions.
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
)

// Change is one create, update or delete that a run made or would make.
type Change struct {
	Action   Action `json:"action"`
	Layer    string `json:"layer"`
	Resource string `json:"resource"`
	// Name is the component or AWS name of the resource.
	Name string `json:"name"`
	// ID is the resource's ID, when it exists or once it was created.
	ID string `json:"id,omitempty"`
	// Detail says what the change is about, for updates what drifted.
	Detail string `json:"detail,omitempty"`
}

// NewChange is the one constructor of a change of layer.
func NewChange(layer string, a Action, resource, name, id, detail string) Change {
	return Change{Action: a, Layer: layer, Resource: resource, Name: name, ID: id, Detail: detail}
}

// String renders the change on one line: "+ create network ec2:vpc vpc".
func (c Change) String() string {
	sign := map[Action]string{Create: "+", Update: "~", Delete: "-"}[c.Action]
	s := fmt.Sprintf("%s %s %s %s %s", sign, c.Action, c.Layer, c.Resource, c.Name)
	if c.ID != "" {
		s += " (" + c.ID + ")"
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Plan is the list of changes of a run, in the order they were (or would
// be) made.
type Plan struct {
	Stack   string   `json:"stack"`
	DryRun  bool     `json:"dryRun"`
	Changes []Change `json:"changes"`
}

// NoChanges is what a plan with nothing to do says.
const NoChanges = "no changes"

// Count returns how many changes have the action.
func (p Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Summary counts the changes by action, or says there are none.
func (p Plan) Summary() string {
	if len(p.Changes) == 0 {
		return NoChanges
	}
	return fmt.Sprintf("%d to create, %d to update, %d to delete", p.Count(Create), p.Count(Update), p.Count(Delete))
}

// String renders the plan for a person: one line per change and a summary.
func (p Plan) String() string {
	var b strings.Builder
	for _, c := range p.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "stack %s: %s\n", p.Stack, p.Summary())
	return b.String()
}

// Run carries one reconciliation: the spec, whether it is a dry run, and
// the changes made so far. Every mutation of every layer goes through Do, so
// plan and apply cannot disagree about what a change is.
type Run struct {
	Spec Spec
	// DryRun records changes without making them.
	DryRun bool
	// Token seeds client tokens: the execution ARN for a state machine run,
	// a random ID for a CLI run. Retries within one run reuse their tokens.
	Token string
	Log   *slog.Logger
	// OnChange, when set, is called after each change is recorded, to show
	// progress as it happens.
	OnChange func(Change)

	mu      sync.Mutex
	changes []Change
}

// NewRun returns a run of spec.
func NewRun(spec Spec, dryRun bool, token string, log *slog.Logger) *Run {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Run{Spec: spec, DryRun: dryRun, Token: token, Log: log}
}

// PendingPrefix starts the placeholder ID a dry run gives a resource it
// would create, so later layers can plan against it.
const PendingPrefix = "pending:"

// Pending reports whether id is a dry run's placeholder, or empty: a
// resource that does not exist yet and must not be sent to AWS.
func Pending(id string) bool { return id == "" || strings.HasPrefix(id, PendingPrefix) }

// Do records c and, unless the run is dry, applies it with fn, which returns
// the resource's ID. In a dry run it returns c.ID, or a placeholder when the
// change creates the resource.
func (r *Run) Do(ctx context.Context, c Change, fn func(context.Context) (string, error)) (string, error) {
	if r.DryRun {
		r.record(c)
		if c.ID == "" {
			return PendingPrefix + c.Name, nil
		}
		return c.ID, nil
	}
	r.Log.InfoContext(ctx, "applying change", "stack", r.Spec.Name, "action", c.Action, "layer", c.Layer,
		"resource", c.Resource, "name", c.Name, "id", c.ID, "detail", c.Detail)
	id, err := fn(ctx)
	if err != nil {
		return "", fmt.Errorf("%s %s %s: %w", verb(c.Action), c.Resource, c.Name, err)
	}
	if id != "" {
		c.ID = id
	}
	r.Log.InfoContext(ctx, "applied change", "stack", r.Spec.Name, "action", c.Action, "layer", c.Layer,
		"resource", c.Resource, "name", c.Name, "id", c.ID)
	r.record(c)
	return c.ID, nil
}

// Delete records and makes the delete c with fn. Not-found counts as done,
// so a delete can run again after any partial failure; a delete that AWS
// refuses while dependants exist (DependencyViolation) comes back as a
// RetryableError for the caller's bounded retry, since AWS releases
// dependants (network interfaces, mappings) some time after their owner
// goes.
func (r *Run) Delete(ctx context.Context, c Change, fn func(context.Context) error) error {
	_, err := r.Do(ctx, c, func(ctx context.Context) (string, error) { return c.ID, awserr.IgnoreNotFound(fn(ctx)) })
	if err != nil && awserr.IsDependencyViolation(err) {
		return &handlererr.RetryableError{Msg: "waiting for dependants to go", Err: err}
	}
	return err
}

func verb(a Action) string { return strings.TrimSuffix(string(a), "e") + "ing" }

func (r *Run) record(c Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	if r.OnChange != nil {
		r.OnChange(c)
	}
}

// Plan returns the changes recorded so far.
func (r *Run) Plan() Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Plan{Stack: r.Spec.Name, DryRun: r.DryRun, Changes: append([]Change{}, r.changes...)}
}

// ClientToken returns an idempotency token for one create: the same run and
// component always give the same token, so a retried call does not create a
// second resource. It is 32 hex characters, within every API's limit.
func (r *Run) ClientToken(component string) string {
	sum := sha256.Sum256([]byte(r.Spec.Name + "\x00" + r.Token + "\x00" + component))
	return hex.EncodeToString(sum[:16])
}
