// Package step is one step of the build and teardown state machines: the
// request a layer's function receives, the wait-loop progress it returns,
// and the handler that runs one layer's reconcile, readiness check or
// destroy. Each layer package describes itself as a Layer; the layer's own
// function serves it with a Handler, so that it links only the clients that
// layer calls, and internal/build lists the layers in their one order.
package step

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Op is what a step does with its layer.
type Op string

// Ops.
const (
	OpReconcile Op = "reconcile"
	OpCheck     Op = "check"
	OpDestroy   Op = "destroy"
)

// Layer is one layer of the stack as the state machines and the runner see
// it, over the layer's own clients C.
type Layer[C any] struct {
	Name string
	// Reconcile reconciles the layer given the earlier layers' outputs and
	// stores its own output in o.
	Reconcile func(ctx context.Context, c C, run *stack.Run, o *stack.Outputs) error
	// Output is the layer's output in o, what its reconcile step returns.
	Output func(o *stack.Outputs) any
	// Destroy deletes the layer; a NotReadyError asks for another round.
	Destroy func(ctx context.Context, c C, run *stack.Run) error
	// Checks are the readiness checks that follow the layer, in order.
	Checks []Check[C]
}

// Define describes a layer whose output is the field of the outputs that
// field points to, reconciled from the earlier layers' outputs as inputs
// picks them.
func Define[C, I, T any](name string, field func(*stack.Outputs) **T, inputs func(*stack.Outputs) I,
	reconcile func(context.Context, C, *stack.Run, I) (*T, error), destroy func(context.Context, C, *stack.Run) error, checks ...Check[C]) Layer[C] {
	return Layer[C]{
		Name: name,
		Reconcile: func(ctx context.Context, c C, run *stack.Run, o *stack.Outputs) error {
			out, err := reconcile(ctx, c, run, inputs(o))
			if awserr.IsAlreadyExists(err) {
				// The SDK retries a call whose answer was lost, so a create
				// may collide with what its own first attempt made. A second
				// look finds that as the stack's own, or as another's,
				// which the layer adopts or refuses by its own rules.
				out, err = reconcile(ctx, c, run, inputs(o))
			}
			*field(o) = out
			return err
		},
		Output:  func(o *stack.Outputs) any { return *field(o) },
		Destroy: destroy,
		Checks:  checks,
	}
}

// Check is one readiness check: one condition of a healthy stack.
type Check[C any] struct {
	Name   string
	Status func(ctx context.Context, c C, o *stack.Outputs) (stack.Status, error)
}

// Request is the state-machine state a layer's function receives.
type Request struct {
	Op Op `json:"op"`
	// Check names the readiness check of OpCheck.
	Check string `json:"check,omitempty"`
	// Spec is the resolved spec the plan step put into the execution's
	// state, which reconcile steps read without validating it again; for
	// OpDestroy any spec that names the stack.
	Spec   json.RawMessage `json:"spec,omitempty"`
	Layers stack.Outputs   `json:"layers"`
	// Previous is the last wait-loop result, to count attempts.
	Previous     *Progress `json:"previous,omitempty"`
	Waits        Waits     `json:"waits"`
	ExecutionARN string    `json:"executionArn,omitempty"`
}

// Waits bound the wait loops. Values may be numbers or strings, since
// DefinitionSubstitutions only substitute strings.
type Waits struct {
	Seconds     Int `json:"seconds"`
	MaxAttempts Int `json:"maxAttempts"`
}

// Int is an integer that also decodes from a JSON string.
type Int int

// UnmarshalJSON accepts 5 and "5".
func (n *Int) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		b = []byte(s)
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("want an integer, got %s", b)
	}
	*n = Int(v)
	return nil
}

// Progress is one round of a wait loop: a readiness check or a teardown
// step that is still waiting for AWS.
type Progress struct {
	Name        string `json:"name"`
	Done        bool   `json:"done"`
	Attempt     int    `json:"attempt"`
	WaitSeconds int    `json:"waitSeconds"`
	Detail      string `json:"detail,omitempty"`
	// Why says what the round waits for and why it might not happen.
	Why string `json:"why,omitempty"`
}

// Next counts the attempt of the round named name, which st describes,
// and fails the loop once it is exhausted, saying what it waited for.
func Next(name string, req Request, st stack.Status) (*Progress, error) {
	p := &Progress{Name: name, Done: st.Ready, Attempt: 1, WaitSeconds: max(int(req.Waits.Seconds), 0), Detail: st.Detail, Why: st.Why}
	if req.Previous != nil && req.Previous.Name == name {
		p.Attempt = req.Previous.Attempt + 1
	}
	if !st.Ready && req.Waits.MaxAttempts > 0 && p.Attempt >= int(req.Waits.MaxAttempts) {
		msg := fmt.Sprintf("%s not done after %d attempts: %s", name, p.Attempt, st.Detail)
		if st.Why != "" {
			msg += "; " + st.Why
		}
		return nil, &handlererr.NotReadyError{Msg: msg}
	}
	return p, nil
}

// Handler is a layer's function: it serves the layer's steps with the
// layer's clients.
type Handler[C any] struct {
	Layer   Layer[C]
	Clients C
	// Stack is the stack the function manages; a request for another is
	// refused before any AWS call. Empty accepts any.
	Stack string
	Log   *slog.Logger
}

// Handle runs one step.
func (h *Handler[C]) Handle(ctx context.Context, req Request) (any, error) {
	out, err := h.handle(ctx, req)
	return out, handlererr.Boundary(err)
}

func (h *Handler[C]) handle(ctx context.Context, req Request) (any, error) {
	switch req.Op {
	case OpReconcile:
		run, err := h.run(req, stack.Decode)
		if err != nil {
			return nil, err
		}
		o := req.Layers
		if err := h.Layer.Reconcile(ctx, h.Clients, run, &o); err != nil {
			return nil, fmt.Errorf("%s layer: %w", h.Layer.Name, err)
		}
		return h.Layer.Output(&o), nil
	case OpCheck:
		for _, c := range h.Layer.Checks {
			if c.Name != req.Check {
				continue
			}
			st, err := c.Status(ctx, h.Clients, &req.Layers)
			if err != nil {
				return nil, fmt.Errorf("check %s: %w", c.Name, err)
			}
			h.Log.InfoContext(ctx, "checked readiness", "layer", h.Layer.Name, "check", c.Name, "ready", st.Ready, "detail", st.Detail)
			return Next(c.Name, req, st)
		}
		return nil, handlererr.Invalid(fmt.Sprintf("the %s layer has no readiness check %q", h.Layer.Name, req.Check))
	case OpDestroy:
		run, err := h.run(req, stack.Identify)
		if err != nil {
			return nil, err
		}
		err = h.Layer.Destroy(ctx, h.Clients, run)
		var notReady *handlererr.NotReadyError
		switch {
		case err == nil:
			return Next(h.Layer.Name, req, stack.Status{Ready: true, Detail: "deleted"})
		case errors.As(err, &notReady) || awserr.IsDependencyViolation(err):
			// AWS releases dependants (network interfaces, mappings) minutes
			// after their owners go; the wait loop bounds that wait.
			return Next(h.Layer.Name, req, stack.Status{Detail: err.Error()})
		default:
			return nil, fmt.Errorf("tearing down the %s layer: %w", h.Layer.Name, err)
		}
	}
	return nil, handlererr.Invalid(fmt.Sprintf("op %q is not one of %s, %s, %s", req.Op, OpReconcile, OpCheck, OpDestroy))
}

// run reads the request's spec with read and refuses another stack's.
func (h *Handler[C]) run(req Request, read func([]byte) (stack.Spec, error)) (*stack.Run, error) {
	spec, err := read(req.Spec)
	if err != nil {
		return nil, err
	}
	if h.Stack != "" && spec.Name != h.Stack {
		return nil, handlererr.Invalid(fmt.Sprintf("stack %q is not %q, the stack this function manages", spec.Name, h.Stack))
	}
	return stack.NewRun(spec, false, req.ExecutionARN, h.Log), nil
}
