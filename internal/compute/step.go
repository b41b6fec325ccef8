package compute

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it: the
// fleet is ready once the group has an instance in service and a
// registered container instance in every zone.
var Step = step.Define(Layer, func(o *stack.Outputs) **stack.ComputeOutput { return &o.Compute },
	func(o *stack.Outputs) Inputs { return Inputs{Network: o.Network, Security: o.Security} }, Reconcile, Destroy,
	step.Check[Clients]{Name: CheckGroup, Status: zonal(CheckGroup, GroupStatus)},
	step.Check[Clients]{Name: CheckInstances, Status: zonal(CheckInstances, InstancesStatus)})

func zonal(name string, status func(context.Context, Clients, *stack.ComputeOutput, []string) (stack.Status, error)) func(context.Context, Clients, *stack.Outputs) (stack.Status, error) {
	return func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
		if o.Network == nil || o.Compute == nil {
			return stack.Status{}, stack.Missing("check "+name, "network", Layer)
		}
		return status(ctx, c, o.Compute, o.Network.AZs)
	}
}
