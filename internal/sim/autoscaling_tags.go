package sim

import (
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

func init() {
	handle(asgID, "CreateOrUpdateTags", (*Sim).createOrUpdateASGTags)
	handle(asgID, "DeleteTags", (*Sim).deleteASGTags)
	handle(asgID, "DescribeTags", (*Sim).describeASGTags)
	handle(asgID, "AttachLoadBalancerTargetGroups", (*Sim).attachTargetGroups)
	handle(asgID, "DetachLoadBalancerTargetGroups", (*Sim).detachTargetGroups)
	handle(asgID, "DescribeLoadBalancerTargetGroups", (*Sim).describeTargetGroups)
}

func asgTags(group string, in []types.Tag) (map[string]asgTag, error) {
	out := map[string]asgTag{}
	for _, t := range in {
		k := aws.ToString(t.Key)
		if k == "" {
			return nil, validationError("Tag key cannot be empty")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, validationError("Tag keys starting with 'aws:' are reserved for internal use")
		}
		if id := aws.ToString(t.ResourceId); id != "" && id != group {
			return nil, validationError("The ResourceId %s does not match the group name %s", id, group)
		}
		out[k] = asgTag{value: aws.ToString(t.Value), propagate: aws.ToBool(t.PropagateAtLaunch)}
	}
	if len(out) > 50 {
		return nil, &types.LimitExceededFault{Message: aws.String("The quota for the number of tags for this resource has been reached.")}
	}
	return out, nil
}

func (s *Sim) groupTags(g *asGroup) []types.TagDescription {
	out := []types.TagDescription{}
	keys := make([]string, 0, len(g.tags))
	for k := range g.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := g.tags[k]
		out = append(out, types.TagDescription{
			Key: aws.String(k), Value: aws.String(t.value), PropagateAtLaunch: aws.Bool(t.propagate),
			ResourceId: aws.String(g.name), ResourceType: aws.String("auto-scaling-group"),
		})
	}
	return out
}

func (s *Sim) createOrUpdateASGTags(in *autoscaling.CreateOrUpdateTagsInput) (*autoscaling.CreateOrUpdateTagsOutput, error) {
	for _, t := range in.Tags {
		g, err := s.findGroup(t.ResourceId)
		if err != nil {
			return nil, err
		}
		tags, err := asgTags(g.name, []types.Tag{t})
		if err != nil {
			return nil, err
		}
		for k, v := range tags {
			g.tags[k] = v
		}
	}
	return &autoscaling.CreateOrUpdateTagsOutput{}, nil
}

func (s *Sim) deleteASGTags(in *autoscaling.DeleteTagsInput) (*autoscaling.DeleteTagsOutput, error) {
	for _, t := range in.Tags {
		g, err := s.findGroup(t.ResourceId)
		if err != nil {
			return nil, err
		}
		delete(g.tags, aws.ToString(t.Key))
	}
	return &autoscaling.DeleteTagsOutput{}, nil
}

func (s *Sim) describeASGTags(in *autoscaling.DescribeTagsInput) (*autoscaling.DescribeTagsOutput, error) {
	var out []types.TagDescription
	for _, g := range s.visibleGroups() {
		for _, td := range s.groupTags(g) {
			keep := true
			for _, f := range in.Filters {
				var have string
				switch aws.ToString(f.Name) {
				case "auto-scaling-group":
					have = g.name
				case "key":
					have = aws.ToString(td.Key)
				case "value":
					have = aws.ToString(td.Value)
				case "propagate-at-launch":
					have = boolString(aws.ToBool(td.PropagateAtLaunch))
				default:
					return nil, validationError("Filter type %s is not correct. Allowed Filter types are: auto-scaling-group key value propagate-at-launch", aws.ToString(f.Name))
				}
				if !containsString(f.Values, have) {
					keep = false
				}
			}
			if keep {
				out = append(out, td)
			}
		}
	}
	page, next, err := paginateRecords(out, in.MaxRecords, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &autoscaling.DescribeTagsOutput{Tags: page, NextToken: next}, nil
}

func (s *Sim) attachTargetGroups(in *autoscaling.AttachLoadBalancerTargetGroupsInput) (*autoscaling.AttachLoadBalancerTargetGroupsOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	for _, arn := range in.TargetGroupARNs {
		if !containsString(g.targetGroups, arn) {
			g.targetGroups = append(g.targetGroups, arn)
		}
	}
	return &autoscaling.AttachLoadBalancerTargetGroupsOutput{}, nil
}

func (s *Sim) detachTargetGroups(in *autoscaling.DetachLoadBalancerTargetGroupsInput) (*autoscaling.DetachLoadBalancerTargetGroupsOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	kept := g.targetGroups[:0]
	for _, arn := range g.targetGroups {
		if !containsString(in.TargetGroupARNs, arn) {
			kept = append(kept, arn)
		}
	}
	g.targetGroups = kept
	return &autoscaling.DetachLoadBalancerTargetGroupsOutput{}, nil
}

func (s *Sim) describeTargetGroups(in *autoscaling.DescribeLoadBalancerTargetGroupsInput) (*autoscaling.DescribeLoadBalancerTargetGroupsOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	out := &autoscaling.DescribeLoadBalancerTargetGroupsOutput{LoadBalancerTargetGroups: []types.LoadBalancerTargetGroupState{}}
	for _, arn := range g.targetGroups {
		out.LoadBalancerTargetGroups = append(out.LoadBalancerTargetGroups, types.LoadBalancerTargetGroupState{LoadBalancerTargetGroupARN: aws.String(arn), State: aws.String("InService")})
	}
	return out, nil
}
