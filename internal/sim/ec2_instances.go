package sim

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	handle(ec2ID, "RunInstances", (*Sim).runInstances)
	handle(ec2ID, "DescribeInstances", (*Sim).describeInstances)
	handle(ec2ID, "DescribeInstanceStatus", (*Sim).describeInstanceStatus)
	handle(ec2ID, "TerminateInstances", (*Sim).terminateInstances)
}

// Instance states, as EC2 names them.
const (
	statePending      = "pending"
	stateRunning      = "running"
	stateShuttingDown = "shutting-down"
	stateTerminated   = "terminated"
)

var stateCodes = map[string]int32{statePending: 0, stateRunning: 16, stateShuttingDown: 32, stateTerminated: 48}

// impairment is why an instance's status checks fail, if they do.
type impairment int

const (
	impairedNone impairment = iota
	impairedByCrash
	impairedByZone
)

// instance is a simulated EC2 instance.
type instance struct {
	meta
	reservationID   string
	launchIndex     int32
	spec            launchSpec
	subnetID, vpcID string
	az, azID        string
	privateIP       netip.Addr
	publicIP        netip.Addr
	state           string
	transition      string
	reasonCode      string
	reasonMessage   string
	runningSince    time.Time
	impairedBy      impairment
	impairedSince   time.Time
	asgName         string
}

// launchSpec is everything needed to launch an instance, resolved from a
// RunInstances call or an Auto Scaling group's launch template.
type launchSpec struct {
	imageID      string
	instanceType types.InstanceType
	keyName      string
	sgIDs        []string
	userData     string
	profileArn   string
	profileName  string
	httpTokens   string
	hopLimit     int32
	ebsOptimized bool
	tags         tagSet
	ltID, ltVer  string
	clientToken  string
}

var amiPattern = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)

// specFromTemplate resolves a launch template version into a launch spec.
func (s *Sim) specFromTemplate(lt *launchTemplate, version string) (launchSpec, string, error) {
	v, err := lt.version(version)
	if err != nil {
		return launchSpec{}, "", err
	}
	d := v.data
	spec := launchSpec{
		imageID: aws.ToString(d.ImageId), instanceType: d.InstanceType, keyName: aws.ToString(d.KeyName),
		sgIDs: append([]string(nil), d.SecurityGroupIds...), userData: aws.ToString(d.UserData),
		ebsOptimized: aws.ToBool(d.EbsOptimized), tags: tagSet{}, ltID: lt.id, ltVer: strconv.FormatInt(v.number, 10),
	}
	if d.IamInstanceProfile != nil {
		spec.profileArn, spec.profileName = aws.ToString(d.IamInstanceProfile.Arn), aws.ToString(d.IamInstanceProfile.Name)
	}
	if d.MetadataOptions != nil {
		spec.httpTokens = string(d.MetadataOptions.HttpTokens)
		spec.hopLimit = aws.ToInt32(d.MetadataOptions.HttpPutResponseHopLimit)
	}
	subnetID := ""
	for _, ni := range d.NetworkInterfaces {
		if aws.ToInt32(ni.DeviceIndex) == 0 {
			subnetID = aws.ToString(ni.SubnetId)
			spec.sgIDs = append(spec.sgIDs, ni.Groups...)
		}
	}
	for _, ts := range d.TagSpecifications {
		if ts.ResourceType == types.ResourceTypeInstance {
			for _, t := range ts.Tags {
				spec.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	}
	return spec, subnetID, nil
}

// launchInstance starts one instance in sn. The caller holds Sim.mu.
func (s *Sim) launchInstance(spec launchSpec, sn *subnet, reservationID string, index int32) (*instance, error) {
	if s.zoneDown(sn.zone.name) {
		return nil, apiError("InsufficientInstanceCapacity", "We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity. You can currently get %s capacity by not specifying an Availability Zone in your request or choosing %s.", spec.instanceType, sn.zone.name, spec.instanceType, strings.Join(s.otherZones(sn.zone.name), ", "))
	}
	ip, err := sn.allocateIP()
	if err != nil {
		return nil, err
	}
	inst := &instance{
		meta: s.newMeta(s.newID("i"), spec.tags.clone()), reservationID: reservationID, launchIndex: index, spec: spec,
		subnetID: sn.id, vpcID: sn.vpcID, az: sn.zone.name, azID: sn.zone.id, privateIP: ip, state: statePending,
	}
	if sn.mapPublicIP {
		inst.publicIP = s.newPublicIP()
	}
	if spec.ltID != "" {
		inst.tags["aws:ec2launchtemplate:id"] = spec.ltID
		inst.tags["aws:ec2launchtemplate:version"] = spec.ltVer
	}
	s.ec2.instances[inst.id] = inst
	s.instanceStateChanged(inst, "")
	s.after(s.timings.InstanceBoot, func() {
		if inst.state != statePending {
			return
		}
		inst.runningSince = s.clock.now
		s.setInstanceState(inst, stateRunning)
	})
	return inst, nil
}

func (s *Sim) otherZones(name string) []string {
	var out []string
	for _, z := range s.zones {
		if z.name != name {
			out = append(out, z.name)
		}
	}
	return out
}

// setInstanceState moves an instance to a new state and tells everyone who
// watches instances.
func (s *Sim) setInstanceState(inst *instance, state string) {
	prev := inst.state
	inst.state = state
	s.instanceStateChanged(inst, prev)
}

func (s *Sim) instanceArn(id string) string { return s.arn("ec2", "instance/"+id) }

func (s *Sim) instanceStateChanged(inst *instance, prev string) {
	if prev != inst.state {
		s.emit([]string{s.instanceArn(inst.id)}, events.InstanceStateChange{InstanceID: inst.id, State: inst.state})
		s.log.Debug("sim_instance_state", "instance_id", inst.id, "from", prev, "to", inst.state)
	}
	for _, obs := range s.instanceObservers {
		obs(inst, prev)
	}
}

// terminateInstance starts an instance's shutdown. The caller holds Sim.mu.
func (s *Sim) terminateInstance(inst *instance) {
	if inst.state != statePending && inst.state != stateRunning {
		return
	}
	inst.transition = fmt.Sprintf("User initiated (%s)", s.clock.now.UTC().Format("2006-01-02 15:04:05 GMT"))
	inst.reasonCode, inst.reasonMessage = "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"
	s.setInstanceState(inst, stateShuttingDown)
	s.after(s.timings.InstanceShutdown, func() {
		inst.impairedBy = impairedNone
		if sn, ok := s.ec2.subnets[inst.subnetID]; ok {
			sn.releaseIP(inst.privateIP)
		}
		inst.reasonCode, inst.reasonMessage = "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"
		s.setInstanceState(inst, stateTerminated)
		s.after(s.timings.TerminatedRetention, func() { delete(s.ec2.instances, inst.id) })
	})
}

// impair fails an instance's status checks.
func (s *Sim) impair(inst *instance, by impairment) {
	if inst.state != statePending && inst.state != stateRunning {
		return
	}
	if inst.impairedBy == impairedNone {
		inst.impairedSince = s.clock.now
	}
	if by > inst.impairedBy || inst.impairedBy == impairedNone {
		inst.impairedBy = by
	}
	s.instanceStateChanged(inst, inst.state)
}

// restore clears an impairment.
func (s *Sim) restore(inst *instance) {
	if inst.impairedBy == impairedNone {
		return
	}
	inst.impairedBy = impairedNone
	inst.impairedSince = time.Time{}
	s.instanceStateChanged(inst, inst.state)
}

// serving reports whether an instance is up and reachable: running and not
// impaired. Services built on EC2 use it to decide whether an instance's
// workload works.
func (inst *instance) serving() bool {
	return inst.state == stateRunning && inst.impairedBy == impairedNone
}

// sortedInstances returns all instances in launch order.
func (st *ec2State) sortedInstances() []*instance { return byCreation(st.instances) }

func (s *Sim) runInstances(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
	if tok := aws.ToString(in.ClientToken); tok != "" {
		var prior []*instance
		for _, inst := range s.ec2.sortedInstances() {
			if inst.spec.clientToken == tok {
				prior = append(prior, inst)
			}
		}
		if len(prior) > 0 {
			return s.reservationOut(prior), nil
		}
	}
	minCount, maxCount := aws.ToInt32(in.MinCount), aws.ToInt32(in.MaxCount)
	if minCount < 1 || maxCount < minCount {
		return nil, invalidParam("Value (%d) for parameter maxCount is invalid. Must be greater than or equal to minCount.", maxCount)
	}
	var spec launchSpec
	subnetID := ""
	if in.LaunchTemplate != nil {
		lt, err := s.findLaunchTemplate(in.LaunchTemplate.LaunchTemplateId, in.LaunchTemplate.LaunchTemplateName)
		if err != nil {
			return nil, err
		}
		if spec, subnetID, err = s.specFromTemplate(lt, aws.ToString(in.LaunchTemplate.Version)); err != nil {
			return nil, err
		}
	} else {
		spec.tags = tagSet{}
	}
	if in.ImageId != nil {
		spec.imageID = *in.ImageId
	}
	if in.InstanceType != "" {
		spec.instanceType = in.InstanceType
	}
	if in.KeyName != nil {
		spec.keyName = *in.KeyName
	}
	if in.UserData != nil {
		spec.userData = *in.UserData
	}
	if len(in.SecurityGroupIds) > 0 {
		spec.sgIDs = append([]string(nil), in.SecurityGroupIds...)
	}
	if in.IamInstanceProfile != nil {
		spec.profileArn, spec.profileName = aws.ToString(in.IamInstanceProfile.Arn), aws.ToString(in.IamInstanceProfile.Name)
	}
	if in.MetadataOptions != nil {
		spec.httpTokens = string(in.MetadataOptions.HttpTokens)
		spec.hopLimit = aws.ToInt32(in.MetadataOptions.HttpPutResponseHopLimit)
	}
	if in.SubnetId != nil {
		subnetID = *in.SubnetId
	}
	for _, ni := range in.NetworkInterfaces {
		if aws.ToInt32(ni.DeviceIndex) == 0 && ni.SubnetId != nil {
			subnetID = *ni.SubnetId
			spec.sgIDs = append(spec.sgIDs, ni.Groups...)
		}
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeInstance, types.ResourceTypeVolume, types.ResourceTypeNetworkInterface)
	if err != nil {
		return nil, err
	}
	for k, v := range tags[types.ResourceTypeInstance] {
		spec.tags[k] = v
	}
	spec.clientToken = aws.ToString(in.ClientToken)
	if subnetID == "" {
		return nil, apiError("VPCIdNotSpecified", "No default VPC for this user")
	}
	sn, err := s.findSubnet(&subnetID)
	if err != nil {
		return nil, err
	}
	if err := s.validateSpec(&spec, sn); err != nil {
		return nil, err
	}
	if free := sn.capacity() - len(sn.usedIPs); free < int(minCount) {
		return nil, apiError("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.id)
	}
	reservation := s.newID("r")
	var launched []*instance
	for i := int32(0); i < maxCount; i++ {
		inst, err := s.launchInstance(spec, sn, reservation, i)
		if err != nil {
			if len(launched) >= int(minCount) {
				break
			}
			for _, l := range launched {
				s.terminateInstance(l)
			}
			return nil, err
		}
		launched = append(launched, inst)
	}
	return s.reservationOut(launched), nil
}

// validateSpec checks a launch spec against the subnet it launches into and
// fills EC2's defaults.
func (s *Sim) validateSpec(spec *launchSpec, sn *subnet) error {
	if spec.imageID == "" {
		return apiError("MissingParameter", "The request must contain the parameter ImageId")
	}
	if !amiPattern.MatchString(spec.imageID) {
		return apiError("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", spec.imageID)
	}
	if spec.instanceType == "" {
		spec.instanceType = types.InstanceTypeM1Small
	}
	if len(spec.sgIDs) == 0 {
		if v, ok := s.ec2.vpcs[sn.vpcID]; ok {
			spec.sgIDs = []string{v.defaultGroup}
		}
	}
	for _, id := range spec.sgIDs {
		g, ok := lookup(s, s.ec2.securityGroups, id)
		if !ok {
			return apiError("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		}
		if g.vpcID != sn.vpcID {
			return invalidParam("Security group %s and subnet %s belong to different networks.", g.id, sn.id)
		}
	}
	if spec.httpTokens == "" {
		spec.httpTokens = "optional"
	}
	if spec.hopLimit == 0 {
		spec.hopLimit = 1
	}
	return nil
}

func (s *Sim) privateDNS(ip netip.Addr) string {
	host := "ip-" + strings.ReplaceAll(ip.String(), ".", "-")
	if s.region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + s.region + ".compute.internal"
}

func (s *Sim) instanceOut(inst *instance) types.Instance {
	out := types.Instance{
		InstanceId: aws.String(inst.id), ImageId: aws.String(inst.spec.imageID), InstanceType: inst.spec.instanceType,
		AmiLaunchIndex: aws.Int32(inst.launchIndex), Architecture: types.ArchitectureValuesX8664, LaunchTime: aws.Time(inst.created),
		Placement:        &types.Placement{AvailabilityZone: aws.String(inst.az), AvailabilityZoneId: aws.String(inst.azID), Tenancy: types.TenancyDefault, GroupName: aws.String("")},
		PrivateIpAddress: aws.String(inst.privateIP.String()), PrivateDnsName: aws.String(s.privateDNS(inst.privateIP)),
		PublicDnsName:         aws.String(""),
		State:                 &types.InstanceState{Code: aws.Int32(stateCodes[inst.state]), Name: types.InstanceStateName(inst.state)},
		StateTransitionReason: aws.String(inst.transition), SubnetId: aws.String(inst.subnetID), VpcId: aws.String(inst.vpcID),
		Hypervisor: types.HypervisorTypeXen, RootDeviceName: aws.String("/dev/xvda"), RootDeviceType: types.DeviceTypeEbs,
		VirtualizationType: types.VirtualizationTypeHvm, EbsOptimized: aws.Bool(inst.spec.ebsOptimized), EnaSupport: aws.Bool(true),
		SourceDestCheck: aws.Bool(true), Monitoring: &types.Monitoring{State: types.MonitoringStateDisabled},
		PlatformDetails: aws.String("Linux/UNIX"), UsageOperation: aws.String("RunInstances"), Tags: inst.tags.ec2(),
		MetadataOptions: &types.InstanceMetadataOptionsResponse{
			HttpTokens: types.HttpTokensState(inst.spec.httpTokens), HttpPutResponseHopLimit: aws.Int32(inst.spec.hopLimit),
			HttpEndpoint: types.InstanceMetadataEndpointStateEnabled, State: types.InstanceMetadataOptionsStateApplied,
		},
	}
	if inst.spec.keyName != "" {
		out.KeyName = aws.String(inst.spec.keyName)
	}
	if inst.spec.clientToken != "" {
		out.ClientToken = aws.String(inst.spec.clientToken)
	}
	if inst.publicIP.IsValid() && inst.state != stateTerminated {
		out.PublicIpAddress = aws.String(inst.publicIP.String())
	}
	if inst.reasonCode != "" {
		out.StateReason = &types.StateReason{Code: aws.String(inst.reasonCode), Message: aws.String(inst.reasonMessage)}
	}
	if inst.spec.profileArn != "" || inst.spec.profileName != "" {
		arn := inst.spec.profileArn
		if arn == "" {
			arn = "arn:aws:iam::" + s.account + ":instance-profile/" + inst.spec.profileName
		}
		out.IamInstanceProfile = &types.IamInstanceProfile{Arn: aws.String(arn), Id: aws.String("AIPA" + strings.ToUpper(inst.id[2:]))}
	}
	for _, id := range inst.spec.sgIDs {
		gi := types.GroupIdentifier{GroupId: aws.String(id)}
		if g, ok := s.ec2.securityGroups[id]; ok {
			gi.GroupName = aws.String(g.name)
		}
		out.SecurityGroups = append(out.SecurityGroups, gi)
	}
	if inst.state == stateTerminated {
		out.PrivateIpAddress, out.PrivateDnsName, out.SubnetId, out.VpcId = nil, aws.String(""), nil, nil
		out.SecurityGroups = nil
	}
	return out
}

// reservationOut groups instances into their reservations, in launch order.
func (s *Sim) reservationOut(insts []*instance) *ec2.RunInstancesOutput {
	out := &ec2.RunInstancesOutput{OwnerId: aws.String(s.account), Groups: []types.GroupIdentifier{}}
	for _, inst := range insts {
		out.ReservationId = aws.String(inst.reservationID)
		out.Instances = append(out.Instances, s.instanceOut(inst))
	}
	return out
}

var instanceFilters = filterFields[*instance]{
	"instance-id":         func(i *instance) []string { return []string{i.id} },
	"instance-state-name": func(i *instance) []string { return []string{i.state} },
	"instance-state-code": func(i *instance) []string { return []string{strconv.Itoa(int(stateCodes[i.state]))} },
	"availability-zone":   func(i *instance) []string { return []string{i.az} },
	"subnet-id":           func(i *instance) []string { return []string{i.subnetID} },
	"vpc-id":              func(i *instance) []string { return []string{i.vpcID} },
	"instance-type":       func(i *instance) []string { return []string{string(i.spec.instanceType)} },
	"image-id":            func(i *instance) []string { return []string{i.spec.imageID} },
	"private-ip-address":  func(i *instance) []string { return []string{i.privateIP.String()} },
	"reservation-id":      func(i *instance) []string { return []string{i.reservationID} },
	"instance.group-id":   func(i *instance) []string { return i.spec.sgIDs },
	"ip-address": func(i *instance) []string {
		if !i.publicIP.IsValid() {
			return nil
		}
		return []string{i.publicIP.String()}
	},
}

func (s *Sim) describeInstances(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	insts, err := selectByID(s, s.ec2.instances, in.InstanceIds, func(ids ...string) error {
		return notFoundEC2("InvalidInstanceID.NotFound", "instance", ids...)
	})
	if err != nil {
		return nil, err
	}
	if insts, err = applyFilters(insts, in.Filters, instanceFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(insts, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeInstancesOutput{NextToken: next, Reservations: []types.Reservation{}}
	index := map[string]int{}
	for _, inst := range page {
		i, ok := index[inst.reservationID]
		if !ok {
			out.Reservations = append(out.Reservations, types.Reservation{ReservationId: aws.String(inst.reservationID), OwnerId: aws.String(s.account), Groups: []types.GroupIdentifier{}})
			i = len(out.Reservations) - 1
			index[inst.reservationID] = i
		}
		out.Reservations[i].Instances = append(out.Reservations[i].Instances, s.instanceOut(inst))
	}
	return out, nil
}

// statusOf returns an instance's status check summary: initializing for a
// while after it starts running, impaired while it is failed, ok otherwise.
func (s *Sim) statusSummary(inst *instance) *types.InstanceStatusSummary {
	if inst.state != stateRunning {
		return &types.InstanceStatusSummary{Status: types.SummaryStatusNotApplicable}
	}
	switch {
	case inst.impairedBy != impairedNone:
		return &types.InstanceStatusSummary{Status: types.SummaryStatusImpaired, Details: []types.InstanceStatusDetails{{
			Name: types.StatusNameReachability, Status: types.StatusTypeFailed, ImpairedSince: aws.Time(inst.impairedSince),
		}}}
	case s.clock.now.Before(inst.runningSince.Add(s.timings.StatusChecks)):
		return &types.InstanceStatusSummary{Status: types.SummaryStatusInitializing, Details: []types.InstanceStatusDetails{{
			Name: types.StatusNameReachability, Status: types.StatusTypeInitializing,
		}}}
	}
	return &types.InstanceStatusSummary{Status: types.SummaryStatusOk, Details: []types.InstanceStatusDetails{{
		Name: types.StatusNameReachability, Status: types.StatusTypePassed,
	}}}
}

var instanceStatusFilters = filterFields[*instance]{
	"availability-zone":   func(i *instance) []string { return []string{i.az} },
	"instance-state-name": func(i *instance) []string { return []string{i.state} },
	"instance-state-code": func(i *instance) []string { return []string{strconv.Itoa(int(stateCodes[i.state]))} },
}

func (s *Sim) describeInstanceStatus(in *ec2.DescribeInstanceStatusInput) (*ec2.DescribeInstanceStatusOutput, error) {
	insts, err := selectByID(s, s.ec2.instances, in.InstanceIds, func(ids ...string) error {
		return notFoundEC2("InvalidInstanceID.NotFound", "instance", ids...)
	})
	if err != nil {
		return nil, err
	}
	var kept []*instance
	for _, inst := range insts {
		if inst.state == stateRunning || aws.ToBool(in.IncludeAllInstances) {
			kept = append(kept, inst)
		}
	}
	fields := filterFields[*instance]{}
	for k, v := range instanceStatusFilters {
		fields[k] = v
	}
	fields["instance-status.status"] = func(i *instance) []string { return []string{string(s.statusSummary(i).Status)} }
	fields["system-status.status"] = func(i *instance) []string { return []string{string(s.statusSummary(i).Status)} }
	if kept, err = applyFilters(kept, in.Filters, fields); err != nil {
		return nil, err
	}
	page, next, err := paginate(kept, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeInstanceStatusOutput{NextToken: next, InstanceStatuses: []types.InstanceStatus{}}
	for _, inst := range page {
		st := s.statusSummary(inst)
		out.InstanceStatuses = append(out.InstanceStatuses, types.InstanceStatus{
			InstanceId: aws.String(inst.id), AvailabilityZone: aws.String(inst.az), AvailabilityZoneId: aws.String(inst.azID),
			InstanceState:  &types.InstanceState{Code: aws.Int32(stateCodes[inst.state]), Name: types.InstanceStateName(inst.state)},
			InstanceStatus: st, SystemStatus: st, Events: []types.InstanceStatusEvent{},
		})
	}
	return out, nil
}

func (s *Sim) terminateInstances(in *ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error) {
	insts, err := selectByID(s, s.ec2.instances, in.InstanceIds, func(ids ...string) error {
		return notFoundEC2("InvalidInstanceID.NotFound", "instance", ids...)
	})
	if err != nil {
		return nil, err
	}
	out := &ec2.TerminateInstancesOutput{TerminatingInstances: []types.InstanceStateChange{}}
	for _, inst := range insts {
		prev := inst.state
		s.terminateInstance(inst)
		out.TerminatingInstances = append(out.TerminatingInstances, types.InstanceStateChange{
			InstanceId:    aws.String(inst.id),
			PreviousState: &types.InstanceState{Code: aws.Int32(stateCodes[prev]), Name: types.InstanceStateName(prev)},
			CurrentState:  &types.InstanceState{Code: aws.Int32(stateCodes[inst.state]), Name: types.InstanceStateName(inst.state)},
		})
	}
	return out, nil
}
