package security

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it. It has no
// readiness check: security groups are usable once created.
var Step = step.Layer[Clients]{
	Name: Layer,
	Reconcile: func(ctx context.Context, c Clients, run *stack.Run, o *stack.Outputs) (err error) {
		o.Security, err = Reconcile(ctx, c, run, Inputs{Network: o.Network})
		return err
	},
	Output:  func(o *stack.Outputs) any { return o.Security },
	Destroy: Destroy,
}
