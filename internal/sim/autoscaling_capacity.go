package sim

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

func init() {
	handle(asgID, "DescribeAutoScalingInstances", (*Sim).describeAutoScalingInstances)
	handle(asgID, "SetDesiredCapacity", (*Sim).setDesiredCapacity)
	handle(asgID, "TerminateInstanceInAutoScalingGroup", (*Sim).terminateInstanceInAutoScalingGroup)
	handle(asgID, "SetInstanceHealth", (*Sim).setInstanceHealth)
	handle(asgID, "SetInstanceProtection", (*Sim).setInstanceProtection)
}

func (s *Sim) describeAutoScalingInstances(in *autoscaling.DescribeAutoScalingInstancesInput) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	var details []types.AutoScalingInstanceDetails
	for _, g := range s.visibleGroups() {
		for _, ai := range g.sortedInstances() {
			if ai.state == types.LifecycleStateTerminated || (len(in.InstanceIds) > 0 && !containsString(in.InstanceIds, ai.id)) {
				continue
			}
			details = append(details, types.AutoScalingInstanceDetails{
				AutoScalingGroupName: aws.String(g.name), InstanceId: aws.String(ai.id), AvailabilityZone: aws.String(ai.az),
				AvailabilityZoneId: aws.String(ai.azID), LifecycleState: aws.String(string(ai.state)), HealthStatus: aws.String(strings.ToUpper(ai.health)),
				ProtectedFromScaleIn: aws.Bool(ai.protected), InstanceType: aws.String(ai.instType), ImageId: aws.String(ai.imageID),
				LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ai.ltID), LaunchTemplateName: aws.String(ai.ltName), Version: aws.String(ai.ltVersion)},
			})
		}
	}
	page, next, err := paginateRecords(details, in.MaxRecords, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &autoscaling.DescribeAutoScalingInstancesOutput{AutoScalingInstances: page, NextToken: next}, nil
}

func (s *Sim) setDesiredCapacity(in *autoscaling.SetDesiredCapacityInput) (*autoscaling.SetDesiredCapacityOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	desired := aws.ToInt32(in.DesiredCapacity)
	if desired > g.max {
		return nil, validationError("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", desired, g.max)
	}
	if desired < g.min {
		return nil, validationError("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", desired, g.min)
	}
	if aws.ToBool(in.HonorCooldown) && s.clock.now.Before(g.cooldownUntil) {
		return nil, &types.ScalingActivityInProgressFault{Message: aws.String("Scaling activity is in progress or the group is in its cooldown period.")}
	}
	s.setDesired(g, desired, s.causef("a user request explicitly set group desired capacity changing the desired capacity from %d to %d.", g.desired, desired))
	return &autoscaling.SetDesiredCapacityOutput{}, nil
}

// setDesired changes a group's desired capacity on behalf of a caller (a user
// request, or another simulated service such as ECS managed scaling). The
// caller holds Sim.mu and has checked the bounds.
func (s *Sim) setDesired(g *asGroup, desired int32, cause string) {
	if desired == g.desired {
		return
	}
	g.desired = desired
	g.cause = cause
	g.cooldownUntil = s.clock.now.Add(time.Duration(g.cooldown) * time.Second)
	s.asgKick(g, s.timings.ScalingReaction)
}

func (s *Sim) terminateInstanceInAutoScalingGroup(in *autoscaling.TerminateInstanceInAutoScalingGroupInput) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	ids := append([]string(nil), in.InstanceIds...)
	if in.InstanceId != nil {
		ids = append([]string{*in.InstanceId}, ids...)
	}
	if len(ids) == 0 {
		return nil, validationError("Either InstanceId or InstanceIds must be specified.")
	}
	decrement := aws.ToBool(in.ShouldDecrementDesiredCapacity)
	out := &autoscaling.TerminateInstanceInAutoScalingGroupOutput{}
	for _, id := range ids {
		g, ai, ok := s.groupOf(id)
		if !ok || (in.AutoScalingGroupName != nil && g.name != *in.AutoScalingGroupName) {
			return nil, validationError("Instance Id not found - No managed instance found for instance ID: %s", id)
		}
		if decrement && g.desired <= g.min {
			return nil, validationError("Currently, desiredCapacity (%d) is equal to minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.desired, g.min)
		}
		if !ai.active() {
			return nil, &types.ScalingActivityInProgressFault{Message: aws.String("Instance " + id + " is already terminating.")}
		}
		cause := s.causef("instance %s was taken out of service in response to a user request.", id)
		if decrement {
			cause = s.causef("instance %s was taken out of service in response to a user request, shrinking the capacity from %d to %d.", id, g.desired, g.desired-1)
			g.desired--
		}
		act := s.asgBeginTerminate(g, ai, cause)
		o := s.activityOut(g, act)
		out.Activity = &o
		out.Activities = append(out.Activities, o)
		s.asgKick(g, s.timings.ScalingReaction)
	}
	return out, nil
}

func (s *Sim) setInstanceHealth(in *autoscaling.SetInstanceHealthInput) (*autoscaling.SetInstanceHealthOutput, error) {
	id := aws.ToString(in.InstanceId)
	g, ai, ok := s.groupOf(id)
	if !ok {
		return nil, validationError("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	status := aws.ToString(in.HealthStatus)
	if status != "Healthy" && status != "Unhealthy" {
		return nil, validationError("Valid values for health status are Healthy or Unhealthy")
	}
	if aws.ToBool(in.ShouldRespectGracePeriod) && s.inGrace(g, ai) {
		return &autoscaling.SetInstanceHealthOutput{}, nil
	}
	ai.health = status
	if status == "Unhealthy" {
		s.asgKick(g, 0)
	}
	return &autoscaling.SetInstanceHealthOutput{}, nil
}

func (s *Sim) inGrace(g *asGroup, ai *asgInstance) bool {
	return ai.state != types.LifecycleStateInService || s.clock.now.Before(ai.inService.Add(time.Duration(g.grace)*time.Second))
}

func (s *Sim) setInstanceProtection(in *autoscaling.SetInstanceProtectionInput) (*autoscaling.SetInstanceProtectionOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	var targets []*asgInstance
	for _, id := range in.InstanceIds {
		ai, ok := g.instances[id]
		if !ok || ai.state == types.LifecycleStateTerminated {
			return nil, validationError("The instance %s is not part of Auto Scaling group %s.", id, g.name)
		}
		targets = append(targets, ai)
	}
	for _, ai := range targets {
		ai.protected = aws.ToBool(in.ProtectedFromScaleIn)
	}
	s.asgKick(g, s.timings.ScalingReaction)
	return &autoscaling.SetInstanceProtectionOutput{}, nil
}
