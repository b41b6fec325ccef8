package ingress

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Readiness checks of the layer.
const CheckLoadBalancer = "alb"

// LoadBalancerStatus is ready once the load balancer is active. A load
// balancer that failed is an error, not a wait.
func LoadBalancerStatus(ctx context.Context, c Clients, out *stack.IngressOutput) (stack.Status, error) {
	lbs, err := c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{out.LoadBalancerARN}})
	if err != nil {
		return stack.Status{}, fmt.Errorf("describing load balancer: %w", err)
	}
	if len(lbs.LoadBalancers) == 0 || lbs.LoadBalancers[0].State == nil {
		return stack.NotYet("load balancer not visible yet"), nil
	}
	switch s := lbs.LoadBalancers[0].State; s.Code {
	case types.LoadBalancerStateEnumActive:
		return stack.Status{Ready: true, Detail: "load balancer active at " + out.DNSName}, nil
	case types.LoadBalancerStateEnumProvisioning:
		return stack.NotYet("load balancer provisioning").Because("a load balancer provisions for a few minutes after its creation"), nil
	default:
		return stack.Status{}, fmt.Errorf("load balancer is %s: %s", s.Code, aws.ToString(s.Reason))
	}
}

// publishDNSName writes the load balancer's DNS name to the configured
// parameter, only when it differs, so a repeated build stays read-only.
func publishDNSName(ctx context.Context, c Clients, run *stack.Run, dns string) error {
	name := c.DNSNameParameter
	if name == "" {
		return nil
	}
	got, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if awserr.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading parameter %s: %w", name, err)
	}
	if err == nil && aws.ToString(got.Parameter.Value) == dns {
		return nil
	}
	detail := "the load balancer's DNS name " + dns
	if dns == "" {
		detail = "the new load balancer's DNS name"
	}
	_, err = run.Do(ctx, stack.NewChange(Layer, stack.Update, "ssm:parameter", name, "", detail), func(ctx context.Context) (string, error) {
		_, err := c.SSM.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(dns), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
		})
		return name, err
	})
	return err
}
