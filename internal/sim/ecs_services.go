package sim

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	handle(ecsID, "CreateService", (*Sim).createService)
	handle(ecsID, "UpdateService", (*Sim).updateService)
	handle(ecsID, "DescribeServices", (*Sim).describeServices)
	handle(ecsID, "ListServices", (*Sim).listServices)
	handle(ecsID, "DeleteService", (*Sim).deleteService)
}

// maxServiceEvents is how many events DescribeServices returns, newest first.
const maxServiceEvents = 100

// ecsService is a simulated replica service.
type ecsService struct {
	seq              uint64
	name, arn        string
	cluster          *ecsCluster
	status           string
	desired          int32
	launchType       types.LaunchType
	strategy         []types.CapacityProviderStrategyItem
	minHealthy       int32
	maxPercent       int32
	breaker          types.DeploymentCircuitBreaker
	alarms           *types.DeploymentAlarms
	bakeTime         time.Duration
	lbs              []types.LoadBalancer
	netConf          *types.NetworkConfiguration
	constraints      []types.PlacementConstraint
	placement        []types.PlacementStrategy
	grace            int32
	deployments      []*deployment // the PRIMARY first
	completed        *deployment   // the last deployment that reached COMPLETED
	history          []*deployment // every service deployment, oldest first
	events           []types.ServiceEvent
	createdAt        time.Time
	tags             []types.Tag
	reconcile        *timer
	reconcileAt      time.Time
	steady           bool
	lastPlaceFailure string
	azRebalancing    bool
	rebalancing      *ecsTask // a task started to even out zones, until healthy
	startFailures    int      // tasks in a row that failed to start or turn healthy
	cpuDemand        float64
	memDemand        float64
}

// deployment is one of a service's deployments.
type deployment struct {
	id         string
	status     string
	td         *taskDef
	netConf    *types.NetworkConfiguration
	failed     int32
	createdAt  time.Time
	updatedAt  time.Time
	rollout    types.DeploymentRolloutState
	reason     string
	bakeUntil  time.Time
	rollbackOf string
	// breakerTripped and alarmsTripped record what failed the deployment.
	breakerTripped bool
	alarmsTripped  []string
	// alarmsFiringAtStart are the deployment alarms that were in ALARM when
	// it started: then ECS does not watch its alarms at all.
	alarmsFiringAtStart []string
	// arn and revisionArn name the service deployment and the revision it
	// deploys (a rollback deploys the revision it returns to).
	arn, revisionArn string
	// sources are the deployments whose tasks ran when it started.
	sources []*deployment
	// rollback is the deployment that rolled this one back, and
	// rollbackReason why it started.
	rollback              *deployment
	rollbackReason        string
	finishedAt, stoppedAt time.Time
}

func (s *Sim) newDeploymentID() string {
	var b strings.Builder
	b.WriteString("ecs-svc/")
	for range 19 {
		b.WriteByte(byte('0' + s.rng.IntN(10)))
	}
	return b.String()
}

// findClusterService resolves a cluster reference and a service in it.
func (s *Sim) findClusterService(cluster *string, service string) (*ecsService, error) {
	c, err := s.findCluster(cluster)
	if err != nil {
		return nil, err
	}
	return s.findService(c, service)
}

func (s *Sim) findService(c *ecsCluster, ref string) (*ecsService, error) {
	name := lastSegment(ref)
	svc, ok := c.services[name]
	if !ok {
		return nil, &types.ServiceNotFoundException{Message: aws.String("Service not found.")}
	}
	return svc, nil
}

// applyDeploymentConfig validates and applies a deployment configuration,
// with ECS's defaults for a replica service (100 % minimum healthy, 200 %
// maximum).
func (svc *ecsService) applyDeploymentConfig(dc *types.DeploymentConfiguration) error {
	if dc == nil {
		return nil
	}
	if dc.MinimumHealthyPercent != nil {
		if *dc.MinimumHealthyPercent < 0 || *dc.MinimumHealthyPercent > 100 {
			return ecsInvalid("minimumHealthyPercent must be between 0 and 100.")
		}
		svc.minHealthy = *dc.MinimumHealthyPercent
	}
	if dc.MaximumPercent != nil {
		svc.maxPercent = *dc.MaximumPercent
	}
	if svc.maxPercent <= svc.minHealthy && svc.maxPercent < 100 {
		return ecsInvalid("maximumPercent must be greater than minimumHealthyPercent.")
	}
	if dc.DeploymentCircuitBreaker != nil {
		svc.breaker = *dc.DeploymentCircuitBreaker
	}
	if dc.Alarms != nil {
		a := *dc.Alarms
		a.AlarmNames = append([]string(nil), a.AlarmNames...)
		svc.alarms = &a
	}
	if dc.BakeTimeInMinutes != nil {
		svc.bakeTime = time.Duration(*dc.BakeTimeInMinutes) * time.Minute
	}
	return nil
}

func (s *Sim) validateServiceNetwork(td *taskDef, nc *types.NetworkConfiguration) error {
	if td.awsvpc() {
		if nc == nil || nc.AwsvpcConfiguration == nil || len(nc.AwsvpcConfiguration.Subnets) == 0 {
			return ecsInvalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
		}
		for _, id := range nc.AwsvpcConfiguration.Subnets {
			if _, ok := s.ec2.subnets[id]; !ok {
				return ecsInvalid("Error retrieving subnet information for [%s]: The subnet ID '%s' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound)", id, id)
			}
		}
	} else if nc != nil && nc.AwsvpcConfiguration != nil {
		return ecsInvalid("Network Configuration is not valid for the given networkMode of this task definition.")
	}
	return nil
}

func (s *Sim) createService(in *ecs.CreateServiceInput) (*ecs.CreateServiceOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.ServiceName)
	if old, ok := c.services[name]; ok && old.status != "INACTIVE" {
		return nil, ecsInvalid("Creation of service was not idempotent.")
	}
	if in.SchedulingStrategy == types.SchedulingStrategyDaemon {
		return nil, ecsInvalid("The simulator runs REPLICA services only.")
	}
	td, err := s.findTaskDef(aws.ToString(in.TaskDefinition))
	if err != nil {
		return nil, ecsInvalid("TaskDefinition not found.")
	}
	if td.status != types.TaskDefinitionStatusActive {
		return nil, ecsInvalid("TaskDefinition is inactive")
	}
	if err := s.validateServiceNetwork(td, in.NetworkConfiguration); err != nil {
		return nil, err
	}
	if in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0 {
		return nil, ecsInvalid("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	for _, st := range in.CapacityProviderStrategy {
		if !containsString(c.providers, aws.ToString(st.CapacityProvider)) {
			return nil, ecsInvalid("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
	}
	for _, lb := range in.LoadBalancers {
		tg, ok := s.elb.targetGroups[aws.ToString(lb.TargetGroupArn)]
		if !ok {
			return nil, ecsInvalid("Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.")
		}
		if td.awsvpc() && tg.targetType != "ip" {
			return nil, ecsInvalid("The provided target group %s has target type instance, which is incompatible with the awsvpc network mode specified in the task definition.", tg.arn)
		}
		if len(s.tgLoadBalancers(tg)) == 0 {
			return nil, ecsInvalid("The target group with targetGroupArn %s does not have an associated load balancer.", tg.arn)
		}
	}
	svc := &ecsService{
		seq: s.ecs.next(), name: name, arn: s.ecsArn("service/" + c.name + "/" + name), cluster: c, status: "ACTIVE",
		desired: aws.ToInt32(in.DesiredCount), launchType: in.LaunchType, strategy: in.CapacityProviderStrategy,
		minHealthy: 100, maxPercent: 200, lbs: in.LoadBalancers, netConf: in.NetworkConfiguration,
		constraints: in.PlacementConstraints, placement: in.PlacementStrategy, grace: aws.ToInt32(in.HealthCheckGracePeriodSeconds),
		createdAt: s.clock.now, tags: ecsTags(in.Tags),
	}
	// CreateService enables Availability Zone rebalancing unless told not to.
	svc.azRebalancing = in.AvailabilityZoneRebalancing != types.AvailabilityZoneRebalancingDisabled
	if svc.launchType == "" && len(svc.strategy) == 0 {
		if len(c.defaultStrategy) > 0 {
			svc.strategy = c.defaultStrategy
		} else {
			svc.launchType = types.LaunchTypeEc2
		}
	}
	if err := svc.applyDeploymentConfig(in.DeploymentConfiguration); err != nil {
		return nil, err
	}
	c.services[name] = svc
	s.startDeployment(svc, td, in.NetworkConfiguration, "")
	return &ecs.CreateServiceOutput{Service: s.serviceOut(svc, false)}, nil
}

// startDeployment makes a new PRIMARY deployment; the previous ones become
// ACTIVE and drain as the new one rolls out. A rollback gives its reason.
func (s *Sim) startDeployment(svc *ecsService, td *taskDef, nc *types.NetworkConfiguration, rollbackReason string) *deployment {
	d := &deployment{
		id: s.newDeploymentID(), status: "PRIMARY", td: td, netConf: nc, createdAt: s.clock.now, updatedAt: s.clock.now,
		rollout: types.DeploymentRolloutStateInProgress,
	}
	d.reason = "ECS deployment " + d.id + " in progress."
	if rollbackReason != "" {
		d.reason = rollbackReason
		d.rollbackOf = "pending"
	} else {
		d.arn = s.ecsArn("service-deployment/" + svc.cluster.name + "/" + svc.name + "/" + s.alnum(21))
		d.revisionArn = s.ecsArn("service-revision/" + svc.cluster.name + "/" + svc.name + "/" + strings.TrimPrefix(s.newDeploymentID(), "ecs-svc/"))
		svc.history = append(svc.history, d)
	}
	for _, old := range svc.deployments {
		old.status = "ACTIVE"
		old.updatedAt = s.clock.now
		if s.deploymentLive(svc, old) {
			d.sources = append(d.sources, old)
		}
		// A deployment replaced before it finished is stopped.
		if rollbackReason == "" && old.rollout == types.DeploymentRolloutStateInProgress && old.stoppedAt.IsZero() {
			old.stoppedAt = s.clock.now
		}
	}
	svc.deployments = append([]*deployment{d}, svc.deployments...)
	svc.steady = false
	d.alarmsFiringAtStart = s.firingDeploymentAlarms(svc)
	s.emitDeployment(svc, d, "INFO", "SERVICE_DEPLOYMENT_IN_PROGRESS", d.reason)
	s.serviceKick(svc, 0)
	return d
}

func (s *Sim) emitDeployment(svc *ecsService, d *deployment, eventType, name, reason string) {
	s.emit([]string{svc.arn}, events.DeploymentStateChange{
		EventType: eventType, EventName: name, ClusterArn: svc.cluster.arn, DeploymentID: d.id,
		UpdatedAt: s.clock.now.UTC().Format(eventTimeFormat), Reason: reason,
	})
}

// serviceEvent records a service event, newest first.
func (s *Sim) serviceEvent(svc *ecsService, format string, args ...any) {
	msg := fmt.Sprintf("(service %s) ", svc.name) + fmt.Sprintf(format, args...)
	ev := types.ServiceEvent{Id: aws.String(s.newUUID()), CreatedAt: aws.Time(s.clock.now), Message: aws.String(msg)}
	svc.events = append([]types.ServiceEvent{ev}, svc.events...)
	if len(svc.events) > maxServiceEvents {
		svc.events = svc.events[:maxServiceEvents]
	}
	s.log.Debug("sim_service_event", "service", svc.name, "message", msg)
}

func (s *Sim) updateService(in *ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error) {
	svc, err := s.findClusterService(in.Cluster, aws.ToString(in.Service))
	if err != nil {
		return nil, err
	}
	if svc.status != "ACTIVE" {
		return nil, &types.ServiceNotActiveException{Message: aws.String("Service was not ACTIVE.")}
	}
	primary := svc.deployments[0]
	td, nc := primary.td, primary.netConf
	if in.TaskDefinition != nil {
		if td, err = s.findTaskDef(*in.TaskDefinition); err != nil {
			return nil, ecsInvalid("TaskDefinition not found.")
		}
		if td.status != types.TaskDefinitionStatusActive {
			return nil, ecsInvalid("TaskDefinition is inactive")
		}
	}
	if in.NetworkConfiguration != nil {
		nc = in.NetworkConfiguration
	}
	if err := s.validateServiceNetwork(td, nc); err != nil {
		return nil, err
	}
	saved := *svc
	if err := svc.applyDeploymentConfig(in.DeploymentConfiguration); err != nil {
		*svc = saved
		return nil, err
	}
	if in.DesiredCount != nil {
		svc.desired = *in.DesiredCount
		svc.steady = false
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		svc.grace = *in.HealthCheckGracePeriodSeconds
	}
	if in.AvailabilityZoneRebalancing != "" {
		svc.azRebalancing = in.AvailabilityZoneRebalancing == types.AvailabilityZoneRebalancingEnabled
	}
	// Changing what tasks run with, or where they go, starts a new
	// deployment, as does asking for one; the desired count and the
	// deployment configuration apply to the current one.
	changed := td != primary.td || !reflect.DeepEqual(nc, primary.netConf) || in.ForceNewDeployment
	if in.PlacementConstraints != nil {
		changed = changed || !reflect.DeepEqual(in.PlacementConstraints, svc.constraints)
		svc.constraints = in.PlacementConstraints
	}
	if in.PlacementStrategy != nil {
		changed = changed || !reflect.DeepEqual(in.PlacementStrategy, svc.placement)
		svc.placement = in.PlacementStrategy
	}
	if in.CapacityProviderStrategy != nil {
		changed = changed || !reflect.DeepEqual(in.CapacityProviderStrategy, svc.strategy)
		svc.strategy, svc.launchType = in.CapacityProviderStrategy, ""
	}
	if in.LoadBalancers != nil {
		changed = changed || !reflect.DeepEqual(in.LoadBalancers, svc.lbs)
		svc.lbs = in.LoadBalancers
	}
	if changed {
		s.startDeployment(svc, td, nc, "")
	} else {
		s.serviceKick(svc, 0)
	}
	return &ecs.UpdateServiceOutput{Service: s.serviceOut(svc, false)}, nil
}

func (s *Sim) deleteService(in *ecs.DeleteServiceInput) (*ecs.DeleteServiceOutput, error) {
	svc, err := s.findClusterService(in.Cluster, aws.ToString(in.Service))
	if err != nil {
		return nil, err
	}
	if svc.status != "ACTIVE" {
		return nil, &types.ServiceNotActiveException{Message: aws.String("Service was not ACTIVE.")}
	}
	if svc.desired > 0 && !aws.ToBool(in.Force) {
		return nil, ecsInvalid("The service cannot be stopped while it is scaled above 0.")
	}
	svc.status = "DRAINING"
	svc.desired = 0
	s.serviceKick(svc, 0)
	return &ecs.DeleteServiceOutput{Service: s.serviceOut(svc, false)}, nil
}

func (s *Sim) describeServices(in *ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeServicesOutput{Services: []types.Service{}, Failures: []types.Failure{}}
	tags := false
	for _, f := range in.Include {
		tags = tags || f == types.ServiceFieldTags
	}
	for _, ref := range in.Services {
		svc, ok := c.services[lastSegment(ref)]
		if !ok {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.ecsArn("service/" + c.name + "/" + ref)
			}
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		out.Services = append(out.Services, *s.serviceOut(svc, tags))
	}
	return out, nil
}

func (s *Sim) listServices(in *ecs.ListServicesInput) (*ecs.ListServicesOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, svc := range c.sortedServices() {
		if svc.status == "INACTIVE" || (in.LaunchType != "" && svc.launchType != in.LaunchType) {
			continue
		}
		arns = append(arns, svc.arn)
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListServicesOutput{ServiceArns: append([]string{}, page...), NextToken: next}, nil
}

// circuitBreakerThreshold is the number of failed tasks that fails a
// deployment. By default ECS takes half the desired count, at least 3 and at
// most 200; a threshold configuration may change the percentage, drop the
// bounds or give a count.
func circuitBreakerThreshold(cb types.DeploymentCircuitBreaker, desired int32) int32 {
	typ, value := types.ThresholdTypeBoundedPercent, int32(50)
	if tc := cb.ThresholdConfiguration; tc != nil {
		typ, value = tc.Type, tc.Value
	}
	switch typ {
	case types.ThresholdTypeCount:
		return max(value, 1)
	case types.ThresholdTypeUnboundedPercent:
		return max(int32(math.Ceil(float64(value)*float64(desired)/100)), 1)
	}
	return min(max(int32(math.Ceil(float64(value)*float64(desired)/100)), 3), 200)
}

func (s *Sim) deploymentOut(svc *ecsService, d *deployment) types.Deployment {
	var running, pending int32
	for _, t := range s.serviceTasks(svc) {
		if t.dep != d {
			continue
		}
		switch t.lastStatus {
		case "RUNNING":
			running++
		case "PROVISIONING", "PENDING", "ACTIVATING":
			pending++
		}
	}
	desired := svc.desired
	if d.status != "PRIMARY" {
		desired = running + pending
	}
	out := types.Deployment{
		Id: aws.String(d.id), Status: aws.String(d.status), TaskDefinition: aws.String(d.td.arn), DesiredCount: desired,
		RunningCount: running, PendingCount: pending, FailedTasks: d.failed, CreatedAt: aws.Time(d.createdAt), UpdatedAt: aws.Time(d.updatedAt),
		LaunchType: svc.launchType, CapacityProviderStrategy: svc.strategy, NetworkConfiguration: d.netConf,
		RolloutState: d.rollout, RolloutStateReason: aws.String(d.reason),
	}
	return out
}

// breakerOut echoes a circuit breaker configuration as it was given, its
// threshold configuration and reset choice included.
func breakerOut(cb types.DeploymentCircuitBreaker) *types.DeploymentCircuitBreaker {
	out := cb
	if cb.ThresholdConfiguration != nil {
		tc := *cb.ThresholdConfiguration
		out.ThresholdConfiguration = &tc
	}
	if cb.ResetOnHealthyTask != nil {
		out.ResetOnHealthyTask = aws.Bool(*cb.ResetOnHealthyTask)
	}
	return &out
}

func (s *Sim) serviceOut(svc *ecsService, withTags bool) *types.Service {
	out := &types.Service{
		ServiceArn: aws.String(svc.arn), ServiceName: aws.String(svc.name), ClusterArn: aws.String(svc.cluster.arn),
		Status: aws.String(svc.status), DesiredCount: svc.desired, LaunchType: svc.launchType, CapacityProviderStrategy: svc.strategy,
		TaskDefinition: aws.String(svc.deployments[0].td.arn), LoadBalancers: svc.lbs, NetworkConfiguration: svc.deployments[0].netConf,
		PlacementConstraints: svc.constraints, PlacementStrategy: svc.placement, CreatedAt: aws.Time(svc.createdAt),
		SchedulingStrategy: types.SchedulingStrategyReplica, DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeEcs},
		HealthCheckGracePeriodSeconds: aws.Int32(svc.grace), Events: append([]types.ServiceEvent{}, svc.events...),
		PropagateTags: types.PropagateTagsNone, CreatedBy: aws.String(s.arn("iam", "root")),
		AvailabilityZoneRebalancing: types.AvailabilityZoneRebalancingDisabled,
		RoleArn:                     aws.String(s.arn("iam", "role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS")),
		DeploymentConfiguration: &types.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(svc.minHealthy), MaximumPercent: aws.Int32(svc.maxPercent),
			DeploymentCircuitBreaker: breakerOut(svc.breaker),
			Alarms:                   svc.alarms,
		},
	}
	if svc.azRebalancing {
		out.AvailabilityZoneRebalancing = types.AvailabilityZoneRebalancingEnabled
	}
	if arn := svc.deployments[0].arn; arn != "" {
		out.CurrentServiceDeployment = aws.String(arn)
	}
	if out.LoadBalancers == nil {
		out.LoadBalancers = []types.LoadBalancer{}
	}
	if out.PlacementConstraints == nil {
		out.PlacementConstraints = []types.PlacementConstraint{}
	}
	if out.PlacementStrategy == nil {
		out.PlacementStrategy = []types.PlacementStrategy{}
	}
	if withTags {
		out.Tags = svc.tags
	}
	for _, d := range svc.deployments {
		do := s.deploymentOut(svc, d)
		out.Deployments = append(out.Deployments, do)
		out.RunningCount += do.RunningCount
		out.PendingCount += do.PendingCount
	}
	if out.Deployments == nil {
		out.Deployments = []types.Deployment{}
	}
	return out
}
