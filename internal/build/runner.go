package build

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Apply validates the spec and reconciles every layer in order. With
// run.DryRun it is the plan. It makes no AWS call for an invalid spec.
func Apply(ctx context.Context, c Clients, run *stack.Run) (*stack.Outputs, error) {
	return Converge(ctx, c, run, nil)
}

// Wait is what Converge does between two rounds of a readiness check, as
// a Wait state does in the state machine, given the outputs so far and
// what the check said. It returns an error to give up.
type Wait func(ctx context.Context, o *stack.Outputs, check string, st stack.Status, round int) error

// Converge is Apply with each layer's readiness checks run after it, as
// build.asl.json runs them: a check that is not ready calls wait and runs
// again. A nil wait skips the checks.
func Converge(ctx context.Context, c Clients, run *stack.Run, wait Wait) (*stack.Outputs, error) {
	if err := run.Spec.Validate(); err != nil {
		return nil, err
	}
	o := &stack.Outputs{}
	for _, l := range Layers {
		if err := l.Reconcile(ctx, c, run, o); err != nil {
			return o, fmt.Errorf("%s layer: %w", l.Name, err)
		}
		if wait == nil || run.DryRun {
			continue
		}
		for _, check := range l.Checks {
			for round := 1; ; round++ {
				st, err := check.Status(ctx, c, o)
				if err != nil {
					return o, fmt.Errorf("check %s: %w", check.Name, err)
				}
				if st.Ready {
					break
				}
				if err := wait(ctx, o, check.Name, st, round); err != nil {
					return o, fmt.Errorf("waiting for %s: %w", check.Name, err)
				}
			}
		}
	}
	return o, nil
}

// IsNotReady reports whether err asks for another attempt after a wait.
func IsNotReady(err error) bool {
	var nr *handlererr.NotReadyError
	return errors.As(err, &nr)
}

// IsRetryable reports whether err is a transient failure worth a bounded
// retry, such as a DependencyViolation while AWS releases dependants.
func IsRetryable(err error) bool {
	var re *handlererr.RetryableError
	return errors.As(err, &re)
}

// DestroyAll tears every layer down in reverse order. A layer that is
// still going away (NotReadyError) or refused by lingering dependants
// (RetryableError) is tried again after wait returns, at most attempts
// times per layer.
func DestroyAll(ctx context.Context, c Clients, run *stack.Run, wait func(context.Context) error, attempts int) error {
	for _, l := range slices.Backward(Layers) {
		for i := 1; ; i++ {
			err := l.Destroy(ctx, c, run)
			if err == nil {
				break
			}
			if !(IsNotReady(err) || IsRetryable(err)) || i >= attempts {
				return fmt.Errorf("tearing down the %s layer: %w", l.Name, err)
			}
			run.Log.InfoContext(ctx, "waiting for teardown", "stack", run.Spec.Name, "layer", l.Name, "attempt", i, "reason", err.Error())
			if err := wait(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sleep returns a wait function that sleeps d, or less if ctx ends first.
func Sleep(d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
}
