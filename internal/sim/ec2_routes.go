package sim

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "CreateRouteTable", (*Sim).createRouteTable)
	handle(ec2ID, "DescribeRouteTables", (*Sim).describeRouteTables)
	handle(ec2ID, "DeleteRouteTable", (*Sim).deleteRouteTable)
	handle(ec2ID, "CreateRoute", (*Sim).createRoute)
	handle(ec2ID, "ReplaceRoute", (*Sim).replaceRoute)
	handle(ec2ID, "DeleteRoute", (*Sim).deleteRoute)
	handle(ec2ID, "AssociateRouteTable", (*Sim).associateRouteTable)
	handle(ec2ID, "DisassociateRouteTable", (*Sim).disassociateRouteTable)
}

// routeTable is a simulated route table with its routes and associations.
type routeTable struct {
	meta
	vpcID  string
	routes []*route
	assocs []*rtAssoc
}

// route is one entry; target is "local", an internet gateway ID or a NAT
// gateway ID.
type route struct {
	dest   string
	target string
	origin types.RouteOrigin
}

// rtAssoc links a route table to a subnet, or marks it the VPC's main table.
type rtAssoc struct {
	id       string
	subnetID string
	main     bool
}

func (rt *routeTable) dropSubnetAssociation(subnetID string) {
	kept := rt.assocs[:0]
	for _, a := range rt.assocs {
		if a.subnetID != subnetID {
			kept = append(kept, a)
		}
	}
	rt.assocs = kept
}

func (rt *routeTable) routeTo(dest string) (int, bool) {
	for i, r := range rt.routes {
		if r.dest == dest {
			return i, true
		}
	}
	return 0, false
}

// newRouteTable creates a VPC's route table with its local route. The caller
// holds Sim.mu.
func (s *Sim) newRouteTable(v *vpc, main bool) *routeTable {
	rt := &routeTable{meta: s.newMeta(s.newID("rtb"), nil), vpcID: v.id}
	rt.routes = []*route{{dest: v.cidr.String(), target: "local", origin: types.RouteOriginCreateRouteTable}}
	if main {
		rt.assocs = []*rtAssoc{{id: s.newID("rtbassoc"), main: true}}
	}
	s.ec2.routeTables[rt.id] = rt
	return rt
}

func (s *Sim) routeOut(r *route) types.Route {
	out := types.Route{DestinationCidrBlock: aws.String(r.dest), Origin: r.origin, State: types.RouteStateActive}
	switch {
	case r.target == "local":
		out.GatewayId = aws.String("local")
	case strings.HasPrefix(r.target, "igw-"):
		out.GatewayId = aws.String(r.target)
		if g, ok := s.ec2.igws[r.target]; !ok || g.vpcID == "" {
			out.State = types.RouteStateBlackhole
		}
	case strings.HasPrefix(r.target, "nat-"):
		out.NatGatewayId = aws.String(r.target)
		if n, ok := s.ec2.nats[r.target]; !ok || n.state == types.NatGatewayStateDeleted || n.state == types.NatGatewayStateFailed || n.state == types.NatGatewayStateDeleting {
			out.State = types.RouteStateBlackhole
		}
	}
	return out
}

func (s *Sim) routeTableOut(rt *routeTable) types.RouteTable {
	out := types.RouteTable{
		RouteTableId: aws.String(rt.id), VpcId: aws.String(rt.vpcID), OwnerId: aws.String(s.account), Tags: rt.tags.ec2(),
		Routes: []types.Route{}, Associations: []types.RouteTableAssociation{}, PropagatingVgws: []types.PropagatingVgw{},
	}
	for _, r := range rt.routes {
		out.Routes = append(out.Routes, s.routeOut(r))
	}
	for _, a := range rt.assocs {
		assoc := types.RouteTableAssociation{
			RouteTableAssociationId: aws.String(a.id), RouteTableId: aws.String(rt.id), Main: aws.Bool(a.main),
			AssociationState: &types.RouteTableAssociationState{State: types.RouteTableAssociationStateCodeAssociated},
		}
		if a.subnetID != "" {
			assoc.SubnetId = aws.String(a.subnetID)
		}
		out.Associations = append(out.Associations, assoc)
	}
	return out
}

func (s *Sim) createRouteTable(in *ec2.CreateRouteTableInput) (*ec2.CreateRouteTableOutput, error) {
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeRouteTable)
	if err != nil {
		return nil, err
	}
	rt := s.newRouteTable(v, false)
	rt.tags = tags[types.ResourceTypeRouteTable]
	if rt.tags == nil {
		rt.tags = tagSet{}
	}
	out := s.routeTableOut(rt)
	return &ec2.CreateRouteTableOutput{RouteTable: &out}, nil
}

var routeTableFilters = filterFields[*routeTable]{
	"route-table-id": func(rt *routeTable) []string { return []string{rt.id} },
	"vpc-id":         func(rt *routeTable) []string { return []string{rt.vpcID} },
	"association.main": func(rt *routeTable) []string {
		for _, a := range rt.assocs {
			if a.main {
				return []string{"true"}
			}
		}
		return []string{"false"}
	},
	"association.subnet-id": func(rt *routeTable) []string {
		var out []string
		for _, a := range rt.assocs {
			if a.subnetID != "" {
				out = append(out, a.subnetID)
			}
		}
		return out
	},
	"association.route-table-association-id": func(rt *routeTable) []string {
		var out []string
		for _, a := range rt.assocs {
			out = append(out, a.id)
		}
		return out
	},
	"association.route-table-id": func(rt *routeTable) []string {
		if len(rt.assocs) == 0 {
			return nil
		}
		return []string{rt.id}
	},
	"route.destination-cidr-block": func(rt *routeTable) []string {
		var out []string
		for _, r := range rt.routes {
			out = append(out, r.dest)
		}
		return out
	},
	"route.gateway-id": func(rt *routeTable) []string {
		var out []string
		for _, r := range rt.routes {
			if !strings.HasPrefix(r.target, "nat-") {
				out = append(out, r.target)
			}
		}
		return out
	},
	"route.nat-gateway-id": func(rt *routeTable) []string {
		var out []string
		for _, r := range rt.routes {
			if strings.HasPrefix(r.target, "nat-") {
				out = append(out, r.target)
			}
		}
		return out
	},
}

func (s *Sim) describeRouteTables(in *ec2.DescribeRouteTablesInput) (*ec2.DescribeRouteTablesOutput, error) {
	rts, err := selectByID(s, s.ec2.routeTables, in.RouteTableIds, func(ids ...string) error {
		return notFoundEC2("InvalidRouteTableID.NotFound", "routeTable", ids...)
	})
	if err != nil {
		return nil, err
	}
	if rts, err = applyFilters(rts, in.Filters, routeTableFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(rts, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeRouteTablesOutput{NextToken: next, RouteTables: []types.RouteTable{}}
	for _, rt := range page {
		out.RouteTables = append(out.RouteTables, s.routeTableOut(rt))
	}
	return out, nil
}

func (s *Sim) findRouteTable(id *string) (*routeTable, error) {
	rt, ok := lookup(s, s.ec2.routeTables, aws.ToString(id))
	if !ok {
		return nil, notFoundEC2("InvalidRouteTableID.NotFound", "routeTable", aws.ToString(id))
	}
	return rt, nil
}

func (s *Sim) deleteRouteTable(in *ec2.DeleteRouteTableInput) (*ec2.DeleteRouteTableOutput, error) {
	rt, err := s.findRouteTable(in.RouteTableId)
	if err != nil {
		return nil, err
	}
	if len(rt.assocs) > 0 {
		return nil, dependencyViolation("routeTable", rt.id)
	}
	delete(s.ec2.routeTables, rt.id)
	return &ec2.DeleteRouteTableOutput{}, nil
}

// routeTarget validates the single target of a CreateRoute or ReplaceRoute
// call and returns its ID.
func (s *Sim) routeTarget(rt *routeTable, gatewayID, natID *string, others ...*string) (string, error) {
	for _, o := range others {
		if o != nil {
			return "", apiError("UnsupportedOperation", "The simulator routes only to internet and NAT gateways.")
		}
	}
	switch {
	case gatewayID != nil && natID != nil:
		return "", invalidParam("The parameter combination is not valid: specify exactly one route target.")
	case gatewayID != nil:
		g, ok := lookup(s, s.ec2.igws, *gatewayID)
		if !ok {
			return "", notFoundEC2("InvalidGatewayID.NotFound", "gateway", *gatewayID)
		}
		if g.vpcID != rt.vpcID {
			return "", invalidParam("route table %s and network gateway %s belong to different networks", rt.id, g.id)
		}
		return g.id, nil
	case natID != nil:
		n, ok := lookup(s, s.ec2.nats, *natID)
		if !ok || n.state == types.NatGatewayStateDeleted {
			return "", notFoundEC2("InvalidNatGatewayID.NotFound", "natGateway", *natID)
		}
		if n.vpcID != rt.vpcID {
			return "", invalidParam("route table %s and NAT gateway %s belong to different networks", rt.id, n.id)
		}
		return n.id, nil
	}
	return "", apiError("InvalidParameterCombination", "No route target specified")
}

func routeDest(cidr *string) (string, error) {
	if cidr == nil {
		return "", apiError("MissingParameter", "The request must contain the parameter destinationCidrBlock")
	}
	p, err := parseCIDR("destinationCidrBlock", *cidr)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

func (s *Sim) createRoute(in *ec2.CreateRouteInput) (*ec2.CreateRouteOutput, error) {
	rt, err := s.findRouteTable(in.RouteTableId)
	if err != nil {
		return nil, err
	}
	dest, err := routeDest(in.DestinationCidrBlock)
	if err != nil {
		return nil, err
	}
	target, err := s.routeTarget(rt, in.GatewayId, in.NatGatewayId, in.InstanceId, in.NetworkInterfaceId, in.TransitGatewayId, in.VpcPeeringConnectionId, in.VpcEndpointId, in.EgressOnlyInternetGatewayId, in.CarrierGatewayId, in.LocalGatewayId)
	if err != nil {
		return nil, err
	}
	if _, ok := rt.routeTo(dest); ok {
		return nil, apiError("RouteAlreadyExists", "The route identified by %s already exists.", dest)
	}
	rt.routes = append(rt.routes, &route{dest: dest, target: target, origin: types.RouteOriginCreateRoute})
	return &ec2.CreateRouteOutput{Return: aws.Bool(true)}, nil
}

// existingRoute finds the route to cidr in a route table, or the error AWS
// gives when either is missing.
func (s *Sim) existingRoute(routeTableID, cidr *string) (*routeTable, int, string, error) {
	rt, err := s.findRouteTable(routeTableID)
	if err != nil {
		return nil, 0, "", err
	}
	dest, err := routeDest(cidr)
	if err != nil {
		return nil, 0, "", err
	}
	i, ok := rt.routeTo(dest)
	if !ok {
		return nil, 0, "", apiError("InvalidRoute.NotFound", "no route with destination-cidr-block %s in route table %s", dest, rt.id)
	}
	return rt, i, dest, nil
}

func (s *Sim) replaceRoute(in *ec2.ReplaceRouteInput) (*ec2.ReplaceRouteOutput, error) {
	rt, i, _, err := s.existingRoute(in.RouteTableId, in.DestinationCidrBlock)
	if err != nil {
		return nil, err
	}
	target, err := s.routeTarget(rt, in.GatewayId, in.NatGatewayId, in.InstanceId, in.NetworkInterfaceId, in.TransitGatewayId, in.VpcPeeringConnectionId, in.VpcEndpointId, in.EgressOnlyInternetGatewayId, in.CarrierGatewayId, in.LocalGatewayId)
	if err != nil {
		return nil, err
	}
	rt.routes[i].target = target
	return &ec2.ReplaceRouteOutput{}, nil
}

func (s *Sim) deleteRoute(in *ec2.DeleteRouteInput) (*ec2.DeleteRouteOutput, error) {
	rt, i, dest, err := s.existingRoute(in.RouteTableId, in.DestinationCidrBlock)
	if err != nil {
		return nil, err
	}
	if rt.routes[i].target == "local" {
		return nil, invalidParam("cannot remove local route %s in route table %s", dest, rt.id)
	}
	rt.routes = append(rt.routes[:i], rt.routes[i+1:]...)
	return &ec2.DeleteRouteOutput{}, nil
}

func (s *Sim) associateRouteTable(in *ec2.AssociateRouteTableInput) (*ec2.AssociateRouteTableOutput, error) {
	rt, err := s.findRouteTable(in.RouteTableId)
	if err != nil {
		return nil, err
	}
	if in.SubnetId == nil {
		return nil, apiError("UnsupportedOperation", "The simulator associates route tables with subnets only.")
	}
	sn, err := s.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	if sn.vpcID != rt.vpcID {
		return nil, invalidParam("Route table %s and subnet %s belong to different networks", rt.id, sn.id)
	}
	for _, other := range s.ec2.routeTables {
		for _, a := range other.assocs {
			if a.subnetID == sn.id {
				return nil, apiError("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", rt.id)
			}
		}
	}
	a := &rtAssoc{id: s.newID("rtbassoc"), subnetID: sn.id}
	rt.assocs = append(rt.assocs, a)
	return &ec2.AssociateRouteTableOutput{
		AssociationId:    aws.String(a.id),
		AssociationState: &types.RouteTableAssociationState{State: types.RouteTableAssociationStateCodeAssociated},
	}, nil
}

func (s *Sim) disassociateRouteTable(in *ec2.DisassociateRouteTableInput) (*ec2.DisassociateRouteTableOutput, error) {
	id := aws.ToString(in.AssociationId)
	for _, rt := range byCreation(s.ec2.routeTables) {
		for i, a := range rt.assocs {
			if a.id != id {
				continue
			}
			if a.main {
				return nil, invalidParam("cannot disassociate the main route table association %s", id)
			}
			rt.assocs = append(rt.assocs[:i], rt.assocs[i+1:]...)
			return &ec2.DisassociateRouteTableOutput{}, nil
		}
	}
	return nil, notFoundEC2("InvalidAssociationID.NotFound", "association", id)
}
