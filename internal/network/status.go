package network

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// Readiness checks of the layer.
const CheckNAT = "nat"

// NATGateways describes the layer's NAT gateways.
func NATGateways(ctx context.Context, c Clients, out *stack.NetworkOutput) ([]types.NatGateway, error) {
	nats, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: out.NATGatewayIDs})
	if err != nil {
		return nil, fmt.Errorf("describing NAT gateways: %w", err)
	}
	return nats.NatGateways, nil
}

// NATStatus is ready once every NAT gateway is available. A gateway that
// failed or is going away is an error, not a wait.
func NATStatus(ctx context.Context, c Clients, out *stack.NetworkOutput) (stack.Status, error) {
	nats, err := NATGateways(ctx, c, out)
	if err != nil {
		return stack.Status{}, err
	}
	var pending []string
	for _, g := range nats {
		switch g.State {
		case types.NatGatewayStateAvailable:
		case types.NatGatewayStatePending:
			pending = append(pending, aws.ToString(g.NatGatewayId))
		default:
			return stack.Status{}, fmt.Errorf("NAT gateway %s is %s: %s", aws.ToString(g.NatGatewayId), g.State, aws.ToString(g.FailureMessage))
		}
	}
	if len(nats) != len(out.NATGatewayIDs) || len(pending) > 0 {
		return stack.NotYet("NAT gateways pending: %v", pending).Because(
			"a NAT gateway is pending for a few minutes after its creation; one that stays pending past that, or fails, has no internet gateway on its VPC or no Elastic IP it may use"), nil
	}
	return stack.Status{Ready: true, Detail: fmt.Sprintf("%d NAT gateways available", len(nats))}, nil
}
