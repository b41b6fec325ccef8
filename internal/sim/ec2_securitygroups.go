package sim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "CreateSecurityGroup", (*Sim).createSecurityGroup)
	handle(ec2ID, "DescribeSecurityGroups", (*Sim).describeSecurityGroups)
	handle(ec2ID, "DeleteSecurityGroup", (*Sim).deleteSecurityGroup)
	handle(ec2ID, "AuthorizeSecurityGroupIngress", (*Sim).authorizeIngress)
	handle(ec2ID, "AuthorizeSecurityGroupEgress", (*Sim).authorizeEgress)
	handle(ec2ID, "RevokeSecurityGroupIngress", (*Sim).revokeIngress)
	handle(ec2ID, "RevokeSecurityGroupEgress", (*Sim).revokeEgress)
	handle(ec2ID, "DescribeSecurityGroupRules", (*Sim).describeSecurityGroupRules)
}

// securityGroup is a simulated VPC security group.
type securityGroup struct {
	meta
	name, description, vpcID string
	rules                    []*sgRule
}

// sgRule is one security group rule: a protocol and port range from or to a
// single peer, either a CIDR block or a security group.
type sgRule struct {
	meta
	groupID     string
	egress      bool
	protocol    string
	from, to    int32
	cidr        string
	peerGroup   string
	description string
}

func (r *sgRule) samePermission(o *sgRule) bool {
	return r.egress == o.egress && r.protocol == o.protocol && r.from == o.from && r.to == o.to && r.cidr == o.cidr && r.peerGroup == o.peerGroup
}

func (r *sgRule) peer() string {
	if r.cidr != "" {
		return r.cidr
	}
	return r.peerGroup
}

// newSecurityGroup creates a group with AWS's default egress rule. The caller
// holds Sim.mu.
func (s *Sim) newSecurityGroup(vpcID, name, description string, tags tagSet) *securityGroup {
	g := &securityGroup{meta: s.newMeta(s.newID("sg"), tags), name: name, description: description, vpcID: vpcID}
	g.rules = []*sgRule{{meta: s.newMeta(s.newID("sgr"), nil), groupID: g.id, egress: true, protocol: "-1", from: -1, to: -1, cidr: "0.0.0.0/0"}}
	s.ec2.securityGroups[g.id] = g
	return g
}

func (s *Sim) createSecurityGroup(in *ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
	if in.VpcId == nil {
		return nil, apiError("VPCIdNotSpecified", "No default VPC for this user")
	}
	v, err := s.findVpc(in.VpcId)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.GroupName)
	switch {
	case name == "default":
		return nil, invalidParam("Cannot use reserved security group name: default")
	case strings.HasPrefix(name, "sg-"):
		return nil, invalidParam("Group names may not be in the format sg-*")
	case len(name) > 255:
		return nil, invalidParam("Invalid value '%s' for groupName. Length exceeds maximum of 255.", name)
	}
	for _, g := range s.ec2.securityGroups {
		if g.vpcID == v.id && g.name == name {
			return nil, apiError("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, v.id)
		}
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeSecurityGroup)
	if err != nil {
		return nil, err
	}
	g := s.newSecurityGroup(v.id, name, aws.ToString(in.Description), tags[types.ResourceTypeSecurityGroup])
	return &ec2.CreateSecurityGroupOutput{GroupId: aws.String(g.id), SecurityGroupArn: aws.String(s.arn("ec2", "security-group/"+g.id)), Tags: g.tags.ec2()}, nil
}

// permissions folds a group's rules back into the IpPermission shape that
// Describe returns: one permission per protocol and port range.
func (s *Sim) permissions(g *securityGroup, egress bool) []types.IpPermission {
	out := []types.IpPermission{}
	index := map[string]int{}
	for _, r := range g.rules {
		if r.egress != egress {
			continue
		}
		key := fmt.Sprintf("%s/%d/%d", r.protocol, r.from, r.to)
		i, ok := index[key]
		if !ok {
			p := types.IpPermission{IpProtocol: aws.String(r.protocol), IpRanges: []types.IpRange{}, UserIdGroupPairs: []types.UserIdGroupPair{}, Ipv6Ranges: []types.Ipv6Range{}, PrefixListIds: []types.PrefixListId{}}
			if r.protocol != "-1" {
				p.FromPort, p.ToPort = aws.Int32(r.from), aws.Int32(r.to)
			}
			out = append(out, p)
			i = len(out) - 1
			index[key] = i
		}
		if r.cidr != "" {
			ipr := types.IpRange{CidrIp: aws.String(r.cidr)}
			if r.description != "" {
				ipr.Description = aws.String(r.description)
			}
			out[i].IpRanges = append(out[i].IpRanges, ipr)
		} else {
			pair := types.UserIdGroupPair{GroupId: aws.String(r.peerGroup), UserId: aws.String(s.account)}
			if r.description != "" {
				pair.Description = aws.String(r.description)
			}
			out[i].UserIdGroupPairs = append(out[i].UserIdGroupPairs, pair)
		}
	}
	return out
}

func (s *Sim) securityGroupOut(g *securityGroup) types.SecurityGroup {
	return types.SecurityGroup{
		GroupId: aws.String(g.id), GroupName: aws.String(g.name), Description: aws.String(g.description), VpcId: aws.String(g.vpcID),
		OwnerId: aws.String(s.account), SecurityGroupArn: aws.String(s.arn("ec2", "security-group/"+g.id)), Tags: g.tags.ec2(),
		IpPermissions: s.permissions(g, false), IpPermissionsEgress: s.permissions(g, true),
	}
}

func ruleValues(g *securityGroup, egress bool, value func(*sgRule) string) []string {
	var out []string
	for _, r := range g.rules {
		if r.egress == egress {
			if v := value(r); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

var securityGroupFilters = filterFields[*securityGroup]{
	"group-id":    func(g *securityGroup) []string { return []string{g.id} },
	"group-name":  func(g *securityGroup) []string { return []string{g.name} },
	"vpc-id":      func(g *securityGroup) []string { return []string{g.vpcID} },
	"description": func(g *securityGroup) []string { return []string{g.description} },
	"ip-permission.protocol": func(g *securityGroup) []string {
		return ruleValues(g, false, func(r *sgRule) string { return r.protocol })
	},
	"ip-permission.from-port": func(g *securityGroup) []string {
		return ruleValues(g, false, func(r *sgRule) string { return strconv.Itoa(int(r.from)) })
	},
	"ip-permission.to-port": func(g *securityGroup) []string {
		return ruleValues(g, false, func(r *sgRule) string { return strconv.Itoa(int(r.to)) })
	},
	"ip-permission.cidr": func(g *securityGroup) []string { return ruleValues(g, false, func(r *sgRule) string { return r.cidr }) },
	"ip-permission.group-id": func(g *securityGroup) []string {
		return ruleValues(g, false, func(r *sgRule) string { return r.peerGroup })
	},
	"egress.ip-permission.cidr": func(g *securityGroup) []string {
		return ruleValues(g, true, func(r *sgRule) string { return r.cidr })
	},
	"egress.ip-permission.group-id": func(g *securityGroup) []string {
		return ruleValues(g, true, func(r *sgRule) string { return r.peerGroup })
	},
}

func (s *Sim) describeSecurityGroups(in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
	gs, err := selectByID(s, s.ec2.securityGroups, in.GroupIds, func(ids ...string) error {
		return apiError("InvalidGroup.NotFound", "The security group '%s' does not exist", strings.Join(ids, ", "))
	})
	if err != nil {
		return nil, err
	}
	if len(in.GroupNames) > 0 {
		return nil, apiError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
	}
	if gs, err = applyFilters(gs, in.Filters, securityGroupFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(gs, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeSecurityGroupsOutput{NextToken: next, SecurityGroups: []types.SecurityGroup{}}
	for _, g := range page {
		out.SecurityGroups = append(out.SecurityGroups, s.securityGroupOut(g))
	}
	return out, nil
}

func (s *Sim) findSecurityGroup(id *string) (*securityGroup, error) {
	g, ok := lookup(s, s.ec2.securityGroups, aws.ToString(id))
	if !ok {
		return nil, apiError("InvalidGroup.NotFound", "The security group '%s' does not exist", aws.ToString(id))
	}
	return g, nil
}

func (s *Sim) deleteSecurityGroup(in *ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
	if in.GroupId == nil {
		return nil, apiError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
	}
	g, err := s.findSecurityGroup(in.GroupId)
	if err != nil {
		return nil, err
	}
	if v, ok := s.ec2.vpcs[g.vpcID]; ok && v.defaultGroup == g.id {
		return nil, apiError("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.id)
	}
	for _, inst := range s.ec2.instances {
		if inst.state != stateTerminated && containsString(inst.spec.sgIDs, g.id) {
			return nil, apiError("DependencyViolation", "resource %s has a dependent object", g.id)
		}
	}
	for _, other := range s.ec2.securityGroups {
		if other.id == g.id {
			continue
		}
		for _, r := range other.rules {
			if r.peerGroup == g.id {
				return nil, apiError("DependencyViolation", "resource %s has a dependent object", g.id)
			}
		}
	}
	delete(s.ec2.securityGroups, g.id)
	return &ec2.DeleteSecurityGroupOutput{GroupId: aws.String(g.id), Return: aws.Bool(true)}, nil
}

var protocolNames = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}

// expandPermissions turns the IpPermission shape of an Authorize or Revoke
// call into one rule per peer, normalized the way AWS stores them.
func (s *Sim) expandPermissions(g *securityGroup, egress bool, perms []types.IpPermission) ([]*sgRule, error) {
	var out []*sgRule
	for _, p := range perms {
		proto := strings.ToLower(aws.ToString(p.IpProtocol))
		if n, ok := protocolNames[proto]; ok {
			proto = n
		}
		var from, to int32 = -1, -1
		switch proto {
		case "-1":
		case "tcp", "udp", "icmp", "icmpv6":
			if p.FromPort == nil || p.ToPort == nil {
				return nil, apiError("InvalidParameterValue", "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
			}
			from, to = *p.FromPort, *p.ToPort
			if (proto == "tcp" || proto == "udp") && (from < 0 || to > 65535 || from > to) {
				return nil, invalidParam("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
			}
		default:
			if _, err := strconv.Atoi(proto); err != nil {
				return nil, invalidParam("Invalid value '%s' for IP protocol. Unknown protocol.", proto)
			}
		}
		if len(p.Ipv6Ranges) > 0 || len(p.PrefixListIds) > 0 {
			return nil, apiError("UnsupportedOperation", "The simulator supports IPv4 CIDR and security group peers only.")
		}
		for _, r := range p.IpRanges {
			cidr, err := parseCIDR("cidrIp", aws.ToString(r.CidrIp))
			if err != nil {
				return nil, err
			}
			out = append(out, &sgRule{groupID: g.id, egress: egress, protocol: proto, from: from, to: to, cidr: cidr.String(), description: aws.ToString(r.Description)})
		}
		for _, pair := range p.UserIdGroupPairs {
			peer, err := s.findSecurityGroup(pair.GroupId)
			if err != nil {
				return nil, err
			}
			out = append(out, &sgRule{groupID: g.id, egress: egress, protocol: proto, from: from, to: to, peerGroup: peer.id, description: aws.ToString(pair.Description)})
		}
	}
	if len(out) == 0 {
		return nil, apiError("MissingParameter", "No permissions specified")
	}
	return out, nil
}

// legacyPermission turns the flat CidrIp/IpProtocol/port parameters into an
// IpPermission.
func legacyPermission(cidr, proto *string, from, to *int32) []types.IpPermission {
	if cidr == nil && proto == nil {
		return nil
	}
	p := types.IpPermission{IpProtocol: proto, FromPort: from, ToPort: to}
	if cidr != nil {
		p.IpRanges = []types.IpRange{{CidrIp: cidr}}
	}
	return []types.IpPermission{p}
}

func (s *Sim) ruleOut(r *sgRule) types.SecurityGroupRule {
	out := types.SecurityGroupRule{
		SecurityGroupRuleId: aws.String(r.id), GroupId: aws.String(r.groupID), GroupOwnerId: aws.String(s.account),
		IsEgress: aws.Bool(r.egress), IpProtocol: aws.String(r.protocol), FromPort: aws.Int32(r.from), ToPort: aws.Int32(r.to),
		SecurityGroupRuleArn: aws.String(s.arn("ec2", "security-group-rule/"+r.id)), Tags: r.tags.ec2(),
	}
	if r.cidr != "" {
		out.CidrIpv4 = aws.String(r.cidr)
	} else {
		out.ReferencedGroupInfo = &types.ReferencedSecurityGroup{GroupId: aws.String(r.peerGroup), UserId: aws.String(s.account)}
	}
	if r.description != "" {
		out.Description = aws.String(r.description)
	}
	return out
}

func (s *Sim) authorize(groupID *string, egress bool, perms []types.IpPermission, specs []types.TagSpecification) ([]types.SecurityGroupRule, error) {
	g, err := s.findSecurityGroup(groupID)
	if err != nil {
		return nil, err
	}
	rules, err := s.expandPermissions(g, egress, perms)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFromSpecs(specs, types.ResourceTypeSecurityGroupRule)
	if err != nil {
		return nil, err
	}
	for i, r := range rules {
		for _, existing := range g.rules {
			if existing.samePermission(r) {
				return nil, apiError("InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists", r.peer(), strings.ToUpper(r.protocol), r.from, r.to)
			}
		}
		for _, earlier := range rules[:i] {
			if earlier.samePermission(r) {
				return nil, apiError("InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists", r.peer(), strings.ToUpper(r.protocol), r.from, r.to)
			}
		}
	}
	out := []types.SecurityGroupRule{}
	for _, r := range rules {
		r.meta = s.newMeta(s.newID("sgr"), tags[types.ResourceTypeSecurityGroupRule].clone())
		g.rules = append(g.rules, r)
		out = append(out, s.ruleOut(r))
	}
	return out, nil
}

func (s *Sim) authorizeIngress(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	if in.GroupId == nil {
		return nil, apiError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
	}
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort), in.IpPermissions...)
	rules, err := s.authorize(in.GroupId, false, perms, in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	return &ec2.AuthorizeSecurityGroupIngressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
}

func (s *Sim) authorizeEgress(in *ec2.AuthorizeSecurityGroupEgressInput) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort), in.IpPermissions...)
	rules, err := s.authorize(in.GroupId, true, perms, in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	return &ec2.AuthorizeSecurityGroupEgressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
}

func (s *Sim) revoke(groupID *string, egress bool, perms []types.IpPermission, ruleIDs []string) error {
	g, err := s.findSecurityGroup(groupID)
	if err != nil {
		return err
	}
	var doomed []*sgRule
	if len(ruleIDs) > 0 {
		for _, id := range ruleIDs {
			found := false
			for _, r := range g.rules {
				if r.id == id && r.egress == egress {
					doomed, found = append(doomed, r), true
				}
			}
			if !found {
				return apiError("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
			}
		}
	} else {
		want, err := s.expandPermissions(g, egress, perms)
		if err != nil {
			return err
		}
		for _, w := range want {
			found := false
			for _, r := range g.rules {
				if r.samePermission(w) {
					doomed, found = append(doomed, r), true
				}
			}
			if !found {
				return apiError("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
			}
		}
	}
	kept := g.rules[:0]
	for _, r := range g.rules {
		if !containsRule(doomed, r) {
			kept = append(kept, r)
		}
	}
	g.rules = kept
	return nil
}

func containsRule(list []*sgRule, r *sgRule) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}

func (s *Sim) revokeIngress(in *ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	if in.GroupId == nil {
		return nil, apiError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
	}
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort), in.IpPermissions...)
	if err := s.revoke(in.GroupId, false, perms, in.SecurityGroupRuleIds); err != nil {
		return nil, err
	}
	return &ec2.RevokeSecurityGroupIngressOutput{Return: aws.Bool(true)}, nil
}

func (s *Sim) revokeEgress(in *ec2.RevokeSecurityGroupEgressInput) (*ec2.RevokeSecurityGroupEgressOutput, error) {
	perms := append(legacyPermission(in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort), in.IpPermissions...)
	if err := s.revoke(in.GroupId, true, perms, in.SecurityGroupRuleIds); err != nil {
		return nil, err
	}
	return &ec2.RevokeSecurityGroupEgressOutput{Return: aws.Bool(true)}, nil
}

var ruleFilters = filterFields[*sgRule]{
	"group-id":               func(r *sgRule) []string { return []string{r.groupID} },
	"security-group-rule-id": func(r *sgRule) []string { return []string{r.id} },
}

func (s *Sim) describeSecurityGroupRules(in *ec2.DescribeSecurityGroupRulesInput) (*ec2.DescribeSecurityGroupRulesOutput, error) {
	var rules []*sgRule
	for _, g := range byCreation(s.ec2.securityGroups) {
		if s.visible(g) {
			rules = append(rules, g.rules...)
		}
	}
	if len(in.SecurityGroupRuleIds) > 0 {
		var kept []*sgRule
		for _, id := range in.SecurityGroupRuleIds {
			found := false
			for _, r := range rules {
				if r.id == id {
					kept, found = append(kept, r), true
				}
			}
			if !found {
				return nil, apiError("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
			}
		}
		rules = kept
	}
	rules, err := applyFilters(rules, in.Filters, ruleFilters)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(rules, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeSecurityGroupRulesOutput{NextToken: next, SecurityGroupRules: []types.SecurityGroupRule{}}
	for _, r := range page {
		out.SecurityGroupRules = append(out.SecurityGroupRules, s.ruleOut(r))
	}
	return out, nil
}
