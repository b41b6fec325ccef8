package sim

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

const asgID = autoscaling.ServiceID

func init() {
	registerService(service{id: asgID, throttleCode: "Throttling", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) {
		s.asg = &asgState{groups: map[string]*asGroup{}}
		s.instanceObservers = append(s.instanceObservers, s.asgOnInstance)
	})
	handle(asgID, "CreateAutoScalingGroup", (*Sim).createAutoScalingGroup)
	handle(asgID, "UpdateAutoScalingGroup", (*Sim).updateAutoScalingGroup)
	handle(asgID, "DeleteAutoScalingGroup", (*Sim).deleteAutoScalingGroup)
	handle(asgID, "DescribeAutoScalingGroups", (*Sim).describeAutoScalingGroups)
	handle(asgID, "DescribeAutoScalingInstances", (*Sim).describeAutoScalingInstances)
	handle(asgID, "SetDesiredCapacity", (*Sim).setDesiredCapacity)
	handle(asgID, "TerminateInstanceInAutoScalingGroup", (*Sim).terminateInstanceInAutoScalingGroup)
	handle(asgID, "SetInstanceHealth", (*Sim).setInstanceHealth)
	handle(asgID, "SetInstanceProtection", (*Sim).setInstanceProtection)
	handle(asgID, "SuspendProcesses", (*Sim).suspendProcesses)
	handle(asgID, "ResumeProcesses", (*Sim).resumeProcesses)
	handle(asgID, "DescribeScalingActivities", (*Sim).describeScalingActivities)
	handle(asgID, "CreateOrUpdateTags", (*Sim).createOrUpdateASGTags)
	handle(asgID, "DeleteTags", (*Sim).deleteASGTags)
	handle(asgID, "DescribeTags", (*Sim).describeASGTags)
	handle(asgID, "AttachLoadBalancerTargetGroups", (*Sim).attachTargetGroups)
	handle(asgID, "DetachLoadBalancerTargetGroups", (*Sim).detachTargetGroups)
	handle(asgID, "DescribeLoadBalancerTargetGroups", (*Sim).describeTargetGroups)
}

// asgState is the simulated Auto Scaling service.
type asgState struct {
	seq       uint64
	groups    map[string]*asGroup
	observers []func(g *asGroup, inst *asgInstance, prev types.LifecycleState)
}

// asGroup is a simulated Auto Scaling group.
type asGroup struct {
	seq                 uint64
	created             time.Time
	name, arn           string
	ltSpec              types.LaunchTemplateSpecification
	min, max, desired   int32
	subnetIDs           []string
	vpcZoneIdentifier   string
	healthCheckType     string
	grace               int32
	cooldown            int32
	protectNew          bool
	capacityRebalance   bool
	terminationPolicies []string
	targetGroups        []string
	hooks               map[string]*lifecycleHook
	tags                map[string]asgTag
	suspended           map[string]string
	instances           map[string]*asgInstance
	activities          []*activity
	deleting            bool
	cause               string
	cooldownUntil       time.Time
	reconcile           *timer
	reconcileAt         time.Time
	healthCheck         *timer
}

type asgTag struct {
	value     string
	propagate bool
}

// asgInstance is an instance as its group sees it.
type asgInstance struct {
	seq        uint64
	id         string
	az, azID   string
	subnetID   string
	state      types.LifecycleState
	health     string
	protected  bool
	ltID       string
	ltName     string
	ltVersion  string
	imageID    string
	instType   string
	inService  time.Time
	rebalance  bool
	activity   *activity
	actions    []*lifecycleAction
	terminated bool
}

// Scaling processes, as SuspendProcesses names them.
var scalingProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance", "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

func (g *asGroup) suspendedProcess(name string) bool {
	_, ok := g.suspended[name]
	return ok
}

// zones returns the group's zones in name order.
func (s *Sim) groupZones(g *asGroup) []string {
	var out []string
	for _, id := range g.subnetIDs {
		if sn, ok := s.ec2.subnets[id]; ok && !containsString(out, sn.zone.name) {
			out = append(out, sn.zone.name)
		}
	}
	sort.Strings(out)
	return out
}

func (g *asGroup) sortedInstances() []*asgInstance {
	out := make([]*asgInstance, 0, len(g.instances))
	for _, i := range g.instances {
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b *asgInstance) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// active reports whether the instance counts toward the group's capacity.
func (i *asgInstance) active() bool {
	switch i.state {
	case types.LifecycleStatePending, types.LifecycleStatePendingWait, types.LifecycleStatePendingProceed, types.LifecycleStateInService:
		return true
	}
	return false
}

func (g *asGroup) activeInstances() []*asgInstance {
	var out []*asgInstance
	for _, i := range g.sortedInstances() {
		if i.active() {
			out = append(out, i)
		}
	}
	return out
}

func (s *Sim) findGroup(name *string) (*asGroup, error) {
	g, ok := s.asg.groups[aws.ToString(name)]
	if !ok || s.hidden(asgID, g.created) {
		return nil, validationError("AutoScalingGroup name not found - AutoScalingGroup %s not found", aws.ToString(name))
	}
	return g, nil
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
		hooks: hooks, tags: tags, suspended: map[string]string{}, instances: map[string]*asgInstance{},
	}
	if len(g.terminationPolicies) == 0 {
		g.terminationPolicies = []string{"Default"}
	}
	g.cause = s.causef("a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.", desired)
	s.asg.groups[name] = g
	s.asgKick(g, s.timings.ScalingReaction)
	return &autoscaling.CreateAutoScalingGroupOutput{}, nil
}

// causef prefixes a scaling cause with the time, as activity causes are
// written.
func (s *Sim) causef(format string, args ...any) string {
	return "At " + s.clock.now.UTC().Format("2006-01-02T15:04:05Z") + " " + fmt.Sprintf(format, args...)
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

func (s *Sim) visibleGroups() []*asGroup {
	var out []*asGroup
	for _, g := range s.asg.groups {
		if !s.hidden(asgID, g.created) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *asGroup) int { return cmp.Compare(a.name, b.name) })
	return out
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

// paginateRecords is paginate with the query services' error for a bad
// token.
func paginateRecords[T any](items []T, maxRecords *int32, nextToken *string) ([]T, *string, error) {
	page, next, err := listPage(items, maxRecords, nextToken)
	if err != nil {
		return nil, nil, &types.InvalidNextToken{Message: aws.String("The token '" + aws.ToString(nextToken) + "' is invalid.")}
	}
	return page, next, nil
}

// groupOf finds the group that manages an instance.
func (s *Sim) groupOf(instanceID string) (*asGroup, *asgInstance, bool) {
	for _, g := range s.asg.groups {
		if ai, ok := g.instances[instanceID]; ok && ai.state != types.LifecycleStateTerminated {
			return g, ai, true
		}
	}
	return nil, nil, false
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

func processes(names []string) ([]string, error) {
	if len(names) == 0 {
		return scalingProcesses, nil
	}
	for _, n := range names {
		if !containsString(scalingProcesses, n) {
			return nil, validationError("Process %s is not a valid process name.", n)
		}
	}
	return names, nil
}

func (s *Sim) suspendProcesses(in *autoscaling.SuspendProcessesInput) (*autoscaling.SuspendProcessesOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	names, err := processes(in.ScalingProcesses)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		g.suspended[n] = "User suspended at " + s.clock.now.UTC().Format("2006-01-02T15:04:05Z")
	}
	return &autoscaling.SuspendProcessesOutput{}, nil
}

func (s *Sim) resumeProcesses(in *autoscaling.ResumeProcessesInput) (*autoscaling.ResumeProcessesOutput, error) {
	g, err := s.findGroup(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	names, err := processes(in.ScalingProcesses)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		delete(g.suspended, n)
	}
	s.asgKick(g, s.timings.ScalingReaction)
	s.asgScheduleHealthCheck(g)
	return &autoscaling.ResumeProcessesOutput{}, nil
}

func (s *Sim) describeScalingActivities(in *autoscaling.DescribeScalingActivitiesInput) (*autoscaling.DescribeScalingActivitiesOutput, error) {
	var groups []*asGroup
	if in.AutoScalingGroupName != nil {
		if g, ok := s.asg.groups[*in.AutoScalingGroupName]; ok && !s.hidden(asgID, g.created) {
			groups = []*asGroup{g}
		}
	} else {
		groups = s.visibleGroups()
	}
	var acts []types.Activity
	type pair struct {
		g *asGroup
		a *activity
	}
	var all []pair
	for _, g := range groups {
		for _, a := range g.activities {
			if len(in.ActivityIds) == 0 || containsString(in.ActivityIds, a.id) {
				all = append(all, pair{g, a})
			}
		}
	}
	slices.SortFunc(all, func(x, y pair) int { return cmp.Compare(y.a.seq, x.a.seq) })
	for _, p := range all {
		acts = append(acts, s.activityOut(p.g, p.a))
	}
	if in.MaxRecords == nil {
		in.MaxRecords = aws.Int32(100)
	}
	page, next, err := paginateRecords(acts, in.MaxRecords, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &autoscaling.DescribeScalingActivitiesOutput{Activities: page, NextToken: next}, nil
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
