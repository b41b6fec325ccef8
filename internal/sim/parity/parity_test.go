package parity

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// known lists the observations on which the simulator deliberately differs
// from moto, with the reason. The same list, in prose, is in the sim
// package's documentation.
var known = map[string]string{
	"vpc.create.state":           "AWS answers CreateVpc with state pending; moto answers available",
	"subnet.create.state":        "AWS answers CreateSubnet with state pending; moto answers available",
	"nat.release-in-use":         "AWS refuses to release an Elastic IP a NAT gateway holds; moto releases it",
	"nat.delete-subnet":          "AWS refuses to delete a subnet that holds a NAT gateway; moto deletes it",
	"asg.spread":                 "Auto Scaling balances a group across its zones; moto puts every instance in one zone",
	"asg.create.delete-busy":     "AWS refuses to delete a group that still has instances unless forced; moto deletes it",
	"asg.create-duplicate":       "AWS refuses a second group of the same name with AlreadyExists; moto accepts it",
	"asg.set-desired-above-max":  "AWS refuses a desired capacity above the maximum with ValidationError; moto accepts it",
	"asg.complete-unknown-token": "AWS answers an unknown lifecycle action token with ValidationError; moto fails with a malformed 500 response",
	"asg.zonal-shift":            "AWS keeps and reports a group's AvailabilityZoneImpairmentPolicy; moto ignores it and reports none",
	"vpc.dhcp-options":           "AWS associates every new VPC with a dopt- DHCP options set; moto reports the ID \"default\"",
	"nat.create.state":           "a NAT gateway is pending for a minute or two on AWS; moto makes it available at once",
	"nat.connectivity":           "AWS reports ConnectivityType public by default; moto leaves it out",
	"nat.describe-unknown":       "AWS answers an unknown NAT gateway ID with NatGatewayNotFound; moto returns an empty list",
	"instance.http-tokens":       "EC2 applies the launch template's metadata options (IMDSv2 required); moto ignores them",
}

// observation is what one backend showed for a sequence of calls, reduced to
// comparable facts: ID shapes, states, counts, field presence, error codes.
type observation map[string]string

func (o observation) set(key string, v any) { o[key] = fmt.Sprint(v) }

// code records an error code, or "ok" when err is nil.
func (o observation) code(key string, err error) {
	var apiErr smithy.APIError
	switch {
	case err == nil:
		o[key] = "ok"
	case errors.As(err, &apiErr):
		o[key] = apiErr.ErrorCode()
	default:
		o[key] = "error: " + err.Error()
	}
}

var (
	hexID   = regexp.MustCompile(`^([a-z]+(?:-[a-z]+)*)-([0-9a-f]+)$`)
	uuidRe  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	zoneRe  = regexp.MustCompile(`^[a-z]{2}-[a-z]+-\d[a-z]$`)
	zoneIDs = regexp.MustCompile(`^[a-z]{2,4}\d-az\d$`)
)

// shape reduces a value to its format: "vpc-hex17", "uuid", "ipv4", "zone",
// "zone-id", or "other:<value>".
func shape(v *string) string {
	s := aws.ToString(v)
	switch {
	case v == nil:
		return "absent"
	case uuidRe.MatchString(s):
		return "uuid"
	case zoneRe.MatchString(s):
		return "zone"
	case zoneIDs.MatchString(s):
		return "zone-id"
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "ipv4"
	}
	if m := hexID.FindStringSubmatch(s); m != nil {
		return m[1] + "-hex" + strconv.Itoa(len(m[2]))
	}
	return "other:" + s
}

func present(v any) string {
	switch x := v.(type) {
	case *string:
		if x == nil || *x == "" {
			return "absent"
		}
	case *int32:
		if x == nil {
			return "absent"
		}
	case *bool:
		if x == nil {
			return "absent"
		}
	case *time.Time:
		if x == nil || x.IsZero() {
			return "absent"
		}
	}
	return "present"
}

// backend is one implementation of the APIs under comparison.
type backend struct {
	name string
	cfg  aws.Config
	// settle lets asynchronous work finish: simulated time for the
	// simulator, nothing for moto, which does everything at once.
	settle func(time.Duration)
}

func backends(t *testing.T) []backend {
	s := sim.New(sim.Options{Seed: 1, Region: awstest.Region})
	moto := awstest.Moto(t)
	return []backend{
		{name: "sim", cfg: s.Config(), settle: s.Advance},
		{name: "moto", cfg: moto.Config, settle: func(time.Duration) {}},
	}
}

// compare runs seq on every backend and reports each observation on which
// they differ without a known reason.
func compare(t *testing.T, seq func(t *testing.T, b backend, o observation)) {
	t.Helper()
	obs := map[string]observation{}
	for _, b := range backends(t) {
		o := observation{}
		seq(t, b, o)
		obs[b.name] = o
	}
	simObs, motoObs := obs["sim"], obs["moto"]
	keys := map[string]bool{}
	for k := range simObs {
		keys[k] = true
	}
	for k := range motoObs {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		sv, sok := simObs[k]
		mv, mok := motoObs[k]
		if sok && mok && sv == mv {
			continue
		}
		if reason, ok := known[k]; ok {
			t.Logf("known difference %s: sim %q, moto %q (%s)", k, sv, mv, reason)
			continue
		}
		t.Errorf("%s: sim %q, moto %q", k, sv, mv)
	}
}

// net is the network a sequence builds on a backend.
type net struct {
	vpc, igw string
	subnets  []string
	zones    []string
}

func buildNetwork(t *testing.T, c *ec2.Client, o observation) net {
	t.Helper()
	ctx := context.Background()
	zones, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var n net
	for _, z := range zones.AvailabilityZones[:2] {
		n.zones = append(n.zones, aws.ToString(z.ZoneName))
		o.set("az.name", shape(z.ZoneName))
		o.set("az.id", shape(z.ZoneId))
		o.set("az.state", z.State)
	}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), TagSpecifications: []types.TagSpecification{{
		ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{{Key: aws.String("ecsplane:stack"), Value: aws.String("parity")}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	n.vpc = aws.ToString(vpc.Vpc.VpcId)
	o.set("vpc.id", shape(vpc.Vpc.VpcId))
	o.set("vpc.create.state", vpc.Vpc.State)
	o.set("vpc.create.cidr", aws.ToString(vpc.Vpc.CidrBlock))
	o.set("vpc.create.tags", len(vpc.Vpc.Tags))
	for i, cidr := range []string{"10.0.1.0/24", "10.0.2.0/24"} {
		sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(n.vpc), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(n.zones[i])})
		if err != nil {
			t.Fatal(err)
		}
		n.subnets = append(n.subnets, aws.ToString(sn.Subnet.SubnetId))
		o.set("subnet.id", shape(sn.Subnet.SubnetId))
		o.set("subnet.create.state", sn.Subnet.State)
		o.set("subnet.create.zone-matches", aws.ToString(sn.Subnet.AvailabilityZone) == n.zones[i])
	}
	igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	n.igw = aws.ToString(igw.InternetGateway.InternetGatewayId)
	o.set("igw.id", shape(igw.InternetGateway.InternetGatewayId))
	o.code("igw.attach", func() error {
		_, err := c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(n.igw), VpcId: aws.String(n.vpc)})
		return err
	}())
	return n
}

func TestNetworkParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ec2.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, c, o)

		vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{n.vpc}})
		o.code("vpc.describe", err)
		if err == nil {
			v := vpcs.Vpcs[0]
			o.set("vpc.state", v.State)
			o.set("vpc.is-default", aws.ToBool(v.IsDefault))
			o.set("vpc.owner", present(v.OwnerId))
			o.set("vpc.dhcp-options", shape(v.DhcpOptionsId))
			o.set("vpc.cidr-associations", len(v.CidrBlockAssociationSet))
		}
		byTag, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("tag:ecsplane:stack"), Values: []string{"parity"}}}})
		o.code("vpc.describe-by-tag", err)
		if err == nil {
			o.set("vpc.describe-by-tag.count", len(byTag.Vpcs))
		}
		_, err = c.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: aws.String(n.vpc), EnableDnsHostnames: &types.AttributeBooleanValue{Value: aws.Bool(true)}})
		o.code("vpc.modify-dns-hostnames", err)
		attr, err := c.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: aws.String(n.vpc), Attribute: types.VpcAttributeNameEnableDnsHostnames})
		o.code("vpc.describe-attribute", err)
		if err == nil {
			o.set("vpc.dns-hostnames", aws.ToBool(attr.EnableDnsHostnames.Value))
		}
		_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
		o.code("vpc.describe-unknown", err)

		subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{n.vpc}}}})
		o.code("subnet.describe", err)
		if err == nil {
			o.set("subnet.count", len(subnets.Subnets))
			sn := subnets.Subnets[0]
			o.set("subnet.state", sn.State)
			o.set("subnet.free-ips", aws.ToInt32(sn.AvailableIpAddressCount))
			o.set("subnet.map-public-ip", aws.ToBool(sn.MapPublicIpOnLaunch))
			o.set("subnet.zone-id", shape(sn.AvailabilityZoneId))
			o.set("subnet.arn", present(sn.SubnetArn))
		}
		_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(n.vpc), CidrBlock: aws.String("10.0.1.0/25")})
		o.code("subnet.create-overlapping", err)
		_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(n.vpc), CidrBlock: aws.String("10.1.0.0/24")})
		o.code("subnet.create-outside", err)
		_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String("vpc-0123456789abcdef0"), CidrBlock: aws.String("10.1.0.0/24")})
		o.code("subnet.create-unknown-vpc", err)
		_, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
		o.code("subnet.describe-unknown", err)

		igws, err := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{n.vpc}}}})
		o.code("igw.describe", err)
		if err == nil {
			o.set("igw.count", len(igws.InternetGateways))
			o.set("igw.attachment.state", igws.InternetGateways[0].Attachments[0].State)
		}
		_, err = c.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(n.igw), VpcId: aws.String(n.vpc)})
		o.code("igw.attach-again", err)
		_, err = c.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(n.igw)})
		o.code("igw.delete-attached", err)

		main, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{n.vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}},
		}})
		o.code("rtb.describe-main", err)
		if err == nil {
			o.set("rtb.main.count", len(main.RouteTables))
			o.set("rtb.main.routes", len(main.RouteTables[0].Routes))
			o.set("rtb.main.local-gateway", aws.ToString(main.RouteTables[0].Routes[0].GatewayId))
		}
		rt, err := c.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(n.vpc)})
		if err != nil {
			t.Fatal(err)
		}
		rtID := rt.RouteTable.RouteTableId
		o.set("rtb.id", shape(rtID))
		o.set("rtb.create.routes", len(rt.RouteTable.Routes))
		_, err = c.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rtID, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(n.igw)})
		o.code("rtb.create-route", err)
		_, err = c.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rtID, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(n.igw)})
		o.code("rtb.create-route-again", err)
		assoc, err := c.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rtID, SubnetId: aws.String(n.subnets[0])})
		o.code("rtb.associate", err)
		if err == nil {
			o.set("rtb.association.id", shape(assoc.AssociationId))
		}
		rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(rtID)}})
		o.code("rtb.describe", err)
		if err == nil {
			r := rts.RouteTables[0]
			o.set("rtb.routes", len(r.Routes))
			o.set("rtb.associations", len(r.Associations))
			for _, route := range r.Routes {
				if aws.ToString(route.DestinationCidrBlock) == "0.0.0.0/0" {
					o.set("rtb.default-route.state", route.State)
					o.set("rtb.default-route.gateway", shape(route.GatewayId))
				}
			}
		}
		bySubnet, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{n.subnets[0]}}}})
		o.code("rtb.describe-by-subnet", err)
		if err == nil {
			o.set("rtb.describe-by-subnet.count", len(bySubnet.RouteTables))
		}
		_, err = c.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: rtID})
		o.code("rtb.delete-associated", err)

		sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{n.vpc}}, {Name: aws.String("group-name"), Values: []string{"default"}},
		}})
		o.code("sg.describe-default", err)
		if err == nil {
			o.set("sg.default.count", len(sgs.SecurityGroups))
		}

		_, err = c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(n.vpc)})
		o.code("vpc.delete-with-dependants", err)
		_, err = c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(n.subnets[1])})
		o.code("subnet.delete", err)
	})
}

func TestNATGatewayParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ec2.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, c, o)
		eip, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		o.set("eip.id", shape(eip.AllocationId))
		o.set("eip.ip", shape(eip.PublicIp))
		o.set("eip.domain", eip.Domain)
		nat, err := c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(n.subnets[0]), AllocationId: eip.AllocationId})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(nat.NatGateway.NatGatewayId)
		o.set("nat.id", shape(nat.NatGateway.NatGatewayId))
		o.set("nat.create.state", nat.NatGateway.State)
		o.set("nat.create.vpc", aws.ToString(nat.NatGateway.VpcId) == n.vpc)
		b.settle(5 * time.Minute)
		got, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
		o.code("nat.describe", err)
		if err == nil {
			g := got.NatGateways[0]
			o.set("nat.state", g.State)
			o.set("nat.connectivity", g.ConnectivityType)
			o.set("nat.addresses", len(g.NatGatewayAddresses))
			o.set("nat.address.allocation", aws.ToString(g.NatGatewayAddresses[0].AllocationId) == aws.ToString(eip.AllocationId))
			o.set("nat.address.public-ip", shape(g.NatGatewayAddresses[0].PublicIp))
			o.set("nat.address.private-ip", shape(g.NatGatewayAddresses[0].PrivateIp))
			o.set("nat.address.eni", shape(g.NatGatewayAddresses[0].NetworkInterfaceId))
			o.set("nat.create-time", present(g.CreateTime))
		}
		bySubnet, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: []types.Filter{{Name: aws.String("subnet-id"), Values: []string{n.subnets[0]}}}})
		o.code("nat.describe-by-subnet", err)
		if err == nil {
			o.set("nat.describe-by-subnet.count", len(bySubnet.NatGateways))
		}
		_, err = c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{"nat-0123456789abcdef0"}})
		o.code("nat.describe-unknown", err)
		addrs, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{aws.ToString(eip.AllocationId)}})
		o.code("eip.describe", err)
		if err == nil {
			o.set("eip.association", present(addrs.Addresses[0].AssociationId))
		}
		o.code("nat.release-in-use", func() error {
			_, err := c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: eip.AllocationId})
			return err
		}())
		o.code("nat.delete-subnet", func() error {
			_, err := c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(n.subnets[0])})
			return err
		}())
	})
}

func TestSecurityGroupParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ec2.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, c, o)
		alb, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("alb"), Description: aws.String("load balancer"), VpcId: aws.String(n.vpc)})
		if err != nil {
			t.Fatal(err)
		}
		o.set("sg.id", shape(alb.GroupId))
		_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("alb"), Description: aws.String("again"), VpcId: aws.String(n.vpc)})
		o.code("sg.create-duplicate", err)
		task, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("task"), Description: aws.String("tasks"), VpcId: aws.String(n.vpc)})
		if err != nil {
			t.Fatal(err)
		}
		in, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: alb.GroupId, IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}}})
		o.code("sg.authorize", err)
		if err == nil {
			o.set("sg.authorize.return", aws.ToBool(in.Return))
			o.set("sg.authorize.rules", len(in.SecurityGroupRules))
			if len(in.SecurityGroupRules) > 0 {
				o.set("sg.rule.id", shape(in.SecurityGroupRules[0].SecurityGroupRuleId))
			}
		}
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: alb.GroupId, IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}}})
		o.code("sg.authorize-duplicate", err)
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: task.GroupId, IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8080), ToPort: aws.Int32(8080), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: alb.GroupId}},
		}}})
		o.code("sg.authorize-from-group", err)
		got, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(task.GroupId)}})
		o.code("sg.describe", err)
		if err == nil {
			g := got.SecurityGroups[0]
			o.set("sg.ingress", len(g.IpPermissions))
			o.set("sg.ingress.pairs", len(g.IpPermissions[0].UserIdGroupPairs))
			o.set("sg.egress", len(g.IpPermissionsEgress))
			o.set("sg.egress.protocol", aws.ToString(g.IpPermissionsEgress[0].IpProtocol))
			o.set("sg.egress.cidr", aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp))
			o.set("sg.vpc", aws.ToString(g.VpcId) == n.vpc)
		}
		_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
		o.code("sg.describe-unknown", err)
		_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: alb.GroupId, IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}}})
		o.code("sg.revoke", err)
		_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: task.GroupId})
		o.code("sg.delete", err)
	})
}

func TestLaunchTemplateParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ec2.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, c, o)
		ami, err := ssm.NewFromConfig(b.cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
		o.code("ssm.ecs-ami", err)
		if err != nil {
			t.Fatal(err)
		}
		o.set("ssm.ecs-ami.value", shape(ami.Parameter.Value))
		o.set("ssm.ecs-ami.type", ami.Parameter.Type)
		_, err = ssm.NewFromConfig(b.cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/nope")})
		o.code("ssm.unknown", err)

		data := &types.RequestLaunchTemplateData{
			ImageId: ami.Parameter.Value, InstanceType: types.InstanceTypeT3Medium,
			MetadataOptions: &types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: types.LaunchTemplateHttpTokensStateRequired},
		}
		lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("node"), LaunchTemplateData: data})
		if err != nil {
			t.Fatal(err)
		}
		o.set("lt.id", shape(lt.LaunchTemplate.LaunchTemplateId))
		o.set("lt.create.default", aws.ToInt64(lt.LaunchTemplate.DefaultVersionNumber))
		o.set("lt.create.latest", aws.ToInt64(lt.LaunchTemplate.LatestVersionNumber))
		_, err = c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("node"), LaunchTemplateData: data})
		o.code("lt.create-duplicate", err)
		v2, err := c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: ami.Parameter.Value, InstanceType: types.InstanceTypeT3Large},
		})
		o.code("lt.create-version", err)
		if err == nil {
			o.set("lt.version.number", aws.ToInt64(v2.LaunchTemplateVersion.VersionNumber))
			o.set("lt.version.default", aws.ToBool(v2.LaunchTemplateVersion.DefaultVersion))
		}
		vs, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("node"), Versions: []string{"$Latest"}})
		o.code("lt.describe-versions", err)
		if err == nil {
			o.set("lt.latest.type", vs.LaunchTemplateVersions[0].LaunchTemplateData.InstanceType)
		}
		_, err = c.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, DefaultVersion: aws.String("2")})
		o.code("lt.modify-default", err)
		lts, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"node"}})
		o.code("lt.describe", err)
		if err == nil {
			o.set("lt.default", aws.ToInt64(lts.LaunchTemplates[0].DefaultVersionNumber))
			o.set("lt.latest", aws.ToInt64(lts.LaunchTemplates[0].LatestVersionNumber))
		}
		_, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"nope"}})
		o.code("lt.describe-unknown", err)

		run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(n.subnets[0]),
			LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
		})
		o.code("ec2.run", err)
		if err != nil {
			return
		}
		inst := run.Instances[0]
		o.set("instance.id", shape(inst.InstanceId))
		o.set("instance.reservation", shape(run.ReservationId))
		o.set("instance.create.state", inst.State.Name)
		o.set("instance.type", inst.InstanceType)
		o.set("instance.private-ip", shape(inst.PrivateIpAddress))
		o.set("instance.zone", aws.ToString(inst.Placement.AvailabilityZone) == n.zones[0])
		o.set("instance.vpc", aws.ToString(inst.VpcId) == n.vpc)
		o.set("instance.http-tokens", inst.MetadataOptions.HttpTokens)
		got, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("subnet-id"), Values: []string{n.subnets[0]}}}})
		o.code("ec2.describe-instances", err)
		if err == nil {
			o.set("ec2.describe-instances.count", len(got.Reservations))
		}
		_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
		o.code("ec2.describe-unknown", err)
		term, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(inst.InstanceId)}})
		o.code("ec2.terminate", err)
		if err == nil {
			o.set("ec2.terminate.current", term.TerminatingInstances[0].CurrentState.Name)
		}
	})
}

func TestAutoScalingParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ec2.NewFromConfig(b.cfg)
		as := autoscaling.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, c, o)
		lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("node"), LaunchTemplateData: &types.RequestLaunchTemplateData{
			ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: types.InstanceTypeT3Medium,
		}})
		if err != nil {
			t.Fatal(err)
		}
		spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")}
		create := func(name string) error {
			_, err := as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(6), DesiredCapacity: aws.Int32(4),
				VPCZoneIdentifier: aws.String(strings.Join(n.subnets, ",")), LaunchTemplate: spec,
				Tags: []astypes.Tag{{Key: aws.String("ecsplane:stack"), Value: aws.String("parity"), PropagateAtLaunch: aws.Bool(true)}},
				AvailabilityZoneImpairmentPolicy: &astypes.AvailabilityZoneImpairmentPolicy{
					ZonalShiftEnabled: aws.Bool(true), ImpairedZoneHealthCheckBehavior: astypes.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy,
				},
			})
			return err
		}
		o.code("asg.create", create("web"))
		b.settle(5 * time.Minute)
		groups, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
		o.code("asg.describe", err)
		if err == nil {
			g := groups.AutoScalingGroups[0]
			o.set("asg.arn", present(g.AutoScalingGroupARN))
			o.set("asg.min", aws.ToInt32(g.MinSize))
			o.set("asg.max", aws.ToInt32(g.MaxSize))
			o.set("asg.desired", aws.ToInt32(g.DesiredCapacity))
			o.set("asg.zones", len(g.AvailabilityZones))
			o.set("asg.vpc-zone-identifier", aws.ToString(g.VPCZoneIdentifier) == strings.Join(n.subnets, ","))
			o.set("asg.health-check-type", aws.ToString(g.HealthCheckType))
			o.set("asg.cooldown", aws.ToInt32(g.DefaultCooldown))
			o.set("asg.launch-template.id", aws.ToString(g.LaunchTemplate.LaunchTemplateId) == aws.ToString(lt.LaunchTemplate.LaunchTemplateId))
			o.set("asg.launch-template.version", aws.ToString(g.LaunchTemplate.Version))
			if p := g.AvailabilityZoneImpairmentPolicy; p != nil {
				o.set("asg.zonal-shift", fmt.Sprint(aws.ToBool(p.ZonalShiftEnabled), " ", p.ImpairedZoneHealthCheckBehavior))
			} else {
				o.set("asg.zonal-shift", "absent")
			}
			o.set("asg.tags", len(g.Tags))
			o.set("asg.instances", len(g.Instances))
			perZone := map[string]int{}
			for _, i := range g.Instances {
				o.set("asg.instance.id", shape(i.InstanceId))
				o.set("asg.instance.state", i.LifecycleState)
				o.set("asg.instance.health", aws.ToString(i.HealthStatus))
				o.set("asg.instance.protected", aws.ToBool(i.ProtectedFromScaleIn))
				perZone[aws.ToString(i.AvailabilityZone)]++
			}
			o.set("asg.spread", fmt.Sprint(perZone[n.zones[0]], "+", perZone[n.zones[1]]))
			if len(g.Instances) > 0 {
				id := aws.ToString(g.Instances[0].InstanceId)
				insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
				o.code("asg.instance.describe", err)
				if err == nil {
					tags := map[string]string{}
					for _, tg := range insts.Reservations[0].Instances[0].Tags {
						tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
					}
					o.set("asg.instance.tag.group", tags["aws:autoscaling:groupName"])
					o.set("asg.instance.tag.propagated", tags["ecsplane:stack"])
				}
			}
		}
		none, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"nope"}})
		o.code("asg.describe-unknown", err)
		if err == nil {
			o.set("asg.describe-unknown.count", len(none.AutoScalingGroups))
		}
		insts, err := as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{})
		o.code("asg.describe-instances", err)
		if err == nil {
			o.set("asg.describe-instances.count", len(insts.AutoScalingInstances))
		}
		_, err = as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(9)})
		o.code("asg.set-desired-above-max", err)
		_, err = as.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
			AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("drain"), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"),
		})
		o.code("asg.put-hook", err)
		hooks, err := as.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String("web")})
		o.code("asg.describe-hooks", err)
		if err == nil && len(hooks.LifecycleHooks) == 1 {
			h := hooks.LifecycleHooks[0]
			o.set("asg.hook.default-result", aws.ToString(h.DefaultResult))
			o.set("asg.hook.heartbeat", aws.ToInt32(h.HeartbeatTimeout))
			o.set("asg.hook.transition", aws.ToString(h.LifecycleTransition))
		}
		_, err = as.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
			AutoScalingGroupName: aws.String("web"), LifecycleHookName: aws.String("drain"),
			LifecycleActionToken: aws.String("00000000-0000-4000-8000-000000000000"), LifecycleActionResult: aws.String("CONTINUE"),
		})
		o.code("asg.complete-unknown-token", err)
		o.code("asg.create-duplicate", create("web"))
		_, err = as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("web")})
		o.code("asg.create.delete-busy", err)
		_, err = as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("nope"), MaxSize: aws.Int32(2)})
		o.code("asg.update-unknown", err)
	})
}
