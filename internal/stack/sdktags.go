package stack

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The SDK's tag types, one per service, converted from and to the tag
// scheme. Every layer tags and reads tags through these.

func convert[T any](tags []Tag, mk func(k, v *string) T) []T {
	out := make([]T, len(tags))
	for i, t := range tags {
		out[i] = mk(aws.String(t.Key), aws.String(t.Value))
	}
	return out
}

func tagMap[T any](tags []T, kv func(T) (*string, *string)) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v := kv(t)
		m[aws.ToString(k)] = aws.ToString(v)
	}
	return m
}

// EC2Tags converts tags to EC2's type.
func EC2Tags(tags []Tag) []ec2types.Tag {
	return convert(tags, func(k, v *string) ec2types.Tag { return ec2types.Tag{Key: k, Value: v} })
}

// EC2TagMap converts EC2 tags to a map.
func EC2TagMap(tags []ec2types.Tag) map[string]string {
	return tagMap(tags, func(t ec2types.Tag) (*string, *string) { return t.Key, t.Value })
}

// EC2TagSpecifications tags an EC2 resource at creation with the stack's
// tags for component, so that it is never visible untagged.
func (s Spec) EC2TagSpecifications(rt ec2types.ResourceType, component string) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: EC2Tags(s.Tags(component))}}
}

// EC2Filter selects the stack's resources in EC2 Describe calls.
func (s Spec) EC2Filter() []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagStack), Values: []string{s.Name}},
		{Name: aws.String("tag:" + TagManagedBy), Values: []string{ManagedBy}},
	}
}

// ECSTags converts tags to ECS's type.
func ECSTags(tags []Tag) []ecstypes.Tag {
	return convert(tags, func(k, v *string) ecstypes.Tag { return ecstypes.Tag{Key: k, Value: v} })
}

// ECSTagMap converts ECS tags to a map.
func ECSTagMap(tags []ecstypes.Tag) map[string]string {
	return tagMap(tags, func(t ecstypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// ELBTags converts tags to Elastic Load Balancing's type.
func ELBTags(tags []Tag) []elbtypes.Tag {
	return convert(tags, func(k, v *string) elbtypes.Tag { return elbtypes.Tag{Key: k, Value: v} })
}

// ELBTagMap converts Elastic Load Balancing tags to a map.
func ELBTagMap(tags []elbtypes.Tag) map[string]string {
	return tagMap(tags, func(t elbtypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// AutoScalingTags converts tags to the tags of the Auto Scaling group
// named group, not propagated to its instances (the launch template tags
// those).
func AutoScalingTags(tags []Tag, group string) []astypes.Tag {
	return convert(tags, func(k, v *string) astypes.Tag {
		return astypes.Tag{Key: k, Value: v, PropagateAtLaunch: aws.Bool(false),
			ResourceId: aws.String(group), ResourceType: aws.String("auto-scaling-group")}
	})
}

// AutoScalingTagMap converts an Auto Scaling group's tags to a map.
func AutoScalingTagMap(tags []astypes.TagDescription) map[string]string {
	return tagMap(tags, func(t astypes.TagDescription) (*string, *string) { return t.Key, t.Value })
}

// CloudWatchTags converts tags to CloudWatch's type.
func CloudWatchTags(tags []Tag) []cwtypes.Tag {
	return convert(tags, func(k, v *string) cwtypes.Tag { return cwtypes.Tag{Key: k, Value: v} })
}

// CloudWatchTagMap converts CloudWatch tags to a map.
func CloudWatchTagMap(tags []cwtypes.Tag) map[string]string {
	return tagMap(tags, func(t cwtypes.Tag) (*string, *string) { return t.Key, t.Value })
}
