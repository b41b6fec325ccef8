package ingress

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it.
var Step = step.Define(Layer, func(o *stack.Outputs) **stack.IngressOutput { return &o.Ingress },
	func(o *stack.Outputs) Inputs { return Inputs{Network: o.Network, Security: o.Security} }, Reconcile, Destroy,
	step.Check[Clients]{Name: CheckLoadBalancer, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
		if o.Ingress == nil {
			return stack.Status{}, stack.Missing("check "+CheckLoadBalancer, Layer)
		}
		return LoadBalancerStatus(ctx, c, o.Ingress)
	}})
