package service

import (
	"context"

	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Step is the layer as the state machines and the runner run it: first the
// verdict on the deployment the build started, then the service steady
// with a healthy target in every zone. Unlike the other layers' Step it is
// a function: the rollout's functions import this package for the shared
// deployment path, and a variable would link the layer's reconcile, checks
// and destroy, with every ECS and CloudWatch call they make, into them.
func Step() step.Layer[Clients] {
	return step.Define(Layer, func(o *stack.Outputs) **stack.ServiceOutput { return &o.Service },
		func(o *stack.Outputs) Inputs {
			return Inputs{Network: o.Network, Security: o.Security, Compute: o.Compute, Ingress: o.Ingress}
		}, Reconcile, Destroy,
		step.Check[Clients]{Name: CheckDeployment, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
			if o.Service == nil {
				return stack.Status{}, stack.Missing("check "+CheckDeployment, Layer)
			}
			return DeploymentStatus(ctx, c, o.Service)
		}},
		step.Check[Clients]{Name: CheckService, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
			if o.Service == nil || o.Ingress == nil || o.Network == nil {
				return stack.Status{}, stack.Missing("check "+CheckService, "network", "ingress", Layer)
			}
			return ServiceStatus(ctx, c, o.Service, o.Ingress.TargetGroupARN, o.Network.AZs)
		}})
}
