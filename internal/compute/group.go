package compute

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// ImpairmentPolicy registers the group with ARC zonal shift, so that
// remediation can keep it from launching into an impaired zone; an
// unhealthy instance is still replaced (ReplaceUnhealthy), into the zones
// the shift leaves.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html
func ImpairmentPolicy() *astypes.AvailabilityZoneImpairmentPolicy {
	return &astypes.AvailabilityZoneImpairmentPolicy{ZonalShiftEnabled: aws.Bool(true), ImpairedZoneHealthCheckBehavior: astypes.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy}
}

func groupTags(spec stack.Spec) []astypes.Tag {
	// ECS requires the AmazonECSManaged tag on a group that a capacity
	// provider manages.
	return stack.AutoScalingTags(append(spec.Tags(Group), stack.Tag{Key: "AmazonECSManaged"}), GroupName(spec))
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
	if !spec.Owned(stack.AutoScalingTagMap(g.Tags)) {
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
		id, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "autoscaling:group", Group, "", fmt.Sprintf("empty, max %d, over %s, with launch and terminate hooks", c.MaxSize, zoneIDs)),
			func(ctx context.Context) (string, error) {
				_, err := api.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
					AutoScalingGroupName: aws.String(name), LaunchTemplate: lt,
					// Empty until its capacity provider exists: see scaleOutGroup.
					MinSize: aws.Int32(0), MaxSize: aws.Int32(c.MaxSize), DesiredCapacity: aws.Int32(0),
					VPCZoneIdentifier: aws.String(zoneIDs), HealthCheckType: aws.String("EC2"), HealthCheckGracePeriod: aws.Int32(300),
					// The hooks are part of the create, so the first
					// instances already wait on them.
					LifecycleHookSpecificationList:   Hooks(spec),
					Tags:                             groupTags(spec),
					AvailabilityZoneImpairmentPolicy: ImpairmentPolicy(),
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
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "autoscaling:group", Group, name, strings.Join(drift, "; ")),
			func(ctx context.Context) (string, error) {
				// The size is scaleOutGroup's, once the capacity provider
				// exists.
				_, err := api.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
					AutoScalingGroupName: aws.String(name), LaunchTemplate: lt,
					VPCZoneIdentifier: aws.String(zoneIDs), AvailabilityZoneImpairmentPolicy: ImpairmentPolicy(),
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
	// A description without the policy says nothing of it (moto keeps
	// none); one that reports it shows whether it drifted.
	if p, want := g.AvailabilityZoneImpairmentPolicy, ImpairmentPolicy(); p != nil && (aws.ToBool(p.ZonalShiftEnabled) != aws.ToBool(want.ZonalShiftEnabled) || p.ImpairedZoneHealthCheckBehavior != want.ImpairedZoneHealthCheckBehavior) {
		d = append(d, fmt.Sprintf("zonal shift %v (%s), want on (%s)", aws.ToBool(p.ZonalShiftEnabled), p.ImpairedZoneHealthCheckBehavior, want.ImpairedZoneHealthCheckBehavior))
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
		if _, err := run.Do(ctx, stack.NewChange(Layer, action, "autoscaling:lifecycle-hook", name, GroupName(spec), detail), func(ctx context.Context) (string, error) {
			_, err := api.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
				AutoScalingGroupName: aws.String(GroupName(spec)), LifecycleHookName: w.LifecycleHookName,
				LifecycleTransition: w.LifecycleTransition, HeartbeatTimeout: w.HeartbeatTimeout, DefaultResult: w.DefaultResult,
			})
			return GroupName(spec), err
		}); err != nil {
			return err
		}
	}
	for _, name := range unwantedHooks(spec, have) {
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "autoscaling:lifecycle-hook", name, GroupName(spec), ""), func(ctx context.Context) error {
			_, err := api.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{AutoScalingGroupName: aws.String(GroupName(spec)), LifecycleHookName: aws.String(name)})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// unwantedHooks lists the group's hooks that are not among Hooks(spec), in
// order.
func unwantedHooks[T any](spec stack.Spec, have map[string]T) []string {
	var out []string
	for _, name := range stack.SortedKeys(have) {
		if !slices.ContainsFunc(Hooks(spec), func(h astypes.LifecycleHookSpecification) bool { return aws.ToString(h.LifecycleHookName) == name }) {
			out = append(out, name)
		}
	}
	return out
}
