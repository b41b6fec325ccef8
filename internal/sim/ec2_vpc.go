package sim

import (
	"net/netip"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "DescribeAvailabilityZones", (*Sim).describeAvailabilityZones)
	handle(ec2ID, "CreateVpc", (*Sim).createVpc)
	handle(ec2ID, "DescribeVpcs", (*Sim).describeVpcs)
	handle(ec2ID, "DeleteVpc", (*Sim).deleteVpc)
	handle(ec2ID, "ModifyVpcAttribute", (*Sim).modifyVpcAttribute)
	handle(ec2ID, "DescribeVpcAttribute", (*Sim).describeVpcAttribute)
	handle(ec2ID, "CreateSubnet", (*Sim).createSubnet)
	handle(ec2ID, "DescribeSubnets", (*Sim).describeSubnets)
	handle(ec2ID, "DeleteSubnet", (*Sim).deleteSubnet)
	handle(ec2ID, "ModifySubnetAttribute", (*Sim).modifySubnetAttribute)
	handle(ec2ID, "CreateInternetGateway", (*Sim).createInternetGateway)
	handle(ec2ID, "DescribeInternetGateways", (*Sim).describeInternetGateways)
	handle(ec2ID, "AttachInternetGateway", (*Sim).attachInternetGateway)
	handle(ec2ID, "DetachInternetGateway", (*Sim).detachInternetGateway)
	handle(ec2ID, "DeleteInternetGateway", (*Sim).deleteInternetGateway)
}

func (s *Sim) describeAvailabilityZones(in *ec2.DescribeAvailabilityZonesInput) (*ec2.DescribeAvailabilityZonesOutput, error) {
	out := &ec2.DescribeAvailabilityZonesOutput{}
	for _, z := range s.zones {
		if len(in.ZoneNames) > 0 && !containsString(in.ZoneNames, z.name) {
			continue
		}
		if len(in.ZoneIds) > 0 && !containsString(in.ZoneIds, z.id) {
			continue
		}
		state := types.AvailabilityZoneStateAvailable
		if s.zoneDown(z.name) {
			state = types.AvailabilityZoneStateImpaired
		}
		az := types.AvailabilityZone{
			ZoneName: aws.String(z.name), ZoneId: aws.String(z.id), RegionName: aws.String(s.region),
			State: state, OptInStatus: types.AvailabilityZoneOptInStatusOptInNotRequired,
			GroupName: aws.String(s.region), NetworkBorderGroup: aws.String(s.region),
			ZoneType: aws.String("availability-zone"), Messages: []types.AvailabilityZoneMessage{},
		}
		if ok, err := zoneMatches(az, in.Filters); err != nil {
			return nil, err
		} else if ok {
			out.AvailabilityZones = append(out.AvailabilityZones, az)
		}
	}
	for _, n := range in.ZoneNames {
		if _, ok := s.zoneByName(n); !ok {
			return nil, invalidParam("The zone '%s' does not exist.", n)
		}
	}
	return out, nil
}

func zoneMatches(az types.AvailabilityZone, filters []types.Filter) (bool, error) {
	fields := map[string]string{
		"zone-name": aws.ToString(az.ZoneName), "zone-id": aws.ToString(az.ZoneId), "region-name": aws.ToString(az.RegionName),
		"state": string(az.State), "zone-type": aws.ToString(az.ZoneType), "opt-in-status": string(az.OptInStatus),
		"group-name": aws.ToString(az.GroupName),
	}
	for _, f := range filters {
		v, ok := fields[aws.ToString(f.Name)]
		if !ok {
			return false, invalidParam("The filter '%s' is invalid", aws.ToString(f.Name))
		}
		if !anyMatch(f.Values, []string{v}) {
			return false, nil
		}
	}
	return true, nil
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// vpc is a simulated VPC.
type vpc struct {
	meta
	cidr           netip.Prefix
	cidrAssocID    string
	dnsSupport     bool
	dnsHostnames   bool
	mainRouteTable string
	defaultGroup   string
}

func (s *Sim) vpcOut(v *vpc, state types.VpcState) types.Vpc {
	return types.Vpc{
		VpcId: aws.String(v.id), CidrBlock: aws.String(v.cidr.String()), State: state,
		CidrBlockAssociationSet: []types.VpcCidrBlockAssociation{{
			AssociationId: aws.String(v.cidrAssocID), CidrBlock: aws.String(v.cidr.String()),
			CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated},
		}},
		DhcpOptionsId: aws.String(s.ec2.dhcpOptionsID), InstanceTenancy: types.TenancyDefault,
		IsDefault: aws.Bool(false), OwnerId: aws.String(s.account), Tags: v.tags.ec2(),
	}
}

// parseCIDR parses an IPv4 CIDR block that must be given by its network
// address, as EC2 requires.
func parseCIDR(param, value string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(value)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, invalidParam("Value (%s) for parameter %s is invalid. This is not a valid CIDR block.", value, param)
	}
	return p, nil
}

func (s *Sim) createVpc(in *ec2.CreateVpcInput) (*ec2.CreateVpcOutput, error) {
	if in.CidrBlock == nil {
		return nil, apiError("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
	}
	cidr, err := parseCIDR("cidrBlock", *in.CidrBlock)
	if err != nil {
		return nil, err
	}
	if cidr.Bits() < 16 || cidr.Bits() > 28 {
		return nil, apiError("InvalidVpc.Range", "The CIDR '%s' is invalid.", cidr)
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeVpc)
	if err != nil {
		return nil, err
	}
	if s.ec2.dhcpOptionsID == "" {
		s.ec2.dhcpOptionsID = s.newID("dopt")
	}
	v := &vpc{meta: s.newMeta(s.newID("vpc"), tags[types.ResourceTypeVpc]), cidr: cidr, cidrAssocID: s.newID("vpc-cidr-assoc"), dnsSupport: true}
	s.ec2.vpcs[v.id] = v
	v.mainRouteTable = s.newRouteTable(v, true).id
	// The default group admits all traffic from itself and allows all
	// outbound traffic
	// (https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html).
	def := s.newSecurityGroup(v.id, "default", "default VPC security group", nil)
	def.rules = append(def.rules, &sgRule{meta: s.newMeta(s.newID("sgr"), nil), groupID: def.id, protocol: "-1", from: -1, to: -1, peerGroup: def.id})
	v.defaultGroup = def.id
	out := s.vpcOut(v, types.VpcStatePending)
	return &ec2.CreateVpcOutput{Vpc: &out}, nil
}

func (s *Sim) vpcFilters() filterFields[*vpc] {
	return filterFields[*vpc]{
		"vpc-id":                                func(v *vpc) []string { return []string{v.id} },
		"cidr":                                  func(v *vpc) []string { return []string{v.cidr.String()} },
		"cidr-block-association.cidr-block":     func(v *vpc) []string { return []string{v.cidr.String()} },
		"cidr-block-association.association-id": func(v *vpc) []string { return []string{v.cidrAssocID} },
		"cidr-block-association.state":          func(*vpc) []string { return []string{"associated"} },
		"state":                                 func(*vpc) []string { return []string{"available"} },
		"is-default":                            func(*vpc) []string { return []string{"false"} },
		"dhcp-options-id":                       func(*vpc) []string { return []string{s.ec2.dhcpOptionsID} },
		"owner-id":                              func(*vpc) []string { return []string{s.account} },
	}
}

func (s *Sim) describeVpcs(in *ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
	vs, err := selectByID(s, s.ec2.vpcs, in.VpcIds, func(ids ...string) error { return notFoundEC2("InvalidVpcID.NotFound", "vpc", ids...) })
	if err != nil {
		return nil, err
	}
	if vs, err = applyFilters(vs, in.Filters, s.vpcFilters()); err != nil {
		return nil, err
	}
	page, next, err := paginate(vs, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeVpcsOutput{NextToken: next, Vpcs: []types.Vpc{}}
	for _, v := range page {
		out.Vpcs = append(out.Vpcs, s.vpcOut(v, types.VpcStateAvailable))
	}
	return out, nil
}

func (s *Sim) findVpc(id *string) (*vpc, error) {
	v, ok := lookup(s, s.ec2.vpcs, aws.ToString(id))
	if !ok {
		return nil, notFoundEC2("InvalidVpcID.NotFound", "vpc", aws.ToString(id))
	}
	return v, nil
}

func (s *Sim) deleteVpc(in *ec2.DeleteVpcInput) (*ec2.DeleteVpcOutput, error) {
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	for _, sn := range s.ec2.subnets {
		if sn.vpcID == v.id {
			return nil, dependencyViolation("vpc", v.id)
		}
	}
	for _, g := range s.ec2.igws {
		if g.vpcID == v.id {
			return nil, dependencyViolation("vpc", v.id)
		}
	}
	for _, sg := range s.ec2.securityGroups {
		if sg.vpcID == v.id && sg.id != v.defaultGroup {
			return nil, dependencyViolation("vpc", v.id)
		}
	}
	for _, rt := range s.ec2.routeTables {
		if rt.vpcID == v.id && rt.id != v.mainRouteTable {
			return nil, dependencyViolation("vpc", v.id)
		}
	}
	delete(s.ec2.routeTables, v.mainRouteTable)
	delete(s.ec2.securityGroups, v.defaultGroup)
	delete(s.ec2.vpcs, v.id)
	return &ec2.DeleteVpcOutput{}, nil
}

func (s *Sim) modifyVpcAttribute(in *ec2.ModifyVpcAttributeInput) (*ec2.ModifyVpcAttributeOutput, error) {
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	set := 0
	if in.EnableDnsHostnames != nil {
		set++
		v.dnsHostnames = aws.ToBool(in.EnableDnsHostnames.Value)
	}
	if in.EnableDnsSupport != nil {
		set++
		v.dnsSupport = aws.ToBool(in.EnableDnsSupport.Value)
	}
	if in.EnableNetworkAddressUsageMetrics != nil {
		set++
	}
	if set != 1 {
		return nil, invalidParam("Exactly one attribute must be specified.")
	}
	return &ec2.ModifyVpcAttributeOutput{}, nil
}

func (s *Sim) describeVpcAttribute(in *ec2.DescribeVpcAttributeInput) (*ec2.DescribeVpcAttributeOutput, error) {
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeVpcAttributeOutput{VpcId: aws.String(v.id)}
	switch in.Attribute {
	case types.VpcAttributeNameEnableDnsHostnames:
		out.EnableDnsHostnames = boolValue(v.dnsHostnames)
	case types.VpcAttributeNameEnableDnsSupport:
		out.EnableDnsSupport = boolValue(v.dnsSupport)
	case types.VpcAttributeNameEnableNetworkAddressUsageMetrics:
		out.EnableNetworkAddressUsageMetrics = boolValue(false)
	default:
		return nil, invalidParam("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

// subnet is a simulated subnet.
type subnet struct {
	meta
	vpcID       string
	cidr        netip.Prefix
	zone        zone
	mapPublicIP bool
	usedIPs     map[netip.Addr]bool
}

// capacity is the number of addresses AWS lets a subnet hand out: all but
// the network address, three reserved ones and the broadcast address.
func (sn *subnet) capacity() int { return 1<<(32-sn.cidr.Bits()) - 5 }

// allocateIP hands out the lowest free address of the subnet.
func (sn *subnet) allocateIP() (netip.Addr, error) {
	a := sn.cidr.Addr()
	for range 4 {
		a = a.Next()
	}
	for i := 0; i < sn.capacity(); i++ {
		if !sn.usedIPs[a] {
			sn.usedIPs[a] = true
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, apiError("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.id)
}

func (sn *subnet) releaseIP(a netip.Addr) { delete(sn.usedIPs, a) }

func (s *Sim) subnetOut(sn *subnet, state types.SubnetState) types.Subnet {
	return types.Subnet{
		SubnetId: aws.String(sn.id), VpcId: aws.String(sn.vpcID), CidrBlock: aws.String(sn.cidr.String()),
		AvailabilityZone: aws.String(sn.zone.name), AvailabilityZoneId: aws.String(sn.zone.id),
		AvailableIpAddressCount: aws.Int32(int32(sn.capacity() - len(sn.usedIPs))),
		State:                   state, MapPublicIpOnLaunch: aws.Bool(sn.mapPublicIP), DefaultForAz: aws.Bool(false),
		AssignIpv6AddressOnCreation: aws.Bool(false), MapCustomerOwnedIpOnLaunch: aws.Bool(false),
		EnableDns64: aws.Bool(false), Ipv6Native: aws.Bool(false), OwnerId: aws.String(s.account),
		SubnetArn:                   aws.String(s.arn("ec2", "subnet/"+sn.id)),
		Ipv6CidrBlockAssociationSet: []types.SubnetIpv6CidrBlockAssociation{},
		PrivateDnsNameOptionsOnLaunch: &types.PrivateDnsNameOptionsOnLaunch{
			HostnameType: types.HostnameTypeIpName, EnableResourceNameDnsARecord: aws.Bool(false), EnableResourceNameDnsAAAARecord: aws.Bool(false),
		},
		Tags: sn.tags.ec2(),
	}
}

func (s *Sim) createSubnet(in *ec2.CreateSubnetInput) (*ec2.CreateSubnetOutput, error) {
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	if in.CidrBlock == nil {
		return nil, apiError("MissingParameter", "The request must contain the parameter cidrBlock")
	}
	cidr, err := parseCIDR("cidrBlock", *in.CidrBlock)
	if err != nil {
		return nil, err
	}
	if cidr.Bits() < 16 || cidr.Bits() > 28 || !v.cidr.Contains(cidr.Addr()) || cidr.Bits() < v.cidr.Bits() {
		return nil, apiError("InvalidSubnet.Range", "The CIDR '%s' is invalid.", cidr)
	}
	for _, other := range s.ec2.subnets {
		if other.vpcID == v.id && other.cidr.Overlaps(cidr) {
			return nil, apiError("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", cidr)
		}
	}
	var z zone
	switch {
	case in.AvailabilityZone != nil:
		zz, ok := s.zoneByName(*in.AvailabilityZone)
		if !ok {
			return nil, invalidParam("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.", *in.AvailabilityZone, strings.Join(s.Zones(), ", "))
		}
		z = zz
	case in.AvailabilityZoneId != nil:
		zz, ok := s.zoneByID(*in.AvailabilityZoneId)
		if !ok {
			return nil, invalidParam("Value (%s) for parameter availabilityZoneId is invalid.", *in.AvailabilityZoneId)
		}
		z = zz
	default:
		z = s.zones[s.rng.IntN(len(s.zones))]
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeSubnet)
	if err != nil {
		return nil, err
	}
	sn := &subnet{meta: s.newMeta(s.newID("subnet"), tags[types.ResourceTypeSubnet]), vpcID: v.id, cidr: cidr, zone: z, usedIPs: map[netip.Addr]bool{}}
	s.ec2.subnets[sn.id] = sn
	out := s.subnetOut(sn, types.SubnetStatePending)
	return &ec2.CreateSubnetOutput{Subnet: &out}, nil
}

var subnetFilters = filterFields[*subnet]{
	"subnet-id":               func(sn *subnet) []string { return []string{sn.id} },
	"vpc-id":                  func(sn *subnet) []string { return []string{sn.vpcID} },
	"availability-zone":       func(sn *subnet) []string { return []string{sn.zone.name} },
	"availabilityZone":        func(sn *subnet) []string { return []string{sn.zone.name} },
	"availability-zone-id":    func(sn *subnet) []string { return []string{sn.zone.id} },
	"cidr-block":              func(sn *subnet) []string { return []string{sn.cidr.String()} },
	"cidr":                    func(sn *subnet) []string { return []string{sn.cidr.String()} },
	"cidrBlock":               func(sn *subnet) []string { return []string{sn.cidr.String()} },
	"state":                   func(*subnet) []string { return []string{"available"} },
	"default-for-az":          func(*subnet) []string { return []string{"false"} },
	"defaultForAz":            func(*subnet) []string { return []string{"false"} },
	"map-public-ip-on-launch": func(sn *subnet) []string { return []string{boolString(sn.mapPublicIP)} },
}

func (s *Sim) describeSubnets(in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
	sns, err := selectByID(s, s.ec2.subnets, in.SubnetIds, func(ids ...string) error { return notFoundEC2("InvalidSubnetID.NotFound", "subnet", ids...) })
	if err != nil {
		return nil, err
	}
	if sns, err = applyFilters(sns, in.Filters, subnetFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(sns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeSubnetsOutput{NextToken: next, Subnets: []types.Subnet{}}
	for _, sn := range page {
		out.Subnets = append(out.Subnets, s.subnetOut(sn, types.SubnetStateAvailable))
	}
	return out, nil
}

func (s *Sim) findSubnet(id *string) (*subnet, error) {
	sn, ok := lookup(s, s.ec2.subnets, aws.ToString(id))
	if !ok {
		return nil, notFoundEC2("InvalidSubnetID.NotFound", "subnet", aws.ToString(id))
	}
	return sn, nil
}

func (s *Sim) deleteSubnet(in *ec2.DeleteSubnetInput) (*ec2.DeleteSubnetOutput, error) {
	sn, err := s.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	for _, inst := range s.ec2.instances {
		if inst.subnetID == sn.id && inst.state != stateTerminated {
			return nil, dependencyViolation("subnet", sn.id)
		}
	}
	for _, n := range s.ec2.nats {
		if n.subnetID == sn.id && n.state != types.NatGatewayStateDeleted && n.state != types.NatGatewayStateFailed {
			return nil, dependencyViolation("subnet", sn.id)
		}
	}
	for _, rt := range s.ec2.routeTables {
		rt.dropSubnetAssociation(sn.id)
	}
	delete(s.ec2.subnets, sn.id)
	return &ec2.DeleteSubnetOutput{}, nil
}

func (s *Sim) modifySubnetAttribute(in *ec2.ModifySubnetAttributeInput) (*ec2.ModifySubnetAttributeOutput, error) {
	sn, err := s.findSubnet(in.SubnetId)
	if err != nil {
		return nil, err
	}
	if in.MapPublicIpOnLaunch != nil {
		sn.mapPublicIP = aws.ToBool(in.MapPublicIpOnLaunch.Value)
	}
	return &ec2.ModifySubnetAttributeOutput{}, nil
}

// internetGateway is a simulated internet gateway; vpcID is empty while
// detached.
type internetGateway struct {
	meta
	vpcID string
}

func (s *Sim) igwOut(g *internetGateway) types.InternetGateway {
	out := types.InternetGateway{InternetGatewayId: aws.String(g.id), OwnerId: aws.String(s.account), Tags: g.tags.ec2(), Attachments: []types.InternetGatewayAttachment{}}
	if g.vpcID != "" {
		out.Attachments = append(out.Attachments, types.InternetGatewayAttachment{VpcId: aws.String(g.vpcID), State: types.AttachmentStatus("available")})
	}
	return out
}

func (s *Sim) createInternetGateway(in *ec2.CreateInternetGatewayInput) (*ec2.CreateInternetGatewayOutput, error) {
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeInternetGateway)
	if err != nil {
		return nil, err
	}
	g := &internetGateway{meta: s.newMeta(s.newID("igw"), tags[types.ResourceTypeInternetGateway])}
	s.ec2.igws[g.id] = g
	out := s.igwOut(g)
	return &ec2.CreateInternetGatewayOutput{InternetGateway: &out}, nil
}

var igwFilters = filterFields[*internetGateway]{
	"internet-gateway-id": func(g *internetGateway) []string { return []string{g.id} },
	"attachment.vpc-id": func(g *internetGateway) []string {
		if g.vpcID == "" {
			return nil
		}
		return []string{g.vpcID}
	},
	"attachment.state": func(g *internetGateway) []string {
		if g.vpcID == "" {
			return nil
		}
		return []string{"available"}
	},
}

func (s *Sim) describeInternetGateways(in *ec2.DescribeInternetGatewaysInput) (*ec2.DescribeInternetGatewaysOutput, error) {
	gs, err := selectByID(s, s.ec2.igws, in.InternetGatewayIds, func(ids ...string) error {
		return notFoundEC2("InvalidInternetGatewayID.NotFound", "internetGateway", ids...)
	})
	if err != nil {
		return nil, err
	}
	if gs, err = applyFilters(gs, in.Filters, igwFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(gs, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeInternetGatewaysOutput{NextToken: next, InternetGateways: []types.InternetGateway{}}
	for _, g := range page {
		out.InternetGateways = append(out.InternetGateways, s.igwOut(g))
	}
	return out, nil
}

func (s *Sim) findIGW(id *string) (*internetGateway, error) {
	g, ok := lookup(s, s.ec2.igws, aws.ToString(id))
	if !ok {
		return nil, notFoundEC2("InvalidInternetGatewayID.NotFound", "internetGateway", aws.ToString(id))
	}
	return g, nil
}

func (s *Sim) attachInternetGateway(in *ec2.AttachInternetGatewayInput) (*ec2.AttachInternetGatewayOutput, error) {
	g, err := s.findIGW(in.InternetGatewayId)
	if err != nil {
		return nil, err
	}
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	if g.vpcID != "" {
		return nil, apiError("Resource.AlreadyAssociated", "resource %s is already attached to network %s", g.id, g.vpcID)
	}
	for _, other := range s.ec2.igws {
		if other.vpcID == v.id {
			return nil, apiError("Resource.AlreadyAssociated", "resource %s already has an internet gateway attached", v.id)
		}
	}
	g.vpcID = v.id
	return &ec2.AttachInternetGatewayOutput{}, nil
}

func (s *Sim) detachInternetGateway(in *ec2.DetachInternetGatewayInput) (*ec2.DetachInternetGatewayOutput, error) {
	g, err := s.findIGW(in.InternetGatewayId)
	if err != nil {
		return nil, err
	}
	if g.vpcID == "" || g.vpcID != aws.ToString(in.VpcId) {
		return nil, apiError("Gateway.NotAttached", "resource %s is not attached to network %s", g.id, aws.ToString(in.VpcId))
	}
	if s.vpcHasPublicAddresses(g.vpcID) {
		return nil, apiError("DependencyViolation", "Network %s has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.", g.vpcID)
	}
	g.vpcID = ""
	return &ec2.DetachInternetGatewayOutput{}, nil
}

// vpcHasPublicAddresses reports whether anything in the VPC still holds a
// public address, which stops its internet gateway from being detached.
func (s *Sim) vpcHasPublicAddresses(vpcID string) bool {
	for _, n := range s.ec2.nats {
		if n.vpcID == vpcID && n.allocationID != "" && n.state != types.NatGatewayStateDeleted && n.state != types.NatGatewayStateFailed {
			return true
		}
	}
	for _, inst := range s.ec2.instances {
		if inst.vpcID == vpcID && inst.publicIP.IsValid() && inst.state != stateTerminated {
			return true
		}
	}
	return false
}

func (s *Sim) deleteInternetGateway(in *ec2.DeleteInternetGatewayInput) (*ec2.DeleteInternetGatewayOutput, error) {
	g, err := s.findIGW(in.InternetGatewayId)
	if err != nil {
		return nil, err
	}
	if g.vpcID != "" {
		return nil, dependencyViolation("internetGateway", g.id)
	}
	delete(s.ec2.igws, g.id)
	return &ec2.DeleteInternetGatewayOutput{}, nil
}
