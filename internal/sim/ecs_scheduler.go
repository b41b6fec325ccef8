package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

func init() {
	components = append(components, func(s *Sim) {
		s.asg.observers = append(s.asg.observers, s.ecsOnASGInstance)
	})
}

// serviceKick schedules the service scheduler to look at svc d from now,
// unless it already will sooner.
func (s *Sim) serviceKick(svc *ecsService, d time.Duration) {
	at := s.clock.now.Add(d)
	if svc.reconcile != nil && !svc.reconcileAt.After(at) {
		return
	}
	svc.reconcile.stop()
	svc.reconcileAt = at
	svc.reconcile = s.after(d, func() {
		svc.reconcile = nil
		s.reconcileService(svc)
	})
}

func (s *Sim) ecsKickCluster(c *ecsCluster) {
	if c == nil {
		return
	}
	for _, svc := range c.sortedServices() {
		s.serviceKick(svc, 0)
	}
}

// serviceTasks returns the service's tasks, stopped ones included while they
// are retained, oldest first.
func (s *Sim) serviceTasks(svc *ecsService) []*ecsTask {
	var out []*ecsTask
	for _, t := range s.ecs.sortedTasks() {
		if t.service == svc {
			out = append(out, t)
		}
	}
	return out
}

func (svc *ecsService) usesProviders() bool { return len(svc.strategy) > 0 }

func (svc *ecsService) request(d *deployment) placementRequest {
	return placementRequest{
		cluster: svc.cluster, td: d.td, nc: d.netConf, constraints: svc.constraints, strategy: svc.placement,
		strategyItems: svc.strategy, service: svc,
	}
}

// reconcileService is one pass of the service scheduler: it places waiting
// tasks, scales in, starts tasks for the PRIMARY deployment within
// maximumPercent, stops tasks being replaced (older deployments, draining
// instances) without dropping below minimumHealthyPercent, and judges the
// rollout.
func (s *Sim) reconcileService(svc *ecsService) {
	if svc.status == "INACTIVE" {
		return
	}
	primary := svc.deployments[0]
	desired := svc.desired
	if svc.status == "DRAINING" {
		desired = 0
	}
	var keep, replace []*ecsTask
	live, healthy := 0, 0
	for _, t := range s.serviceTasks(svc) {
		if t.desiredStatus != "RUNNING" {
			continue
		}
		live++
		if s.taskHealthy(t) {
			healthy++
			if !t.healthyOnce && t.dep != nil {
				t.dep.taskTurnedHealthy(svc.breaker)
			}
			t.healthyOnce = true
			svc.startFailures = 0
		}
		if t.dep == primary && (t.ci == nil || t.ci.status == "ACTIVE") {
			keep = append(keep, t)
		} else {
			replace = append(replace, t)
		}
	}
	maxTotal := int(desired) * int(svc.maxPercent) / 100
	minHealthy := int(math.Ceil(float64(desired) * float64(svc.minHealthy) / 100))
	req := svc.request(primary)

	for _, t := range keep {
		if t.ci == nil {
			if ci, _ := s.choosePlacement(req, svc); ci != nil {
				s.placeTask(t, ci, primary.netConf)
			}
		}
	}

	// A task started to rebalance zones waits until it is healthy; then
	// the scale-in below stops one from the fullest zone.
	surplus := 0
	if rt := svc.rebalancing; rt != nil {
		switch {
		case rt.desiredStatus != "RUNNING":
			svc.rebalancing = nil
		case s.taskHealthy(rt):
			svc.rebalancing = nil
		default:
			surplus = 1
		}
	}
	if excess := len(keep) - int(desired) - surplus; excess > 0 {
		victims := s.scaleInOrder(keep)[:excess]
		var ids []string
		for _, t := range victims {
			ids = append(ids, "(task "+t.id+")")
			s.stopTask(t, "Scaling activity initiated by (deployment "+primary.id+")", types.TaskStopCodeServiceSchedulerInitiated)
		}
		keep = slices.DeleteFunc(keep, func(t *ecsTask) bool { return t.desiredStatus != "RUNNING" })
		live -= excess
		s.serviceEvent(svc, "has stopped %d running tasks: %s.", excess, strings.Join(ids, " "))
	}

	launching := primary.rollout != types.DeploymentRolloutStateFailed && svc.status == "ACTIVE"
	if n := min(int(desired)-len(keep), maxTotal-live); launching && n > 0 {
		var ids []string
		for range n {
			ci, why := s.choosePlacement(req, svc)
			if ci == nil && !svc.usesProviders() {
				if msg := why.message(); msg != svc.lastPlaceFailure {
					s.serviceEvent(svc, "%s", msg)
					s.emitServiceAction(svc, events.ECSEventError, events.ServiceTaskPlacementFailure, why.reason)
					svc.lastPlaceFailure = msg
				}
				s.serviceKick(svc, s.timings.Services.SchedulerRetry)
				break
			}
			svc.lastPlaceFailure = ""
			t := s.newTask(svc.cluster.name, primary.td, svc, primary, ci, primary.netConf, primary.id, "service:"+svc.name)
			keep = append(keep, t)
			live++
			ids = append(ids, "(task "+t.id+")")
		}
		if len(ids) > 0 {
			s.serviceEvent(svc, "has started %d tasks: %s.", len(ids), strings.Join(ids, " "))
			svc.steady = false
		}
	}

	budget := healthy - minHealthy
	var stopped []string
	// Unhealthy tasks go first: stopping them costs no healthy capacity.
	slices.SortStableFunc(replace, func(a, b *ecsTask) int {
		ha, hb := s.taskHealthy(a), s.taskHealthy(b)
		switch {
		case ha == hb:
			return 0
		case !ha:
			return -1
		}
		return 1
	})
	for _, t := range replace {
		reason := "Scaling activity initiated by (deployment " + primary.id + ")"
		if t.ci != nil && t.ci.status == "DRAINING" {
			reason = "Container instance is draining"
		}
		if !s.taskHealthy(t) {
			s.stopTask(t, reason, types.TaskStopCodeServiceSchedulerInitiated)
			stopped = append(stopped, "(task "+t.id+")")
			continue
		}
		if budget > 0 {
			budget--
			s.stopTask(t, reason, types.TaskStopCodeServiceSchedulerInitiated)
			stopped = append(stopped, "(task "+t.id+")")
		}
	}
	if len(stopped) > 0 {
		s.serviceEvent(svc, "has stopped %d running tasks: %s.", len(stopped), strings.Join(stopped, " "))
		s.serviceKick(svc, 0)
	}

	converged := len(keep) == int(desired) && len(stopped) == len(replace)
	for _, t := range keep {
		converged = converged && s.taskHealthy(t)
	}
	// A rollout completes once the tasks it replaced have stopped.
	for _, d := range svc.deployments[1:] {
		converged = converged && !s.deploymentLive(svc, d)
	}
	if converged && primary.rollout == types.DeploymentRolloutStateInProgress {
		if bake := s.bakeTime(svc, primary); bake > 0 && primary.bakeUntil.IsZero() {
			primary.bakeUntil = s.clock.now.Add(bake)
			s.serviceKick(svc, bake)
		} else if !s.clock.now.Before(primary.bakeUntil) {
			s.completeDeployment(svc, primary)
		}
	}
	if converged && primary.rollout != types.DeploymentRolloutStateInProgress {
		kept := svc.deployments[:1]
		for _, d := range svc.deployments[1:] {
			if s.deploymentLive(svc, d) {
				kept = append(kept, d)
			}
		}
		svc.deployments = kept
		if !svc.steady {
			svc.steady = true
			s.serviceEvent(svc, "has reached a steady state.")
			s.emitServiceAction(svc, events.ECSEventInfo, events.ServiceSteadyState, "")
		}
	}
	if converged && primary.rollout == types.DeploymentRolloutStateCompleted && svc.azRebalancing && svc.status == "ACTIVE" &&
		svc.rebalancing == nil && live < maxTotal && s.zonesImbalanced(svc, keep, req) {
		if ci, _ := s.choosePlacement(req, svc); ci != nil {
			t := s.newTask(svc.cluster.name, primary.td, svc, primary, ci, primary.netConf, primary.id, "service:"+svc.name)
			svc.rebalancing, svc.steady = t, false
			s.serviceEvent(svc, "has started 1 tasks: (task %s) to rebalance tasks across Availability Zones.", t.id)
		}
	}
	if svc.status == "DRAINING" {
		done := true
		for _, t := range s.serviceTasks(svc) {
			done = done && t.lastStatus == "STOPPED"
		}
		if done {
			svc.status = "INACTIVE"
		}
	}
}

// emitServiceAction emits an "ECS Service Action" event for the service. The
// scheduler emits SERVICE_STEADY_STATE when the service reaches a steady
// state (not periodically after), SERVICE_TASK_PLACEMENT_FAILURE when the
// reason it cannot place a task changes, and SERVICE_TASK_START_IMPAIRED once
// per run of failed starts (taskStartFailed).
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html
func (s *Sim) emitServiceAction(svc *ecsService, eventType, name, reason string) {
	d := events.ServiceAction{EventType: eventType, EventName: name, ClusterArn: svc.cluster.arn, Reason: reason, CreatedAt: ecsTime(s.clock.now)}
	if name == events.ServiceTaskPlacementFailure {
		for _, it := range svc.strategy {
			if cp, ok := s.ecs.providers[aws.ToString(it.CapacityProvider)]; ok {
				d.CapacityProviderArns = append(d.CapacityProviderArns, cp.arn)
			}
		}
	}
	s.emit([]string{svc.arn}, d)
}

// startImpairedAfter is how many of a service's tasks in a row must fail to
// start, or stop before turning healthy, before the scheduler reports that
// it cannot start tasks consistently. AWS documents no number; the
// simulator takes the circuit breaker's minimum threshold.
const startImpairedAfter = 3

// taskStartFailed counts a service task that failed to start or stopped
// before it ever turned healthy.
func (s *Sim) taskStartFailed(svc *ecsService) {
	svc.startFailures++
	if svc.startFailures == startImpairedAfter {
		s.serviceEvent(svc, "is unable to consistently start tasks successfully.")
		s.emitServiceAction(svc, events.ECSEventWarn, events.ServiceTaskStartImpaired, "")
	}
}

// bakeTime is how long a converged deployment stays IN_PROGRESS while ECS
// keeps watching its alarms. ECS computes it from the alarms'
// configuration without publishing the formula; the simulator takes the
// longest period times evaluation periods among them. An explicit
// BakeTimeInMinutes wins.
func (s *Sim) bakeTime(svc *ecsService, d *deployment) time.Duration {
	if svc.bakeTime > 0 || svc.alarms == nil || !svc.alarms.Enable || d.isRollback() {
		return svc.bakeTime
	}
	var bake time.Duration
	for _, name := range svc.alarms.AlarmNames {
		if a, ok := s.cw.alarms[name]; ok {
			bake = max(bake, time.Duration(a.period)*time.Duration(a.evalPeriods)*time.Second)
		}
	}
	return bake
}

func (s *Sim) deploymentLive(svc *ecsService, d *deployment) bool {
	for _, t := range s.serviceTasks(svc) {
		if t.dep == d && t.lastStatus != "STOPPED" {
			return true
		}
	}
	return false
}

// scaleInOrder orders tasks for scale-in: those not yet placed or running
// first, then from the zone with the most tasks, newest first, so that the
// service stays balanced across zones.
func (s *Sim) scaleInOrder(tasks []*ecsTask) []*ecsTask {
	out := slices.Clone(tasks)
	perAZ := map[string]int{}
	for _, t := range out {
		perAZ[t.az]++
	}
	rank := func(t *ecsTask) int {
		if t.ci == nil {
			return 0
		}
		if t.lastStatus != "RUNNING" {
			return 1
		}
		return 2
	}
	var picked []*ecsTask
	for len(out) > 0 {
		slices.SortStableFunc(out, func(a, b *ecsTask) int {
			if ra, rb := rank(a), rank(b); ra != rb {
				return ra - rb
			}
			if perAZ[a.az] != perAZ[b.az] {
				return perAZ[b.az] - perAZ[a.az]
			}
			return int(b.seq) - int(a.seq)
		})
		picked = append(picked, out[0])
		perAZ[out[0].az]--
		out = out[1:]
	}
	return picked
}

func (s *Sim) completeDeployment(svc *ecsService, d *deployment) {
	d.rollout = types.DeploymentRolloutStateCompleted
	d.reason = "ECS deployment " + d.id + " completed."
	d.updatedAt, d.finishedAt = s.clock.now, s.clock.now
	svc.completed = d
	s.serviceEvent(svc, "(deployment %s) deployment completed.", d.id)
	s.emitDeployment(svc, d, "INFO", "SERVICE_DEPLOYMENT_COMPLETED", d.reason)
}

// taskFailure is how a deployment's task failed, for the circuit breaker's
// reason.
type taskFailure int

const (
	// failedToStart: the task never reached RUNNING (its image did not
	// pull, say).
	failedToStart taskFailure = iota
	// exitedEarly: its essential container exited before the task turned
	// healthy.
	exitedEarly
	// failedHealthChecks: it ran but failed its load balancer or container
	// health checks.
	failedHealthChecks
)

// breakerReason is the deployment's rollout state reason when the circuit
// breaker fails it, and the short form the service event uses. ECS documents
// "task failed to start."; the other two texts are the simulator's own, for
// what AWS's stage 2 (health checks) and an exit after starting report.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
func (f taskFailure) breakerReason() (reason, short string) {
	switch f {
	case exitedEarly:
		return "ECS deployment circuit breaker: task exited before it turned healthy.", "tasks exited before they turned healthy"
	case failedHealthChecks:
		return "ECS deployment circuit breaker: task failed health checks.", "tasks failed health checks"
	}
	return "ECS deployment circuit breaker: task failed to start.", "tasks failed to start"
}

// countFailure adds a failed task to the deployment's circuit-breaker count
// and reports whether the count has reached the threshold for desired tasks.
func (d *deployment) countFailure(cb types.DeploymentCircuitBreaker, desired int32) bool {
	d.failed++
	return cb.Enable && d.failed >= circuitBreakerThreshold(cb, desired)
}

// taskTurnedHealthy resets the deployment's failure count when one of its
// tasks turns healthy, unless the breaker says not to: "When set to true, a
// task that reaches a healthy state resets the failure count to 0. [...] The
// default is true."
//
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentCircuitBreaker.html
func (d *deployment) taskTurnedHealthy(cb types.DeploymentCircuitBreaker) {
	if cb.ResetOnHealthyTask == nil || *cb.ResetOnHealthyTask {
		d.failed = 0
	}
}

// deploymentTaskFailed counts a task of d that failed to start or to become
// healthy, and trips the circuit breaker at its threshold.
func (s *Sim) deploymentTaskFailed(svc *ecsService, d *deployment, how taskFailure) {
	// Failures after the verdict (tasks of a failed deployment dying while
	// it is rolled back) no longer count.
	if d.rollout != types.DeploymentRolloutStateInProgress {
		return
	}
	d.updatedAt = s.clock.now
	if d.countFailure(svc.breaker, svc.desired) && d == svc.deployments[0] {
		d.breakerTripped = true
		reason, short := how.breakerReason()
		s.failDeployment(svc, d, reason, short, svc.breaker.Rollback, "ECS deployment circuit breaker: rolling back to deploymentId ")
	}
}

// failDeployment marks d FAILED and, when asked and possible, rolls back to
// the last completed deployment. A rollback is never rolled back itself.
func (s *Sim) failDeployment(svc *ecsService, d *deployment, reason, short string, rollback bool, rollbackReason string) {
	d.rollout = types.DeploymentRolloutStateFailed
	d.reason = reason
	d.updatedAt = s.clock.now
	s.serviceEvent(svc, "(deployment %s) deployment failed: %s.", d.id, short)
	s.emitDeployment(svc, d, "ERROR", "SERVICE_DEPLOYMENT_FAILED", reason)
	target := svc.completed
	if rollback && target != nil && target != d && !d.isRollback() {
		s.serviceEvent(svc, "(deployment %s) rolling back to deployment %s.", d.id, target.id)
		nd := s.startDeployment(svc, target.td, target.netConf, rollbackReason+target.id+".")
		nd.rollbackOf, nd.revisionArn, nd.arn = d.id, target.revisionArn, d.arn
		d.rollback, d.rollbackReason = nd, nd.reason
		// The rollback returns to the completed revision: its tasks, still
		// running, belong to the rollback and are not replaced.
		for _, t := range s.serviceTasks(svc) {
			if t.dep == target {
				t.dep = nd
			}
		}
		svc.deployments = slices.DeleteFunc(svc.deployments, func(x *deployment) bool { return x == target })
		return
	}
	d.stoppedAt = s.clock.now
	s.serviceKick(svc, 0)
}

func (d *deployment) isRollback() bool { return d.rollbackOf != "" }

// checkDeploymentAlarms fails the PRIMARY deployment if one of the service's
// deployment alarms is in ALARM while it rolls out. A deployment that
// started while one of them was in ALARM is not watched: "If an alarm is in
// 'In alarm' state at the beginning of a deployment, Amazon ECS will NOT
// monitor alarms for the duration of that deployment."
//
// https://aws.github.io/copilot-cli/docs/manifest/lb-web-service/#deployment-rollback-alarms
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html
func (s *Sim) checkDeploymentAlarms(svc *ecsService) {
	if svc.alarms == nil || !svc.alarms.Enable || len(svc.deployments) == 0 {
		return
	}
	d := svc.deployments[0]
	if d.rollout != types.DeploymentRolloutStateInProgress || d.isRollback() || len(d.alarmsFiringAtStart) > 0 {
		return
	}
	firing := s.firingDeploymentAlarms(svc)
	if len(firing) == 0 {
		return
	}
	reason := fmt.Sprintf("ECS deployment alarms: %s in ALARM state.", strings.Join(firing, ", "))
	d.alarmsTripped = firing
	s.failDeployment(svc, d, reason, "alarm detected", svc.alarms.Rollback, "ECS deployment alarms: rolling back to deploymentId ")
}

// firingDeploymentAlarms lists the service's deployment alarms in ALARM.
func (s *Sim) firingDeploymentAlarms(svc *ecsService) []string {
	if svc.alarms == nil || !svc.alarms.Enable {
		return nil
	}
	var firing []string
	for _, name := range svc.alarms.AlarmNames {
		if a, ok := s.cw.alarms[name]; ok && a.state == "ALARM" {
			firing = append(firing, name)
		}
	}
	return firing
}

// ecsOnAlarm re-judges the deployments watching an alarm that changed state.
func (s *Sim) ecsOnAlarm(name string) {
	for _, c := range sortedBySeq(s.ecs.clusters, func(c *ecsCluster) uint64 { return c.seq }) {
		for _, svc := range c.sortedServices() {
			if svc.alarms != nil && containsString(svc.alarms.AlarmNames, name) {
				s.checkDeploymentAlarms(svc)
			}
		}
	}
}

// ecsTargetHealthChanged is how a target group tells ECS that one of its
// targets changed health. ECS stops a task that fails its load balancer
// health checks once its health check grace period is over.
func (s *Sim) ecsTargetHealthChanged(tgArn, id string, port int32, state string) {
	for _, t := range s.ecs.sortedTasks() {
		if t.service == nil || t.desiredStatus != "RUNNING" || t.targetID() != id {
			continue
		}
		reg := false
		for _, r := range t.registered {
			reg = reg || (r.tgArn == tgArn && r.port == port)
		}
		if !reg {
			continue
		}
		switch state {
		case "healthy":
			s.serviceKick(t.service, 0)
		case "unhealthy":
			t := t
			s.after(s.timings.Services.HealthReaction, func() { s.judgeUnhealthy(t, tgArn, port) })
		}
	}
}

func (s *Sim) judgeUnhealthy(t *ecsTask, tgArn string, port int32) {
	if t.desiredStatus != "RUNNING" || s.targetState(tgArn, t.targetID(), port) != "unhealthy" {
		return
	}
	graceEnd := t.startedAt.Add(time.Duration(t.graceSeconds()) * time.Second)
	if s.clock.now.Before(graceEnd) {
		s.after(graceEnd.Sub(s.clock.now), func() { s.judgeUnhealthy(t, tgArn, port) })
		return
	}
	s.serviceEvent(t.service, "(task %s) (port %d) is unhealthy in (target-group %s) due to (reason Health checks failed).", t.id, port, tgArn)
	s.failTaskHealth(t, "Task failed ELB health checks in (target-group "+tgArn+")")
}

// zonesImbalanced reports whether the service's tasks are uneven across the
// zones it can place tasks in: some such zone has at least two fewer tasks
// than the fullest. ECS rebalances only services spread by zone first.
func (s *Sim) zonesImbalanced(svc *ecsService, keep []*ecsTask, req placementRequest) bool {
	if len(svc.placement) > 0 && (svc.placement[0].Type != types.PlacementStrategyTypeSpread || aws.ToString(svc.placement[0].Field) != "attribute:ecs.availability-zone") {
		return false
	}
	counts := map[string]int{}
	fullest := 0
	for _, t := range keep {
		counts[t.az]++
		fullest = max(fullest, counts[t.az])
	}
	cands, _ := s.candidates(req, svc)
	for _, ci := range cands {
		if counts[ci.inst.az] <= fullest-2 {
			return true
		}
	}
	return false
}

// placementRequest is what a task needs from a container instance.
type placementRequest struct {
	cluster       *ecsCluster
	td            *taskDef
	nc            *types.NetworkConfiguration
	constraints   []types.PlacementConstraint
	strategy      []types.PlacementStrategy
	strategyItems []types.CapacityProviderStrategyItem
	service       *ecsService
}

// defaultServiceStrategy is how the service scheduler places tasks when
// the service names no strategy: balanced across zones, then instances.
var defaultServiceStrategy = []types.PlacementStrategy{
	{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")},
	{Type: types.PlacementStrategyTypeSpread, Field: aws.String("instanceId")},
}

// choosePlacement picks the container instance for one task: the instances
// that can take it (active, connected, with room, in a zone of the task's
// subnets, of the strategy's capacity providers, meeting the constraints),
// narrowed by each placement strategy in turn. It returns nil and the reason
// when none can.
func (s *Sim) choosePlacement(req placementRequest, svc *ecsService) (*containerInstance, placementFailure) {
	cands, why := s.candidates(req, svc)
	if len(cands) == 0 {
		return nil, why
	}
	strategy := req.strategy
	if len(strategy) == 0 && svc != nil {
		strategy = defaultServiceStrategy
	}
	for _, st := range strategy {
		cands = s.applyStrategy(cands, st, req, svc)
	}
	if len(strategy) == 0 {
		return cands[s.rng.IntN(len(cands))], placementFailure{}
	}
	return cands[0], placementFailure{}
}

// placementFailure is why no container instance can take a task: RunTask's
// failure reason, and the instance that came closest when resources were
// short.
type placementFailure struct {
	reason  string
	closest *containerInstance
}

// message is the service event ECS writes for the failure.
func (f placementFailure) message() string {
	const more = " For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
	if f.closest != nil {
		what := map[string]string{"RESOURCE:CPU": "CPU units", "RESOURCE:MEMORY": "memory"}[f.reason]
		return "was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance " + f.closest.id + ") has insufficient " + what + " available." + more
	}
	return "was unable to place a task because no container instance met all of its requirements. Reason: " + f.reason + more
}

// candidates returns the container instances that can take a task, or why
// none can.
func (s *Sim) candidates(req placementRequest, svc *ecsService) ([]*containerInstance, placementFailure) {
	var cands []*containerInstance
	registered, short := 0, placementFailure{}
	for _, ci := range s.ecs.sortedInstances() {
		if ci.cluster != req.cluster.name || ci.status == "INACTIVE" {
			continue
		}
		registered++
		if ci.status != "ACTIVE" || !ci.agentConnected || !ci.inst.serving() {
			continue
		}
		if len(req.strategyItems) > 0 {
			in := false
			for _, it := range req.strategyItems {
				in = in || aws.ToString(it.CapacityProvider) == ci.provider
			}
			if !in {
				continue
			}
		}
		cpu, mem, _, _ := s.ciUsage(ci)
		if ci.cpu-cpu < req.td.cpu {
			short = placementFailure{"RESOURCE:CPU", ci}
			continue
		}
		if ci.memory-mem < req.td.memory {
			short = placementFailure{"RESOURCE:MEMORY", ci}
			continue
		}
		if req.td.awsvpc() && req.nc != nil && req.nc.AwsvpcConfiguration != nil {
			ok := false
			for _, id := range req.nc.AwsvpcConfiguration.Subnets {
				if sn, found := s.ec2.subnets[id]; found && sn.zone.name == ci.inst.az {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if !s.meetsConstraints(ci, req, svc) {
			continue
		}
		cands = append(cands, ci)
	}
	if len(cands) == 0 {
		switch {
		case registered == 0:
			return nil, placementFailure{reason: "No Container Instances were found in your cluster."}
		case short.closest != nil:
			return nil, short
		}
		return nil, placementFailure{reason: "No Container Instances were found in your cluster that met all of the task's requirements."}
	}
	return cands, placementFailure{}
}

func (s *Sim) meetsConstraints(ci *containerInstance, req placementRequest, svc *ecsService) bool {
	check := func(typ, expr string) bool {
		switch typ {
		case string(types.PlacementConstraintTypeDistinctInstance):
			for _, t := range s.ecs.tasks {
				if t.ci == ci && t.desiredStatus == "RUNNING" && (svc == nil || t.service == svc) {
					return false
				}
			}
		case string(types.PlacementConstraintTypeMemberOf):
			ok, err := s.matchesExpression(ci, expr)
			return err == nil && ok
		}
		return true
	}
	for _, c := range req.constraints {
		if !check(string(c.Type), aws.ToString(c.Expression)) {
			return false
		}
	}
	for _, c := range req.td.in.PlacementConstraints {
		if !check(string(c.Type), aws.ToString(c.Expression)) {
			return false
		}
	}
	return true
}

// applyStrategy keeps the candidates a placement strategy prefers.
func (s *Sim) applyStrategy(cands []*containerInstance, st types.PlacementStrategy, req placementRequest, svc *ecsService) []*containerInstance {
	field := aws.ToString(st.Field)
	switch st.Type {
	case types.PlacementStrategyTypeRandom:
		return []*containerInstance{cands[s.rng.IntN(len(cands))]}
	case types.PlacementStrategyTypeBinpack:
		best, bestV := []*containerInstance{}, int32(math.MaxInt32)
		for _, ci := range cands {
			cpu, mem, _, _ := s.ciUsage(ci)
			v := ci.memory - mem
			if strings.EqualFold(field, "cpu") {
				v = ci.cpu - cpu
			}
			if v < bestV {
				best, bestV = nil, v
			}
			if v == bestV {
				best = append(best, ci)
			}
		}
		return best
	case types.PlacementStrategyTypeSpread:
		key := func(ci *containerInstance) string {
			if field == "instanceId" || field == "host" {
				return ci.id
			}
			v, _ := s.ecsAttr(ci, strings.TrimPrefix(field, "attribute:"))
			return v
		}
		counts := map[string]int{}
		for _, t := range s.ecs.sortedTasks() {
			// Tasks on draining instances are on their way out and do not
			// count toward the balance.
			if t.ci == nil || t.desiredStatus != "RUNNING" || t.ci.status != "ACTIVE" {
				continue
			}
			if (svc != nil && t.service == svc) || (svc == nil && t.td.family == req.td.family) {
				counts[key(t.ci)]++
			}
		}
		best, bestN := []*containerInstance{}, math.MaxInt
		for _, ci := range cands {
			n := counts[key(ci)]
			if n < bestN {
				best, bestN = nil, n
			}
			if n == bestN {
				best = append(best, ci)
			}
		}
		return best
	}
	return cands
}

// cpProtect keeps managed termination protection in step with an
// instance's tasks: an instance running tasks is protected from scale-in.
func (s *Sim) cpProtect(ci *containerInstance) {
	cp, ok := s.ecs.providers[ci.provider]
	if !ok || !cp.terminationProtect {
		return
	}
	_, ai, ok := s.groupOf(ci.inst.id)
	if !ok {
		return
	}
	busy := false
	for _, t := range s.ecs.tasks {
		busy = busy || (t.ci == ci && t.lastStatus != "STOPPED")
	}
	ai.protected = busy
}

// ecsOnASGInstance drains the container instance of an instance its group
// starts terminating, when its capacity provider manages draining.
func (s *Sim) ecsOnASGInstance(g *asGroup, ai *asgInstance, _ astypes.LifecycleState) {
	if ai.state != astypes.LifecycleStateTerminating && ai.state != astypes.LifecycleStateTerminatingWait {
		return
	}
	ci := s.containerInstanceFor(ai.id)
	if ci == nil || ci.status != "ACTIVE" {
		return
	}
	if cp, ok := s.ecs.providers[ci.provider]; !ok || !cp.managedDraining {
		return
	}
	ci.status = "DRAINING"
	s.ciChanged(ci)
	s.ecsKickCluster(s.ecs.clusters[ci.cluster])
}
