package security

import (
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it. It has no
// readiness check: security groups are usable once created.
var Step = step.Define(Layer, func(o *stack.Outputs) **stack.SecurityOutput { return &o.Security },
	func(o *stack.Outputs) Inputs { return Inputs{Network: o.Network} }, Reconcile, Destroy)
