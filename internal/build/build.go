// Package build holds the stack's one layer table: the ordered list of
// layers (network, security, compute, ingress, service), each naming its
// reconcile, its destroy and the readiness checks that follow it. The Go
// runner (Apply, Converge, DestroyAll), which `ecsplane stack` and the
// tests use, walks the table; statemachine/build.asl.json runs the same
// steps in the same order as separate Lambda tasks, and teardown.asl.json
// the destroys in reverse, which TestStateMachinesFollowTheLayerTable
// checks. The plan function's handler is here too: it resolves the spec
// once and dry-runs every layer.
package build

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/preflight"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// Clients are every layer's clients, for the runs that go through all
// layers: the plan, `ecsplane stack` and the tests. Each layer's function
// builds only its own.
type Clients struct {
	Network  network.Clients
	Security security.Clients
	Compute  compute.Clients
	Ingress  ingress.Clients
	Service  service.Clients
	// Preflight are the clients of the checks a build runs before its
	// first change.
	Preflight preflight.Clients
}

// Options are what the layers need besides AWS configuration.
type Options struct {
	// DNSNameParameter is where the ingress layer publishes the load
	// balancer's DNS name; empty means nowhere.
	DNSNameParameter string
	// Ledger holds the service's lease and deployment records; a plan
	// needs none.
	Ledger *ledger.Ledger
}

// NewClients builds every layer's clients from one configuration. Their
// mutations wait out eventual consistency (awsclient.RetryEventualConsistency).
func NewClients(cfg aws.Config, o Options) Clients {
	cfg = awsclient.WithConsistencyRetries(cfg)
	return Clients{
		Network: network.NewClients(cfg), Security: security.NewClients(cfg), Compute: compute.NewClients(cfg),
		Ingress:   ingress.NewClients(cfg, ingress.Config{DNSNameParameter: o.DNSNameParameter}),
		Service:   service.NewClients(cfg, o.Ledger),
		Preflight: preflight.NewClients(cfg),
	}
}

// Layer is one layer over all layers' clients. A step.Handler serves it in
// process, as the layer's own function does on Lambda.
type Layer = step.Layer[Clients]

// Check is one readiness check over all layers' clients.
type Check = step.Check[Clients]

// bind lifts a layer's step description over its own clients to one over
// all layers' clients.
func bind[C any](l step.Layer[C], pick func(Clients) C) Layer {
	out := Layer{
		Name: l.Name,
		Reconcile: func(ctx context.Context, c Clients, run *stack.Run, o *stack.Outputs) error {
			return l.Reconcile(ctx, pick(c), run, o)
		},
		Output:  l.Output,
		Destroy: func(ctx context.Context, c Clients, run *stack.Run) error { return l.Destroy(ctx, pick(c), run) },
	}
	for _, ch := range l.Checks {
		out.Checks = append(out.Checks, Check{Name: ch.Name, Status: func(ctx context.Context, c Clients, o *stack.Outputs) (stack.Status, error) {
			return ch.Status(ctx, pick(c), o)
		}})
	}
	return out
}

// FunctionArnKey is the DefinitionSubstitutions key of a layer's function
// in the state machines: "${NetworkFunctionArn}" for the network layer.
func FunctionArnKey(layer string) string {
	return strings.ToUpper(layer[:1]) + layer[1:] + "FunctionArn"
}

// Layers is the build order; teardown goes in reverse.
var Layers = []Layer{
	bind(network.Step, func(c Clients) network.Clients { return c.Network }),
	bind(security.Step, func(c Clients) security.Clients { return c.Security }),
	bind(compute.Step, func(c Clients) compute.Clients { return c.Compute }),
	bind(ingress.Step, func(c Clients) ingress.Clients { return c.Ingress }),
	bind(service.Step(), func(c Clients) service.Clients { return c.Service }),
}
