package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	handle(ecsID, "ListTasks", (*Sim).listTasks)
	handle(ecsID, "DescribeTasks", (*Sim).describeTasks)
	handle(ecsID, "StopTask", (*Sim).stopTaskAPI)
	handle(ecsID, "RunTask", (*Sim).runTask)
}

// stoppedTaskRetention is how long a stopped task stays visible; ECS
// documents at least an hour.
const stoppedTaskRetention = time.Hour

// ImageFault is how a container image misbehaves.
type ImageFault int

// Image faults, for FailImage.
const (
	// ImageHealthy clears a fault.
	ImageHealthy ImageFault = iota
	// ImageIgnoresSIGTERM makes the containers ignore SIGTERM: a stopping
	// task is killed only after its containers' stop timeout. It ranks below
	// the other faults, which win when an image has both.
	ImageIgnoresSIGTERM
	// ImageServerErrors makes tasks run and pass their health checks,
	// whose path still answers, while every other request is answered
	// with a 5xx code: the load balancer counts them in
	// HTTPCode_Target_5XX_Count, and neither ECS nor the target group
	// sees anything wrong. Unlike the other faults it also reaches the
	// tasks already running, as a fault that shows only after start-up
	// (a cache that expires, a leak) does.
	ImageServerErrors
	// ImagePullFails makes tasks stop in PENDING with CannotPullContainerError.
	ImagePullFails
	// ImageExits makes the essential container exit shortly after it starts.
	ImageExits
	// ImageUnhealthy makes tasks run but fail their load balancer and
	// container health checks.
	ImageUnhealthy
)

// FailImage makes every task started from now on with a container using
// image misbehave as fault says. image is a reference as task definitions
// give it; one that names an image pushed to the simulated ECR, by tag or by
// digest, targets that image whichever way a task refers to it. ImageHealthy
// removes the fault.
func (s *Sim) FailImage(image string, fault ImageFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img, _ := s.resolveImage(image); img != nil {
		image = img.digest
	}
	if fault == ImageHealthy {
		delete(s.ecs.imageFaults, image)
		return
	}
	s.ecs.imageFaults[image] = fault
}

// ecsTask is a simulated task.
type ecsTask struct {
	seq           uint64
	id, arn       string
	cluster       string
	td            *taskDef
	service       *ecsService
	dep           *deployment
	ci            *containerInstance
	az            string
	subnet        *subnet
	ip            netip.Addr
	lastStatus    string
	desiredStatus string
	fault         ImageFault
	startedBy     string
	group         string
	createdAt     time.Time
	pullStarted   time.Time
	pullStopped   time.Time
	startedAt     time.Time
	stoppingAt    time.Time
	stoppedAt     time.Time
	connectivity  time.Time
	stopReason    string
	stopCode      types.TaskStopCode
	exitCode      *int32
	version       int64
	healthyOnce   bool
	registered    []targetRef
	attachmentID  string
	eniID         string
	mac           string
	containerIDs  []string
	runtimeIDs    []string
	digests       []string
	capacityName  string
}

// targetRef is a target a task registered.
type targetRef struct {
	tgArn string
	port  int32
}

// taskFault is the worst fault among a task's images: injected by
// FailImage, or a pull that must fail because the simulated ECR has the
// repository but not the image.
func (s *Sim) taskFault(td *taskDef) ImageFault {
	worst := ImageHealthy
	for _, c := range td.in.ContainerDefinitions {
		ref := aws.ToString(c.Image)
		keys := []string{ref}
		img, inECR := s.resolveImage(ref)
		switch {
		case img != nil:
			keys = append(keys, img.digest)
		case inECR:
			worst = max(worst, ImagePullFails)
		}
		for _, k := range keys {
			if f, ok := s.ecs.imageFaults[k]; ok && f > worst {
				worst = f
			}
		}
	}
	return worst
}

// pulledDigest is the digest a task's container reports once pulled: the
// pushed image's when the simulated ECR has it, else one derived from the
// reference, so the same image always has the same digest.
func (s *Sim) pulledDigest(ref string) string {
	if img, _ := s.resolveImage(ref); img != nil {
		return img.digest
	}
	return imageDigest(ref)
}

// newTask creates a task on ci (nil while it waits for capacity) and starts
// its lifecycle.
func (s *Sim) newTask(cluster string, td *taskDef, svc *ecsService, dep *deployment, ci *containerInstance, nc *types.NetworkConfiguration, startedBy, group string) *ecsTask {
	id := s.hex32()
	t := &ecsTask{
		seq: s.ecs.next(), id: id, arn: s.ecsArn("task/" + cluster + "/" + id), cluster: cluster, td: td, service: svc, dep: dep,
		desiredStatus: "RUNNING", fault: s.taskFault(td), startedBy: startedBy, group: group, createdAt: s.clock.now,
	}
	for range td.in.ContainerDefinitions {
		t.containerIDs = append(t.containerIDs, s.newUUID())
		t.runtimeIDs = append(t.runtimeIDs, s.hex32()+s.hex32())
	}
	if td.awsvpc() {
		t.attachmentID = s.newUUID()
		t.eniID = s.newID("eni")
		mac := s.hex32()
		t.mac = "0a:" + mac[0:2] + ":" + mac[2:4] + ":" + mac[4:6] + ":" + mac[6:8] + ":" + mac[8:10]
	}
	s.ecs.tasks[t.arn] = t
	if ci == nil {
		t.lastStatus = "PROVISIONING"
		s.taskChanged(t)
		return t
	}
	s.placeTask(t, ci, nc)
	return t
}

// placeTask binds a task to a container instance and moves it through
// PROVISIONING and PENDING to RUNNING.
func (s *Sim) placeTask(t *ecsTask, ci *containerInstance, nc *types.NetworkConfiguration) {
	t.ci, t.az, t.capacityName = ci, ci.inst.az, ci.provider
	if t.td.awsvpc() && nc != nil && nc.AwsvpcConfiguration != nil {
		for _, id := range nc.AwsvpcConfiguration.Subnets {
			if sn, ok := s.ec2.subnets[id]; ok && sn.zone.name == ci.inst.az {
				if ip, err := sn.allocateIP(); err == nil {
					t.subnet, t.ip = sn, ip
				}
				break
			}
		}
	}
	s.cpProtect(ci)
	if t.td.awsvpc() {
		t.lastStatus = "PROVISIONING"
		s.taskChanged(t)
		s.after(s.timings.Services.TaskProvisioning, func() { s.taskPending(t) })
		return
	}
	s.taskPending(t)
}

func (s *Sim) taskPending(t *ecsTask) {
	if t.desiredStatus != "RUNNING" || t.lastStatus == "STOPPED" {
		return
	}
	t.lastStatus = "PENDING"
	t.connectivity = s.clock.now
	t.pullStarted = s.clock.now
	s.taskChanged(t)
	s.after(s.timings.Services.ImagePull, func() {
		if t.desiredStatus != "RUNNING" || t.lastStatus != "PENDING" {
			return
		}
		t.pullStopped = s.clock.now
		for _, c := range t.td.in.ContainerDefinitions {
			t.digests = append(t.digests, s.pulledDigest(aws.ToString(c.Image)))
		}
		if t.fault == ImagePullFails {
			image := aws.ToString(t.td.in.ContainerDefinitions[0].Image)
			s.killTask(t, fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref %s: not found", image), types.TaskStopCodeTaskFailedToStart, false)
			return
		}
		s.taskRunning(t)
	})
}

func (s *Sim) taskRunning(t *ecsTask) {
	t.lastStatus = "RUNNING"
	t.startedAt = s.clock.now
	s.taskChanged(t)
	if t.service != nil {
		s.registerTaskTargets(t)
		s.serviceKick(t.service, 0)
	}
	switch t.fault {
	case ImageExits:
		s.after(s.timings.Services.BadImageExit, func() {
			if t.lastStatus == "RUNNING" && t.desiredStatus == "RUNNING" {
				t.exitCode = aws.Int32(1)
				s.killTask(t, "Essential container in task exited", types.TaskStopCodeEssentialContainerExited, false)
			}
		})
	case ImageUnhealthy:
		if t.service == nil || len(t.service.lbs) == 0 {
			if hc := t.td.in.ContainerDefinitions[0].HealthCheck; hc != nil {
				wait := time.Duration(aws.ToInt32(hc.Interval)*max(aws.ToInt32(hc.Retries), 1)+aws.ToInt32(hc.StartPeriod)) * time.Second
				s.after(max(wait, time.Duration(t.graceSeconds())*time.Second), func() {
					if t.lastStatus == "RUNNING" && t.desiredStatus == "RUNNING" {
						s.failTaskHealth(t, "Task failed container health checks")
					}
				})
			}
		}
	}
}

func (t *ecsTask) graceSeconds() int32 {
	if t.service == nil {
		return 0
	}
	return t.service.grace
}

// healthy reports whether a task counts as healthy to its service: running,
// and healthy in every target group it registered with.
func (s *Sim) taskHealthy(t *ecsTask) bool {
	if t.lastStatus != "RUNNING" || t.desiredStatus != "RUNNING" {
		return false
	}
	if t.fault == ImageUnhealthy && (t.service == nil || len(t.service.lbs) == 0) {
		return t.td.in.ContainerDefinitions[0].HealthCheck == nil
	}
	if t.service == nil {
		return true
	}
	if len(t.service.lbs) > 0 && len(t.registered) == 0 {
		return false
	}
	for _, r := range t.registered {
		if s.targetState(r.tgArn, t.targetID(), r.port) != "healthy" {
			return false
		}
	}
	return true
}

func (t *ecsTask) targetID() string {
	if t.ip.IsValid() {
		return t.ip.String()
	}
	if t.ci != nil {
		return t.ci.inst.id
	}
	return ""
}

func (s *Sim) registerTaskTargets(t *ecsTask) {
	for _, lb := range t.service.lbs {
		port := aws.ToInt32(lb.ContainerPort)
		arn := aws.ToString(lb.TargetGroupArn)
		if err := s.elbRegister(arn, t.targetID(), port, t.az); err != nil {
			s.serviceEvent(t.service, "failed to register targets in (target-group %s): %s", arn, err.Error())
			continue
		}
		t.registered = append(t.registered, targetRef{tgArn: arn, port: port})
		s.serviceEvent(t.service, "registered 1 targets in (target-group %s)", arn)
	}
}

// stopTask stops a task gracefully: it deregisters from its target groups
// and waits for their deregistration delay (DEACTIVATING), then its
// containers stop (STOPPING), its network interface detaches
// (DEPROVISIONING) and it is STOPPED.
func (s *Sim) stopTask(t *ecsTask, reason string, code types.TaskStopCode) {
	if t.desiredStatus == "STOPPED" {
		return
	}
	t.desiredStatus, t.stopReason, t.stopCode, t.stoppingAt = "STOPPED", reason, code, s.clock.now
	if t.ci == nil {
		s.taskStopped(t)
		return
	}
	if len(t.registered) > 0 {
		t.lastStatus = "DEACTIVATING"
		s.taskChanged(t)
		s.deregisterTaskTargets(t)
		s.waitDeregistered(t)
		return
	}
	s.taskStopping(t)
}

func (s *Sim) deregisterTaskTargets(t *ecsTask) {
	for _, r := range t.registered {
		s.elbDeregister(r.tgArn, t.targetID(), r.port)
	}
	if t.service != nil && len(t.registered) > 0 {
		s.serviceEvent(t.service, "has begun draining connections on 1 tasks.")
		for _, r := range t.registered {
			s.serviceEvent(t.service, "deregistered 1 targets in (target-group %s)", r.tgArn)
		}
	}
}

// waitDeregistered moves a deactivating task on once none of its targets is
// still draining.
func (s *Sim) waitDeregistered(t *ecsTask) {
	if t.lastStatus != "DEACTIVATING" {
		return
	}
	var wait time.Duration
	for _, r := range t.registered {
		if d, draining := s.elbDrainingLeft(r.tgArn, t.targetID(), r.port); draining && d > wait {
			wait = d
		}
	}
	if wait > 0 {
		s.after(wait, func() { s.waitDeregistered(t) })
		return
	}
	t.registered = nil
	s.taskStopping(t)
}

// defaultStopTimeout is how long the agent waits after SIGTERM before it
// kills a container with SIGKILL when neither the container definition's
// stopTimeout nor ECS_CONTAINER_STOP_TIMEOUT says otherwise.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#ContainerDefinition-stopTimeout
const defaultStopTimeout = 30 * time.Second

// stopDuration is how long a stopping task's containers take to exit after
// SIGTERM: a container that handles it exits within TaskStop; one that
// ignores it is killed at its stop timeout. The task waits for the slowest.
// killed reports whether any container was killed.
func (s *Sim) stopDuration(t *ecsTask) (d time.Duration, killed bool) {
	d = s.timings.Services.TaskStop
	if t.fault != ImageIgnoresSIGTERM || t.startedAt.IsZero() {
		return d, false
	}
	for _, c := range t.td.in.ContainerDefinitions {
		timeout := defaultStopTimeout
		if c.StopTimeout != nil {
			timeout = time.Duration(*c.StopTimeout) * time.Second
		}
		d = max(d, timeout)
	}
	return d, true
}

func (s *Sim) taskStopping(t *ecsTask) {
	t.lastStatus = "STOPPING"
	s.taskChanged(t)
	wait, killed := s.stopDuration(t)
	s.after(wait, func() {
		if !t.startedAt.IsZero() && t.exitCode == nil {
			// SIGKILL's exit code is 128 + 9.
			t.exitCode = aws.Int32(0)
			if killed {
				t.exitCode = aws.Int32(137)
			}
		}
		if t.td.awsvpc() {
			t.lastStatus = "DEPROVISIONING"
			s.taskChanged(t)
			s.after(s.timings.Services.TaskDeprovisioning, func() { s.taskStopped(t) })
			return
		}
		s.taskStopped(t)
	})
}

// killTask stops a task whose containers died: it skips draining. With
// immediate (its host is gone) it is STOPPED at once.
func (s *Sim) killTask(t *ecsTask, reason string, code types.TaskStopCode, immediate bool) {
	if t.lastStatus == "STOPPED" {
		return
	}
	first := t.desiredStatus != "STOPPED"
	t.desiredStatus = "STOPPED"
	if first {
		t.stopReason, t.stopCode, t.stoppingAt = reason, code, s.clock.now
	}
	if len(t.registered) > 0 {
		s.deregisterTaskTargets(t)
		t.registered = nil
	}
	if first && t.service != nil && t.dep != nil && !t.healthyOnce && (code == types.TaskStopCodeTaskFailedToStart || code == types.TaskStopCodeEssentialContainerExited) {
		s.taskStartFailed(t.service)
		how := failedToStart
		if code == types.TaskStopCodeEssentialContainerExited {
			how = exitedEarly
		}
		s.deploymentTaskFailed(t.service, t.dep, how)
	}
	if immediate || t.ci == nil {
		s.taskStopped(t)
		return
	}
	if t.lastStatus == "STOPPING" || t.lastStatus == "DEPROVISIONING" {
		return
	}
	s.taskStopping(t)
}

func (s *Sim) taskStopped(t *ecsTask) {
	if t.lastStatus == "STOPPED" {
		return
	}
	if t.stoppingAt.IsZero() {
		t.stoppingAt = s.clock.now
	}
	t.lastStatus, t.desiredStatus, t.stoppedAt = "STOPPED", "STOPPED", s.clock.now
	if t.subnet != nil && t.ip.IsValid() {
		t.subnet.releaseIP(t.ip)
	}
	s.taskChanged(t)
	if t.ci != nil {
		s.cpProtect(t.ci)
	}
	if t.service != nil {
		s.serviceKick(t.service, 0)
	}
	s.after(stoppedTaskRetention, func() { delete(s.ecs.tasks, t.arn) })
}

// failTaskHealth stops a task that failed its health checks, counting it
// against its deployment's circuit breaker.
func (s *Sim) failTaskHealth(t *ecsTask, reason string) {
	if t.desiredStatus != "RUNNING" {
		return
	}
	if t.service != nil {
		s.serviceEvent(t.service, "has stopped 1 running tasks: (task %s).", t.id)
		if t.dep != nil && !t.healthyOnce {
			s.taskStartFailed(t.service)
			defer s.deploymentTaskFailed(t.service, t.dep, failedHealthChecks)
		}
	}
	s.stopTask(t, reason, types.TaskStopCodeServiceSchedulerInitiated)
}

func isoOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ecsTime(t)
}

// taskChanged bumps a task's version and emits its state change.
func (s *Sim) taskChanged(t *ecsTask) {
	t.version++
	out := s.taskOut(t)
	d := events.TaskStateChange{
		Attachments: []events.TaskAttachment{}, AvailabilityZone: t.az, ClusterArn: aws.ToString(out.ClusterArn),
		ContainerInstanceArn: aws.ToString(out.ContainerInstanceArn), CreatedAt: ecsTime(t.createdAt), LaunchType: string(out.LaunchType),
		CPU: aws.ToString(out.Cpu), Memory: aws.ToString(out.Memory), DesiredStatus: t.desiredStatus, Group: t.group,
		LastStatus: t.lastStatus, Connectivity: string(out.Connectivity), ConnectivityAt: isoOrEmpty(t.connectivity),
		PullStartedAt: isoOrEmpty(t.pullStarted), StartedAt: isoOrEmpty(t.startedAt), StartedBy: t.startedBy,
		StoppingAt: isoOrEmpty(t.stoppingAt), StoppedAt: isoOrEmpty(t.stoppedAt), StoppedReason: t.stopReason, StopCode: string(t.stopCode),
		PullStoppedAt: isoOrEmpty(t.pullStopped), UpdatedAt: ecsTime(s.clock.now), TaskArn: t.arn, TaskDefinitionArn: t.td.arn, Version: t.version,
	}
	d.Overrides.ContainerOverrides = make([]events.ContainerOverride, len(out.Containers))
	for _, a := range out.Attachments {
		// Events name the attachment type eni where DescribeTasks says
		// ElasticNetworkInterface.
		aj := events.TaskAttachment{ID: aws.ToString(a.Id), Type: "eni", Status: aws.ToString(a.Status), Details: []events.KeyValuePair{}}
		for _, kv := range a.Details {
			aj.Details = append(aj.Details, events.KeyValuePair{Name: aws.ToString(kv.Name), Value: aws.ToString(kv.Value)})
		}
		d.Attachments = append(d.Attachments, aj)
	}
	for i, c := range out.Containers {
		d.Overrides.ContainerOverrides[i].Name = aws.ToString(c.Name)
		cj := events.TaskContainer{
			ContainerArn: aws.ToString(c.ContainerArn), LastStatus: aws.ToString(c.LastStatus), Name: aws.ToString(c.Name),
			Image: aws.ToString(c.Image), ImageDigest: aws.ToString(c.ImageDigest), RuntimeID: aws.ToString(c.RuntimeId),
			TaskArn: t.arn, NetworkInterfaces: []events.TaskNetworkInterface{}, CPU: aws.ToString(c.Cpu),
			ExitCode: c.ExitCode, Reason: aws.ToString(c.Reason),
		}
		for _, ni := range c.NetworkInterfaces {
			cj.NetworkInterfaces = append(cj.NetworkInterfaces, events.TaskNetworkInterface{AttachmentID: aws.ToString(ni.AttachmentId), PrivateIpv4Address: aws.ToString(ni.PrivateIpv4Address)})
		}
		d.Containers = append(d.Containers, cj)
	}
	s.emit([]string{t.arn}, d)
	s.log.Debug("sim_task_state", "task", t.id, "last_status", t.lastStatus, "desired_status", t.desiredStatus)
}

func (s *Sim) taskOut(t *ecsTask) types.Task {
	out := types.Task{
		TaskArn: aws.String(t.arn), ClusterArn: aws.String(s.ecsArn("cluster/" + t.cluster)), TaskDefinitionArn: aws.String(t.td.arn),
		LastStatus: aws.String(t.lastStatus), DesiredStatus: aws.String(t.desiredStatus), CreatedAt: aws.Time(t.createdAt),
		Cpu: aws.String(fmt.Sprint(t.td.cpu)), Memory: aws.String(fmt.Sprint(t.td.memory)), Group: aws.String(t.group),
		Version: t.version, LaunchType: types.LaunchTypeEc2, Attachments: []types.Attachment{}, Tags: []types.Tag{},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{}}, HealthStatus: types.HealthStatusUnknown,
	}
	if t.startedBy != "" {
		out.StartedBy = aws.String(t.startedBy)
	}
	if t.capacityName != "" || (t.service != nil && len(t.service.strategy) > 0) {
		out.LaunchType = ""
		if t.capacityName != "" {
			out.CapacityProviderName = aws.String(t.capacityName)
		}
	}
	if t.az != "" {
		out.AvailabilityZone = aws.String(t.az)
	}
	if t.ci != nil {
		out.ContainerInstanceArn = aws.String(t.ci.arn)
	}
	setTime := func(dst **time.Time, v time.Time) {
		if !v.IsZero() {
			*dst = aws.Time(v)
		}
	}
	setTime(&out.ConnectivityAt, t.connectivity)
	setTime(&out.PullStartedAt, t.pullStarted)
	setTime(&out.PullStoppedAt, t.pullStopped)
	setTime(&out.StartedAt, t.startedAt)
	setTime(&out.StoppingAt, t.stoppingAt)
	setTime(&out.StoppedAt, t.stoppedAt)
	setTime(&out.ExecutionStoppedAt, t.stoppedAt)
	if !t.connectivity.IsZero() {
		out.Connectivity = types.ConnectivityConnected
	}
	if t.stopReason != "" {
		out.StoppedReason = aws.String(t.stopReason)
		out.StopCode = t.stopCode
	}
	if s.taskHealthy(t) && t.lastStatus == "RUNNING" {
		out.HealthStatus = types.HealthStatusHealthy
	}
	var nis []types.NetworkInterface
	if t.attachmentID != "" {
		status := "PRECREATED"
		switch t.lastStatus {
		case "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING":
			status = "ATTACHED"
		case "DEPROVISIONING":
			status = "DETACHING"
		case "STOPPED":
			status = "DELETED"
		}
		a := types.Attachment{Id: aws.String(t.attachmentID), Type: aws.String("ElasticNetworkInterface"), Status: aws.String(status), Details: []types.KeyValuePair{}}
		if t.subnet != nil {
			a.Details = append(a.Details,
				types.KeyValuePair{Name: aws.String("subnetId"), Value: aws.String(t.subnet.id)},
				types.KeyValuePair{Name: aws.String("networkInterfaceId"), Value: aws.String(t.eniID)},
				types.KeyValuePair{Name: aws.String("macAddress"), Value: aws.String(t.mac)})
		}
		if t.ip.IsValid() {
			a.Details = append(a.Details, types.KeyValuePair{Name: aws.String("privateIPv4Address"), Value: aws.String(t.ip.String())})
			nis = []types.NetworkInterface{{AttachmentId: aws.String(t.attachmentID), PrivateIpv4Address: aws.String(t.ip.String())}}
		}
		out.Attachments = append(out.Attachments, a)
	}
	for i, cd := range t.td.in.ContainerDefinitions {
		status := t.lastStatus
		switch status {
		case "PROVISIONING", "ACTIVATING":
			status = "PENDING"
		case "DEACTIVATING", "STOPPING", "DEPROVISIONING":
			status = "RUNNING"
			if t.lastStatus == "DEPROVISIONING" {
				status = "STOPPED"
			}
		}
		c := types.Container{
			ContainerArn: aws.String(s.ecsArn("container/" + t.cluster + "/" + t.id + "/" + t.containerIDs[i])), Name: cd.Name, Image: cd.Image,
			LastStatus: aws.String(status), TaskArn: aws.String(t.arn), Cpu: aws.String(fmt.Sprint(cd.Cpu)), NetworkInterfaces: nis,
			HealthStatus: types.HealthStatusUnknown, NetworkBindings: []types.NetworkBinding{},
		}
		if i < len(t.digests) {
			c.ImageDigest = aws.String(t.digests[i])
		}
		if !t.startedAt.IsZero() {
			c.RuntimeId = aws.String(t.runtimeIDs[i])
		}
		if c.NetworkInterfaces == nil {
			c.NetworkInterfaces = []types.NetworkInterface{}
		}
		if cd.Memory != nil {
			c.Memory = aws.String(fmt.Sprint(*cd.Memory))
		}
		if status == "STOPPED" && t.exitCode != nil {
			c.ExitCode = t.exitCode
		}
		if status == "STOPPED" && t.stopCode == types.TaskStopCodeTaskFailedToStart {
			c.Reason = aws.String(t.stopReason)
		}
		out.Containers = append(out.Containers, c)
		out.Overrides.ContainerOverrides = append(out.Overrides.ContainerOverrides, types.ContainerOverride{Name: cd.Name})
	}
	return out
}

// imageDigest is the digest a pulled image reports; the simulator derives
// it from the reference so that the same image always has the same digest.
func imageDigest(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (s *Sim) findTask(c *ecsCluster, ref string) *ecsTask {
	id := lastSegment(ref)
	for _, t := range s.ecs.tasks {
		if t.cluster == c.name && t.id == id {
			return t
		}
	}
	return nil
}

func (s *Sim) listTasks(in *ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	desired := string(in.DesiredStatus)
	if desired == "" {
		desired = "RUNNING"
	}
	var ci *containerInstance
	if ref := aws.ToString(in.ContainerInstance); ref != "" {
		if ci = s.findCI(c, ref); ci == nil {
			return nil, ecsInvalid("The referenced container instance %s is not valid for this cluster", ref)
		}
	}
	var arns []string
	for _, t := range s.ecs.sortedTasks() {
		if t.cluster != c.name || t.desiredStatus != desired {
			continue
		}
		if ci != nil && t.ci != ci {
			continue
		}
		if svc := aws.ToString(in.ServiceName); svc != "" && (t.service == nil || t.service.name != lastSegment(svc)) {
			continue
		}
		if f := aws.ToString(in.Family); f != "" && t.td.family != f {
			continue
		}
		if sb := aws.ToString(in.StartedBy); sb != "" && t.startedBy != sb {
			continue
		}
		arns = append(arns, t.arn)
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListTasksOutput{TaskArns: append([]string{}, page...), NextToken: next}, nil
}

func (s *Sim) describeTasks(in *ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeTasksOutput{Tasks: []types.Task{}, Failures: []types.Failure{}}
	for _, ref := range in.Tasks {
		t := s.findTask(c, ref)
		if t == nil {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
			continue
		}
		out.Tasks = append(out.Tasks, s.taskOut(t))
	}
	return out, nil
}

func (s *Sim) stopTaskAPI(in *ecs.StopTaskInput) (*ecs.StopTaskOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	t := s.findTask(c, aws.ToString(in.Task))
	if t == nil {
		return nil, ecsInvalid("The referenced task was not found.")
	}
	reason := aws.ToString(in.Reason)
	if reason == "" {
		reason = "Task stopped by user"
	}
	s.stopTask(t, reason, types.TaskStopCodeUserInitiated)
	out := s.taskOut(t)
	return &ecs.StopTaskOutput{Task: &out}, nil
}

func (s *Sim) runTask(in *ecs.RunTaskInput) (*ecs.RunTaskOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	td, err := s.findTaskDef(aws.ToString(in.TaskDefinition))
	if err != nil {
		return nil, ecsInvalid("TaskDefinition not found.")
	}
	if err := s.validateServiceNetwork(td, in.NetworkConfiguration); err != nil {
		return nil, err
	}
	count := max(aws.ToInt32(in.Count), 1)
	group := aws.ToString(in.Group)
	if group == "" {
		group = "family:" + td.family
	}
	out := &ecs.RunTaskOutput{Tasks: []types.Task{}, Failures: []types.Failure{}}
	req := placementRequest{cluster: c, td: td, nc: in.NetworkConfiguration, constraints: in.PlacementConstraints, strategy: in.PlacementStrategy, strategyItems: in.CapacityProviderStrategy}
	for range count {
		ci, why := s.choosePlacement(req, nil)
		if ci == nil {
			f := types.Failure{Reason: aws.String(why.reason)}
			if why.closest != nil {
				f.Arn = aws.String(why.closest.arn)
			}
			out.Failures = append(out.Failures, f)
			continue
		}
		t := s.newTask(c.name, td, nil, nil, ci, in.NetworkConfiguration, aws.ToString(in.StartedBy), group)
		out.Tasks = append(out.Tasks, s.taskOut(t))
	}
	return out, nil
}
