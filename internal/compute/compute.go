// Package compute reconciles the container-instance fleet: the launch
// template (the ECS-optimized Amazon Linux 2023 AMI from its public SSM
// parameter, IMDSv2 required, an encrypted root volume, user data that joins
// the cluster; launchtemplate.go), the Auto Scaling group over both private
// subnets with its launch and terminate lifecycle hooks (group.go), and the
// ECS cluster with its capacity provider and managed scaling (cluster.go).
// Launch templates, groups and hooks of the stack that the layer does not
// want are deleted. The readiness checks are in status.go.
package compute

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// Layer is the layer's name in plans.
const Layer = "compute"

// Components of the layer.
const (
	LaunchTemplate   = "lt"
	Group            = "asg"
	CapacityProvider = "cp"
	Cluster          = "cluster"
	LaunchHook       = "launch-hook"
	TerminateHook    = "terminate-hook"
)

// GroupVisibleTimeout bounds the wait for a new Auto Scaling group to show
// up in Describe calls.
const GroupVisibleTimeout = 2 * time.Minute

// AMIParameter returns the public SSM parameter holding the recommended
// ECS-optimized Amazon Linux 2023 AMI for the architecture.
func AMIParameter(arm64 bool) string {
	if arm64 {
		return "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
	}
	return "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

// Inputs are the earlier layers' outputs the layer needs.
type Inputs struct {
	Network  *stack.NetworkOutput
	Security *stack.SecurityOutput
}

// ClusterName is the ECS cluster's name: the stack's.
func ClusterName(spec stack.Spec) string { return spec.Name }

// GroupName is the Auto Scaling group's name.
func GroupName(spec stack.Spec) string { return spec.ResourceName(Group) }

// CapacityProviderName is the capacity provider's name.
func CapacityProviderName(spec stack.Spec) string { return spec.ResourceName(CapacityProvider) }

// HookName names a lifecycle hook.
func HookName(spec stack.Spec, hook string) string { return spec.ResourceName(hook) }

// Reconcile creates or repairs the layer, deletes the stack's launch
// templates, groups and hooks it no longer wants, and returns its names.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, in Inputs) (*stack.ComputeOutput, error) {
	if in.Network == nil || in.Security == nil {
		return nil, stack.Missing(Layer, "network", "security")
	}
	net, sec := in.Network, in.Security
	spec := run.Spec
	inv, err := find(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	out := &stack.ComputeOutput{ClusterName: ClusterName(spec), CapacityProviderName: CapacityProviderName(spec), AutoScalingGroupName: GroupName(spec)}
	param, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(AMIParameter(spec.Arm64()))})
	if err != nil {
		return nil, fmt.Errorf("reading the ECS-optimized AMI parameter: %w", err)
	}
	out.ImageID = aws.ToString(param.Parameter.Value)
	if out.ClusterARN, err = reconcileCluster(ctx, c.ECS, run); err != nil {
		return nil, err
	}
	if out.LaunchTemplateID, err = reconcileLaunchTemplate(ctx, c.EC2, run, inv, LaunchTemplateData(spec, out.ImageID, sec.InstanceSecurityGroupID)); err != nil {
		return nil, err
	}
	groupARN, err := reconcileGroup(ctx, c.AutoScaling, run, out.LaunchTemplateID, net.PrivateSubnetIDs)
	if err != nil {
		return nil, err
	}
	if err := reconcileCapacityProvider(ctx, c.ECS, run, groupARN); err != nil {
		return nil, err
	}
	if err := scaleOutGroup(ctx, c.AutoScaling, run); err != nil {
		return nil, err
	}
	u := inv.unwanted(spec)
	if err := deleteGroups(ctx, c.AutoScaling, run, u.groups); err != nil {
		return nil, err
	}
	return out, deleteTemplates(ctx, c.EC2, run, u.templates)
}

// scaleOutGroup gives the group its size once its capacity provider exists.
// The group is created empty because an instance that registers with the
// cluster before the capacity provider exists never joins it, so no task
// using the provider is placed there; AWS's guide recommends an empty group
// for this reason. Later runs repair the minimum and maximum and leave the
// desired capacity to the capacity provider's managed scaling (raising the
// minimum above it raises it too).
func scaleOutGroup(ctx context.Context, api AutoScalingAPI, run *stack.Run) error {
	spec := run.Spec
	c := spec.Compute
	name := GroupName(spec)
	g, err := FindGroup(ctx, api, spec)
	if err != nil {
		return err
	}
	var minSize, maxSize, desired int32
	if g != nil {
		minSize, maxSize, desired = aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity)
		// An empty group is one the build created and has not scaled out
		// yet: the service's tasks keep managed scaling from emptying it.
		if minSize == c.MinSize && maxSize == c.MaxSize && desired > 0 {
			return nil
		}
	}
	in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(c.MinSize), MaxSize: aws.Int32(c.MaxSize)}
	detail := fmt.Sprintf("size %d-%d, want %d-%d", minSize, maxSize, c.MinSize, c.MaxSize)
	if desired == 0 {
		in.DesiredCapacity = aws.Int32(c.DesiredCapacity)
		detail = fmt.Sprintf("scale out to %d (min %d max %d) now that its capacity provider exists", c.DesiredCapacity, c.MinSize, c.MaxSize)
	}
	_, err = run.Do(ctx, stack.NewChange(Layer, stack.Update, "autoscaling:group", Group, name, detail), func(ctx context.Context) (string, error) {
		_, err := api.UpdateAutoScalingGroup(ctx, in)
		return name, err
	})
	return err
}

// inventory is what find saw of the layer's resources that carry tags:
// launch templates and Auto Scaling groups, by component. The cluster and
// the capacity provider are one of a kind, found by name and checked for
// the stack's tags (FindCluster, FindCapacityProvider).
type inventory struct {
	templates map[string]ec2types.LaunchTemplate
	groups    map[string]astypes.AutoScalingGroup
}

// find lists the stack's launch templates and groups by their tags.
func find(ctx context.Context, c Clients, spec stack.Spec) (*inventory, error) {
	inv := &inventory{templates: map[string]ec2types.LaunchTemplate{}, groups: map[string]astypes.AutoScalingGroup{}}
	lts := ec2.NewDescribeLaunchTemplatesPaginator(c.EC2, &ec2.DescribeLaunchTemplatesInput{Filters: spec.EC2Filter()})
	for lts.HasMorePages() {
		page, err := lts.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing launch templates: %w", err)
		}
		for _, lt := range page.LaunchTemplates {
			inv.templates[stack.EC2TagMap(lt.Tags)[stack.TagComponent]] = lt
		}
	}
	var filters []astypes.Filter
	for _, f := range spec.EC2Filter() {
		filters = append(filters, astypes.Filter{Name: f.Name, Values: f.Values})
	}
	groups := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{Filters: filters})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing Auto Scaling groups: %w", err)
		}
		for _, g := range page.AutoScalingGroups {
			inv.groups[aws.ToString(g.AutoScalingGroupName)] = g
		}
	}
	return inv, nil
}

// unwanted returns the launch templates that are not the layer's, and the
// groups tagged for the stack under another name than its group's.
func (inv *inventory) unwanted(spec stack.Spec) *inventory {
	u := &inventory{templates: map[string]ec2types.LaunchTemplate{}, groups: map[string]astypes.AutoScalingGroup{}}
	for c, lt := range inv.templates {
		if c != LaunchTemplate {
			u.templates[c] = lt
		}
	}
	for name, g := range inv.groups {
		if name != GroupName(spec) {
			u.groups[name] = g
		}
	}
	return u
}
