// Package build runs the stack's layer reconcilers in order (network,
// security, compute, ingress, service), tears them down in reverse, checks
// readiness between layers, and holds the Lambda handlers that the build and
// teardown state machines call. The CLI runs the same functions directly.
package build

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Clients are the SDK clients every layer uses. They are real clients in
// every environment: AWS, moto, or the simulator through its middleware.
type Clients struct {
	EC2            *ec2.Client
	SSM            *ssm.Client
	AutoScaling    *autoscaling.Client
	ECS            *ecs.Client
	ELB            *elb.Client
	CloudWatch     *cloudwatch.Client
	AppAutoScaling *aas.Client
}

// NewClients builds the clients from one configuration.
func NewClients(cfg aws.Config) Clients {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, awsclient.RetryEventualConsistency)
	return Clients{
		EC2: ec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg),
		ECS: ecs.NewFromConfig(cfg), ELB: elb.NewFromConfig(cfg), CloudWatch: NewCloudWatch(cfg),
		AppAutoScaling: aas.NewFromConfig(cfg),
	}
}

func (c Clients) compute() compute.Clients {
	return compute.Clients{EC2: c.EC2, SSM: c.SSM, AutoScaling: c.AutoScaling, ECS: c.ECS}
}

func (c Clients) service() service.Clients {
	return service.Clients{ECS: c.ECS, CloudWatch: c.CloudWatch, AutoScaling: c.AppAutoScaling}
}

// CloudWatchVersion is the CloudWatch API version the awsQuery protocol
// sends.
const CloudWatchVersion = "2010-08-01"

// NewCloudWatch returns a CloudWatch client that speaks awsQuery. The SDK
// defaults to the newer Smithy RPC v2 CBOR protocol, which moto 5.2.1 does
// not serve (every call is a 404); CloudWatch still serves awsQuery, so one
// protocol works against AWS, moto and the CLI's local runs alike.
func NewCloudWatch(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(smithy.NewServiceSchema(nil, CloudWatchVersion))
	})
}

// Layers are the outputs of the layers built so far; the state machine
// carries them from step to step.
type Layers struct {
	Network  *network.Output  `json:"network,omitempty"`
	Security *security.Output `json:"security,omitempty"`
	Compute  *compute.Output  `json:"compute,omitempty"`
	Ingress  *ingress.Output  `json:"ingress,omitempty"`
	Service  *service.Output  `json:"service,omitempty"`
}

// Layer names, in build order.
var Order = []string{network.Layer, security.Layer, compute.Layer, ingress.Layer, service.Layer}

// Step reconciles one layer, given the earlier layers' outputs, and stores
// its output in layers.
func Step(ctx context.Context, c Clients, run *stack.Run, w service.Workload, layer string, l *Layers) error {
	missing := func(names ...string) error {
		return handlererr.Invalid(fmt.Sprintf("layer %s needs the outputs of %v first", layer, names))
	}
	var err error
	switch layer {
	case network.Layer:
		l.Network, err = network.Reconcile(ctx, c.EC2, run)
	case security.Layer:
		if l.Network == nil {
			return missing(network.Layer)
		}
		l.Security, err = security.Reconcile(ctx, c.EC2, run, l.Network)
	case compute.Layer:
		if l.Network == nil || l.Security == nil {
			return missing(network.Layer, security.Layer)
		}
		l.Compute, err = compute.Reconcile(ctx, c.compute(), run, l.Network, l.Security)
	case ingress.Layer:
		if l.Network == nil || l.Security == nil {
			return missing(network.Layer, security.Layer)
		}
		l.Ingress, err = ingress.Reconcile(ctx, c.ELB, run, l.Network, l.Security)
	case service.Layer:
		if l.Network == nil || l.Security == nil || l.Compute == nil || l.Ingress == nil {
			return missing(network.Layer, security.Layer, compute.Layer, ingress.Layer)
		}
		l.Service, err = service.Reconcile(ctx, c.service(), run, service.Inputs{Network: l.Network, Security: l.Security, Compute: l.Compute, Ingress: l.Ingress}, w)
	default:
		return handlererr.Invalid(fmt.Sprintf("unknown layer %q; want one of %v", layer, Order))
	}
	if err != nil {
		return fmt.Errorf("%s layer: %w", layer, err)
	}
	return nil
}

// Apply validates the spec and reconciles every layer in order. With
// run.DryRun it is the plan. It makes no AWS call for an invalid spec.
func Apply(ctx context.Context, c Clients, run *stack.Run, w service.Workload) (*Layers, error) {
	if err := run.Spec.Validate(); err != nil {
		return nil, err
	}
	l := &Layers{}
	for _, layer := range Order {
		if err := Step(ctx, c, run, w, layer, l); err != nil {
			return l, err
		}
	}
	return l, nil
}

// TeardownOrder is the order layers are deleted in.
var TeardownOrder = []string{service.Layer, ingress.Layer, compute.Layer, security.Layer, network.Layer}

// Teardown deletes one layer. A NotReadyError means the layer is still
// going away and the step should run again after a wait.
func Teardown(ctx context.Context, c Clients, run *stack.Run, layer string) error {
	var err error
	switch layer {
	case service.Layer:
		err = service.Destroy(ctx, c.service(), run)
	case ingress.Layer:
		err = ingress.Destroy(ctx, c.ELB, run)
	case compute.Layer:
		err = compute.Destroy(ctx, c.compute(), run)
	case security.Layer:
		err = security.Destroy(ctx, c.EC2, run)
	case network.Layer:
		err = network.Destroy(ctx, c.EC2, run)
	default:
		return handlererr.Invalid(fmt.Sprintf("unknown layer %q; want one of %v", layer, TeardownOrder))
	}
	if err != nil {
		return fmt.Errorf("tearing down the %s layer: %w", layer, err)
	}
	return nil
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

// DestroyAll tears every layer down in order. A layer that is still going
// away (NotReadyError) or refused by lingering dependants (RetryableError)
// is tried again after wait returns, at most attempts times per layer.
func DestroyAll(ctx context.Context, c Clients, run *stack.Run, wait func(context.Context) error, attempts int) error {
	for _, layer := range TeardownOrder {
		for i := 1; ; i++ {
			err := Teardown(ctx, c, run, layer)
			if err == nil || run.DryRun {
				break
			}
			if !(IsNotReady(err) || IsRetryable(err)) || i >= attempts {
				return err
			}
			run.Log.InfoContext(ctx, "waiting for teardown", "stack", run.Spec.Name, "layer", layer, "attempt", i, "reason", err.Error())
			if err := wait(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sleep returns a wait function for DestroyAll that sleeps d, or less if
// ctx ends first.
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
