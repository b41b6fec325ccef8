package sim

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func init() {
	handle(elbID, "CreateLoadBalancer", (*Sim).createLoadBalancer)
	handle(elbID, "DescribeLoadBalancers", (*Sim).describeLoadBalancers)
	handle(elbID, "DeleteLoadBalancer", (*Sim).deleteLoadBalancer)
	handle(elbID, "SetSubnets", (*Sim).setSubnets)
	handle(elbID, "SetSecurityGroups", (*Sim).setSecurityGroups)
	handle(elbID, "DescribeLoadBalancerAttributes", (*Sim).describeLoadBalancerAttributes)
	handle(elbID, "ModifyLoadBalancerAttributes", (*Sim).modifyLoadBalancerAttributes)
	handle(elbID, "CreateListener", (*Sim).createListener)
	handle(elbID, "DescribeListeners", (*Sim).describeListeners)
	handle(elbID, "ModifyListener", (*Sim).modifyListener)
	handle(elbID, "DeleteListener", (*Sim).deleteListener)
	handle(elbID, "AddTags", (*Sim).elbAddTags)
	handle(elbID, "RemoveTags", (*Sim).elbRemoveTags)
	handle(elbID, "DescribeTags", (*Sim).elbDescribeTags)
}

// albHostedZone is the Route 53 zone of Application Load Balancers in
// us-east-1; other regions have their own, which the simulator does not
// distinguish.
const albHostedZone = "Z35SXDOTRQ7X7K"

func defaultLBAttributes() map[string]string {
	return map[string]string{
		"access_logs.s3.enabled": "false", "access_logs.s3.bucket": "", "access_logs.s3.prefix": "",
		"deletion_protection.enabled": "false", "idle_timeout.timeout_seconds": "60",
		"routing.http2.enabled": "true", "routing.http.drop_invalid_header_fields.enabled": "false",
		"load_balancing.cross_zone.enabled": "true", "zonal_shift.config.enabled": "false",
		"routing.http.desync_mitigation_mode": "defensive", "waf.fail_open.enabled": "false",
	}
}

// resolveLBSubnets checks an ALB's subnets: existing, in one VPC, at least
// two zones and one subnet per zone.
func (s *Sim) resolveLBSubnets(ids []string, mappings []types.SubnetMapping) ([]string, string, error) {
	for _, m := range mappings {
		ids = append(ids, aws.ToString(m.SubnetId))
	}
	var vpcID string
	zones := map[string]bool{}
	for _, id := range ids {
		sn, ok := s.ec2.subnets[id]
		if !ok {
			return nil, "", &types.SubnetNotFoundException{Message: aws.String(fmt.Sprintf("The subnet ID '%s' does not exist", id))}
		}
		if vpcID != "" && sn.vpcID != vpcID {
			return nil, "", &types.InvalidSubnetException{Message: aws.String("The subnets must all be in the same VPC")}
		}
		vpcID = sn.vpcID
		if zones[sn.zone.name] {
			return nil, "", &types.InvalidConfigurationRequestException{Message: aws.String("A load balancer cannot be attached to multiple subnets in the same Availability Zone")}
		}
		zones[sn.zone.name] = true
	}
	if len(zones) < 2 {
		return nil, "", elbValidation("At least two subnets in two different Availability Zones must be specified")
	}
	return ids, vpcID, nil
}

func (s *Sim) createLoadBalancer(in *elb.CreateLoadBalancerInput) (*elb.CreateLoadBalancerOutput, error) {
	if in.Type != "" && in.Type != types.LoadBalancerTypeEnumApplication {
		return nil, elbValidation("The simulator supports Application Load Balancers only.")
	}
	name := aws.ToString(in.Name)
	subnets, vpcID, err := s.resolveLBSubnets(append([]string(nil), in.Subnets...), in.SubnetMappings)
	if err != nil {
		return nil, err
	}
	scheme := in.Scheme
	if scheme == "" {
		scheme = types.LoadBalancerSchemeEnumInternetFacing
	}
	for _, lb := range s.elb.lbs {
		if lb.name == name {
			// CreateLoadBalancer is idempotent for identical settings.
			if lb.scheme == scheme && slices.Equal(sortedCopy(lb.subnets), sortedCopy(subnets)) {
				return &elb.CreateLoadBalancerOutput{LoadBalancers: []types.LoadBalancer{s.lbOut(lb)}}, nil
			}
			return nil, &types.DuplicateLoadBalancerNameException{Message: aws.String("A load balancer with the same name '" + name + "' exists, but with different settings")}
		}
	}
	for _, id := range in.SecurityGroups {
		if _, ok := s.ec2.securityGroups[id]; !ok {
			return nil, &types.InvalidSecurityGroupException{Message: aws.String("One or more security groups are invalid")}
		}
	}
	ipType := in.IpAddressType
	if ipType == "" {
		ipType = types.IpAddressTypeIpv4
	}
	lb := &loadBalancer{
		seq: s.elb.next(), name: name, arn: s.elbArn("loadbalancer/app/" + name + "/" + s.hex16()), dns: s.lbDNS(name, scheme), scheme: scheme,
		vpcID: vpcID, subnets: subnets, sgs: append([]string(nil), in.SecurityGroups...), ipType: ipType,
		state: types.LoadBalancerStateEnumProvisioning, created: s.clock.now, attrs: defaultLBAttributes(), shiftedOff: map[string]bool{},
	}
	s.elb.lbs[lb.arn] = lb
	if len(in.Tags) > 0 {
		s.elb.tags[lb.arn] = append([]types.Tag(nil), in.Tags...)
	}
	s.after(s.timings.Services.LoadBalancerProvisioning, func() {
		if _, ok := s.elb.lbs[lb.arn]; ok {
			lb.state = types.LoadBalancerStateEnumActive
		}
	})
	s.ensureMinuteTick()
	return &elb.CreateLoadBalancerOutput{LoadBalancers: []types.LoadBalancer{s.lbOut(lb)}}, nil
}

func sortedCopy(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return out
}

func (s *Sim) lbOut(lb *loadBalancer) types.LoadBalancer {
	out := types.LoadBalancer{
		LoadBalancerArn: aws.String(lb.arn), LoadBalancerName: aws.String(lb.name), DNSName: aws.String(lb.dns),
		CanonicalHostedZoneId: aws.String(albHostedZone), CreatedTime: aws.Time(lb.created), Scheme: lb.scheme,
		Type: types.LoadBalancerTypeEnumApplication, VpcId: aws.String(lb.vpcID), State: &types.LoadBalancerState{Code: lb.state},
		SecurityGroups: append([]string{}, lb.sgs...), IpAddressType: lb.ipType,
	}
	for _, id := range lb.subnets {
		if sn, ok := s.ec2.subnets[id]; ok {
			out.AvailabilityZones = append(out.AvailabilityZones, types.AvailabilityZone{ZoneName: aws.String(sn.zone.name), SubnetId: aws.String(id), LoadBalancerAddresses: []types.LoadBalancerAddress{}})
		}
	}
	slices.SortFunc(out.AvailabilityZones, func(a, b types.AvailabilityZone) int {
		switch {
		case *a.ZoneName < *b.ZoneName:
			return -1
		case *a.ZoneName > *b.ZoneName:
			return 1
		}
		return 0
	})
	return out
}

func (s *Sim) findLB(arn string) (*loadBalancer, error) {
	lb, ok := s.elb.lbs[arn]
	if !ok {
		return nil, &types.LoadBalancerNotFoundException{Message: aws.String("One or more load balancers not found")}
	}
	return lb, nil
}

func (s *Sim) describeLoadBalancers(in *elb.DescribeLoadBalancersInput) (*elb.DescribeLoadBalancersOutput, error) {
	var lbs []*loadBalancer
	all := sortedBySeq(s.elb.lbs, func(lb *loadBalancer) uint64 { return lb.seq })
	switch {
	case len(in.LoadBalancerArns) > 0:
		for _, arn := range in.LoadBalancerArns {
			lb, err := s.findLB(arn)
			if err != nil {
				return nil, err
			}
			lbs = append(lbs, lb)
		}
	case len(in.Names) > 0:
		for _, n := range in.Names {
			found := false
			for _, lb := range all {
				if lb.name == n {
					lbs, found = append(lbs, lb), true
				}
			}
			if !found {
				return nil, &types.LoadBalancerNotFoundException{Message: aws.String("Load balancers '[" + n + "]' not found")}
			}
		}
	default:
		lbs = all
	}
	page, next, err := paginate(lbs, in.PageSize, in.Marker)
	if err != nil {
		return nil, elbValidation("Invalid marker")
	}
	out := &elb.DescribeLoadBalancersOutput{LoadBalancers: []types.LoadBalancer{}, NextMarker: next}
	for _, lb := range page {
		out.LoadBalancers = append(out.LoadBalancers, s.lbOut(lb))
	}
	return out, nil
}

func (s *Sim) deleteLoadBalancer(in *elb.DeleteLoadBalancerInput) (*elb.DeleteLoadBalancerOutput, error) {
	lb, ok := s.elb.lbs[aws.ToString(in.LoadBalancerArn)]
	if !ok {
		// Deleting a load balancer that does not exist succeeds.
		return &elb.DeleteLoadBalancerOutput{}, nil
	}
	if lb.attrs["deletion_protection.enabled"] == "true" {
		return nil, &types.OperationNotPermittedException{Message: aws.String("Load balancer '" + lb.arn + "' cannot be deleted because deletion protection is enabled")}
	}
	for arn, l := range s.elb.listeners {
		if l.lbArn == lb.arn {
			delete(s.elb.listeners, arn)
			delete(s.elb.tags, arn)
		}
	}
	delete(s.elb.lbs, lb.arn)
	delete(s.elb.tags, lb.arn)
	return &elb.DeleteLoadBalancerOutput{}, nil
}

func (s *Sim) setSubnets(in *elb.SetSubnetsInput) (*elb.SetSubnetsOutput, error) {
	lb, err := s.findLB(aws.ToString(in.LoadBalancerArn))
	if err != nil {
		return nil, err
	}
	subnets, vpcID, err := s.resolveLBSubnets(append([]string(nil), in.Subnets...), in.SubnetMappings)
	if err != nil {
		return nil, err
	}
	if vpcID != lb.vpcID {
		return nil, &types.InvalidSubnetException{Message: aws.String("The subnets must be in the load balancer's VPC")}
	}
	lb.subnets = subnets
	out := s.lbOut(lb)
	return &elb.SetSubnetsOutput{AvailabilityZones: out.AvailabilityZones, IpAddressType: lb.ipType}, nil
}

func (s *Sim) setSecurityGroups(in *elb.SetSecurityGroupsInput) (*elb.SetSecurityGroupsOutput, error) {
	lb, err := s.findLB(aws.ToString(in.LoadBalancerArn))
	if err != nil {
		return nil, err
	}
	for _, id := range in.SecurityGroups {
		sg, ok := s.ec2.securityGroups[id]
		if !ok || sg.vpcID != lb.vpcID {
			return nil, &types.InvalidSecurityGroupException{Message: aws.String("One or more security groups are invalid")}
		}
	}
	lb.sgs = append([]string(nil), in.SecurityGroups...)
	return &elb.SetSecurityGroupsOutput{SecurityGroupIds: append([]string{}, lb.sgs...)}, nil
}

func attrsOut(m map[string]string) []types.LoadBalancerAttribute {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.LoadBalancerAttribute, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.LoadBalancerAttribute{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func (s *Sim) describeLoadBalancerAttributes(in *elb.DescribeLoadBalancerAttributesInput) (*elb.DescribeLoadBalancerAttributesOutput, error) {
	lb, err := s.findLB(aws.ToString(in.LoadBalancerArn))
	if err != nil {
		return nil, err
	}
	return &elb.DescribeLoadBalancerAttributesOutput{Attributes: attrsOut(lb.attrs)}, nil
}

func (s *Sim) modifyLoadBalancerAttributes(in *elb.ModifyLoadBalancerAttributesInput) (*elb.ModifyLoadBalancerAttributesOutput, error) {
	lb, err := s.findLB(aws.ToString(in.LoadBalancerArn))
	if err != nil {
		return nil, err
	}
	for _, a := range in.Attributes {
		if _, ok := lb.attrs[aws.ToString(a.Key)]; !ok {
			return nil, &types.InvalidConfigurationRequestException{Message: aws.String("Load balancer attribute key '" + aws.ToString(a.Key) + "' is not recognized")}
		}
	}
	for _, a := range in.Attributes {
		lb.attrs[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return &elb.ModifyLoadBalancerAttributesOutput{Attributes: attrsOut(lb.attrs)}, nil
}

// SetTraffic sets the requests per second a load balancer receives; the
// simulator spreads them over healthy targets and reports them in
// CloudWatch.
func (s *Sim) SetTraffic(loadBalancerArn string, requestsPerSecond float64) error {
	return s.lockedRun(func() error {
		lb, err := s.findLB(loadBalancerArn)
		if err != nil {
			return fmt.Errorf("setting traffic of %s: %w", loadBalancerArn, err)
		}
		lb.rps = max(requestsPerSecond, 0)
		return nil
	})
}

func (s *Sim) checkActions(actions []types.Action) error {
	if len(actions) == 0 {
		return elbValidation("A default action must be specified")
	}
	for _, a := range actions {
		if a.Type != types.ActionTypeEnumForward {
			continue
		}
		targets := forwardTargets(a)
		if len(targets) == 0 {
			return elbValidation("A target group ARN must be specified")
		}
		for arn := range targets {
			if _, ok := s.elb.targetGroups[arn]; !ok {
				return &types.TargetGroupNotFoundException{Message: aws.String("One or more target groups not found")}
			}
		}
	}
	return nil
}

func (s *Sim) createListener(in *elb.CreateListenerInput) (*elb.CreateListenerOutput, error) {
	lb, err := s.findLB(aws.ToString(in.LoadBalancerArn))
	if err != nil {
		return nil, err
	}
	if err := s.checkActions(in.DefaultActions); err != nil {
		return nil, err
	}
	port := aws.ToInt32(in.Port)
	for _, l := range s.elb.listeners {
		if l.lbArn == lb.arn && l.port == port {
			return nil, &types.DuplicateListenerException{Message: aws.String("A listener already exists on this port for this load balancer '" + lb.arn + "'")}
		}
	}
	proto := in.Protocol
	if proto == "" {
		proto = types.ProtocolEnumHttp
	}
	if proto == types.ProtocolEnumHttps && len(in.Certificates) == 0 {
		return nil, &types.CertificateNotFoundException{Message: aws.String("A certificate must be specified for HTTPS listeners")}
	}
	l := &listener{
		seq: s.elb.next(), arn: s.elbArn("listener/app/" + lb.name + "/" + lastSegment(lb.arn) + "/" + s.hex16()), lbArn: lb.arn,
		port: port, protocol: proto, actions: in.DefaultActions, certs: in.Certificates, ssl: aws.ToString(in.SslPolicy),
	}
	if proto == types.ProtocolEnumHttps && l.ssl == "" {
		l.ssl = "ELBSecurityPolicy-2016-08"
	}
	s.elb.listeners[l.arn] = l
	if len(in.Tags) > 0 {
		s.elb.tags[l.arn] = append([]types.Tag(nil), in.Tags...)
	}
	return &elb.CreateListenerOutput{Listeners: []types.Listener{s.listenerOut(l)}}, nil
}

func (s *Sim) listenerOut(l *listener) types.Listener {
	out := types.Listener{
		ListenerArn: aws.String(l.arn), LoadBalancerArn: aws.String(l.lbArn), Port: aws.Int32(l.port), Protocol: l.protocol,
		DefaultActions: l.actions, Certificates: l.certs,
	}
	if l.ssl != "" {
		out.SslPolicy = aws.String(l.ssl)
	}
	return out
}

func (s *Sim) describeListeners(in *elb.DescribeListenersInput) (*elb.DescribeListenersOutput, error) {
	var ls []*listener
	if len(in.ListenerArns) > 0 {
		for _, arn := range in.ListenerArns {
			l, ok := s.elb.listeners[arn]
			if !ok {
				return nil, &types.ListenerNotFoundException{Message: aws.String("One or more listeners not found")}
			}
			ls = append(ls, l)
		}
	} else {
		if in.LoadBalancerArn == nil {
			return nil, elbValidation("You must specify either listener ARNs or a load balancer ARN")
		}
		if _, err := s.findLB(*in.LoadBalancerArn); err != nil {
			return nil, err
		}
		for _, l := range sortedBySeq(s.elb.listeners, func(l *listener) uint64 { return l.seq }) {
			if l.lbArn == *in.LoadBalancerArn {
				ls = append(ls, l)
			}
		}
	}
	page, next, err := paginate(ls, in.PageSize, in.Marker)
	if err != nil {
		return nil, elbValidation("Invalid marker")
	}
	out := &elb.DescribeListenersOutput{Listeners: []types.Listener{}, NextMarker: next}
	for _, l := range page {
		out.Listeners = append(out.Listeners, s.listenerOut(l))
	}
	return out, nil
}

func (s *Sim) modifyListener(in *elb.ModifyListenerInput) (*elb.ModifyListenerOutput, error) {
	l, ok := s.elb.listeners[aws.ToString(in.ListenerArn)]
	if !ok {
		return nil, &types.ListenerNotFoundException{Message: aws.String("One or more listeners not found")}
	}
	if in.DefaultActions != nil {
		if err := s.checkActions(in.DefaultActions); err != nil {
			return nil, err
		}
		l.actions = in.DefaultActions
	}
	if in.Port != nil {
		l.port = *in.Port
	}
	if in.Protocol != "" {
		l.protocol = in.Protocol
	}
	if in.Certificates != nil {
		l.certs = in.Certificates
	}
	if in.SslPolicy != nil {
		l.ssl = *in.SslPolicy
	}
	return &elb.ModifyListenerOutput{Listeners: []types.Listener{s.listenerOut(l)}}, nil
}

func (s *Sim) deleteListener(in *elb.DeleteListenerInput) (*elb.DeleteListenerOutput, error) {
	arn := aws.ToString(in.ListenerArn)
	if _, ok := s.elb.listeners[arn]; !ok {
		return nil, &types.ListenerNotFoundException{Message: aws.String("One or more listeners not found")}
	}
	delete(s.elb.listeners, arn)
	delete(s.elb.tags, arn)
	return &elb.DeleteListenerOutput{}, nil
}

func (s *Sim) elbResourceExists(arn string) bool {
	_, lb := s.elb.lbs[arn]
	_, tg := s.elb.targetGroups[arn]
	_, l := s.elb.listeners[arn]
	return lb || tg || l
}

func (s *Sim) elbNotFound(arn string) error {
	switch {
	case strings.Contains(arn, ":targetgroup/"):
		return &types.TargetGroupNotFoundException{Message: aws.String("One or more target groups not found")}
	case strings.Contains(arn, ":listener/"):
		return &types.ListenerNotFoundException{Message: aws.String("One or more listeners not found")}
	}
	return &types.LoadBalancerNotFoundException{Message: aws.String("One or more load balancers not found")}
}

func (s *Sim) elbAddTags(in *elb.AddTagsInput) (*elb.AddTagsOutput, error) {
	for _, arn := range in.ResourceArns {
		if !s.elbResourceExists(arn) {
			return nil, s.elbNotFound(arn)
		}
	}
	for _, arn := range in.ResourceArns {
		tags := s.elb.tags[arn]
		for _, t := range in.Tags {
			tags = slices.DeleteFunc(tags, func(o types.Tag) bool { return aws.ToString(o.Key) == aws.ToString(t.Key) })
			tags = append(tags, t)
		}
		if len(tags) > 50 {
			return nil, &types.TooManyTagsException{Message: aws.String("The quota for the number of tags that can be assigned to a load balancer has been reached")}
		}
		s.elb.tags[arn] = tags
	}
	return &elb.AddTagsOutput{}, nil
}

func (s *Sim) elbRemoveTags(in *elb.RemoveTagsInput) (*elb.RemoveTagsOutput, error) {
	for _, arn := range in.ResourceArns {
		if !s.elbResourceExists(arn) {
			return nil, s.elbNotFound(arn)
		}
		s.elb.tags[arn] = slices.DeleteFunc(s.elb.tags[arn], func(t types.Tag) bool { return containsString(in.TagKeys, aws.ToString(t.Key)) })
	}
	return &elb.RemoveTagsOutput{}, nil
}

func (s *Sim) elbDescribeTags(in *elb.DescribeTagsInput) (*elb.DescribeTagsOutput, error) {
	out := &elb.DescribeTagsOutput{TagDescriptions: []types.TagDescription{}}
	for _, arn := range in.ResourceArns {
		if !s.elbResourceExists(arn) {
			return nil, s.elbNotFound(arn)
		}
		tags := slices.Clone(s.elb.tags[arn])
		slices.SortFunc(tags, func(a, b types.Tag) int {
			switch {
			case aws.ToString(a.Key) < aws.ToString(b.Key):
				return -1
			case aws.ToString(a.Key) > aws.ToString(b.Key):
				return 1
			}
			return 0
		})
		if tags == nil {
			tags = []types.Tag{}
		}
		out.TagDescriptions = append(out.TagDescriptions, types.TagDescription{ResourceArn: aws.String(arn), Tags: tags})
	}
	return out, nil
}
