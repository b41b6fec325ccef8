package sim

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

func init() {
	handle(asgID, "CreateAutoScalingGroup", (*Sim).createAutoScalingGroup)
	handle(asgID, "UpdateAutoScalingGroup", (*Sim).updateAutoScalingGroup)
	handle(asgID, "DeleteAutoScalingGroup", (*Sim).deleteAutoScalingGroup)
	handle(asgID, "DescribeAutoScalingGroups", (*Sim).describeAutoScalingGroups)
}

// resolveTemplate checks a group's launch template specification.
func (s *Sim) resolveTemplate(spec *types.LaunchTemplateSpecification) (*launchTemplate, error) {
	if spec.LaunchTemplateId != nil && spec.LaunchTemplateName != nil {
		return nil, validationError("Valid requests must contain either launchTemplateId or LaunchTemplateName")
	}
	lt, err := s.findLaunchTemplate(spec.LaunchTemplateId, spec.LaunchTemplateName)
	if err != nil {
		if spec.LaunchTemplateId != nil {
			return nil, validationError("You must use a valid fully-formed launch template. The specified launch template, with template ID %s, does not exist.", *spec.LaunchTemplateId)
		}
		return nil, validationError("You must use a valid fully-formed launch template. The specified launch template, with template name %s, does not exist.", aws.ToString(spec.LaunchTemplateName))
	}
	if _, err := lt.version(aws.ToString(spec.Version)); err != nil {
		return nil, validationError("You must use a valid fully-formed launch template. %s", err.Error())
	}
	return lt, nil
}

// resolveSubnets checks a VPCZoneIdentifier.
func (s *Sim) resolveSubnets(ident string) ([]string, error) {
	var ids []string
	vpcID := ""
	for _, id := range strings.Split(ident, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		sn, ok := lookup(s, s.ec2.subnets, id)
		if !ok {
			return nil, validationError("The subnet ID '%s' does not exist", id)
		}
		if vpcID != "" && sn.vpcID != vpcID {
			return nil, validationError("The subnets %s are not in the same VPC", ident)
		}
		vpcID = sn.vpcID
		if !containsString(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, validationError("At least one Availability Zone or VPC Subnet is required.")
	}
	return ids, nil
}

func checkBounds(minSize, maxSize, desired int32) error {
	if minSize > maxSize {
		return validationError("Max bound, %d, must be greater than or equal to min bound, %d", maxSize, minSize)
	}
	if desired < minSize || desired > maxSize {
		return validationError("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, minSize, maxSize)
	}
	return nil
}

func (s *Sim) createAutoScalingGroup(in *autoscaling.CreateAutoScalingGroupInput) (*autoscaling.CreateAutoScalingGroupOutput, error) {
	name := aws.ToString(in.AutoScalingGroupName)
	if _, exists := s.asg.groups[name]; exists {
		return nil, &types.AlreadyExistsFault{Message: aws.String("AutoScalingGroup by this name already exists - A group with the name " + name + " already exists")}
	}
	if in.LaunchTemplate == nil {
		if in.MixedInstancesPolicy != nil || in.LaunchConfigurationName != nil || in.InstanceId != nil {
			return nil, apiError("UnsupportedOperation", "The simulator launches Auto Scaling groups from launch templates only.")
		}
		return nil, validationError("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	if _, err := s.resolveTemplate(in.LaunchTemplate); err != nil {
		return nil, err
	}
	if in.VPCZoneIdentifier == nil {
		if len(in.AvailabilityZones) > 0 {
			return nil, validationError("No default subnet for availability zone: '%s'.", in.AvailabilityZones[0])
		}
		return nil, validationError("At least one Availability Zone or VPC Subnet is required.")
	}
	subnets, err := s.resolveSubnets(*in.VPCZoneIdentifier)
	if err != nil {
		return nil, err
	}
	minSize, maxSize := aws.ToInt32(in.MinSize), aws.ToInt32(in.MaxSize)
	desired := minSize
	if in.DesiredCapacity != nil {
		desired = *in.DesiredCapacity
	}
	if err := checkBounds(minSize, maxSize, desired); err != nil {
		return nil, err
	}
	healthType := aws.ToString(in.HealthCheckType)
	if healthType == "" {
		healthType = "EC2"
	}
	if !slices.Contains([]string{"EC2", "ELB", "VPC_LATTICE", "EBS"}, healthType) {
		return nil, validationError("Health check type %s is not a valid type. Valid types are EC2, ELB, VPC_LATTICE or EBS.", healthType)
	}
	hooks := map[string]*lifecycleHook{}
	for _, spec := range in.LifecycleHookSpecificationList {
		h, err := newLifecycleHook(spec.LifecycleHookName, spec.LifecycleTransition, spec.DefaultResult, spec.HeartbeatTimeout, spec.NotificationMetadata, spec.NotificationTargetARN, spec.RoleARN, nil)
		if err != nil {
			return nil, err
		}
		hooks[h.name] = h
	}
	tags, err := asgTags(name, in.Tags)
	if err != nil {
		return nil, err
	}
	cooldown := int32(300)
	if in.DefaultCooldown != nil {
		cooldown = *in.DefaultCooldown
	}
	s.asg.seq++
	lt := *in.LaunchTemplate
	g := &asGroup{
		seq: s.asg.seq, created: s.clock.now, name: name,
		arn:    s.arn("autoscaling", "autoScalingGroup:"+s.newUUID()+":autoScalingGroupName/"+name),
		ltSpec: types.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplateId, LaunchTemplateName: lt.LaunchTemplateName, Version: lt.Version},
		min:    minSize, max: maxSize, desired: desired, subnetIDs: subnets, vpcZoneIdentifier: *in.VPCZoneIdentifier,
		healthCheckType: healthType, grace: aws.ToInt32(in.HealthCheckGracePeriod), cooldown: cooldown,
		protectNew: aws.ToBool(in.NewInstancesProtectedFromScaleIn), capacityRebalance: aws.ToBool(in.CapacityRebalance),
		terminationPolicies: in.TerminationPolicies, targetGroups: append([]string(nil), in.TargetGroupARNs...),
		hooks: hooks, tags: tags, suspended: map[string]string{}, instances: map[string]*asgInstance{}, shifted: map[string]bool{},
	}
	if err := g.impairmentPolicy(in.AvailabilityZoneImpairmentPolicy); err != nil {
		return nil, err
	}
	if len(g.terminationPolicies) == 0 {
		g.terminationPolicies = []string{"Default"}
	}
	g.cause = s.causef("a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.", desired)
	s.asg.groups[name] = g
	s.asgKick(g, s.timings.ScalingReaction)
	return &autoscaling.CreateAutoScalingGroupOutput{}, nil
}

func (s *Sim) updateAutoScalingGroup(in *autoscaling.UpdateAutoScalingGroupInput) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	if g.deleting {
		return nil, &types.ScalingActivityInProgressFault{Message: aws.String("The group is being deleted.")}
	}
	minSize, maxSize, desired := g.min, g.max, g.desired
	if in.MinSize != nil {
		minSize = *in.MinSize
	}
	if in.MaxSize != nil {
		maxSize = *in.MaxSize
	}
	if in.DesiredCapacity != nil {
		desired = *in.DesiredCapacity
	} else {
		// AWS moves the desired capacity into a changed range rather than
		// refusing the update.
		desired = max(min(desired, maxSize), minSize)
	}
	if err := checkBounds(minSize, maxSize, desired); err != nil {
		return nil, err
	}
	if in.LaunchTemplate != nil {
		if _, err := s.resolveTemplate(in.LaunchTemplate); err != nil {
			return nil, err
		}
	}
	var subnets []string
	if in.VPCZoneIdentifier != nil {
		if subnets, err = s.resolveSubnets(*in.VPCZoneIdentifier); err != nil {
			return nil, err
		}
	}
	policy := *g
	if err := policy.impairmentPolicy(in.AvailabilityZoneImpairmentPolicy); err != nil {
		return nil, err
	}
	if in.HealthCheckType != nil {
		if !slices.Contains([]string{"EC2", "ELB", "VPC_LATTICE", "EBS"}, *in.HealthCheckType) {
			return nil, validationError("Health check type %s is not a valid type. Valid types are EC2, ELB, VPC_LATTICE or EBS.", *in.HealthCheckType)
		}
		g.healthCheckType = *in.HealthCheckType
	}
	if in.LaunchTemplate != nil {
		lt := *in.LaunchTemplate
		g.ltSpec = types.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplateId, LaunchTemplateName: lt.LaunchTemplateName, Version: lt.Version}
	}
	if subnets != nil {
		g.subnetIDs, g.vpcZoneIdentifier = subnets, *in.VPCZoneIdentifier
	}
	if in.HealthCheckGracePeriod != nil {
		g.grace = *in.HealthCheckGracePeriod
	}
	if in.DefaultCooldown != nil {
		g.cooldown = *in.DefaultCooldown
	}
	if in.NewInstancesProtectedFromScaleIn != nil {
		g.protectNew = *in.NewInstancesProtectedFromScaleIn
	}
	if in.CapacityRebalance != nil {
		g.capacityRebalance = *in.CapacityRebalance
	}
	g.zonalShift, g.ignoreImpaired = policy.zonalShift, policy.ignoreImpaired
	if len(in.TerminationPolicies) > 0 {
		g.terminationPolicies = in.TerminationPolicies
	}
	if desired != g.desired {
		g.cause = s.causef("a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.", minSize, maxSize, desired, g.desired, desired)
	}
	g.min, g.max, g.desired = minSize, maxSize, desired
	s.asgKick(g, s.timings.ScalingReaction)
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}

func (s *Sim) deleteAutoScalingGroup(in *autoscaling.DeleteAutoScalingGroupInput) (*autoscaling.DeleteAutoScalingGroupOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	if g.deleting {
		return &autoscaling.DeleteAutoScalingGroupOutput{}, nil
	}
	if !aws.ToBool(in.ForceDelete) {
		if len(g.instances) > 0 {
			return nil, &types.ResourceInUseFault{Message: aws.String("You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")}
		}
		if g.desired > 0 {
			return nil, &types.ScalingActivityInProgressFault{Message: aws.String("You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.")}
		}
		s.removeGroup(g)
		return &autoscaling.DeleteAutoScalingGroupOutput{}, nil
	}
	g.deleting = true
	g.min, g.max, g.desired = 0, 0, 0
	g.reconcile.stop()
	g.healthCheck.stop()
	for _, ai := range g.sortedInstances() {
		for _, a := range ai.actions {
			a.timer.stop()
		}
		ai.actions = nil
		if inst, ok := s.ec2.instances[ai.id]; ok {
			s.setASGInstanceState(g, ai, types.LifecycleStateTerminatingProceed)
			s.terminateInstance(inst)
		}
	}
	s.maybeRemoveGroup(g)
	return &autoscaling.DeleteAutoScalingGroupOutput{}, nil
}

// maybeRemoveGroup finishes a forced delete once the group's instances are
// gone.
func (s *Sim) maybeRemoveGroup(g *asGroup) {
	if !g.deleting {
		return
	}
	for _, ai := range g.instances {
		if inst, ok := s.ec2.instances[ai.id]; ok && inst.state != stateTerminated {
			return
		}
	}
	s.removeGroup(g)
}

func (s *Sim) removeGroup(g *asGroup) {
	g.reconcile.stop()
	g.healthCheck.stop()
	delete(s.asg.groups, g.name)
}

func groupMatches(g *asGroup, filters []types.Filter) (bool, error) {
	for _, f := range filters {
		name := aws.ToString(f.Name)
		var have []string
		switch {
		case strings.HasPrefix(name, "tag:"):
			if t, ok := g.tags[strings.TrimPrefix(name, "tag:")]; ok {
				have = []string{t.value}
			}
		case name == "tag-key":
			for k := range g.tags {
				have = append(have, k)
			}
		case name == "tag-value":
			for _, t := range g.tags {
				have = append(have, t.value)
			}
		default:
			return false, validationError("Filter type %s is not correct. Allowed Filter types are: tag-key tag-value tag:<key> ", name)
		}
		found := false
		for _, v := range f.Values {
			if containsString(have, v) {
				found = true
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

func (s *Sim) describeAutoScalingGroups(in *autoscaling.DescribeAutoScalingGroupsInput) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	var groups []*asGroup
	for _, g := range s.visibleGroups() {
		if len(in.AutoScalingGroupNames) > 0 && !containsString(in.AutoScalingGroupNames, g.name) {
			continue
		}
		ok, err := groupMatches(g, in.Filters)
		if err != nil {
			return nil, err
		}
		if ok {
			groups = append(groups, g)
		}
	}
	page, next, err := paginateRecords(groups, in.MaxRecords, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []types.AutoScalingGroup{}, NextToken: next}
	for _, g := range page {
		out.AutoScalingGroups = append(out.AutoScalingGroups, s.groupOut(g))
	}
	return out, nil
}

func (s *Sim) groupOut(g *asGroup) types.AutoScalingGroup {
	out := types.AutoScalingGroup{
		AutoScalingGroupName: aws.String(g.name), AutoScalingGroupARN: aws.String(g.arn),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: g.ltSpec.LaunchTemplateId, LaunchTemplateName: g.ltSpec.LaunchTemplateName, Version: g.ltSpec.Version},
		MinSize:        aws.Int32(g.min), MaxSize: aws.Int32(g.max), DesiredCapacity: aws.Int32(g.desired),
		DefaultCooldown: aws.Int32(g.cooldown), AvailabilityZones: s.groupZones(g), HealthCheckType: aws.String(g.healthCheckType),
		HealthCheckGracePeriod: aws.Int32(g.grace), CreatedTime: aws.Time(g.created), VPCZoneIdentifier: aws.String(g.vpcZoneIdentifier),
		NewInstancesProtectedFromScaleIn: aws.Bool(g.protectNew), CapacityRebalance: aws.Bool(g.capacityRebalance),
		TerminationPolicies: g.terminationPolicies, TargetGroupARNs: append([]string{}, g.targetGroups...),
		LoadBalancerNames: []string{}, EnabledMetrics: []types.EnabledMetric{}, SuspendedProcesses: []types.SuspendedProcess{},
		ServiceLinkedRoleARN: aws.String("arn:aws:iam::" + s.account + ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
		Instances:            []types.Instance{}, Tags: s.groupTags(g), TrafficSources: []types.TrafficSourceIdentifier{},
		AvailabilityZoneImpairmentPolicy: g.impairmentOut(),
	}
	// The launch template is reported the way it was given, plus the
	// template's other identifier, as AWS fills both in.
	if lt, err := s.findLaunchTemplate(g.ltSpec.LaunchTemplateId, g.ltSpec.LaunchTemplateName); err == nil {
		out.LaunchTemplate.LaunchTemplateId, out.LaunchTemplate.LaunchTemplateName = aws.String(lt.id), aws.String(lt.name)
	}
	if out.LaunchTemplate.Version == nil {
		out.LaunchTemplate.Version = aws.String("$Default")
	}
	for _, p := range scalingProcesses {
		if reason, ok := g.suspended[p]; ok {
			out.SuspendedProcesses = append(out.SuspendedProcesses, types.SuspendedProcess{ProcessName: aws.String(p), SuspensionReason: aws.String(reason)})
		}
	}
	for _, ai := range g.sortedInstances() {
		if ai.state == types.LifecycleStateTerminated {
			continue
		}
		out.Instances = append(out.Instances, types.Instance{
			InstanceId: aws.String(ai.id), AvailabilityZone: aws.String(ai.az), AvailabilityZoneId: aws.String(ai.azID),
			LifecycleState: ai.state, HealthStatus: aws.String(ai.health), ProtectedFromScaleIn: aws.Bool(ai.protected),
			InstanceType: aws.String(ai.instType), ImageId: aws.String(ai.imageID),
			LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ai.ltID), LaunchTemplateName: aws.String(ai.ltName), Version: aws.String(ai.ltVersion)},
		})
	}
	if g.deleting {
		out.Status = aws.String("Delete in progress")
	}
	return out
}
