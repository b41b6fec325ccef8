package sim

import (
	"cmp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "CreateTags", (*Sim).createTags)
	handle(ec2ID, "DeleteTags", (*Sim).deleteTags)
	handle(ec2ID, "DescribeTags", (*Sim).describeTags)
}

// tagged is a resource as DescribeTags lists it.
type tagged struct {
	meta *meta
	kind types.ResourceType
}

// ec2Kinds maps ID prefixes to resource types and their not-found errors.
var ec2Kinds = []struct {
	prefix   string
	kind     types.ResourceType
	code     string
	noun     string
	resource func(st *ec2State, id string) (resource, bool)
}{
	{"vpc-", types.ResourceTypeVpc, "InvalidVpcID.NotFound", "vpc", func(st *ec2State, id string) (resource, bool) { r, ok := st.vpcs[id]; return r, ok }},
	{"subnet-", types.ResourceTypeSubnet, "InvalidSubnetID.NotFound", "subnet", func(st *ec2State, id string) (resource, bool) { r, ok := st.subnets[id]; return r, ok }},
	{"igw-", types.ResourceTypeInternetGateway, "InvalidInternetGatewayID.NotFound", "internetGateway", func(st *ec2State, id string) (resource, bool) { r, ok := st.igws[id]; return r, ok }},
	{"eipalloc-", types.ResourceTypeElasticIp, "InvalidAllocationID.NotFound", "allocation", func(st *ec2State, id string) (resource, bool) { r, ok := st.addresses[id]; return r, ok }},
	{"nat-", types.ResourceTypeNatgateway, "InvalidNatGatewayID.NotFound", "natGateway", func(st *ec2State, id string) (resource, bool) { r, ok := st.nats[id]; return r, ok }},
	{"rtb-", types.ResourceTypeRouteTable, "InvalidRouteTableID.NotFound", "routeTable", func(st *ec2State, id string) (resource, bool) { r, ok := st.routeTables[id]; return r, ok }},
	{"sgr-", types.ResourceTypeSecurityGroupRule, "InvalidSecurityGroupRuleId.NotFound", "security group rule", func(st *ec2State, id string) (resource, bool) {
		for _, g := range st.securityGroups {
			for _, r := range g.rules {
				if r.id == id {
					return r, true
				}
			}
		}
		return nil, false
	}},
	{"sg-", types.ResourceTypeSecurityGroup, "InvalidGroup.NotFound", "security group", func(st *ec2State, id string) (resource, bool) { r, ok := st.securityGroups[id]; return r, ok }},
	{"lt-", types.ResourceTypeLaunchTemplate, "InvalidLaunchTemplateId.NotFound", "launch template", func(st *ec2State, id string) (resource, bool) { r, ok := st.launchTemplates[id]; return r, ok }},
	{"i-", types.ResourceTypeInstance, "InvalidInstanceID.NotFound", "instance", func(st *ec2State, id string) (resource, bool) { r, ok := st.instances[id]; return r, ok }},
}

// taggable finds any EC2 resource by ID for the tagging calls.
func (s *Sim) taggable(id string) (*meta, error) {
	for _, k := range ec2Kinds {
		if !strings.HasPrefix(id, k.prefix) {
			continue
		}
		r, ok := k.resource(s.ec2, id)
		if !ok || !s.visible(r) {
			return nil, notFoundEC2(k.code, k.noun, id)
		}
		return r.base(), nil
	}
	return nil, apiError("InvalidID", "The ID '%s' is not valid", id)
}

func (s *Sim) createTags(in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	var metas []*meta
	for _, id := range in.Resources {
		m, err := s.taggable(id)
		if err != nil {
			return nil, err
		}
		added := 0
		for _, t := range in.Tags {
			if _, ok := m.tags[aws.ToString(t.Key)]; !ok {
				added++
			}
		}
		if len(m.tags)+added > maxTags {
			return nil, apiError("TagLimitExceeded", "The maximum number of Tags for a resource is %d.", maxTags)
		}
		metas = append(metas, m)
	}
	for _, m := range metas {
		for _, t := range in.Tags {
			m.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (s *Sim) deleteTags(in *ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error) {
	var metas []*meta
	for _, id := range in.Resources {
		m, err := s.taggable(id)
		if err != nil {
			return nil, err
		}
		metas = append(metas, m)
	}
	for _, m := range metas {
		if len(in.Tags) == 0 {
			for k := range m.tags {
				if !strings.HasPrefix(k, "aws:") {
					delete(m.tags, k)
				}
			}
			continue
		}
		for _, t := range in.Tags {
			k := aws.ToString(t.Key)
			if v, ok := m.tags[k]; ok && (t.Value == nil || *t.Value == v) {
				delete(m.tags, k)
			}
		}
	}
	return &ec2.DeleteTagsOutput{}, nil
}

func (s *Sim) describeTags(in *ec2.DescribeTagsInput) (*ec2.DescribeTagsOutput, error) {
	var all []tagged
	add := func(kind types.ResourceType, r resource) {
		if s.visible(r) {
			all = append(all, tagged{meta: r.base(), kind: kind})
		}
	}
	for _, r := range s.ec2.vpcs {
		add(types.ResourceTypeVpc, r)
	}
	for _, r := range s.ec2.subnets {
		add(types.ResourceTypeSubnet, r)
	}
	for _, r := range s.ec2.igws {
		add(types.ResourceTypeInternetGateway, r)
	}
	for _, r := range s.ec2.addresses {
		add(types.ResourceTypeElasticIp, r)
	}
	for _, r := range s.ec2.nats {
		add(types.ResourceTypeNatgateway, r)
	}
	for _, r := range s.ec2.routeTables {
		add(types.ResourceTypeRouteTable, r)
	}
	for _, r := range s.ec2.securityGroups {
		add(types.ResourceTypeSecurityGroup, r)
	}
	for _, r := range s.ec2.launchTemplates {
		add(types.ResourceTypeLaunchTemplate, r)
	}
	for _, r := range s.ec2.instances {
		add(types.ResourceTypeInstance, r)
	}
	slices.SortFunc(all, func(a, b tagged) int { return cmp.Compare(a.meta.seq, b.meta.seq) })
	var out []types.TagDescription
	for _, t := range all {
		for _, k := range t.meta.tags.keys() {
			td := types.TagDescription{ResourceId: aws.String(t.meta.id), ResourceType: t.kind, Key: aws.String(k), Value: aws.String(t.meta.tags[k])}
			ok, err := tagDescriptionMatches(td, in.Filters)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, td)
			}
		}
	}
	page, next, err := listPage(out, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeTagsOutput{Tags: page, NextToken: next}, nil
}

func tagDescriptionMatches(td types.TagDescription, filters []types.Filter) (bool, error) {
	for _, f := range filters {
		var have string
		switch aws.ToString(f.Name) {
		case "resource-id":
			have = aws.ToString(td.ResourceId)
		case "resource-type":
			have = string(td.ResourceType)
		case "key":
			have = aws.ToString(td.Key)
		case "value":
			have = aws.ToString(td.Value)
		default:
			return false, invalidParam("The filter '%s' is invalid", aws.ToString(f.Name))
		}
		if !anyMatch(f.Values, []string{have}) {
			return false, nil
		}
	}
	return true, nil
}
