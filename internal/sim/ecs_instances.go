package sim

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	handle(ecsID, "ListContainerInstances", (*Sim).listContainerInstances)
	handle(ecsID, "DescribeContainerInstances", (*Sim).describeContainerInstances)
	handle(ecsID, "UpdateContainerInstancesState", (*Sim).updateContainerInstancesState)
	handle(ecsID, "DeregisterContainerInstance", (*Sim).deregisterContainerInstance)
}

// containerInstance is an EC2 instance registered with a cluster.
type containerInstance struct {
	seq            uint64
	id, arn        string
	cluster        string
	inst           *instance
	status         string
	agentConnected bool
	registeredAt   time.Time
	cpu, memory    int32
	provider       string
	version        int64
	disconnect     *timer
}

var ecsClusterLine = regexp.MustCompile(`ECS_CLUSTER=["']?([A-Za-z0-9_-]+)`)

// instanceCluster reads the cluster an instance's agent joins from its user
// data, as the ECS agent reads /etc/ecs/ecs.config; instances launched from
// an ECS-optimized AMI without one join the default cluster.
func (s *Sim) instanceCluster(inst *instance) (string, bool) {
	ud := inst.spec.userData
	if raw, err := base64.StdEncoding.DecodeString(ud); err == nil {
		ud = string(raw)
	}
	if m := ecsClusterLine.FindStringSubmatch(ud); m != nil {
		return m[1], true
	}
	for _, v := range s.ssm.params {
		if v == inst.spec.imageID {
			return "default", true
		}
	}
	return "", false
}

// instanceResources returns the CPU units and MiB of memory an instance type
// registers with ECS.
func instanceResources(instType string) (cpu, memory int32) {
	vcpus, gib := int32(2), int32(4)
	size := instType
	if i := strings.IndexByte(instType, '.'); i >= 0 {
		size = instType[i+1:]
	}
	family := strings.SplitN(instType, ".", 2)[0]
	switch size {
	case "nano", "micro", "small":
		vcpus, gib = 2, 1
		if size == "small" {
			gib = 2
		}
	case "medium":
		vcpus, gib = 2, 4
	case "large":
		vcpus, gib = 2, 8
	case "xlarge":
		vcpus, gib = 4, 16
	case "2xlarge":
		vcpus, gib = 8, 32
	case "4xlarge":
		vcpus, gib = 16, 64
	}
	if strings.HasPrefix(family, "c") {
		gib /= 2
	}
	if strings.HasPrefix(family, "r") {
		gib *= 2
	}
	// The agent reserves some memory for the OS and itself.
	return vcpus * 1024, gib*1024 - gib*1024/16
}

// ecsOnInstance follows EC2 instances: their agents register when they
// run, disconnect when their host fails and deregister when they terminate.
func (s *Sim) ecsOnInstance(inst *instance, prev string) {
	ci := s.containerInstanceFor(inst.id)
	switch {
	case inst.state == stateRunning && prev == statePending:
		if _, ok := s.instanceCluster(inst); ok {
			s.after(s.timings.Services.AgentRegistration, func() { s.registerContainerInstance(inst) })
		}
	case inst.state == stateShuttingDown || inst.state == stateTerminated:
		if ci != nil && ci.status != "INACTIVE" {
			s.deregisterCI(ci, "Host EC2 (instance "+inst.id+") terminated.")
		}
	case ci != nil && ci.status != "INACTIVE" && !inst.serving() && ci.agentConnected && ci.disconnect == nil:
		ci.disconnect = s.after(s.timings.Services.AgentDisconnect, func() {
			ci.disconnect = nil
			if !inst.serving() && ci.status != "INACTIVE" {
				ci.agentConnected = false
				s.ciChanged(ci)
			}
		})
	case ci != nil && ci.status != "INACTIVE" && inst.serving():
		ci.disconnect.stop()
		ci.disconnect = nil
		if !ci.agentConnected {
			ci.agentConnected = true
			s.ciChanged(ci)
			s.ecsKickCluster(s.ecs.clusters[ci.cluster])
		}
	}
}

func (s *Sim) containerInstanceFor(ec2ID string) *containerInstance {
	for _, ci := range s.ecs.sortedInstances() {
		if ci.inst.id == ec2ID && ci.status != "INACTIVE" {
			return ci
		}
	}
	return nil
}

func (s *Sim) registerContainerInstance(inst *instance) {
	name, _ := s.instanceCluster(inst)
	c, ok := s.ecs.clusters[name]
	if !ok || c.status != "ACTIVE" || inst.state != stateRunning || s.containerInstanceFor(inst.id) != nil {
		return
	}
	cpu, mem := instanceResources(string(inst.spec.instanceType))
	id := s.hex32()
	ci := &containerInstance{
		seq: s.ecs.next(), id: id, arn: s.ecsArn("container-instance/" + name + "/" + id), cluster: name, inst: inst,
		status: "ACTIVE", agentConnected: inst.serving(), registeredAt: s.clock.now, cpu: cpu, memory: mem, version: 1,
	}
	if inst.asgName != "" {
		if g, ok := s.asg.groups[inst.asgName]; ok {
			for _, cp := range s.ecs.providers {
				if cp.asgArn == g.arn || cp.asgArn == g.name {
					ci.provider = cp.name
				}
			}
		}
	}
	s.ecs.instances[ci.arn] = ci
	s.ciChanged(ci)
	s.ecsKickCluster(c)
}

// deregisterCI removes a container instance from its cluster; its tasks stop
// with reason.
func (s *Sim) deregisterCI(ci *containerInstance, reason string) {
	for _, t := range s.ecs.sortedTasks() {
		if t.ci == ci && t.lastStatus != "STOPPED" {
			s.killTask(t, reason, types.TaskStopCodeTerminationNotice, true)
		}
	}
	ci.status = "INACTIVE"
	ci.agentConnected = false
	s.ciChanged(ci)
	s.ecsKickCluster(s.ecs.clusters[ci.cluster])
}

// ciChanged bumps a container instance's version and emits its state change.
func (s *Sim) ciChanged(ci *containerInstance) {
	ci.version++
	out := s.ciOut(ci)
	d := events.ContainerInstanceStateChange{
		AgentConnected: ci.agentConnected, ClusterARN: s.ecsArn("cluster/" + ci.cluster),
		ContainerInstanceARN: ci.arn, EC2InstanceID: ci.inst.id, RegisteredResources: eventResources(out.RegisteredResources),
		RemainingResources: eventResources(out.RemainingResources), Status: ci.status, Version: int(ci.version),
		VersionInfo: lambdaevents.ECSContainerInstanceEventVersionInfo{AgentHash: "4023248b", AgentVersion: "1.89.2", DockerVersion: "DockerVersion: 25.0.6"},
		UpdatedAt:   s.clock.now.Truncate(time.Millisecond),
	}
	for _, a := range out.Attributes {
		d.Attributes = append(d.Attributes, lambdaevents.ECSContainerInstanceEventAttribute{Name: aws.ToString(a.Name)})
	}
	s.emit([]string{ci.arn}, d)
}

// eventResources converts a container instance's resources to their event
// form.
func eventResources(in []types.Resource) []lambdaevents.ECSContainerInstanceEventResource {
	out := make([]lambdaevents.ECSContainerInstanceEventResource, 0, len(in))
	for _, r := range in {
		e := lambdaevents.ECSContainerInstanceEventResource{Name: aws.ToString(r.Name), Type: aws.ToString(r.Type), IntegerValue: int(r.IntegerValue)}
		if e.Type != "INTEGER" {
			e.StringSetValue = []*string{}
			for _, v := range r.StringSetValue {
				e.StringSetValue = append(e.StringSetValue, aws.String(v))
			}
		}
		out = append(out, e)
	}
	return out
}

// ciAttributes are the attributes the agent reports, sorted by name.
func (s *Sim) ciAttributes(ci *containerInstance) []types.Attribute {
	arch := "x86_64"
	if strings.Contains(string(ci.inst.spec.instanceType), "g.") {
		arch = "arm64"
	}
	kv := map[string]string{
		"ecs.availability-zone":                      ci.inst.az,
		"ecs.instance-type":                          string(ci.inst.spec.instanceType),
		"ecs.ami-id":                                 ci.inst.spec.imageID,
		"ecs.os-type":                                "linux",
		"ecs.os-family":                              "LINUX",
		"ecs.cpu-architecture":                       arch,
		"ecs.subnet-id":                              ci.inst.subnetID,
		"ecs.vpc-id":                                 ci.inst.vpcID,
		"ecs.capability.task-eni":                    "",
		"ecs.capability.container-health-check":      "",
		"com.amazonaws.ecs.capability.ecr-auth":      "",
		"com.amazonaws.ecs.capability.task-iam-role": "",
		"com.amazonaws.ecs.capability.logging-driver.awslogs": "",
		"ecs.capability.execution-role-ecr-pull":              "",
	}
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]types.Attribute, 0, len(names))
	for _, n := range names {
		a := types.Attribute{Name: aws.String(n)}
		if kv[n] != "" {
			a.Value = aws.String(kv[n])
		}
		out = append(out, a)
	}
	return out
}

// used returns the CPU and memory that the instance's unstopped tasks
// reserve, and how many of them are running and pending.
func (s *Sim) ciUsage(ci *containerInstance) (cpu, mem, running, pending int32) {
	for _, t := range s.ecs.tasks {
		if t.ci != ci || t.lastStatus == "STOPPED" {
			continue
		}
		cpu += t.td.cpu
		mem += t.td.memory
		switch t.lastStatus {
		case "RUNNING":
			running++
		case "PROVISIONING", "PENDING", "ACTIVATING":
			pending++
		}
	}
	return cpu, mem, running, pending
}

func resources(cpu, mem int32) []types.Resource {
	return []types.Resource{
		{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: cpu},
		{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: mem},
		{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: []string{"22", "2375", "2376", "51678", "51679"}},
		{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: []string{}},
	}
}

func (s *Sim) ciOut(ci *containerInstance) types.ContainerInstance {
	cpu, mem, running, pending := s.ciUsage(ci)
	out := types.ContainerInstance{
		AgentConnected: ci.agentConnected, ContainerInstanceArn: aws.String(ci.arn), Ec2InstanceId: aws.String(ci.inst.id),
		Status: aws.String(ci.status), RegisteredAt: aws.Time(ci.registeredAt), Version: ci.version,
		RegisteredResources: resources(ci.cpu, ci.memory), RemainingResources: resources(ci.cpu-cpu, ci.memory-mem),
		RunningTasksCount: running, PendingTasksCount: pending, Attributes: s.ciAttributes(ci),
		VersionInfo: &types.VersionInfo{AgentHash: aws.String("4023248b"), AgentVersion: aws.String("1.89.2"), DockerVersion: aws.String("DockerVersion: 25.0.6")},
		Attachments: []types.Attachment{}, Tags: []types.Tag{},
	}
	if ci.provider != "" {
		out.CapacityProviderName = aws.String(ci.provider)
	}
	return out
}

// findCI resolves a container instance ID or ARN in a cluster.
func (s *Sim) findCI(c *ecsCluster, ref string) *containerInstance {
	for _, ci := range s.ecs.sortedInstances() {
		if ci.cluster == c.name && (ci.arn == ref || ci.id == ref) {
			return ci
		}
	}
	return nil
}

func (s *Sim) listContainerInstances(in *ecs.ListContainerInstancesInput) (*ecs.ListContainerInstancesOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, ci := range s.ecs.sortedInstances() {
		if ci.cluster != c.name {
			continue
		}
		if in.Status != "" && ci.status != string(in.Status) {
			continue
		}
		if in.Status == "" && ci.status == "INACTIVE" {
			continue
		}
		if f := aws.ToString(in.Filter); f != "" {
			ok, err := s.matchesExpression(ci, f)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		arns = append(arns, ci.arn)
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListContainerInstancesOutput{ContainerInstanceArns: append([]string{}, page...), NextToken: next}, nil
}

func (s *Sim) describeContainerInstances(in *ecs.DescribeContainerInstancesInput) (*ecs.DescribeContainerInstancesOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeContainerInstancesOutput{ContainerInstances: []types.ContainerInstance{}, Failures: []types.Failure{}}
	for _, ref := range in.ContainerInstances {
		ci := s.findCI(c, ref)
		if ci == nil {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, s.ciOut(ci))
	}
	return out, nil
}

func (s *Sim) updateContainerInstancesState(in *ecs.UpdateContainerInstancesStateInput) (*ecs.UpdateContainerInstancesStateOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	if in.Status != types.ContainerInstanceStatusActive && in.Status != types.ContainerInstanceStatusDraining {
		return nil, ecsInvalid("Container instances status should be one of [ACTIVE,DRAINING]")
	}
	out := &ecs.UpdateContainerInstancesStateOutput{ContainerInstances: []types.ContainerInstance{}, Failures: []types.Failure{}}
	for _, ref := range in.ContainerInstances {
		ci := s.findCI(c, ref)
		if ci == nil || ci.status == "INACTIVE" {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
			continue
		}
		if ci.status != string(in.Status) {
			ci.status = string(in.Status)
			if ci.status == "DRAINING" {
				// Service tasks still starting on a draining instance stop at
				// once; running ones are replaced by the service scheduler.
				for _, t := range s.ecs.sortedTasks() {
					if t.ci == ci && t.service != nil && t.desiredStatus == "RUNNING" && t.lastStatus != "RUNNING" {
						s.stopTask(t, "Container instance is draining", types.TaskStopCodeServiceSchedulerInitiated)
					}
				}
			}
			s.ciChanged(ci)
		}
		out.ContainerInstances = append(out.ContainerInstances, s.ciOut(ci))
	}
	s.ecsKickCluster(c)
	return out, nil
}

func (s *Sim) deregisterContainerInstance(in *ecs.DeregisterContainerInstanceInput) (*ecs.DeregisterContainerInstanceOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	ci := s.findCI(c, aws.ToString(in.ContainerInstance))
	if ci == nil || ci.status == "INACTIVE" {
		return nil, ecsInvalid("The referenced container instance %s is not valid for this cluster", aws.ToString(in.ContainerInstance))
	}
	_, _, running, pending := s.ciUsage(ci)
	if running+pending > 0 && !aws.ToBool(in.Force) {
		return nil, ecsInvalid("Found running tasks on the instance.")
	}
	s.deregisterCI(ci, "Container instance deregistration forced by user")
	return &ecs.DeregisterContainerInstanceOutput{ContainerInstance: ptr(s.ciOut(ci))}, nil
}

func ptr[T any](v T) *T { return &v }

// ecsAttr returns the value of a container instance's attribute, for
// placement constraints and cluster query language expressions.
func (s *Sim) ecsAttr(ci *containerInstance, name string) (string, bool) {
	switch name {
	case "ecs.availability-zone":
		return ci.inst.az, true
	case "ecs.instance-type":
		return string(ci.inst.spec.instanceType), true
	case "ecs.ami-id":
		return ci.inst.spec.imageID, true
	case "ecs.os-type":
		return "linux", true
	case "ecs.subnet-id":
		return ci.inst.subnetID, true
	case "ecs.vpc-id":
		return ci.inst.vpcID, true
	}
	return "", false
}

var (
	exprCompare = regexp.MustCompile(`^\s*attribute:([A-Za-z0-9_.\-]+)\s*(==|!=)\s*([A-Za-z0-9_.\-*]+)\s*$`)
	exprIn      = regexp.MustCompile(`^\s*attribute:([A-Za-z0-9_.\-]+)\s+(not_in|in)\s*\[([^\]]*)\]\s*$`)
	exprExists  = regexp.MustCompile(`^\s*attribute:([A-Za-z0-9_.\-]+)\s+(exists|not_exists)\s*$`)
)

// matchesExpression evaluates the subset of the cluster query language the
// simulator supports: comparisons, in and not_in lists and exists on
// attributes, joined by "and" or "or" (left to right, without parentheses).
func (s *Sim) matchesExpression(ci *containerInstance, expr string) (bool, error) {
	for _, alt := range splitWord(expr, " or ") {
		all := true
		for _, term := range splitWord(alt, " and ") {
			ok, err := s.matchTerm(ci, term)
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func splitWord(s, sep string) []string {
	var out []string
	lower := strings.ToLower(s)
	for {
		i := strings.Index(lower, sep)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s, lower = s[i+len(sep):], lower[i+len(sep):]
	}
}

func (s *Sim) matchTerm(ci *containerInstance, term string) (bool, error) {
	if m := exprCompare.FindStringSubmatch(term); m != nil {
		v, _ := s.ecsAttr(ci, m[1])
		eq := globMatch(m[3], v)
		return eq == (m[2] == "=="), nil
	}
	if m := exprIn.FindStringSubmatch(term); m != nil {
		v, _ := s.ecsAttr(ci, m[1])
		in := false
		for _, item := range strings.Split(m[3], ",") {
			if strings.TrimSpace(item) == v {
				in = true
			}
		}
		return in == (m[2] == "in"), nil
	}
	if m := exprExists.FindStringSubmatch(term); m != nil {
		_, ok := s.ecsAttr(ci, m[1])
		return ok == (m[2] == "exists"), nil
	}
	return false, ecsInvalid("Invalid expression: %s", strconv.Quote(term))
}
