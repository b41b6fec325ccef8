package network

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// DefaultGroup is the component tag of the VPC's default security group.
// AWS creates it with the VPC, admitting all traffic from itself and
// allowing all outbound traffic; nothing of the stack uses it, and it
// would be the group of any network interface created in the VPC without
// one, so the layer removes its rules
// (https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html).
// The group goes with the VPC.
const DefaultGroup = "default-sg"

// reconcileDefaultGroup tags the VPC's default security group as the
// stack's, which the permission to revoke its rules is conditioned on,
// and revokes every rule it has.
func reconcileDefaultGroup(ctx context.Context, api EC2API, run *stack.Run, vpcID string) error {
	const resource = "ec2:security-group"
	if stack.Pending(vpcID) {
		_, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, resource, DefaultGroup, "", "revoke the default group's rules"), func(context.Context) (string, error) {
			return "", fmt.Errorf("VPC %s does not exist", vpcID)
		})
		return err
	}
	out, err := api.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpcID}}, {Name: aws.String("group-name"), Values: []string{"default"}},
	}})
	if err != nil {
		return fmt.Errorf("describing the default security group of %s: %w", vpcID, err)
	}
	if len(out.SecurityGroups) == 0 {
		return fmt.Errorf("VPC %s has no default security group", vpcID)
	}
	g := out.SecurityGroups[0]
	id := aws.ToString(g.GroupId)
	if !run.Spec.Owned(stack.EC2TagMap(g.Tags)) {
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, resource, DefaultGroup, id, "tag as the stack's"), func(ctx context.Context) (string, error) {
			_, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: stack.EC2Tags(run.Spec.Tags(DefaultGroup))})
			return id, err
		}); err != nil {
			return err
		}
	}
	if len(g.IpPermissions)+len(g.IpPermissionsEgress) == 0 {
		return nil
	}
	detail := fmt.Sprintf("revoke %d inbound and %d outbound rules", len(g.IpPermissions), len(g.IpPermissionsEgress))
	_, err = run.Do(ctx, stack.NewChange(Layer, stack.Update, resource, DefaultGroup, id, detail), func(ctx context.Context) (string, error) {
		if len(g.IpPermissions) > 0 {
			if _, err := api.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: g.IpPermissions}); err != nil {
				return id, err
			}
		}
		if len(g.IpPermissionsEgress) > 0 {
			if _, err := api.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: g.IpPermissionsEgress}); err != nil {
				return id, err
			}
		}
		return id, nil
	})
	return err
}
