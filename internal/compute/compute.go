// Package compute reconciles the container-instance fleet: the launch
// template (the ECS-optimized Amazon Linux 2023 AMI from its public SSM
// parameter, IMDSv2 required, an encrypted root volume, user data that joins
// the cluster), the Auto Scaling group over both private subnets with its
// launch and terminate lifecycle hooks, the ECS cluster, and the capacity
// provider with managed scaling.
package compute

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/security"
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

// Output is what the later layers need.
type Output struct {
	ClusterName          string `json:"clusterName"`
	ClusterARN           string `json:"clusterArn"`
	CapacityProviderName string `json:"capacityProviderName"`
	AutoScalingGroupName string `json:"autoScalingGroupName"`
	LaunchTemplateID     string `json:"launchTemplateId"`
	ImageID              string `json:"imageId"`
}

// ClusterName is the ECS cluster's name: the stack's.
func ClusterName(spec stack.Spec) string { return spec.Name }

// GroupName is the Auto Scaling group's name.
func GroupName(spec stack.Spec) string { return spec.ResourceName(Group) }

// CapacityProviderName is the capacity provider's name.
func CapacityProviderName(spec stack.Spec) string { return spec.ResourceName(CapacityProvider) }

// HookName names a lifecycle hook.
func HookName(spec stack.Spec, hook string) string { return spec.ResourceName(hook) }

func change(a stack.Action, resource, name, id, detail string) stack.Change {
	return stack.Change{Action: a, Layer: Layer, Resource: resource, Name: name, ID: id, Detail: detail}
}

// Reconcile creates or repairs the layer and returns its names.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, net *network.Output, sec *security.Output) (*Output, error) {
	spec := run.Spec
	out := &Output{ClusterName: ClusterName(spec), CapacityProviderName: CapacityProviderName(spec), AutoScalingGroupName: GroupName(spec)}
	param, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(AMIParameter(spec.Arm64()))})
	if err != nil {
		return nil, fmt.Errorf("reading the ECS-optimized AMI parameter: %w", err)
	}
	out.ImageID = aws.ToString(param.Parameter.Value)
	if out.ClusterARN, err = reconcileCluster(ctx, c.ECS, run); err != nil {
		return nil, err
	}
	if out.LaunchTemplateID, err = reconcileLaunchTemplate(ctx, c.EC2, run, LaunchTemplateData(spec, out.ImageID, sec.InstanceSecurityGroupID)); err != nil {
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
	return out, nil
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
		if minSize == c.MinSize && maxSize == c.MaxSize {
			return nil
		}
	}
	in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(c.MinSize), MaxSize: aws.Int32(c.MaxSize)}
	detail := fmt.Sprintf("size %d-%d, want %d-%d", minSize, maxSize, c.MinSize, c.MaxSize)
	if minSize == 0 && desired == 0 {
		in.DesiredCapacity = aws.Int32(c.DesiredCapacity)
		detail = fmt.Sprintf("scale out to %d (min %d max %d) now that its capacity provider exists", c.DesiredCapacity, c.MinSize, c.MaxSize)
	}
	_, err = run.Do(ctx, change(stack.Update, "autoscaling:group", Group, name, detail), func(ctx context.Context) (string, error) {
		_, err := api.UpdateAutoScalingGroup(ctx, in)
		return name, err
	})
	return err
}

// UserData is the instance's boot script: it joins the cluster.
func UserData(spec stack.Spec) string {
	return "#!/bin/bash\n" +
		"cat >> /etc/ecs/ecs.config <<'CONFIG'\n" +
		"ECS_CLUSTER=" + ClusterName(spec) + "\n" +
		"ECS_ENABLE_TASK_IAM_ROLE=true\n" +
		"ECS_ENABLE_CONTAINER_METADATA=true\n" +
		"ECS_CONTAINER_STOP_TIMEOUT=60s\n" +
		"CONFIG\n"
}

// LaunchTemplateData is the desired launch template content.
func LaunchTemplateData(spec stack.Spec, imageID, instanceSG string) *ec2types.RequestLaunchTemplateData {
	instanceTags := network.EC2Tags(spec.Tags("instance"))
	return &ec2types.RequestLaunchTemplateData{
		ImageId:            aws.String(imageID),
		InstanceType:       ec2types.InstanceType(spec.Compute.InstanceType),
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: aws.String(spec.Roles.InstanceProfileARN)},
		SecurityGroupIds:   []string{instanceSG},
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpEndpoint: ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
			HttpTokens:   ec2types.LaunchTemplateHttpTokensStateRequired,
			// awsvpc tasks never use the instance's metadata; one hop keeps
			// containers from reaching the instance role.
			HttpPutResponseHopLimit: aws.Int32(1),
		},
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeSize: aws.Int32(spec.Compute.RootVolumeGiB), VolumeType: ec2types.VolumeTypeGp3,
				Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true),
			},
		}},
		Monitoring: &ec2types.LaunchTemplatesMonitoringRequest{Enabled: aws.Bool(true)},
		UserData:   aws.String(base64.StdEncoding.EncodeToString([]byte(UserData(spec)))),
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: instanceTags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: instanceTags},
		},
	}
}

// templateDrift lists what differs between the desired data and a version.
func templateDrift(want *ec2types.RequestLaunchTemplateData, got *ec2types.ResponseLaunchTemplateData) []string {
	if got == nil {
		return []string{"no default version"}
	}
	var d []string
	diff := func(field, w, g string) {
		if w != g {
			d = append(d, fmt.Sprintf("%s %q, want %q", field, g, w))
		}
	}
	diff("image", aws.ToString(want.ImageId), aws.ToString(got.ImageId))
	diff("instance type", string(want.InstanceType), string(got.InstanceType))
	var profile string
	if got.IamInstanceProfile != nil {
		profile = aws.ToString(got.IamInstanceProfile.Arn)
	}
	diff("instance profile", aws.ToString(want.IamInstanceProfile.Arn), profile)
	diff("security groups", strings.Join(want.SecurityGroupIds, ","), strings.Join(got.SecurityGroupIds, ","))
	var tokens, endpoint string
	var hops int32
	if m := got.MetadataOptions; m != nil {
		tokens, endpoint, hops = string(m.HttpTokens), string(m.HttpEndpoint), aws.ToInt32(m.HttpPutResponseHopLimit)
	}
	diff("http tokens", string(want.MetadataOptions.HttpTokens), tokens)
	diff("metadata endpoint", string(want.MetadataOptions.HttpEndpoint), endpoint)
	diff("hop limit", fmt.Sprint(aws.ToInt32(want.MetadataOptions.HttpPutResponseHopLimit)), fmt.Sprint(hops))
	var root string
	for _, b := range got.BlockDeviceMappings {
		if aws.ToString(b.DeviceName) == "/dev/xvda" && b.Ebs != nil {
			root = fmt.Sprintf("%d GiB %s encrypted=%t", aws.ToInt32(b.Ebs.VolumeSize), b.Ebs.VolumeType, aws.ToBool(b.Ebs.Encrypted))
		}
	}
	wb := want.BlockDeviceMappings[0].Ebs
	diff("root volume", fmt.Sprintf("%d GiB %s encrypted=%t", aws.ToInt32(wb.VolumeSize), wb.VolumeType, aws.ToBool(wb.Encrypted)), root)
	if aws.ToString(want.UserData) != aws.ToString(got.UserData) {
		d = append(d, "user data")
	}
	return d
}

func reconcileLaunchTemplate(ctx context.Context, api EC2API, run *stack.Run, data *ec2types.RequestLaunchTemplateData) (string, error) {
	spec := run.Spec
	found, err := api.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: append(network.StackFilter(spec),
		ec2types.Filter{Name: aws.String("tag:" + stack.TagComponent), Values: []string{LaunchTemplate}})})
	if err != nil {
		return "", fmt.Errorf("describing launch templates: %w", err)
	}
	if len(found.LaunchTemplates) == 0 {
		return run.Do(ctx, change(stack.Create, "ec2:launch-template", LaunchTemplate, "", fmt.Sprintf("%s %s, IMDSv2 required, encrypted root", data.InstanceType, aws.ToString(data.ImageId))),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
					LaunchTemplateName: aws.String(spec.ResourceName(LaunchTemplate)),
					LaunchTemplateData: data,
					ClientToken:        aws.String(run.ClientToken(LaunchTemplate)),
					TagSpecifications:  network.TagSpecifications(spec, ec2types.ResourceTypeLaunchTemplate, LaunchTemplate),
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.LaunchTemplate.LaunchTemplateId), nil
			})
	}
	id := aws.ToString(found.LaunchTemplates[0].LaunchTemplateId)
	versions, err := api.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{"$Default"}})
	if err != nil {
		return "", fmt.Errorf("describing the default version of %s: %w", id, err)
	}
	var got *ec2types.ResponseLaunchTemplateData
	if len(versions.LaunchTemplateVersions) > 0 {
		got = versions.LaunchTemplateVersions[0].LaunchTemplateData
	}
	drift := templateDrift(data, got)
	if len(drift) == 0 {
		return id, nil
	}
	return run.Do(ctx, change(stack.Update, "ec2:launch-template", LaunchTemplate, id, "new default version: "+strings.Join(drift, "; ")),
		func(ctx context.Context) (string, error) {
			v, err := api.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
				LaunchTemplateId: aws.String(id), LaunchTemplateData: data,
				ClientToken: aws.String(run.ClientToken(LaunchTemplate + "-" + strings.Join(drift, ";"))),
			})
			if err != nil {
				return id, err
			}
			_, err = api.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
				LaunchTemplateId: aws.String(id), DefaultVersion: aws.String(fmt.Sprint(aws.ToInt64(v.LaunchTemplateVersion.VersionNumber))),
			})
			return id, err
		})
}

func groupTags(spec stack.Spec) []astypes.Tag {
	tag := func(k, v string) astypes.Tag {
		return astypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(false),
			ResourceId: aws.String(GroupName(spec)), ResourceType: aws.String("auto-scaling-group")}
	}
	var tags []astypes.Tag
	for _, t := range spec.Tags(Group) {
		tags = append(tags, tag(t.Key, t.Value))
	}
	// ECS requires this tag on a group that a capacity provider manages.
	return append(tags, tag("AmazonECSManaged", ""))
}

// Hooks returns the desired lifecycle hooks. The launch hook abandons an
// instance that never registers; the terminate hook continues, so a stuck
// drain cannot block scale-in forever.
func Hooks(spec stack.Spec) []astypes.LifecycleHookSpecification {
	return []astypes.LifecycleHookSpecification{
		{LifecycleHookName: aws.String(HookName(spec, LaunchHook)), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_LAUNCHING"),
			HeartbeatTimeout: aws.Int32(spec.Compute.LaunchHookTimeout), DefaultResult: aws.String("ABANDON")},
		{LifecycleHookName: aws.String(HookName(spec, TerminateHook)), LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"),
			HeartbeatTimeout: aws.Int32(spec.Compute.TerminateHookTimeout), DefaultResult: aws.String("CONTINUE")},
	}
}

// FindGroup returns the stack's Auto Scaling group, or nil when there is
// none. A group of that name without the stack's tags is a ConflictError.
func FindGroup(ctx context.Context, api AutoScalingAPI, spec stack.Spec) (*astypes.AutoScalingGroup, error) {
	out, err := api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{GroupName(spec)}})
	if err != nil {
		return nil, fmt.Errorf("describing Auto Scaling group %s: %w", GroupName(spec), err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, nil
	}
	g := out.AutoScalingGroups[0]
	tags := map[string]string{}
	for _, t := range g.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if !spec.Owned(tags) {
		return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("Auto Scaling group %s exists but is not tagged as part of stack %s", GroupName(spec), spec.Name)}
	}
	return &g, nil
}

func reconcileGroup(ctx context.Context, api AutoScalingAPI, run *stack.Run, ltID string, subnets []string) (string, error) {
	spec := run.Spec
	name := GroupName(spec)
	g, err := FindGroup(ctx, api, spec)
	if err != nil {
		return "", err
	}
	zoneIDs := strings.Join(subnets, ",")
	lt := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Default")}
	if g == nil {
		c := spec.Compute
		id, err := run.Do(ctx, change(stack.Create, "autoscaling:group", Group, "", fmt.Sprintf("empty, max %d, over %s, with launch and terminate hooks", c.MaxSize, zoneIDs)),
			func(ctx context.Context) (string, error) {
				_, err := api.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
					AutoScalingGroupName: aws.String(name), LaunchTemplate: lt,
					// Empty until its capacity provider exists: see scaleOutGroup.
					MinSize: aws.Int32(0), MaxSize: aws.Int32(c.MaxSize), DesiredCapacity: aws.Int32(0),
					VPCZoneIdentifier: aws.String(zoneIDs), HealthCheckType: aws.String("EC2"), HealthCheckGracePeriod: aws.Int32(300),
					// The hooks are part of the create, so the first
					// instances already wait on them.
					LifecycleHookSpecificationList: Hooks(spec),
					Tags:                           groupTags(spec),
				})
				return name, err
			})
		if err != nil || run.DryRun {
			return id, err
		}
		// The group may not be visible to Describe for a moment after its
		// create; the capacity provider needs its ARN.
		if err := autoscaling.NewGroupExistsWaiter(api, func(o *autoscaling.GroupExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
		}).Wait(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}}, GroupVisibleTimeout); err != nil {
			return "", fmt.Errorf("waiting for Auto Scaling group %s to be visible: %w", name, err)
		}
		if g, err = FindGroup(ctx, api, spec); err != nil {
			return "", err
		}
		if g == nil {
			return "", &handlererr.RetryableError{Msg: fmt.Sprintf("Auto Scaling group %s is not visible yet", name)}
		}
	} else if drift := groupDrift(spec, g, ltID, subnets); len(drift) > 0 {
		if _, err := run.Do(ctx, change(stack.Update, "autoscaling:group", Group, name, strings.Join(drift, "; ")),
			func(ctx context.Context) (string, error) {
				// The size is scaleOutGroup's, once the capacity provider
				// exists.
				_, err := api.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
					AutoScalingGroupName: aws.String(name), LaunchTemplate: lt,
					VPCZoneIdentifier: aws.String(zoneIDs),
				})
				return name, err
			}); err != nil {
			return "", err
		}
	}
	return aws.ToString(g.AutoScalingGroupARN), reconcileHooks(ctx, api, run)
}

func groupDrift(spec stack.Spec, g *astypes.AutoScalingGroup, ltID string, subnets []string) []string {
	var d []string
	have := strings.Split(aws.ToString(g.VPCZoneIdentifier), ",")
	slices.Sort(have)
	want := slices.Sorted(slices.Values(subnets))
	if !slices.Equal(have, want) {
		d = append(d, fmt.Sprintf("subnets %v, want %v", have, want))
	}
	if g.LaunchTemplate == nil || aws.ToString(g.LaunchTemplate.LaunchTemplateId) != ltID || aws.ToString(g.LaunchTemplate.Version) != "$Default" {
		d = append(d, "launch template, want "+ltID+" $Default")
	}
	return d
}

// reconcileHooks reads the hooks back even right after creating the group,
// so a group created without them (by hand, or by an API that ignored the
// hook list) still gets them.
func reconcileHooks(ctx context.Context, api AutoScalingAPI, run *stack.Run) error {
	spec := run.Spec
	out, err := api.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(GroupName(spec))})
	if err != nil {
		return fmt.Errorf("describing lifecycle hooks of %s: %w", GroupName(spec), err)
	}
	have := map[string]astypes.LifecycleHook{}
	for _, h := range out.LifecycleHooks {
		have[aws.ToString(h.LifecycleHookName)] = h
	}
	for _, w := range Hooks(spec) {
		name := aws.ToString(w.LifecycleHookName)
		h, ok := have[name]
		action, detail := stack.Create, aws.ToString(w.LifecycleTransition)
		if ok {
			if aws.ToString(h.LifecycleTransition) == aws.ToString(w.LifecycleTransition) &&
				aws.ToInt32(h.HeartbeatTimeout) == aws.ToInt32(w.HeartbeatTimeout) && aws.ToString(h.DefaultResult) == aws.ToString(w.DefaultResult) {
				continue
			}
			action, detail = stack.Update, fmt.Sprintf("%s timeout %d default %s, want %d %s", aws.ToString(h.LifecycleTransition),
				aws.ToInt32(h.HeartbeatTimeout), aws.ToString(h.DefaultResult), aws.ToInt32(w.HeartbeatTimeout), aws.ToString(w.DefaultResult))
		}
		if _, err := run.Do(ctx, change(action, "autoscaling:lifecycle-hook", name, GroupName(spec), detail), func(ctx context.Context) (string, error) {
			_, err := api.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
				AutoScalingGroupName: aws.String(GroupName(spec)), LifecycleHookName: w.LifecycleHookName,
				LifecycleTransition: w.LifecycleTransition, HeartbeatTimeout: w.HeartbeatTimeout, DefaultResult: w.DefaultResult,
			})
			return GroupName(spec), err
		}); err != nil {
			return err
		}
	}
	return nil
}

// ECSTags converts the component's tags to ECS's type.
func ECSTags(spec stack.Spec, component string) []ecstypes.Tag {
	var tags []ecstypes.Tag
	for _, t := range spec.Tags(component) {
		tags = append(tags, ecstypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return tags
}

// ECSTagMap converts ECS tags to a map.
func ECSTagMap(tags []ecstypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// FindCluster returns the stack's active cluster, or nil. INACTIVE counts
// as not found.
func FindCluster(ctx context.Context, api ECSAPI, spec stack.Spec) (*ecstypes.Cluster, error) {
	out, err := api.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{ClusterName(spec)}, Include: []ecstypes.ClusterField{ecstypes.ClusterFieldTags}})
	if err != nil {
		return nil, fmt.Errorf("describing cluster %s: %w", ClusterName(spec), err)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.Status) == "INACTIVE" {
			continue
		}
		if !spec.Owned(ECSTagMap(c.Tags)) {
			return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("cluster %s exists but is not tagged as part of stack %s", ClusterName(spec), spec.Name)}
		}
		return &c, nil
	}
	return nil, nil
}

func reconcileCluster(ctx context.Context, api ECSAPI, run *stack.Run) (string, error) {
	c, err := FindCluster(ctx, api, run.Spec)
	if err != nil {
		return "", err
	}
	if c != nil {
		return aws.ToString(c.ClusterArn), nil
	}
	name := ClusterName(run.Spec)
	return run.Do(ctx, change(stack.Create, "ecs:cluster", Cluster, "", name+" with Container Insights"), func(ctx context.Context) (string, error) {
		out, err := api.CreateCluster(ctx, &ecs.CreateClusterInput{
			ClusterName: aws.String(name), Tags: ECSTags(run.Spec, Cluster),
			Settings: []ecstypes.ClusterSetting{{Name: ecstypes.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Cluster.ClusterArn), nil
	})
}

func managedScaling(spec stack.Spec) *ecstypes.ManagedScaling {
	return &ecstypes.ManagedScaling{
		Status: ecstypes.ManagedScalingStatusEnabled, TargetCapacity: aws.Int32(spec.Compute.TargetCapacity),
		MinimumScalingStepSize: aws.Int32(1), MaximumScalingStepSize: aws.Int32(int32(spec.Network.AZCount)),
	}
}

// FindCapacityProvider returns the stack's active capacity provider, or nil.
func FindCapacityProvider(ctx context.Context, api ECSAPI, spec stack.Spec) (*ecstypes.CapacityProvider, error) {
	name := CapacityProviderName(spec)
	out, err := api.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{CapacityProviders: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describing capacity provider %s: %w", name, err)
	}
	for _, p := range out.CapacityProviders {
		if p.Status == ecstypes.CapacityProviderStatusActive && aws.ToString(p.Name) == name {
			return &p, nil
		}
	}
	return nil, nil
}

func reconcileCapacityProvider(ctx context.Context, api ECSAPI, run *stack.Run, groupARN string) error {
	spec := run.Spec
	name := CapacityProviderName(spec)
	cp, err := FindCapacityProvider(ctx, api, spec)
	if err != nil {
		return err
	}
	want := managedScaling(spec)
	switch {
	case cp == nil:
		if _, err := run.Do(ctx, change(stack.Create, "ecs:capacity-provider", CapacityProvider, "", fmt.Sprintf("managed scaling to %d%%", spec.Compute.TargetCapacity)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{
					Name: aws.String(name), Tags: ECSTags(spec, CapacityProvider),
					AutoScalingGroupProvider: &ecstypes.AutoScalingGroupProvider{
						AutoScalingGroupArn: aws.String(groupARN), ManagedScaling: want,
						ManagedTerminationProtection: ecstypes.ManagedTerminationProtectionDisabled,
						// The control plane's own terminate hook drains
						// instances; ECS's managed draining would race it.
						ManagedDraining: ecstypes.ManagedDrainingDisabled,
					},
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.CapacityProvider.CapacityProviderArn), nil
			}); err != nil {
			return err
		}
	default:
		var got *ecstypes.ManagedScaling
		if cp.AutoScalingGroupProvider != nil {
			got = cp.AutoScalingGroupProvider.ManagedScaling
		}
		if got == nil || got.Status != want.Status || aws.ToInt32(got.TargetCapacity) != aws.ToInt32(want.TargetCapacity) {
			detail := "managed scaling off"
			if got != nil {
				detail = fmt.Sprintf("managed scaling %s at %d%%", got.Status, aws.ToInt32(got.TargetCapacity))
			}
			if _, err := run.Do(ctx, change(stack.Update, "ecs:capacity-provider", CapacityProvider, aws.ToString(cp.CapacityProviderArn), detail+fmt.Sprintf(", want ENABLED at %d%%", spec.Compute.TargetCapacity)),
				func(ctx context.Context) (string, error) {
					_, err := api.UpdateCapacityProvider(ctx, &ecs.UpdateCapacityProviderInput{
						Name: aws.String(name), AutoScalingGroupProvider: &ecstypes.AutoScalingGroupProviderUpdate{ManagedScaling: want},
					})
					return aws.ToString(cp.CapacityProviderArn), err
				}); err != nil {
				return err
			}
		}
	}
	var cluster *ecstypes.Cluster
	if !run.DryRun || cp != nil {
		if cluster, err = FindCluster(ctx, api, spec); err != nil {
			return err
		}
	}
	if cluster != nil && slices.Equal(cluster.CapacityProviders, []string{name}) && len(cluster.DefaultCapacityProviderStrategy) == 1 &&
		aws.ToString(cluster.DefaultCapacityProviderStrategy[0].CapacityProvider) == name {
		return nil
	}
	action, detail := stack.Create, name+" as the default strategy"
	if cluster != nil && len(cluster.CapacityProviders) > 0 {
		action, detail = stack.Update, fmt.Sprintf("%v, want %s as the default strategy", cluster.CapacityProviders, name)
	}
	_, err = run.Do(ctx, change(action, "ecs:cluster-capacity-providers", Cluster, ClusterName(spec), detail),
		func(ctx context.Context) (string, error) {
			_, err := api.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
				Cluster: aws.String(ClusterName(spec)), CapacityProviders: []string{name},
				DefaultCapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String(name), Weight: 1}},
			})
			return ClusterName(spec), err
		})
	return err
}
