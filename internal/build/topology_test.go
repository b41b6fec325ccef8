package build_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// captured records the inputs of one operation as the SDK sends them.
type captured struct {
	mu     sync.Mutex
	op     string
	inputs []any
}

func (c *captured) middleware(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("captureInput",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) == c.op {
				c.mu.Lock()
				c.inputs = append(c.inputs, in.Parameters)
				c.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// TestTopologyMatchesDesign checks every point of DESIGN.md §2 through
// Describe calls on what apply built.
func TestTopologyMatchesDesign(t *testing.T) {
	f := newFixture(t, "topo")
	createService := &captured{op: "CreateService"}
	createGroup := &captured{op: "CreateAutoScalingGroup"}
	cfg := f.env.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, createService.middleware, createGroup.middleware)
	f.clients, f.sdk = build.NewClients(cfg, build.Options{Ledger: f.ledger}), newSDK(cfg)
	l, _ := f.run(t, false)
	ctx := context.Background()
	spec := f.spec
	c := f.sdk

	// Network: two zones, a public and a private subnet in each.
	subnets, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: spec.EC2Filter()})
	if err != nil {
		t.Fatal(err)
	}
	azOf := map[string]string{}
	for _, s := range subnets.Subnets {
		azOf[aws.ToString(s.SubnetId)] = aws.ToString(s.AvailabilityZone)
		if aws.ToString(s.VpcId) != l.Network.VPCID {
			t.Errorf("subnet %s is outside the stack's VPC", aws.ToString(s.SubnetId))
		}
	}
	if len(subnets.Subnets) != 4 {
		t.Fatalf("%d subnets, want 4", len(subnets.Subnets))
	}
	zones := map[string]bool{}
	for i := range 2 {
		pub, priv := azOf[l.Network.PublicSubnetIDs[i]], azOf[l.Network.PrivateSubnetIDs[i]]
		if pub == "" || pub != priv || pub != l.Network.AZs[i] {
			t.Errorf("zone %d: public subnet in %q, private in %q, want both in %s", i, pub, priv, l.Network.AZs[i])
		}
		zones[pub] = true
	}
	if len(zones) != 2 {
		t.Errorf("subnets span %d zones, want 2", len(zones))
	}

	// One NAT gateway per zone, in that zone's public subnet, with an EIP.
	nats, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: l.Network.NATGatewayIDs})
	if err != nil {
		t.Fatal(err)
	}
	natZone := map[string]string{}
	for _, n := range nats.NatGateways {
		sn := aws.ToString(n.SubnetId)
		if !slices.Contains(l.Network.PublicSubnetIDs, sn) || len(n.NatGatewayAddresses) == 0 || aws.ToString(n.NatGatewayAddresses[0].AllocationId) == "" {
			t.Errorf("NAT %s in %s with addresses %v: want a public subnet and an EIP", aws.ToString(n.NatGatewayId), sn, n.NatGatewayAddresses)
		}
		natZone[aws.ToString(n.NatGatewayId)] = azOf[sn]
	}
	if len(natZone) != 2 || natZone[l.Network.NATGatewayIDs[0]] == natZone[l.Network.NATGatewayIDs[1]] {
		t.Errorf("NAT zones %v, want one NAT in each zone", natZone)
	}

	// Routes: public subnets to the internet gateway, each private subnet
	// to its own zone's NAT gateway.
	rts, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: spec.EC2Filter()})
	if err != nil {
		t.Fatal(err)
	}
	via := map[string]string{}
	for _, rt := range rts.RouteTables {
		var target string
		for _, r := range rt.Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" {
				target = aws.ToString(r.GatewayId) + aws.ToString(r.NatGatewayId)
			}
		}
		for _, a := range rt.Associations {
			if a.SubnetId != nil {
				via[aws.ToString(a.SubnetId)] = target
			}
		}
	}
	for i := range 2 {
		if got := via[l.Network.PublicSubnetIDs[i]]; got != l.Network.InternetGatewayID {
			t.Errorf("public subnet %d routes to %q, want the internet gateway %s", i, got, l.Network.InternetGatewayID)
		}
		nat := via[l.Network.PrivateSubnetIDs[i]]
		if natZone[nat] != azOf[l.Network.PrivateSubnetIDs[i]] {
			t.Errorf("private subnet %d in %s routes to %q in %s, want its own zone's NAT", i, azOf[l.Network.PrivateSubnetIDs[i]], nat, natZone[nat])
		}
	}

	// Security groups: exactly the listed rules.
	sgs, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: spec.EC2Filter()})
	if err != nil {
		t.Fatal(err)
	}
	ruleSet := map[string][]string{}
	for _, g := range sgs.SecurityGroups {
		ruleSet[aws.ToString(g.GroupId)] = describeRules(g)
	}
	alb, task, inst := l.Security.ALBSecurityGroupID, l.Security.TaskSecurityGroupID, l.Security.InstanceSecurityGroupID
	// 443 stays closed without an HTTPS listener; tasks reach only HTTPS
	// and DNS; the VPC's default group, tagged as the stack's, has no
	// rule left.
	vpcCIDR := spec.Network.VPCCIDR
	wantRules := map[string][]string{
		alb:  {"egress tcp 80-80 " + task, "ingress tcp 80-80 0.0.0.0/0"},
		task: {"egress tcp 443-443 0.0.0.0/0", "egress tcp 53-53 " + vpcCIDR, "egress udp 53-53 " + vpcCIDR, "ingress tcp 80-80 " + alb},
		inst: {"egress -1 0.0.0.0/0"},
	}
	var defaultGroup string
	for _, g := range sgs.SecurityGroups {
		if aws.ToString(g.GroupName) == "default" {
			defaultGroup = aws.ToString(g.GroupId)
			wantRules[defaultGroup] = nil
			if aws.ToString(g.VpcId) != l.Network.VPCID {
				t.Errorf("default group %s of %s, want the stack's VPC's", defaultGroup, aws.ToString(g.VpcId))
			}
		}
	}
	if defaultGroup == "" || len(ruleSet) != 4 {
		t.Errorf("security groups %v, want the three of the design and the VPC's default one", ruleSet)
	}
	for id, want := range wantRules {
		if got := ruleSet[id]; !slices.Equal(got, want) {
			t.Errorf("security group %s rules = %v, want %v", id, got, want)
		}
	}

	// Launch template: the SSM AMI, IMDSv2 required, encrypted root, user
	// data joining the cluster.
	ami, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(compute.AMIParameter(false))})
	if err != nil {
		t.Fatal(err)
	}
	ltv, err := c.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(l.Compute.LaunchTemplateID), Versions: []string{"$Default"}})
	if err != nil {
		t.Fatal(err)
	}
	data := ltv.LaunchTemplateVersions[0].LaunchTemplateData
	if aws.ToString(data.ImageId) != aws.ToString(ami.Parameter.Value) {
		t.Errorf("AMI %s, want %s from SSM", aws.ToString(data.ImageId), aws.ToString(ami.Parameter.Value))
	}
	if data.MetadataOptions == nil || data.MetadataOptions.HttpTokens != ec2types.LaunchTemplateHttpTokensStateRequired {
		t.Errorf("metadata options %+v, want IMDSv2 required", data.MetadataOptions)
	}
	if len(data.BlockDeviceMappings) != 1 || !aws.ToBool(data.BlockDeviceMappings[0].Ebs.Encrypted) {
		t.Errorf("root volume not encrypted: %+v", data.BlockDeviceMappings)
	}
	ud, _ := base64.StdEncoding.DecodeString(aws.ToString(data.UserData))
	if !strings.Contains(string(ud), "ECS_CLUSTER="+l.Compute.ClusterName+"\n") {
		t.Errorf("user data does not join cluster %s:\n%s", l.Compute.ClusterName, ud)
	}
	// awsvpc tasks cannot reach the instance role's credentials.
	if !strings.Contains(string(ud), "\nECS_AWSVPC_BLOCK_IMDS=true\n") {
		t.Errorf("user data does not block the metadata service from awsvpc tasks:\n%s", ud)
	}

	// Auto Scaling group over both private subnets, with both hooks.
	groups, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{l.Compute.AutoScalingGroupName}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("describing the group: %v", err)
	}
	if got := strings.Split(aws.ToString(groups.AutoScalingGroups[0].VPCZoneIdentifier), ","); !sameSet(got, l.Network.PrivateSubnetIDs) {
		t.Errorf("group subnets %v, want the private subnets %v", got, l.Network.PrivateSubnetIDs)
	}
	hooks, err := c.AutoScaling.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(l.Compute.AutoScalingGroupName)})
	if err != nil {
		t.Fatal(err)
	}
	var transitions []string
	for _, h := range hooks.LifecycleHooks {
		transitions = append(transitions, aws.ToString(h.LifecycleTransition))
	}
	if !sameSet(transitions, []string{"autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"}) {
		t.Errorf("lifecycle hooks %v, want launch and terminate", transitions)
	}

	// Cluster with the capacity provider, managed scaling on.
	clusters, err := c.ECS.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{l.Compute.ClusterName}})
	if err != nil || len(clusters.Clusters) != 1 {
		t.Fatalf("describing the cluster: %v", err)
	}
	if !slices.Equal(clusters.Clusters[0].CapacityProviders, []string{l.Compute.CapacityProviderName}) {
		t.Errorf("cluster capacity providers %v", clusters.Clusters[0].CapacityProviders)
	}
	cps, err := c.ECS.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{CapacityProviders: []string{l.Compute.CapacityProviderName}})
	if err != nil || len(cps.CapacityProviders) != 1 {
		t.Fatalf("describing the capacity provider: %v", err)
	}
	if ms := cps.CapacityProviders[0].AutoScalingGroupProvider.ManagedScaling; ms == nil || ms.Status != ecstypes.ManagedScalingStatusEnabled {
		t.Errorf("managed scaling %+v, want ENABLED", ms)
	}

	// Internet-facing ALB over both public subnets; ip target group with
	// the health path; the listener forwards to it.
	lbs, err := c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{l.Ingress.LoadBalancerARN}})
	if err != nil {
		t.Fatal(err)
	}
	lb := lbs.LoadBalancers[0]
	var lbSubnets []string
	for _, az := range lb.AvailabilityZones {
		lbSubnets = append(lbSubnets, aws.ToString(az.SubnetId))
	}
	if lb.Scheme != "internet-facing" || !sameSet(lbSubnets, l.Network.PublicSubnetIDs) || l.Ingress.DNSName == "" {
		t.Errorf("load balancer %s over %v, DNS %q; want internet-facing over %v", lb.Scheme, lbSubnets, l.Ingress.DNSName, l.Network.PublicSubnetIDs)
	}
	// Invalid header fields dropped; not a production stack, so no
	// deletion protection; no access logs asked for; zonal shift enabled.
	if got := lbAttributes(t, c.ELB, l.Ingress.LoadBalancerARN); got[ingress.AttrDropInvalidHeaders] != "true" || got[ingress.AttrDeletionProtection] != "false" || got[ingress.AttrAccessLogs] != "false" || got[ingress.AttrZonalShift] != "true" {
		t.Errorf("load balancer attributes %v", got)
	}
	// moto ignores a group's impairment policy, so the group's zonal
	// shift support is checked on the request the SDK sent.
	if len(createGroup.inputs) != 1 {
		t.Fatalf("%d CreateAutoScalingGroup calls, want 1", len(createGroup.inputs))
	}
	if p := createGroup.inputs[0].(*autoscaling.CreateAutoScalingGroupInput).AvailabilityZoneImpairmentPolicy; p == nil || !aws.ToBool(p.ZonalShiftEnabled) || p.ImpairedZoneHealthCheckBehavior != astypes.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy {
		t.Errorf("the group's impairment policy %+v, want zonal shift enabled, unhealthy instances replaced", p)
	}
	tgs, err := c.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{l.Ingress.TargetGroupARN}})
	if err != nil {
		t.Fatal(err)
	}
	if tg := tgs.TargetGroups[0]; tg.TargetType != "ip" || aws.ToString(tg.HealthCheckPath) != spec.Service.HealthPath {
		t.Errorf("target group %s with health path %q, want ip and %s", tg.TargetType, aws.ToString(tg.HealthCheckPath), spec.Service.HealthPath)
	}
	ls, err := c.ELB.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(l.Ingress.LoadBalancerARN)})
	if err != nil || len(ls.Listeners) != 1 || aws.ToString(ls.Listeners[0].DefaultActions[0].TargetGroupArn) != l.Ingress.TargetGroupARN {
		t.Errorf("listeners %+v (%v), want one forwarding to the target group", ls, err)
	}

	// Service: awsvpc in the private subnets with the task group, behind the
	// target group; task definition awsvpc with both containers.
	svcs, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(l.Compute.ClusterName), Services: []string{l.Service.ServiceName}})
	if err != nil || len(svcs.Services) != 1 {
		t.Fatalf("describing the service: %v", err)
	}
	svc := svcs.Services[0]
	if vpc := svc.NetworkConfiguration.AwsvpcConfiguration; !sameSet(vpc.Subnets, l.Network.PrivateSubnetIDs) || !slices.Equal(vpc.SecurityGroups, []string{task}) {
		t.Errorf("service network %+v", vpc)
	}
	if len(svc.LoadBalancers) != 1 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) != l.Ingress.TargetGroupARN {
		t.Errorf("service load balancers %+v", svc.LoadBalancers)
	}
	td, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(l.Service.TaskDefinitionARN)})
	if err != nil {
		t.Fatal(err)
	}
	if td.TaskDefinition.NetworkMode != ecstypes.NetworkModeAwsvpc || len(td.TaskDefinition.ContainerDefinitions) != 2 {
		t.Errorf("task definition %s with %d containers", td.TaskDefinition.NetworkMode, len(td.TaskDefinition.ContainerDefinitions))
	}
	// moto drops placementStrategy and deploymentConfiguration from
	// CreateService, so the zone spread and the circuit breaker are checked
	// on the request the SDK sent.
	if len(createService.inputs) != 1 {
		t.Fatalf("%d CreateService calls, want 1", len(createService.inputs))
	}
	in := createService.inputs[0].(*ecs.CreateServiceInput)
	if aws.ToString(in.PlacementStrategy[0].Field) != "attribute:ecs.availability-zone" || in.PlacementStrategy[0].Type != ecstypes.PlacementStrategyTypeSpread {
		t.Errorf("placement %+v, want spread across zones first", in.PlacementStrategy)
	}
	if cb := in.DeploymentConfiguration.DeploymentCircuitBreaker; !cb.Enable || !cb.Rollback {
		t.Errorf("circuit breaker %+v, want enabled with rollback", cb)
	}

	// Alarms and target tracking on CPU and memory.
	alarms, err := c.CloudWatch.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: l.Service.AlarmNames})
	// CPU, memory, the two deployment alarms, capacity, and three per zone.
	if err != nil || len(alarms.MetricAlarms) != 11 {
		t.Errorf("%d alarms (%v), want 11", len(alarms.MetricAlarms), err)
	}
	pols, err := c.AppAutoScaling.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(service.ResourceID(spec))})
	if err != nil {
		t.Fatal(err)
	}
	var metrics []string
	for _, p := range pols.ScalingPolicies {
		if p.PolicyType == aastypes.PolicyTypeTargetTrackingScaling {
			metrics = append(metrics, string(p.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType))
		}
	}
	if !sameSet(metrics, []string{"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"}) {
		t.Errorf("target tracking on %v, want CPU and memory", metrics)
	}

	// The same stack made a production one with access logs: deletion
	// protection and the logs' bucket, in one change. (moto keeps the
	// attribute but does not refuse the delete; TestProductionLoadBalancer
	// checks that on the simulator.)
	prod := spec
	prod.Production = true
	prod.Ingress.AccessLogs = &stack.AccessLogs{Bucket: "topo-alb-logs", Prefix: "topo"}
	r := stack.NewRun(prod, false, "production", nil)
	if _, err := build.Apply(ctx, f.clients, r); err != nil {
		t.Fatal(err)
	}
	if p := r.Plan(); len(p.Changes) != 1 || p.Changes[0].Resource != "elbv2:load-balancer" {
		t.Errorf("making the stack a production one changed:\n%s", p)
	}
	got := lbAttributes(t, c.ELB, l.Ingress.LoadBalancerARN)
	for k, v := range map[string]string{ingress.AttrDeletionProtection: "true", ingress.AttrDropInvalidHeaders: "true", ingress.AttrAccessLogs: "true",
		ingress.AttrAccessLogsBucket: "topo-alb-logs", ingress.AttrAccessLogsPrefix: "topo"} {
		if got[k] != v {
			t.Errorf("production load balancer's %s = %q, want %q", k, got[k], v)
		}
	}
}

// lbAttributes reads a load balancer's attributes as a map.
func lbAttributes(t *testing.T, api *elb.Client, arn string) map[string]string {
	t.Helper()
	out, err := api.DescribeLoadBalancerAttributes(context.Background(), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, a := range out.Attributes {
		m[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return m
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// describeRules renders a group's rules sorted, as "direction protocol
// from-to peer".
func describeRules(g ec2types.SecurityGroup) []string {
	var out []string
	add := func(dir string, perms []ec2types.IpPermission) {
		for _, p := range perms {
			ports := ""
			if aws.ToString(p.IpProtocol) != "-1" {
				ports = " " + itoa(aws.ToInt32(p.FromPort)) + "-" + itoa(aws.ToInt32(p.ToPort))
			}
			for _, r := range p.IpRanges {
				out = append(out, dir+" "+aws.ToString(p.IpProtocol)+ports+" "+aws.ToString(r.CidrIp))
			}
			for _, u := range p.UserIdGroupPairs {
				out = append(out, dir+" "+aws.ToString(p.IpProtocol)+ports+" "+aws.ToString(u.GroupId))
			}
		}
	}
	add("ingress", g.IpPermissions)
	add("egress", g.IpPermissionsEgress)
	slices.Sort(out)
	return out
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
