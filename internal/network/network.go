// Package network reconciles the stack's network layer: the VPC, one public
// and one private subnet per Availability Zone, the internet gateway, an
// Elastic IP and a NAT gateway per zone (so losing one zone leaves the
// other's egress intact), and the route tables with their routes and
// associations. It also tears the layer down.
package network

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Layer is the layer's name in plans.
const Layer = "network"

// DefaultRoute is the destination of the routes to the internet.
const DefaultRoute = "0.0.0.0/0"

// Output is what the later layers need from the network.
type Output struct {
	VPCID                string   `json:"vpcId"`
	VPCCIDR              string   `json:"vpcCidr"`
	AZs                  []string `json:"azs"`
	PublicSubnetIDs      []string `json:"publicSubnetIds"`
	PrivateSubnetIDs     []string `json:"privateSubnetIds"`
	InternetGatewayID    string   `json:"internetGatewayId"`
	NATGatewayIDs        []string `json:"natGatewayIds"`
	PublicRouteTableID   string   `json:"publicRouteTableId"`
	PrivateRouteTableIDs []string `json:"privateRouteTableIds"`
}

// Component names. Per-zone components end in the zone's 1-based index.
const (
	compVPC      = "vpc"
	compIGW      = "igw"
	compPublicRT = "public-rt"
)

func zonal(kind string, i int) string { return kind + "-" + strconv.Itoa(i+1) }

// PublicSubnet names zone i's public subnet component, i counting from 0.
func PublicSubnet(i int) string { return zonal("public-subnet", i) }

// PrivateSubnet names zone i's private subnet component.
func PrivateSubnet(i int) string { return zonal("private-subnet", i) }

// EIP names zone i's Elastic IP component, the NAT gateway's address.
func EIP(i int) string { return zonal("eip", i) }

// NAT names zone i's NAT gateway component.
func NAT(i int) string { return zonal("nat", i) }

// PrivateRouteTable names zone i's private route table component.
func PrivateRouteTable(i int) string { return zonal("private-rt", i) }

// inventory is what exists, indexed by component tag.
type inventory struct {
	vpcs    map[string]types.Vpc
	subnets map[string]types.Subnet
	igws    map[string]types.InternetGateway
	eips    map[string]types.Address
	nats    map[string]types.NatGateway
	rts     map[string]types.RouteTable
}

// live reports whether a NAT gateway still counts as existing.
func live(n types.NatGateway) bool {
	return n.State == types.NatGatewayStatePending || n.State == types.NatGatewayStateAvailable
}

func find(ctx context.Context, api EC2API, spec stack.Spec) (*inventory, error) {
	inv := &inventory{}
	filter := StackFilter(spec)
	var err error
	if inv.vpcs, err = collect(ctx, "VPCs",
		ec2.NewDescribeVpcsPaginator(api, &ec2.DescribeVpcsInput{Filters: filter}),
		func(o *ec2.DescribeVpcsOutput) []types.Vpc { return o.Vpcs },
		func(v types.Vpc) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	if inv.subnets, err = collect(ctx, "subnets",
		ec2.NewDescribeSubnetsPaginator(api, &ec2.DescribeSubnetsInput{Filters: filter}),
		func(o *ec2.DescribeSubnetsOutput) []types.Subnet { return o.Subnets },
		func(v types.Subnet) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	if inv.igws, err = collect(ctx, "internet gateways",
		ec2.NewDescribeInternetGatewaysPaginator(api, &ec2.DescribeInternetGatewaysInput{Filters: filter}),
		func(o *ec2.DescribeInternetGatewaysOutput) []types.InternetGateway { return o.InternetGateways },
		func(v types.InternetGateway) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	natFilter := append(slices.Clone(filter), types.Filter{Name: aws.String("state"), Values: []string{"pending", "available", "deleting"}})
	if inv.nats, err = collect(ctx, "NAT gateways",
		ec2.NewDescribeNatGatewaysPaginator(api, &ec2.DescribeNatGatewaysInput{Filter: natFilter}),
		func(o *ec2.DescribeNatGatewaysOutput) []types.NatGateway { return o.NatGateways },
		func(v types.NatGateway) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	if inv.rts, err = collect(ctx, "route tables",
		ec2.NewDescribeRouteTablesPaginator(api, &ec2.DescribeRouteTablesInput{Filters: filter}),
		func(o *ec2.DescribeRouteTablesOutput) []types.RouteTable { return o.RouteTables },
		func(v types.RouteTable) []types.Tag { return v.Tags }); err != nil {
		return nil, err
	}
	addrs, err := api.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("describing Elastic IPs: %w", err)
	}
	inv.eips = map[string]types.Address{}
	for _, a := range addrs.Addresses {
		if err := put(inv.eips, Component(a.Tags), a, "Elastic IPs"); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// pager is the shape of every SDK paginator.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*ec2.Options)) (O, error)
}

func collect[O, T any](ctx context.Context, what string, p pager[O], items func(O) []T, tags func(T) []types.Tag) (map[string]T, error) {
	m := map[string]T{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing %s: %w", what, err)
		}
		for _, it := range items(page) {
			if err := put(m, Component(tags(it)), it, what); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// put refuses a second resource with the same component, which would mean
// something outside the control plane copied its tags.
func put[T any](m map[string]T, component string, v T, what string) error {
	if _, dup := m[component]; dup {
		return &handlererr.ConflictError{Msg: fmt.Sprintf("two %s are tagged as component %q of this stack; remove one", what, component)}
	}
	m[component] = v
	return nil
}

// Reconcile creates what is missing and repairs what drifted, and returns
// the layer's IDs. In a dry run it only records the changes.
func Reconcile(ctx context.Context, api EC2API, run *stack.Run) (*Output, error) {
	spec := run.Spec
	inv, err := find(ctx, api, spec)
	if err != nil {
		return nil, err
	}
	n := spec.Network.AZCount
	out := &Output{VPCCIDR: spec.Network.VPCCIDR}
	if out.AZs, err = zones(ctx, api, spec, inv); err != nil {
		return nil, err
	}
	if out.VPCID, err = reconcileVPC(ctx, api, run, inv); err != nil {
		return nil, err
	}
	if out.InternetGatewayID, err = reconcileIGW(ctx, api, run, inv, out.VPCID); err != nil {
		return nil, err
	}
	for i := range n {
		id, err := reconcileSubnet(ctx, api, run, inv, out.VPCID, PublicSubnet(i), spec.Network.PublicSubnets[i], out.AZs[i])
		if err != nil {
			return nil, err
		}
		out.PublicSubnetIDs = append(out.PublicSubnetIDs, id)
		if id, err = reconcileSubnet(ctx, api, run, inv, out.VPCID, PrivateSubnet(i), spec.Network.PrivateSubnets[i], out.AZs[i]); err != nil {
			return nil, err
		}
		out.PrivateSubnetIDs = append(out.PrivateSubnetIDs, id)
	}
	for i := range n {
		id, err := reconcileNAT(ctx, api, run, inv, i, out.PublicSubnetIDs[i])
		if err != nil {
			return nil, err
		}
		out.NATGatewayIDs = append(out.NATGatewayIDs, id)
	}
	var assoc map[string]types.RouteTableAssociation
	if !stack.Pending(out.VPCID) {
		if assoc, err = associations(ctx, api, out.VPCID); err != nil {
			return nil, err
		}
	}
	if out.PublicRouteTableID, err = reconcileRouteTable(ctx, api, run, inv, assoc, out.VPCID, compPublicRT,
		types.Route{GatewayId: aws.String(out.InternetGatewayID)}, out.PublicSubnetIDs); err != nil {
		return nil, err
	}
	for i := range n {
		id, err := reconcileRouteTable(ctx, api, run, inv, assoc, out.VPCID, PrivateRouteTable(i),
			types.Route{NatGatewayId: aws.String(out.NATGatewayIDs[i])}, out.PrivateSubnetIDs[i:i+1])
		if err != nil {
			return nil, err
		}
		out.PrivateRouteTableIDs = append(out.PrivateRouteTableIDs, id)
	}
	return out, nil
}

// zones picks the Availability Zones: the spec's, else the zones of the
// subnets that already exist, else the region's first available ones.
func zones(ctx context.Context, api EC2API, spec stack.Spec, inv *inventory) ([]string, error) {
	n := spec.Network.AZCount
	if len(spec.Network.AZs) == n {
		return spec.Network.AZs, nil
	}
	out, err := api.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{
		{Name: aws.String("state"), Values: []string{"available"}},
		{Name: aws.String("zone-type"), Values: []string{"availability-zone"}},
	}})
	if err != nil {
		return nil, fmt.Errorf("describing Availability Zones: %w", err)
	}
	var free []string
	for _, z := range out.AvailabilityZones {
		free = append(free, aws.ToString(z.ZoneName))
	}
	slices.Sort(free)
	azs := make([]string, n)
	for i := range n {
		for _, c := range []string{PublicSubnet(i), PrivateSubnet(i)} {
			if s, ok := inv.subnets[c]; ok && azs[i] == "" {
				azs[i] = aws.ToString(s.AvailabilityZone)
			}
		}
	}
	for i := range azs {
		for azs[i] == "" {
			if len(free) == 0 {
				return nil, handlererr.Invalid(fmt.Sprintf("the region has fewer than %d available Availability Zones", n))
			}
			if !slices.Contains(azs, free[0]) {
				azs[i] = free[0]
			}
			free = free[1:]
		}
	}
	return azs, nil
}

func change(a stack.Action, resource, name, id, detail string) stack.Change {
	return stack.Change{Action: a, Layer: Layer, Resource: resource, Name: name, ID: id, Detail: detail}
}

func reconcileVPC(ctx context.Context, api EC2API, run *stack.Run, inv *inventory) (string, error) {
	cidr := run.Spec.Network.VPCCIDR
	vpc, ok := inv.vpcs[compVPC]
	if !ok {
		return run.Do(ctx, change(stack.Create, "ec2:vpc", compVPC, "", cidr), func(ctx context.Context) (string, error) {
			out, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{
				CidrBlock:         aws.String(cidr),
				TagSpecifications: TagSpecifications(run.Spec, types.ResourceTypeVpc, compVPC),
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
		if _, err := run.Do(ctx, change(stack.Update, "ec2:vpc", compVPC, id, string(a)+" off, want on"), func(ctx context.Context) (string, error) {
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
		return run.Do(ctx, change(stack.Create, "ec2:internet-gateway", compIGW, "", "attached to "+vpcID), func(ctx context.Context) (string, error) {
			out, err := api.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
				TagSpecifications: TagSpecifications(run.Spec, types.ResourceTypeInternetGateway, compIGW),
			})
			if err != nil {
				return "", err
			}
			id := aws.ToString(out.InternetGateway.InternetGatewayId)
			if _, err := api.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpcID)}); err != nil {
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
	return run.Do(ctx, change(stack.Update, "ec2:internet-gateway", compIGW, id, "not attached to "+vpcID), func(ctx context.Context) (string, error) {
		for _, a := range igw.Attachments {
			if _, err := api.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: a.VpcId}); err != nil {
				return id, fmt.Errorf("detaching %s from %s: %w", id, aws.ToString(a.VpcId), err)
			}
		}
		_, err := api.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpcID)})
		return id, err
	})
}

func reconcileSubnet(ctx context.Context, api EC2API, run *stack.Run, inv *inventory, vpcID, component, cidr, az string) (string, error) {
	sn, ok := inv.subnets[component]
	if !ok {
		return run.Do(ctx, change(stack.Create, "ec2:subnet", component, "", cidr+" in "+az), func(ctx context.Context) (string, error) {
			out, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{
				VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az),
				TagSpecifications: TagSpecifications(run.Spec, types.ResourceTypeSubnet, component),
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
		if allocID, err = run.Do(ctx, change(stack.Create, "ec2:elastic-ip", EIP(i), "", "for "+NAT(i)), func(ctx context.Context) (string, error) {
			out, err := api.AllocateAddress(ctx, &ec2.AllocateAddressInput{
				Domain:            types.DomainTypeVpc,
				TagSpecifications: TagSpecifications(run.Spec, types.ResourceTypeElasticIp, EIP(i)),
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
	return run.Do(ctx, change(stack.Create, "ec2:nat-gateway", NAT(i), "", "in "+PublicSubnet(i)), func(ctx context.Context) (string, error) {
		out, err := api.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
			SubnetId: aws.String(subnetID), AllocationId: aws.String(allocID),
			ConnectivityType:  types.ConnectivityTypePublic,
			ClientToken:       aws.String(run.ClientToken(NAT(i))),
			TagSpecifications: TagSpecifications(run.Spec, types.ResourceTypeNatgateway, NAT(i)),
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
		if id, err = run.Do(ctx, change(stack.Create, "ec2:route-table", component, "", ""), func(ctx context.Context) (string, error) {
			out, err := api.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
				VpcId: aws.String(vpcID), TagSpecifications: TagSpecifications(run.Spec, types.ResourceTypeRouteTable, component),
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
		if _, err := run.Do(ctx, change(stack.Create, "ec2:route", name, id, "via "+target), func(ctx context.Context) (string, error) {
			in := &ec2.CreateRouteInput{RouteTableId: aws.String(id), DestinationCidrBlock: aws.String(DefaultRoute), GatewayId: want.GatewayId, NatGatewayId: want.NatGatewayId}
			_, err := api.CreateRoute(ctx, in)
			return id, err
		}); err != nil {
			return "", err
		}
	case routeTarget(*current) != target || current.State == types.RouteStateBlackhole:
		if _, err := run.Do(ctx, change(stack.Update, "ec2:route", name, id, fmt.Sprintf("via %s (%s), want %s", routeTarget(*current), current.State, target)), func(ctx context.Context) (string, error) {
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
			if _, err := run.Do(ctx, change(stack.Create, "ec2:route-table-association", component+" "+sn, id, ""), func(ctx context.Context) (string, error) {
				_, err := api.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), SubnetId: aws.String(sn)})
				return id, err
			}); err != nil {
				return "", err
			}
		case aws.ToString(a.RouteTableId) != id:
			if _, err := run.Do(ctx, change(stack.Update, "ec2:route-table-association", component+" "+sn, id, "associated with "+aws.ToString(a.RouteTableId)), func(ctx context.Context) (string, error) {
				_, err := api.ReplaceRouteTableAssociation(ctx, &ec2.ReplaceRouteTableAssociationInput{AssociationId: a.RouteTableAssociationId, RouteTableId: aws.String(id)})
				return id, err
			}); err != nil {
				return "", err
			}
		}
	}
	return id, nil
}
