package sim

import (
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "AllocateAddress", (*Sim).allocateAddress)
	handle(ec2ID, "DescribeAddresses", (*Sim).describeAddresses)
	handle(ec2ID, "ReleaseAddress", (*Sim).releaseAddress)
	handle(ec2ID, "CreateNatGateway", (*Sim).createNatGateway)
	handle(ec2ID, "DescribeNatGateways", (*Sim).describeNatGateways)
	handle(ec2ID, "DeleteNatGateway", (*Sim).deleteNatGateway)
}

// address is an Elastic IP address. natID is set while a NAT gateway holds
// it.
type address struct {
	meta
	publicIP      netip.Addr
	natID         string
	associationID string
}

// newPublicIP draws an unused public address from the seeded generator.
func (s *Sim) newPublicIP() netip.Addr {
	for {
		a := netip.AddrFrom4([4]byte{54, byte(160 + s.rng.IntN(32)), byte(s.rng.IntN(256)), byte(1 + s.rng.IntN(254))})
		taken := false
		for _, other := range s.ec2.addresses {
			if other.publicIP == a {
				taken = true
				break
			}
		}
		for _, inst := range s.ec2.instances {
			if inst.publicIP == a {
				taken = true
				break
			}
		}
		if !taken {
			return a
		}
	}
}

func (s *Sim) addressOut(a *address) types.Address {
	out := types.Address{
		AllocationId: aws.String(a.id), PublicIp: aws.String(a.publicIP.String()), Domain: types.DomainTypeVpc,
		PublicIpv4Pool: aws.String("amazon"), NetworkBorderGroup: aws.String(s.region), Tags: a.tags.ec2(),
	}
	if n, ok := s.ec2.nats[a.natID]; ok && a.natID != "" {
		out.AssociationId = aws.String(a.associationID)
		out.NetworkInterfaceId = aws.String(n.eniID)
		out.NetworkInterfaceOwnerId = aws.String(s.account)
		out.PrivateIpAddress = aws.String(n.privateIP.String())
	}
	return out
}

func (s *Sim) allocateAddress(in *ec2.AllocateAddressInput) (*ec2.AllocateAddressOutput, error) {
	if in.Domain != "" && in.Domain != types.DomainTypeVpc {
		return nil, invalidParam("Value (%s) for parameter domain is invalid.", in.Domain)
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeElasticIp)
	if err != nil {
		return nil, err
	}
	a := &address{meta: s.newMeta(s.newID("eipalloc"), tags[types.ResourceTypeElasticIp]), publicIP: s.newPublicIP()}
	s.ec2.addresses[a.id] = a
	return &ec2.AllocateAddressOutput{
		AllocationId: aws.String(a.id), PublicIp: aws.String(a.publicIP.String()), Domain: types.DomainTypeVpc,
		PublicIpv4Pool: aws.String("amazon"), NetworkBorderGroup: aws.String(s.region),
	}, nil
}

var addressFilters = filterFields[*address]{
	"allocation-id": func(a *address) []string { return []string{a.id} },
	"public-ip":     func(a *address) []string { return []string{a.publicIP.String()} },
	"domain":        func(*address) []string { return []string{"vpc"} },
	"association-id": func(a *address) []string {
		if a.associationID == "" {
			return nil
		}
		return []string{a.associationID}
	},
}

func (s *Sim) describeAddresses(in *ec2.DescribeAddressesInput) (*ec2.DescribeAddressesOutput, error) {
	as, err := selectByID(s, s.ec2.addresses, in.AllocationIds, func(ids ...string) error {
		return notFoundEC2("InvalidAllocationID.NotFound", "allocation", ids...)
	})
	if err != nil {
		return nil, err
	}
	if len(in.PublicIps) > 0 {
		var kept []*address
		for _, ip := range in.PublicIps {
			found := false
			for _, a := range as {
				if a.publicIP.String() == ip {
					kept, found = append(kept, a), true
				}
			}
			if !found {
				return nil, apiError("InvalidAddress.NotFound", "Address '%s' not found.", ip)
			}
		}
		as = kept
	}
	if as, err = applyFilters(as, in.Filters, addressFilters); err != nil {
		return nil, err
	}
	out := &ec2.DescribeAddressesOutput{Addresses: []types.Address{}}
	for _, a := range as {
		out.Addresses = append(out.Addresses, s.addressOut(a))
	}
	return out, nil
}

func (s *Sim) releaseAddress(in *ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
	if in.AllocationId == nil {
		return nil, apiError("MissingParameter", "The request must contain the parameter AllocationId")
	}
	a, ok := lookup(s, s.ec2.addresses, *in.AllocationId)
	if !ok {
		return nil, notFoundEC2("InvalidAllocationID.NotFound", "allocation", *in.AllocationId)
	}
	if a.natID != "" {
		return nil, apiError("InvalidIPAddress.InUse", "Address %s is in use.", a.publicIP)
	}
	delete(s.ec2.addresses, a.id)
	return &ec2.ReleaseAddressOutput{}, nil
}

// natGateway is a simulated NAT gateway.
type natGateway struct {
	meta
	subnetID, vpcID string
	allocationID    string
	privateIP       netip.Addr
	eniID           string
	connectivity    types.ConnectivityType
	state           types.NatGatewayState
	failureCode     string
	failureMessage  string
	deleteTime      time.Time
	clientToken     string
}

func (s *Sim) natOut(n *natGateway) types.NatGateway {
	out := types.NatGateway{
		NatGatewayId: aws.String(n.id), SubnetId: aws.String(n.subnetID), VpcId: aws.String(n.vpcID),
		State: n.state, ConnectivityType: n.connectivity, CreateTime: aws.Time(n.created), Tags: n.tags.ec2(),
		AvailabilityMode: types.AvailabilityModeZonal,
	}
	if n.failureCode != "" {
		out.FailureCode, out.FailureMessage = aws.String(n.failureCode), aws.String(n.failureMessage)
	}
	if !n.deleteTime.IsZero() {
		out.DeleteTime = aws.Time(n.deleteTime)
	}
	addr := types.NatGatewayAddress{
		NetworkInterfaceId: aws.String(n.eniID), PrivateIp: aws.String(n.privateIP.String()), IsPrimary: aws.Bool(true),
	}
	switch n.state {
	case types.NatGatewayStatePending:
		addr.Status = types.NatGatewayAddressStatusAssociating
	case types.NatGatewayStateAvailable:
		addr.Status = types.NatGatewayAddressStatusSucceeded
	case types.NatGatewayStateDeleting:
		addr.Status = types.NatGatewayAddressStatusDisassociating
	default:
		addr.Status = types.NatGatewayAddressStatusSucceeded
	}
	if a, ok := s.ec2.addresses[n.allocationID]; ok && n.allocationID != "" {
		addr.AllocationId = aws.String(a.id)
		addr.PublicIp = aws.String(a.publicIP.String())
		if a.natID == n.id {
			addr.AssociationId = aws.String(a.associationID)
		}
	}
	out.NatGatewayAddresses = []types.NatGatewayAddress{addr}
	return out
}

func (s *Sim) createNatGateway(in *ec2.CreateNatGatewayInput) (*ec2.CreateNatGatewayOutput, error) {
	if tok := aws.ToString(in.ClientToken); tok != "" {
		for _, n := range byCreation(s.ec2.nats) {
			if n.clientToken == tok {
				out := s.natOut(n)
				return &ec2.CreateNatGatewayOutput{NatGateway: &out, ClientToken: in.ClientToken}, nil
			}
		}
	}
	if in.SubnetId == nil {
		return nil, apiError("MissingParameter", "The request must contain the parameter SubnetId")
	}
	sn, err := s.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	conn := in.ConnectivityType
	if conn == "" {
		conn = types.ConnectivityTypePublic
	}
	var eip *address
	if conn == types.ConnectivityTypePublic {
		if in.AllocationId == nil {
			return nil, apiError("MissingParameter", "The request must contain the parameter AllocationId")
		}
		a, ok := lookup(s, s.ec2.addresses, *in.AllocationId)
		if !ok {
			return nil, notFoundEC2("InvalidAllocationID.NotFound", "allocation", *in.AllocationId)
		}
		if a.natID != "" {
			return nil, apiError("Resource.AlreadyAssociated", "Elastic IP address [%s] is already associated", a.id)
		}
		eip = a
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeNatgateway)
	if err != nil {
		return nil, err
	}
	ip, err := sn.allocateIP()
	if err != nil {
		return nil, err
	}
	n := &natGateway{
		meta:     s.newMeta(s.newID("nat"), tags[types.ResourceTypeNatgateway]),
		subnetID: sn.id, vpcID: sn.vpcID, privateIP: ip, eniID: s.newID("eni"),
		connectivity: conn, state: types.NatGatewayStatePending, clientToken: aws.ToString(in.ClientToken),
	}
	if eip != nil {
		n.allocationID = eip.id
		eip.natID, eip.associationID = n.id, s.newID("eipassoc")
	}
	s.ec2.nats[n.id] = n
	s.after(s.timings.NATGatewayCreate, func() { s.natProvisioned(n) })
	out := s.natOut(n)
	return &ec2.CreateNatGatewayOutput{NatGateway: &out, ClientToken: in.ClientToken}, nil
}

// natProvisioned ends a NAT gateway's pending state. A public NAT gateway in
// a VPC without an internet gateway fails, as on AWS.
func (s *Sim) natProvisioned(n *natGateway) {
	if n.state != types.NatGatewayStatePending {
		return
	}
	if n.connectivity == types.ConnectivityTypePublic && !s.vpcHasIGW(n.vpcID) {
		n.state = types.NatGatewayStateFailed
		n.failureCode = "Gateway.NotAttached"
		n.failureMessage = "Network " + n.vpcID + " has no Internet gateway attached"
		s.releaseNat(n)
		s.after(s.timings.TerminatedRetention, func() { delete(s.ec2.nats, n.id) })
		return
	}
	n.state = types.NatGatewayStateAvailable
	s.log.Debug("sim_nat_gateway_available", "nat_gateway_id", n.id)
}

// releaseNat frees what a NAT gateway held: its Elastic IP and subnet address.
func (s *Sim) releaseNat(n *natGateway) {
	if a, ok := s.ec2.addresses[n.allocationID]; ok && a.natID == n.id {
		a.natID, a.associationID = "", ""
	}
	if sn, ok := s.ec2.subnets[n.subnetID]; ok {
		sn.releaseIP(n.privateIP)
	}
}

func (s *Sim) vpcHasIGW(vpcID string) bool {
	for _, g := range s.ec2.igws {
		if g.vpcID == vpcID {
			return true
		}
	}
	return false
}

var natFilters = filterFields[*natGateway]{
	"nat-gateway-id": func(n *natGateway) []string { return []string{n.id} },
	"state":          func(n *natGateway) []string { return []string{string(n.state)} },
	"subnet-id":      func(n *natGateway) []string { return []string{n.subnetID} },
	"vpc-id":         func(n *natGateway) []string { return []string{n.vpcID} },
}

func (s *Sim) describeNatGateways(in *ec2.DescribeNatGatewaysInput) (*ec2.DescribeNatGatewaysOutput, error) {
	ns, err := selectByID(s, s.ec2.nats, in.NatGatewayIds, func(ids ...string) error {
		return apiError("NatGatewayNotFound", "NAT gateway %s was not found", ids[0])
	})
	if err != nil {
		return nil, err
	}
	if ns, err = applyFilters(ns, in.Filter, natFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(ns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeNatGatewaysOutput{NextToken: next, NatGateways: []types.NatGateway{}}
	for _, n := range page {
		out.NatGateways = append(out.NatGateways, s.natOut(n))
	}
	return out, nil
}

func (s *Sim) deleteNatGateway(in *ec2.DeleteNatGatewayInput) (*ec2.DeleteNatGatewayOutput, error) {
	n, ok := lookup(s, s.ec2.nats, aws.ToString(in.NatGatewayId))
	if !ok {
		return nil, apiError("NatGatewayNotFound", "NAT gateway %s was not found", aws.ToString(in.NatGatewayId))
	}
	if n.state == types.NatGatewayStatePending || n.state == types.NatGatewayStateAvailable {
		n.state = types.NatGatewayStateDeleting
		s.after(s.timings.NATGatewayDelete, func() {
			n.state = types.NatGatewayStateDeleted
			n.deleteTime = s.clock.now
			s.releaseNat(n)
			s.after(s.timings.TerminatedRetention, func() { delete(s.ec2.nats, n.id) })
		})
	}
	return &ec2.DeleteNatGatewayOutput{NatGatewayId: aws.String(n.id)}, nil
}
