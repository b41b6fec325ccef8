package network

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it.
var Step = step.Define(Layer, func(o *stack.Outputs) **stack.NetworkOutput { return &o.Network },
	func(*stack.Outputs) Inputs { return Inputs{} }, Reconcile, Destroy,
	step.Check[Clients]{Name: CheckNAT, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
		if o.Network == nil {
			return stack.Status{}, stack.Missing("check "+CheckNAT, Layer)
		}
		return NATStatus(ctx, c, o.Network)
	}})
