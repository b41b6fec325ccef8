package network

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it.
var Step = step.Layer[Clients]{
	Name: Layer,
	Reconcile: func(ctx context.Context, c Clients, run *stack.Run, o *stack.Outputs) (err error) {
		o.Network, err = Reconcile(ctx, c, run, Inputs{})
		return err
	},
	Output:  func(o *stack.Outputs) any { return o.Network },
	Destroy: Destroy,
	Checks: []step.Check[Clients]{{Name: CheckNAT, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
		if o.Network == nil {
			return stack.Status{}, stack.Missing("check "+CheckNAT, Layer)
		}
		return NATStatus(ctx, c, o.Network)
	}}},
}
