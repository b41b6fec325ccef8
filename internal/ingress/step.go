package ingress

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it.
var Step = step.Layer[Clients]{
	Name: Layer,
	Reconcile: func(ctx context.Context, c Clients, run *stack.Run, o *stack.Outputs) (err error) {
		o.Ingress, err = Reconcile(ctx, c, run, Inputs{Network: o.Network, Security: o.Security})
		return err
	},
	Output:  func(o *stack.Outputs) any { return o.Ingress },
	Destroy: Destroy,
	Checks: []step.Check[Clients]{{Name: CheckLoadBalancer, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
		if o.Ingress == nil {
			return stack.Status{}, stack.Missing("check "+CheckLoadBalancer, Layer)
		}
		return LoadBalancerStatus(ctx, c, o.Ingress)
	}}},
}
