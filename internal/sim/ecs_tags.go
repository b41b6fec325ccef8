package sim

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func init() {
	handle(ecsID, "TagResource", (*Sim).ecsTagResource)
	handle(ecsID, "UntagResource", (*Sim).ecsUntagResource)
	handle(ecsID, "ListTagsForResource", (*Sim).ecsListTags)
}

// ecsTagsOf returns where the tags of the resource an ARN names are kept:
// clusters, services, task definitions and capacity providers.
func (s *Sim) ecsTagsOf(arn string) (*[]types.Tag, error) {
	for _, c := range s.ecs.clusters {
		if c.arn == arn {
			return &c.tags, nil
		}
		for _, svc := range c.services {
			if svc.arn == arn {
				return &svc.tags, nil
			}
		}
	}
	for _, f := range s.ecs.families {
		for _, td := range f.revisions {
			if td.arn == arn {
				return &td.tags, nil
			}
		}
	}
	for _, cp := range s.ecs.providers {
		if cp.arn == arn {
			return &cp.tags, nil
		}
	}
	return nil, ecsInvalid("The specified resource is not found.")
}

func (s *Sim) ecsTagResource(in *ecs.TagResourceInput) (*ecs.TagResourceOutput, error) {
	tags, err := s.ecsTagsOf(aws.ToString(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		*tags = slices.DeleteFunc(*tags, func(o types.Tag) bool { return aws.ToString(o.Key) == aws.ToString(t.Key) })
		*tags = append(*tags, t)
	}
	if len(*tags) > 50 {
		return nil, ecsInvalid("The number of tags exceeds the limit of 50.")
	}
	return &ecs.TagResourceOutput{}, nil
}

func (s *Sim) ecsUntagResource(in *ecs.UntagResourceInput) (*ecs.UntagResourceOutput, error) {
	tags, err := s.ecsTagsOf(aws.ToString(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	*tags = slices.DeleteFunc(*tags, func(t types.Tag) bool { return slices.Contains(in.TagKeys, aws.ToString(t.Key)) })
	return &ecs.UntagResourceOutput{}, nil
}

func (s *Sim) ecsListTags(in *ecs.ListTagsForResourceInput) (*ecs.ListTagsForResourceOutput, error) {
	tags, err := s.ecsTagsOf(aws.ToString(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	return &ecs.ListTagsForResourceOutput{Tags: append([]types.Tag{}, *tags...)}, nil
}
