package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// metricsInterval is CloudWatch's standard resolution: the simulated fleet
// publishes, managed scaling evaluates and alarms evaluate once a minute,
// on the minute.
const metricsInterval = time.Minute

// ensureMinuteTick starts the once-a-minute cycle the first time something
// that needs it (a cluster, load balancer, alarm or metric) exists, so that
// simulations without them schedule nothing.
func (s *Sim) ensureMinuteTick() {
	if s.cw.ticking {
		return
	}
	s.cw.ticking = true
	next := s.clock.now.Truncate(metricsInterval).Add(metricsInterval)
	s.after(next.Sub(s.clock.now), s.minuteTick)
}

func (s *Sim) minuteTick() {
	s.publishFleetMetrics()
	s.runManagedScaling()
	for _, a := range sortedBySeq(s.cw.alarms, func(a *metricAlarm) uint64 { return a.seq }) {
		if _, ok := s.cw.alarms[a.name]; ok {
			s.evaluateAlarm(a)
		}
	}
	s.after(metricsInterval, s.minuteTick)
}

// SetServiceLoad sets the load on an ECS service: cpu and memory are the
// utilization one task would see carrying it all, in percent of a task's
// reservation. The load is shared by the service's running tasks, so 300
// over three tasks reports 100 % CPU utilization, over six 50 %.
func (s *Sim) SetServiceLoad(cluster, service string, cpu, memory float64) error {
	return s.lockedRun(func() error {
		svc, err := s.findClusterService(&cluster, service)
		if err != nil {
			return fmt.Errorf("setting load of service %s: %w", service, err)
		}
		svc.cpuDemand, svc.memDemand = max(cpu, 0), max(memory, 0)
		return nil
	})
}

// serviceUtilization returns the CPU and memory utilization of the
// service's running tasks.
func (s *Sim) serviceUtilization(svc *ecsService) (cpu, mem float64, running int) {
	for _, t := range s.serviceTasks(svc) {
		if t.lastStatus == "RUNNING" {
			running++
		}
	}
	if running == 0 {
		return 0, 0, 0
	}
	return svc.cpuDemand / float64(running), svc.memDemand / float64(running), running
}

// publishFleetMetrics records the minute that just ended for every
// simulated resource that reports to CloudWatch.
func (s *Sim) publishFleetMetrics() {
	ts := s.clock.now.Add(-metricsInterval)
	svcCPU := map[*ecsService]float64{}
	for _, c := range sortedBySeq(s.ecs.clusters, func(c *ecsCluster) uint64 { return c.seq }) {
		for _, svc := range c.sortedServices() {
			cpu, mem, running := s.serviceUtilization(svc)
			svcCPU[svc] = cpu
			if running == 0 {
				continue
			}
			d := dims("ClusterName", c.name, "ServiceName", svc.name)
			s.putValue("AWS/ECS", "CPUUtilization", d, ts, cpu)
			s.putValue("AWS/ECS", "MemoryUtilization", d, ts, mem)
		}
	}
	for _, lb := range sortedBySeq(s.elb.lbs, func(lb *loadBalancer) uint64 { return lb.seq }) {
		s.publishLBMetrics(lb, ts, svcCPU)
	}
}

// publishLBMetrics reports a load balancer's target health per zone and its
// traffic. Requests go to healthy targets outside shifted-away zones; when a
// group has no healthy target the load balancer routes to all of its targets
// whatever their health (fail open), and with no target at all it answers
// 503 itself. What a target cannot answer the load balancer answers: 502
// when nothing accepts the connection, 504 when nothing answers in time;
// those count as HTTPCode_ELB_5XX_Count (and HTTPCode_ELB_502/503/504_Count),
// and only 5xx responses from targets count as HTTPCode_Target_5XX_Count.
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html
func (s *Sim) publishLBMetrics(lb *loadBalancer, ts time.Time, svcCPU map[*ecsService]float64) {
	lbDim := lbDimension(lb.arn)
	zones := s.lbZones(lb)
	weights := map[string]int32{}
	var total int32
	for _, l := range sortedBySeq(s.elb.listeners, func(l *listener) uint64 { return l.seq }) {
		if l.lbArn != lb.arn {
			continue
		}
		for _, a := range l.actions {
			for arn, w := range forwardTargets(a) {
				if _, seen := weights[arn]; !seen {
					weights[arn] = w
					total += w
				}
			}
		}
		break
	}
	requests := lb.rps * metricsInterval.Seconds()
	var elb502, elb503, elb504, target5xx, latencySum, served float64
	byZone, elb5xxByZone := map[string]float64{}, map[string]float64{}
	for _, tg := range sortedBySeq(s.elb.targetGroups, func(tg *targetGroup) uint64 { return tg.seq }) {
		if !containsString(s.tgLoadBalancers(tg), lb.arn) {
			continue
		}
		tg.requests = map[string]float64{}
		tgDim := "targetgroup/" + tg.name + "/" + lastSegment(tg.arn)
		healthyByZone, unhealthyByZone := map[string]int{}, map[string]int{}
		var routable, unshifted, all []*target
		for _, t := range sortedBySeq(tg.targets, func(t *target) uint64 { return t.seq }) {
			st, _, _ := s.effectiveHealth(tg, t)
			switch st {
			case elbtypes.TargetHealthStateEnumHealthy:
				healthyByZone[t.az]++
				if !lb.shiftedOff[t.az] {
					routable = append(routable, t)
				}
			case elbtypes.TargetHealthStateEnumUnhealthy:
				unhealthyByZone[t.az]++
			}
			if st != elbtypes.TargetHealthStateEnumDraining && st != elbtypes.TargetHealthStateEnumUnused {
				all = append(all, t)
				if !lb.shiftedOff[t.az] {
					unshifted = append(unshifted, t)
				}
			}
		}
		var healthy, unhealthy int
		for _, z := range zones {
			d := dims("AvailabilityZone", z, "LoadBalancer", lbDim, "TargetGroup", tgDim)
			s.putValue("AWS/ApplicationELB", "HealthyHostCount", d, ts, float64(healthyByZone[z]))
			s.putValue("AWS/ApplicationELB", "UnHealthyHostCount", d, ts, float64(unhealthyByZone[z]))
			healthy += healthyByZone[z]
			unhealthy += unhealthyByZone[z]
		}
		d := dims("LoadBalancer", lbDim, "TargetGroup", tgDim)
		s.putValue("AWS/ApplicationELB", "HealthyHostCount", d, ts, float64(healthy))
		s.putValue("AWS/ApplicationELB", "UnHealthyHostCount", d, ts, float64(unhealthy))
		if requests <= 0 || total == 0 {
			continue
		}
		share := requests * float64(weights[tg.arn]) / float64(total)
		if share <= 0 {
			continue
		}
		if len(routable) == 0 {
			// Fail open: with no healthy target the group routes to all of
			// them, and a zonal shift has no effect then ("When a Network
			// Load Balancer or Application Load Balancer is in a fail open
			// state, a zonal shift will have no effect",
			// arc-zonal-shift.resource-types.html). With healthy targets
			// only in a shifted zone, the others take the traffic.
			routable = unshifted
			if len(healthyByZone) == 0 {
				routable = all
			}
		}
		if len(routable) == 0 {
			elb503 += share
			continue
		}
		per := share / float64(len(routable))
		var tg5xx float64
		tg5xxByZone := map[string]float64{}
		for _, t := range routable {
			byZone[t.az] += per
			tg.requests[t.id] += per
			a, flaky, extra := s.targetAnswer(tg, t)
			switch a {
			case answerError, answerRequestErrors:
				tg5xx += per
				tg5xxByZone[t.az] += per
			case answerRefused:
				elb502 += per
				elb5xxByZone[t.az] += per
			case answerTimeout:
				elb504 += per
				elb5xxByZone[t.az] += per
			default:
				elb504 += per * flaky
				elb5xxByZone[t.az] += per * flaky
				ok := per * (1 - flaky)
				latencySum += ok * (s.targetLatency(t, svcCPU) + extra.Seconds())
				served += ok
			}
		}
		target5xx += tg5xx
		s.putValue("AWS/ApplicationELB", "RequestCount", d, ts, share)
		if tg5xx > 0 {
			s.putValue("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", d, ts, tg5xx)
		}
		for _, z := range zones {
			if v := tg5xxByZone[z]; v > 0 {
				s.putValue("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims("AvailabilityZone", z, "LoadBalancer", lbDim, "TargetGroup", tgDim), ts, v)
			}
		}
	}
	d := dims("LoadBalancer", lbDim)
	if requests > 0 {
		s.putValue("AWS/ApplicationELB", "RequestCount", d, ts, requests)
		for _, z := range zones {
			s.putValue("AWS/ApplicationELB", "RequestCount", dims("AvailabilityZone", z, "LoadBalancer", lbDim), ts, byZone[z])
		}
	}
	// Like CloudWatch, the load balancer reports a count metric only for a
	// minute in which it counted something.
	for _, m := range []struct {
		name string
		v    float64
	}{
		{"HTTPCode_ELB_5XX_Count", elb502 + elb503 + elb504}, {"HTTPCode_ELB_502_Count", elb502}, {"HTTPCode_ELB_503_Count", elb503},
		{"HTTPCode_ELB_504_Count", elb504}, {"HTTPCode_Target_5XX_Count", target5xx},
	} {
		if m.v > 0 {
			s.putValue("AWS/ApplicationELB", m.name, d, ts, m.v)
		}
	}
	// The 5xx counts per zone are those of the requests the zone's
	// targets received, as AWS reports HTTPCode_ELB_5XX_Count by
	// AvailabilityZone and LoadBalancer and the target metrics by
	// AvailabilityZone, LoadBalancer and TargetGroup.
	for _, z := range zones {
		if v := elb5xxByZone[z]; v > 0 {
			s.putValue("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", dims("AvailabilityZone", z, "LoadBalancer", lbDim), ts, v)
		}
	}
	if served > 0 {
		s.putValue("AWS/ApplicationELB", "TargetResponseTime", d, ts, latencySum/served)
	}
}

// TargetRequests returns how many requests each target of a group received
// in the last minute the load balancers reported, by target ID: the healthy
// targets, or every target when none is healthy.
func (s *Sim) TargetRequests(targetGroupArn string) (map[string]float64, error) {
	var out map[string]float64
	err := s.lockedRun(func() error {
		tg, err := s.findTG(targetGroupArn)
		if err != nil {
			return fmt.Errorf("reading the traffic of %s: %w", targetGroupArn, err)
		}
		out = map[string]float64{}
		for k, v := range tg.requests {
			out[k] = v
		}
		return nil
	})
	return out, err
}

// targetLatency models a target's response time: 20 ms, growing once its
// service's CPU passes 70 %.
func (s *Sim) targetLatency(t *target, svcCPU map[*ecsService]float64) float64 {
	for _, task := range s.ecs.sortedTasks() {
		if task.ip.IsValid() && task.ip.String() == t.id && task.service != nil {
			return 0.02 * (1 + math.Max(0, svcCPU[task.service]-70)/10)
		}
	}
	return 0.02
}

// lbDimension turns a load balancer ARN into its CloudWatch dimension
// value, app/NAME/ID.
func lbDimension(arn string) string {
	_, after, ok := strings.Cut(arn, ":loadbalancer/")
	if !ok {
		return arn
	}
	return after
}

// runManagedScaling adjusts the Auto Scaling group of every capacity
// provider with managed scaling, as ECS does through its
// CapacityProviderReservation metric: M is the number of instances the
// cluster needs (those running tasks, plus enough for the tasks waiting
// for capacity), N the number it has, and the group's desired capacity
// becomes M divided by the target capacity. Scale-out is immediate;
// scale-in waits for 15 consecutive low evaluations, like the target
// tracking policy ECS creates.
func (s *Sim) runManagedScaling() {
	for _, cp := range sortedBySeq(s.ecs.providers, func(cp *capacityProvider) uint64 { return cp.seq }) {
		if !cp.managedScaling || cp.cluster == "" {
			continue
		}
		g := s.groupByArn(cp.asgArn)
		if g == nil {
			continue
		}
		n := len(g.activeInstances())
		busy := 0
		var capCPU, capMem int32
		for _, ci := range s.ecs.sortedInstances() {
			if ci.provider != cp.name || ci.status == "INACTIVE" {
				continue
			}
			capCPU, capMem = ci.cpu, ci.memory
			for _, t := range s.ecs.tasks {
				if t.ci == ci && t.lastStatus != "STOPPED" {
					busy++
					break
				}
			}
		}
		if capCPU == 0 {
			capCPU, capMem = instanceResources("")
		}
		var needCPU, needMem int32
		waiting := 0
		for _, t := range s.ecs.sortedTasks() {
			if t.ci != nil || t.lastStatus != "PROVISIONING" || t.desiredStatus != "RUNNING" || t.service == nil || t.service.cluster.name != cp.cluster {
				continue
			}
			uses := false
			for _, it := range t.service.strategy {
				uses = uses || deref(it.CapacityProvider) == cp.name
			}
			if uses {
				waiting++
				needCPU += t.td.cpu
				needMem += t.td.memory
			}
		}
		m := busy
		if waiting > 0 {
			extra := int(math.Ceil(math.Max(float64(needCPU)/float64(capCPU), float64(needMem)/float64(capMem))))
			extra = min(max(extra, int(cp.minStep), 1), int(cp.maxStep))
			// Instances still booting count in N but not in M, so their
			// coming capacity is not asked for twice.
			m = busy + extra
		}
		reservation := 100.0
		if n > 0 {
			reservation = float64(m) * 100 / float64(n)
		}
		s.putValue("AWS/ECS/ManagedScaling", "CapacityProviderReservation", dims("CapacityProviderName", cp.name, "ClusterName", cp.cluster), s.clock.now.Add(-metricsInterval), reservation)
		if n == 0 && m == 0 {
			continue
		}
		want := int32(math.Ceil(float64(m) * 100 / float64(cp.targetCapacity)))
		want = min(max(want, g.min), g.max)
		switch {
		case want > g.desired:
			cp.lowSince = 0
			want = min(want, g.desired+cp.maxStep)
			s.setDesired(g, want, s.causef("a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.", g.min, g.max, want, g.desired, want))
		case want < g.desired:
			cp.lowSince++
			if cp.lowSince >= 15 {
				cp.lowSince = 0
				want = max(want, g.desired-cp.maxStep)
				s.setDesired(g, want, s.causef("a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.", g.min, g.max, want, g.desired, want))
			}
		default:
			cp.lowSince = 0
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
