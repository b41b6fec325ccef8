package network

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// TagSpecifications tags an EC2 resource at creation with the stack's tags
// for component, so that it is never visible untagged.
func TagSpecifications(spec stack.Spec, rt types.ResourceType, component string) []types.TagSpecification {
	return []types.TagSpecification{{ResourceType: rt, Tags: EC2Tags(spec.Tags(component))}}
}

// EC2Tags converts tags to EC2's type.
func EC2Tags(tags []stack.Tag) []types.Tag {
	out := make([]types.Tag, len(tags))
	for i, t := range tags {
		out[i] = types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

// StackFilter selects the stack's resources in EC2 Describe calls.
func StackFilter(spec stack.Spec) []types.Filter {
	return []types.Filter{
		{Name: aws.String("tag:" + stack.TagStack), Values: []string{spec.Name}},
		{Name: aws.String("tag:" + stack.TagManagedBy), Values: []string{stack.ManagedBy}},
	}
}

// Component returns the value of the component tag.
func Component(tags []types.Tag) string { return TagValue(tags, stack.TagComponent) }

// TagValue returns the value of key in tags, or "".
func TagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
