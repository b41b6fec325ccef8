package network

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// The write half of the layer: each function takes what find saw and
// makes one resource as the spec wants it, through run.Do.

func reconcileVPC(ctx context.Context, api EC2API, run *stack.Run, inv *inventory) (string, error) {
	cidr := run.Spec.Network.VPCCIDR
	vpc, ok := inv.vpcs[compVPC]
	if !ok {
		return run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:vpc", compVPC, "", cidr), func(ctx context.Context) (string, error) {
			out, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{
				CidrBlock:         aws.String(cidr),
				TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeVpc, compVPC),
			})
			if err != nil {
				return "", err
			}
			id := aws.ToString(out.Vpc.VpcId)
			// Interface endpoints and ECS agents resolve AWS names through
			// the VPC resolver, so both DNS attributes are on.
			for _, attr := range []*ec2.ModifyVpcAttributeInput{
				{VpcId: aws.String(id), EnableDnsSupport: &types.AttributeBooleanValue{Value: aws.Bool(true)}},
				{VpcId: aws.String(id), EnableDnsHostnames: &types.AttributeBooleanValue{Value: aws.Bool(true)}},
			} {
				if _, err := api.ModifyVpcAttribute(ctx, attr); err != nil {
					return id, fmt.Errorf("enabling DNS on %s: %w", id, err)
				}
			}
			return id, nil
		})
	}
	id := aws.ToString(vpc.VpcId)
	if got := aws.ToString(vpc.CidrBlock); got != cidr {
		return "", handlererr.Invalid(fmt.Sprintf("VPC %s has CIDR %s but the spec says %s; a VPC's CIDR cannot change, so destroy the stack first", id, got, cidr))
	}
	for _, a := range []types.VpcAttributeName{types.VpcAttributeNameEnableDnsSupport, types.VpcAttributeNameEnableDnsHostnames} {
		got, err := api.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: a})
		if err != nil {
			return "", fmt.Errorf("describing %s of %s: %w", a, id, err)
		}
		on := got.EnableDnsSupport
		if a == types.VpcAttributeNameEnableDnsHostnames {
			on = got.EnableDnsHostnames
		}
		if on != nil && aws.ToBool(on.Value) {
			continue
		}
		in := &ec2.ModifyVpcAttributeInput{VpcId: aws.String(id)}
		if a == types.VpcAttributeNameEnableDnsHostnames {
			in.EnableDnsHostnames = &types.AttributeBooleanValue{Value: aws.Bool(true)}
		} else {
			in.EnableDnsSupport = &types.AttributeBooleanValue{Value: aws.Bool(true)}
		}
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "ec2:vpc", compVPC, id, string(a)+" off, want on"), func(ctx context.Context) (string, error) {
			_, err := api.ModifyVpcAttribute(ctx, in)
			return id, err
		}); err != nil {
			return "", err
		}
	}
	return id, nil
}

func reconcileIGW(ctx context.Context, api EC2API, run *stack.Run, inv *inventory, vpcID string) (string, error) {
	igw, ok := inv.igws[compIGW]
	if !ok {
		return run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:internet-gateway", compIGW, "", "attached to "+vpcID), func(ctx context.Context) (string, error) {
			out, err := api.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
				TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeInternetGateway, compIGW),
			})
			if err != nil {
				return "", err
			}
			id := aws.ToString(out.InternetGateway.InternetGatewayId)
			if err := attachIGW(ctx, api, id, vpcID); err != nil {
				return id, fmt.Errorf("attaching %s to %s: %w", id, vpcID, err)
			}
			return id, nil
		})
	}
	id := aws.ToString(igw.InternetGatewayId)
	for _, a := range igw.Attachments {
		if aws.ToString(a.VpcId) == vpcID {
			return id, nil
		}
	}
	return run.Do(ctx, stack.NewChange(Layer, stack.Update, "ec2:internet-gateway", compIGW, id, "not attached to "+vpcID), func(ctx context.Context) (string, error) {
		for _, a := range igw.Attachments {
			if _, err := api.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: a.VpcId}); err != nil {
				return id, fmt.Errorf("detaching %s from %s: %w", id, aws.ToString(a.VpcId), err)
			}
		}
		return id, attachIGW(ctx, api, id, vpcID)
	})
}

// attachIGW attaches the gateway to the VPC. EC2's answer that it is
// attached already, to this VPC, is success: the SDK retries a call whose
// answer was lost, and the first attempt may have gone through.
func attachIGW(ctx context.Context, api EC2API, id, vpcID string) error {
	_, err := api.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpcID)})
	if awserr.Code(err) != "Resource.AlreadyAssociated" {
		return err
	}
	out, derr := api.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{InternetGatewayIds: []string{id}})
	if derr != nil {
		return errors.Join(err, derr)
	}
	for _, g := range out.InternetGateways {
		for _, a := range g.Attachments {
			if aws.ToString(a.VpcId) == vpcID {
				return nil
			}
		}
	}
	return err
}

func reconcileSubnet(ctx context.Context, api EC2API, run *stack.Run, inv *inventory, vpcID, component, cidr, az string) (string, error) {
	sn, ok := inv.subnets[component]
	if !ok {
		return run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:subnet", component, "", cidr+" in "+az), func(ctx context.Context) (string, error) {
			out, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{
				VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az),
				TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeSubnet, component),
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.Subnet.SubnetId), nil
		})
	}
	id := aws.ToString(sn.SubnetId)
	if aws.ToString(sn.CidrBlock) != cidr || aws.ToString(sn.AvailabilityZone) != az || aws.ToString(sn.VpcId) != vpcID {
		return "", handlererr.Invalid(fmt.Sprintf("subnet %s (%s) is %s in %s of %s, but the spec wants %s in %s of %s; subnets cannot move, so destroy the stack first",
			id, component, aws.ToString(sn.CidrBlock), aws.ToString(sn.AvailabilityZone), aws.ToString(sn.VpcId), cidr, az, vpcID))
	}
	return id, nil
}

func reconcileNAT(ctx context.Context, api EC2API, run *stack.Run, inv *inventory, i int, subnetID string) (string, error) {
	eip, hasEIP := inv.eips[EIP(i)]
	allocID := aws.ToString(eip.AllocationId)
	if !hasEIP {
		var err error
		if allocID, err = run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:elastic-ip", EIP(i), "", "for "+NAT(i)), func(ctx context.Context) (string, error) {
			out, err := api.AllocateAddress(ctx, &ec2.AllocateAddressInput{
				Domain:            types.DomainTypeVpc,
				TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeElasticIp, EIP(i)),
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.AllocationId), nil
		}); err != nil {
			return "", err
		}
	}
	nat, ok := inv.nats[NAT(i)]
	if ok && live(nat) {
		id := aws.ToString(nat.NatGatewayId)
		if aws.ToString(nat.SubnetId) != subnetID {
			return "", handlererr.Invalid(fmt.Sprintf("NAT gateway %s is in subnet %s, want %s; delete it and apply again", id, aws.ToString(nat.SubnetId), subnetID))
		}
		return id, nil
	}
	if ok && nat.State == types.NatGatewayStateDeleting {
		return "", &handlererr.NotReadyError{Msg: fmt.Sprintf("NAT gateway %s is still deleting", aws.ToString(nat.NatGatewayId))}
	}
	return run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:nat-gateway", NAT(i), "", "in "+PublicSubnet(i)), func(ctx context.Context) (string, error) {
		out, err := api.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
			SubnetId: aws.String(subnetID), AllocationId: aws.String(allocID),
			ConnectivityType:  types.ConnectivityTypePublic,
			ClientToken:       aws.String(run.ClientToken(NAT(i))),
			TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeNatgateway, NAT(i)),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.NatGateway.NatGatewayId), nil
	})
}

// associations maps each subnet of the VPC to its explicit route table
// association.
func associations(ctx context.Context, api EC2API, vpcID string) (map[string]types.RouteTableAssociation, error) {
	m := map[string]types.RouteTableAssociation{}
	p := ec2.NewDescribeRouteTablesPaginator(api, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing route tables of %s: %w", vpcID, err)
		}
		for _, rt := range page.RouteTables {
			for _, a := range rt.Associations {
				if a.SubnetId != nil && !aws.ToBool(a.Main) {
					m[aws.ToString(a.SubnetId)] = a
				}
			}
		}
	}
	return m, nil
}

func routeTarget(r types.Route) string {
	if r.NatGatewayId != nil {
		return aws.ToString(r.NatGatewayId)
	}
	return aws.ToString(r.GatewayId)
}

func reconcileRouteTable(ctx context.Context, api EC2API, run *stack.Run, inv *inventory, assoc map[string]types.RouteTableAssociation,
	vpcID, component string, want types.Route, subnetIDs []string) (string, error) {
	rt, ok := inv.rts[component]
	id := aws.ToString(rt.RouteTableId)
	if !ok {
		var err error
		if id, err = run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:route-table", component, "", ""), func(ctx context.Context) (string, error) {
			out, err := api.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
				VpcId: aws.String(vpcID), TagSpecifications: run.Spec.EC2TagSpecifications(types.ResourceTypeRouteTable, component),
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.RouteTable.RouteTableId), nil
		}); err != nil {
			return "", err
		}
	}
	target := routeTarget(want)
	var current *types.Route
	for _, r := range rt.Routes {
		if aws.ToString(r.DestinationCidrBlock) == DefaultRoute {
			current = &r
		}
	}
	name := component + " " + DefaultRoute
	switch {
	case current == nil:
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:route", name, id, "via "+target), func(ctx context.Context) (string, error) {
			in := &ec2.CreateRouteInput{RouteTableId: aws.String(id), DestinationCidrBlock: aws.String(DefaultRoute), GatewayId: want.GatewayId, NatGatewayId: want.NatGatewayId}
			_, err := api.CreateRoute(ctx, in)
			if awserr.Code(err) == "RouteAlreadyExists" {
				// A retried create whose first attempt went through, or a
				// route made meanwhile: set it to the wanted target.
				_, err = api.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(id), DestinationCidrBlock: aws.String(DefaultRoute), GatewayId: want.GatewayId, NatGatewayId: want.NatGatewayId})
			}
			return id, err
		}); err != nil {
			return "", err
		}
	case routeTarget(*current) != target || current.State == types.RouteStateBlackhole:
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "ec2:route", name, id, fmt.Sprintf("via %s (%s), want %s", routeTarget(*current), current.State, target)), func(ctx context.Context) (string, error) {
			in := &ec2.ReplaceRouteInput{RouteTableId: aws.String(id), DestinationCidrBlock: aws.String(DefaultRoute), GatewayId: want.GatewayId, NatGatewayId: want.NatGatewayId}
			_, err := api.ReplaceRoute(ctx, in)
			return id, err
		}); err != nil {
			return "", err
		}
	}
	for _, sn := range subnetIDs {
		a, has := assoc[sn]
		switch {
		case !has:
			if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ec2:route-table-association", component+" "+sn, id, ""), func(ctx context.Context) (string, error) {
				return id, associate(ctx, api, id, sn)
			}); err != nil {
				return "", err
			}
		case aws.ToString(a.RouteTableId) != id:
			if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "ec2:route-table-association", component+" "+sn, id, "associated with "+aws.ToString(a.RouteTableId)), func(ctx context.Context) (string, error) {
				_, err := api.ReplaceRouteTableAssociation(ctx, &ec2.ReplaceRouteTableAssociationInput{AssociationId: a.RouteTableAssociationId, RouteTableId: aws.String(id)})
				return id, err
			}); err != nil {
				return "", err
			}
		}
	}
	return id, nil
}

// associate associates the route table with the subnet. EC2's answer that
// the subnet is associated already, with this table, is success, as for
// attachIGW.
func associate(ctx context.Context, api EC2API, id, subnet string) error {
	_, err := api.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), SubnetId: aws.String(subnet)})
	if awserr.Code(err) != "Resource.AlreadyAssociated" {
		return err
	}
	out, derr := api.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{id}})
	if derr != nil {
		return errors.Join(err, derr)
	}
	for _, rt := range out.RouteTables {
		for _, a := range rt.Associations {
			if aws.ToString(a.SubnetId) == subnet {
				return nil
			}
		}
	}
	return err
}
