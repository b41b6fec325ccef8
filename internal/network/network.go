// Package network reconciles the stack's network layer: the VPC (whose
// default security group it strips of its rules), one public and one
// private subnet per Availability Zone, the internet gateway, an
// Elastic IP and a NAT gateway per zone (so losing one zone leaves the
// other's egress intact), and the route tables with their routes and
// associations. It deletes what is tagged for the stack but no longer
// wanted, such as a zone the spec dropped, and tears the layer down.
//
// Like every layer it finds what exists by tags (find), compares it with
// what the spec wants (the want and drift functions), and writes the
// difference through stack.Run.Do, so a dry run is the plan.
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

// Inputs are the earlier layers' outputs the layer needs: none, it is the
// first.
type Inputs struct{}

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

// wanted lists the components a stack over azCount zones consists of.
func wanted(azCount int) map[string]bool {
	w := map[string]bool{compVPC: true, compIGW: true, compPublicRT: true}
	for i := range azCount {
		for _, c := range []string{PublicSubnet(i), PrivateSubnet(i), EIP(i), NAT(i), PrivateRouteTable(i)} {
			w[c] = true
		}
	}
	return w
}

// Reconcile creates what is missing, repairs what drifted and deletes what
// is tagged for the stack but no longer wanted, and returns the layer's
// IDs. In a dry run it only records the changes. While an unwanted NAT
// gateway is still deleting it returns its output with a NotReadyError.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, _ Inputs) (*stack.NetworkOutput, error) {
	spec := run.Spec
	api := c.EC2
	inv, err := find(ctx, api, spec)
	if err != nil {
		return nil, err
	}
	n := spec.Network.AZCount
	out := &stack.NetworkOutput{VPCCIDR: spec.Network.VPCCIDR}
	if out.AZs, err = zones(ctx, api, spec, inv); err != nil {
		return nil, err
	}
	if out.VPCID, err = reconcileVPC(ctx, api, run, inv); err != nil {
		return nil, err
	}
	if err := reconcileDefaultGroup(ctx, api, run, out.VPCID); err != nil {
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
	return out, deleteInventory(ctx, api, run, inv.unwanted(wanted(n)))
}

// inventory is what exists, indexed by component tag.
type inventory struct {
	vpcs    map[string]types.Vpc
	subnets map[string]types.Subnet
	igws    map[string]types.InternetGateway
	eips    map[string]types.Address
	nats    map[string]types.NatGateway
	rts     map[string]types.RouteTable
}

// unwanted returns the part of the inventory whose components are not in
// want.
func (inv *inventory) unwanted(want map[string]bool) *inventory {
	return &inventory{
		vpcs: except(inv.vpcs, want), subnets: except(inv.subnets, want), igws: except(inv.igws, want),
		eips: except(inv.eips, want), nats: except(inv.nats, want), rts: except(inv.rts, want),
	}
}

func except[T any](m map[string]T, want map[string]bool) map[string]T {
	out := map[string]T{}
	for c, v := range m {
		if !want[c] {
			out[c] = v
		}
	}
	return out
}

// live reports whether a NAT gateway still counts as existing.
func live(n types.NatGateway) bool {
	return n.State == types.NatGatewayStatePending || n.State == types.NatGatewayStateAvailable
}

// find lists the stack's network resources by their tags.
func find(ctx context.Context, api EC2API, spec stack.Spec) (*inventory, error) {
	inv := &inventory{}
	filter := spec.EC2Filter()
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
		if err := put(inv.eips, stack.EC2TagMap(a.Tags)[stack.TagComponent], a, "Elastic IPs"); err != nil {
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
			if err := put(m, stack.EC2TagMap(tags(it))[stack.TagComponent], it, what); err != nil {
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
	azs := pickZones(n, free, inv)
	if slices.Contains(azs, "") {
		return nil, handlererr.Invalid(fmt.Sprintf("the region has fewer than %d available Availability Zones", n))
	}
	return azs, nil
}

// pickZones keeps each zone index on the zone its subnets are already in,
// and fills the rest from free in order.
func pickZones(n int, free []string, inv *inventory) []string {
	azs := make([]string, n)
	for i := range n {
		for _, c := range []string{PublicSubnet(i), PrivateSubnet(i)} {
			if s, ok := inv.subnets[c]; ok && azs[i] == "" {
				azs[i] = aws.ToString(s.AvailabilityZone)
			}
		}
	}
	for i := range azs {
		for azs[i] == "" && len(free) > 0 {
			if !slices.Contains(azs, free[0]) {
				azs[i] = free[0]
			}
			free = free[1:]
		}
	}
	return azs
}
