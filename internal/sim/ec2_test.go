package sim_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

func natState(t *testing.T, e *env, id string) types.NatGatewayState {
	t.Helper()
	out, err := e.ec2.DescribeNatGateways(context.Background(), &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeNatGateways: %v", err)
	}
	return out.NatGateways[0].State
}

// publicNAT creates a NAT gateway in the network's first subnet, with or
// without an internet gateway on the VPC.
func publicNAT(t *testing.T, e *env, n network, withIGW bool) string {
	t.Helper()
	ctx := context.Background()
	if withIGW {
		igw, err := e.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: aws.String(n.vpcID)}); err != nil {
			t.Fatal(err)
		}
	}
	eip, err := e.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	nat, err := e.ec2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(n.subnets[0]), AllocationId: eip.AllocationId})
	if err != nil {
		t.Fatalf("CreateNatGateway: %v", err)
	}
	if nat.NatGateway.State != types.NatGatewayStatePending {
		t.Fatalf("new NAT gateway state %q, want pending", nat.NatGateway.State)
	}
	return aws.ToString(nat.NatGateway.NatGatewayId)
}

func TestNATGatewayBecomesAvailableOnlyAfterTimeAdvances(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1, Timings: sim.Timings{NATGatewayCreate: 2 * time.Minute}})
	n := e.network(t)
	id := publicNAT(t, e, n, true)

	e.sim.Advance(119 * time.Second)
	if got := natState(t, e, id); got != types.NatGatewayStatePending {
		t.Fatalf("after 119s: state %q, want pending", got)
	}
	e.sim.Advance(time.Second)
	if got := natState(t, e, id); got != types.NatGatewayStateAvailable {
		t.Fatalf("after 120s: state %q, want available", got)
	}

	// The SDK's own waiter works against it, polling on the virtual clock
	// through a second gateway.
	id2 := func() string {
		eip, err := e.ec2.AllocateAddress(context.Background(), &ec2.AllocateAddressInput{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.ec2.CreateNatGateway(context.Background(), &ec2.CreateNatGatewayInput{SubnetId: aws.String(n.subnets[1]), AllocationId: eip.AllocationId})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.NatGateway.NatGatewayId)
	}()
	advanceUntil(t, e.sim, 5*time.Minute, "second NAT gateway available", func() bool { return natState(t, e, id2) == types.NatGatewayStateAvailable })

	if _, err := e.ec2.DeleteNatGateway(context.Background(), &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if got := natState(t, e, id); got != types.NatGatewayStateDeleting {
		t.Fatalf("after delete: state %q, want deleting", got)
	}
	advanceUntil(t, e.sim, 5*time.Minute, "NAT gateway deleted", func() bool { return natState(t, e, id) == types.NatGatewayStateDeleted })
}

func TestNATGatewayWithoutInternetGatewayFails(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	id := publicNAT(t, e, n, false)
	advanceUntil(t, e.sim, 5*time.Minute, "NAT gateway settled", func() bool { return natState(t, e, id) != types.NatGatewayStatePending })
	out, err := e.ec2.DescribeNatGateways(context.Background(), &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	g := out.NatGateways[0]
	if g.State != types.NatGatewayStateFailed || aws.ToString(g.FailureCode) != "Gateway.NotAttached" {
		t.Fatalf("NAT gateway = %s / %s, want failed / Gateway.NotAttached", g.State, aws.ToString(g.FailureCode))
	}
}

func TestDeletesRefusedWhileDependantsExist(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup creates the dependant and returns the delete that must be
		// refused, and a cleanup after which the delete succeeds.
		setup func(t *testing.T, e *env, n network) (del func() error, cleanup func())
	}{
		{
			name: "VPC with subnets",
			setup: func(t *testing.T, e *env, n network) (func() error, func()) {
				if _, err := e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(n.launchTemplate)}); err != nil {
					t.Fatal(err)
				}
				return func() error {
						_, err := e.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(n.vpcID)})
						return err
					}, func() {
						for _, sn := range n.subnets {
							if _, err := e.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(sn)}); err != nil {
								t.Fatal(err)
							}
						}
					}
			},
		},
		{
			name: "attached internet gateway",
			setup: func(t *testing.T, e *env, n network) (func() error, func()) {
				igw, err := e.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
				if err != nil {
					t.Fatal(err)
				}
				id := igw.InternetGateway.InternetGatewayId
				if _, err := e.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: id, VpcId: aws.String(n.vpcID)}); err != nil {
					t.Fatal(err)
				}
				return func() error {
						_, err := e.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: id})
						return err
					}, func() {
						if _, err := e.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: id, VpcId: aws.String(n.vpcID)}); err != nil {
							t.Fatal(err)
						}
					}
			},
		},
		{
			name: "subnet with a NAT gateway",
			setup: func(t *testing.T, e *env, n network) (func() error, func()) {
				id := publicNAT(t, e, n, true)
				return func() error {
						_, err := e.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(n.subnets[0])})
						return err
					}, func() {
						if _, err := e.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(id)}); err != nil {
							t.Fatal(err)
						}
						advanceUntil(t, e.sim, 5*time.Minute, "NAT gateway deleted", func() bool { return natState(t, e, id) == types.NatGatewayStateDeleted })
					}
			},
		},
		{
			name: "route table with a subnet association",
			setup: func(t *testing.T, e *env, n network) (func() error, func()) {
				rt, err := e.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(n.vpcID)})
				if err != nil {
					t.Fatal(err)
				}
				assoc, err := e.ec2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rt.RouteTable.RouteTableId, SubnetId: aws.String(n.subnets[0])})
				if err != nil {
					t.Fatal(err)
				}
				return func() error {
						_, err := e.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: rt.RouteTable.RouteTableId})
						return err
					}, func() {
						if _, err := e.ec2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: assoc.AssociationId}); err != nil {
							t.Fatal(err)
						}
					}
			},
		},
		{
			name: "security group referenced by another",
			setup: func(t *testing.T, e *env, n network) (func() error, func()) {
				alb, err := e.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("alb"), Description: aws.String("alb"), VpcId: aws.String(n.vpcID)})
				if err != nil {
					t.Fatal(err)
				}
				task, err := e.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("task"), Description: aws.String("task"), VpcId: aws.String(n.vpcID)})
				if err != nil {
					t.Fatal(err)
				}
				perm := []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: alb.GroupId}}}}
				if _, err := e.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: task.GroupId, IpPermissions: perm}); err != nil {
					t.Fatal(err)
				}
				return func() error {
						_, err := e.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: alb.GroupId})
						return err
					}, func() {
						if _, err := e.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: task.GroupId, IpPermissions: perm}); err != nil {
							t.Fatal(err)
						}
					}
			},
		},
		{
			name: "subnet with a running instance",
			setup: func(t *testing.T, e *env, n network) (func() error, func()) {
				run, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
					MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(n.subnets[1]),
					LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(n.launchTemplate)},
				})
				if err != nil {
					t.Fatal(err)
				}
				return func() error {
						_, err := e.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(n.subnets[1])})
						return err
					}, func() {
						if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(run.Instances[0].InstanceId)}}); err != nil {
							t.Fatal(err)
						}
						e.sim.Advance(time.Minute)
					}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sim.Options{Seed: 1})
			n := e.network(t)
			del, cleanup := tt.setup(t, e, n)
			if got := errCode(del()); got != "DependencyViolation" {
				t.Fatalf("delete with dependants: code %q, want DependencyViolation", got)
			}
			cleanup()
			if err := del(); err != nil {
				t.Fatalf("delete after removing dependants: %v", err)
			}
		})
	}
}

func TestNotFoundAndValidationCodes(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	ctx := context.Background()
	tests := []struct {
		name, want string
		call       func() error
	}{
		{"subnet in unknown VPC", "InvalidVpcID.NotFound", func() error {
			_, err := e.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String("vpc-00000000000000000"), CidrBlock: aws.String("10.0.3.0/24")})
			return err
		}},
		{"overlapping subnet", "InvalidSubnet.Conflict", func() error {
			_, err := e.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(n.vpcID), CidrBlock: aws.String("10.0.1.0/25")})
			return err
		}},
		{"subnet outside the VPC", "InvalidSubnet.Range", func() error {
			_, err := e.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(n.vpcID), CidrBlock: aws.String("10.9.0.0/24")})
			return err
		}},
		{"duplicate security group", "InvalidGroup.Duplicate", func() error {
			for range 2 {
				if _, err := e.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("dup"), Description: aws.String("d"), VpcId: aws.String(n.vpcID)}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"duplicate ingress rule", "InvalidPermission.Duplicate", func() error {
			g, err := e.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("w"), VpcId: aws.String(n.vpcID)})
			if err != nil {
				return err
			}
			for range 2 {
				if _, err := e.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
					GroupId: g.GroupId, IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), CidrIp: aws.String("0.0.0.0/0"),
				}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"duplicate launch template", "InvalidLaunchTemplateName.AlreadyExistsException", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("ecs-node"), LaunchTemplateData: &types.RequestLaunchTemplateData{}})
			return err
		}},
		{"unknown launch template", "InvalidLaunchTemplateName.NotFoundException", func() error {
			_, err := e.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("nope")})
			return err
		}},
		{"unknown instance", "InvalidInstanceID.NotFound", func() error {
			_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-00000000000000000"}})
			return err
		}},
		{"unknown NAT gateway", "NatGatewayNotFound", func() error {
			_, err := e.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{"nat-00000000000000000"}})
			return err
		}},
		{"route exists", "RouteAlreadyExists", func() error {
			igw, err := e.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
			if err != nil {
				return err
			}
			if _, err := e.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: aws.String(n.vpcID)}); err != nil {
				return err
			}
			rt, err := e.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(n.vpcID)})
			if err != nil {
				return err
			}
			for range 2 {
				if _, err := e.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTable.RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: igw.InternetGateway.InternetGatewayId}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"route to unknown gateway", "InvalidGatewayID.NotFound", func() error {
			rts, err := e.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.main"), Values: []string{"true"}}}})
			if err != nil {
				return err
			}
			_, err = e.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rts.RouteTables[0].RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String("igw-00000000000000000")})
			return err
		}},
		{"unknown filter", "InvalidParameterValue", func() error {
			_, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"blue"}}}})
			return err
		}},
		{"reserved tag key", "InvalidParameterValue", func() error {
			_, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{n.vpcID}, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}})
			return err
		}},
		{"malformed AMI", "InvalidAMIID.Malformed", func() error {
			_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ImageId: aws.String("ubuntu"), SubnetId: aws.String(n.subnets[0])})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errCode(tt.call()); got != tt.want {
				t.Fatalf("code %q, want %s", got, tt.want)
			}
		})
	}
}

func TestTagsAndFilters(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	ctx := context.Background()
	if _, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{n.vpcID, n.subnets[0]},
		Tags:      []types.Tag{{Key: aws.String("ecsplane:stack"), Value: aws.String("prod")}, {Key: aws.String("ecsplane:component"), Value: aws.String("network")}},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    int
	}{
		{"tag value", []types.Filter{{Name: aws.String("tag:ecsplane:stack"), Values: []string{"prod"}}}, 1},
		{"tag wildcard", []types.Filter{{Name: aws.String("tag:ecsplane:stack"), Values: []string{"pr*"}}}, 1},
		{"other tag value", []types.Filter{{Name: aws.String("tag:ecsplane:stack"), Values: []string{"dev"}}}, 0},
		{"tag key", []types.Filter{{Name: aws.String("tag-key"), Values: []string{"ecsplane:component"}}}, 1},
		{"vpc and zone", []types.Filter{{Name: aws.String("vpc-id"), Values: []string{n.vpcID}}, {Name: aws.String("availability-zone"), Values: []string{n.zones[1]}}}, 1},
		{"any of two values", []types.Filter{{Name: aws.String("subnet-id"), Values: n.subnets}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Subnets) != tt.want {
				t.Fatalf("got %d subnets, want %d", len(out.Subnets), tt.want)
			}
		})
	}
	tags, err := e.ec2.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-id"), Values: []string{n.vpcID}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].Key) != "ecsplane:component" || tags.Tags[0].ResourceType != types.ResourceTypeVpc {
		t.Fatalf("DescribeTags = %+v, want the VPC's two tags sorted by key", tags.Tags)
	}
	if _, err := e.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{n.vpcID}, Tags: []types.Tag{{Key: aws.String("ecsplane:stack")}}}); err != nil {
		t.Fatal(err)
	}
	vpcs, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("tag:ecsplane:stack"), Values: []string{"prod"}}}})
	if err != nil || len(vpcs.Vpcs) != 0 {
		t.Fatalf("after DeleteTags the VPC still matches its old tag: %v %v", vpcs, err)
	}
}

func TestRoutesAndLaunchTemplateVersions(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	ctx := context.Background()
	nat := publicNAT(t, e, n, true)
	rt, err := e.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(n.vpcID)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTable.RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String(nat)}); err != nil {
		t.Fatal(err)
	}
	routeState := func() types.RouteState {
		out, err := e.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(rt.RouteTable.RouteTableId)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.RouteTables[0].Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" {
				return r.State
			}
		}
		t.Fatal("default route missing")
		return ""
	}
	if got := routeState(); got != types.RouteStateActive {
		t.Fatalf("route via NAT gateway: %q, want active", got)
	}
	if _, err := e.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(nat)}); err != nil {
		t.Fatal(err)
	}
	if got := routeState(); got != types.RouteStateBlackhole {
		t.Fatalf("route via deleted NAT gateway: %q, want blackhole", got)
	}

	v2, err := e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(n.launchTemplate), SourceVersion: aws.String("1"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{InstanceType: types.InstanceTypeT3Large},
	})
	if err != nil {
		t.Fatal(err)
	}
	data := v2.LaunchTemplateVersion.LaunchTemplateData
	if aws.ToInt64(v2.LaunchTemplateVersion.VersionNumber) != 2 || data.InstanceType != types.InstanceTypeT3Large ||
		aws.ToString(data.ImageId) != e.sim.ECSOptimizedAMI() || data.MetadataOptions == nil || data.MetadataOptions.HttpTokens != types.LaunchTemplateHttpTokensStateRequired {
		t.Fatalf("version 2 = %+v, want t3.large over version 1's AMI and IMDSv2 setting", data)
	}
	lts, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"ecs-node"}})
	if err != nil {
		t.Fatal(err)
	}
	if lt := lts.LaunchTemplates[0]; aws.ToInt64(lt.LatestVersionNumber) != 2 || aws.ToInt64(lt.DefaultVersionNumber) != 1 {
		t.Fatalf("template versions latest=%d default=%d, want 2 and 1", aws.ToInt64(lt.LatestVersionNumber), aws.ToInt64(lt.DefaultVersionNumber))
	}
}

func TestInstancesMoveThroughStatesOverTime(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	ctx := context.Background()
	run, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), SubnetId: aws.String(n.subnets[0]),
		LaunchTemplate:    &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("ecs-node"), Version: aws.String("$Latest")},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("node")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Instances) != 2 {
		t.Fatalf("RunInstances launched %d, want 2", len(run.Instances))
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(id) {
		t.Fatalf("instance ID %q is not in EC2's format", id)
	}
	if got := e.ec2State(t, id); got != types.InstanceStateNamePending {
		t.Fatalf("new instance %q, want pending", got)
	}
	w := ec2.NewInstanceRunningWaiter(e.ec2, func(o *ec2.InstanceRunningWaiterOptions) { o.MinDelay, o.MaxDelay = time.Millisecond, time.Millisecond })
	errs := make(chan error, 1)
	go func() {
		errs <- w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second)
	}()
	e.sim.Advance(time.Minute)
	if err := <-errs; err != nil {
		t.Fatalf("InstanceRunning waiter: %v", err)
	}

	st, err := e.ec2.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.InstanceStatuses[0].SystemStatus.Status; got != types.SummaryStatusInitializing {
		t.Fatalf("status just after boot %q, want initializing", got)
	}
	e.sim.Advance(5 * time.Minute)
	if err := e.sim.CrashInstance(id); err != nil {
		t.Fatal(err)
	}
	st, err = e.ec2.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.InstanceStatuses[0].SystemStatus.Status; got != types.SummaryStatusImpaired {
		t.Fatalf("status after crash %q, want impaired", got)
	}

	if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if got := e.ec2State(t, id); got != types.InstanceStateNameShuttingDown {
		t.Fatalf("after TerminateInstances %q, want shutting-down", got)
	}
	e.sim.Advance(time.Minute)
	if got := e.ec2State(t, id); got != types.InstanceStateNameTerminated {
		t.Fatalf("a minute later %q, want terminated", got)
	}
	e.sim.Advance(2 * time.Hour)
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if got := errCode(err); got != "InvalidInstanceID.NotFound" {
		t.Fatalf("terminated instance two hours later: code %q, want InvalidInstanceID.NotFound", got)
	}
	byTag, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"node"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byTag.Reservations) != 1 || len(byTag.Reservations[0].Instances) != 1 {
		t.Fatalf("instances tagged Name=node: %+v, want the surviving one", byTag.Reservations)
	}
}

// TestDefaultSecurityGroupRules: a new VPC's default group admits all
// traffic from itself and allows all outbound traffic, as the table of
// https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html
// lists its rules.
func TestDefaultSecurityGroupRules(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1})
	n := e.network(t)
	out, err := e.ec2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{n.vpcID}}, {Name: aws.String("group-name"), Values: []string{"default"}},
	}})
	if err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("default group: %v (%v)", out, err)
	}
	g := out.SecurityGroups[0]
	in, eg := g.IpPermissions, g.IpPermissionsEgress
	if len(in) != 1 || aws.ToString(in[0].IpProtocol) != "-1" || len(in[0].UserIdGroupPairs) != 1 || aws.ToString(in[0].UserIdGroupPairs[0].GroupId) != aws.ToString(g.GroupId) {
		t.Errorf("inbound %+v, want all traffic from the group itself", in)
	}
	if len(eg) != 1 || aws.ToString(eg[0].IpProtocol) != "-1" || len(eg[0].IpRanges) != 1 || aws.ToString(eg[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Errorf("outbound %+v, want all traffic to 0.0.0.0/0", eg)
	}
}
