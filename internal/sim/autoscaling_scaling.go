package sim

import (
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// asgKick schedules a scaling pass for the group after d, unless one is due
// sooner.
func (s *Sim) asgKick(g *asGroup, d time.Duration) {
	at := s.clock.now.Add(d)
	if g.reconcile != nil && !g.reconcile.stopped && !g.reconcileAt.After(at) {
		return
	}
	g.reconcile.stop()
	g.reconcileAt = at
	g.reconcile = s.after(d, func() {
		g.reconcile = nil
		s.asgReconcile(g)
	})
}

// asgReconcile is one scaling pass: replace unhealthy instances, then bring
// the group to its desired capacity, then balance its zones.
func (s *Sim) asgReconcile(g *asGroup) {
	if _, ok := s.asg.groups[g.name]; !ok || g.deleting {
		return
	}
	if !g.suspendedProcess("ReplaceUnhealthy") {
		for _, ai := range g.activeInstances() {
			if ai.health == "Unhealthy" && ai.state == types.LifecycleStateInService && !ai.awaitingReplacement && !g.ignoresUnhealthy(ai) {
				s.asgBeginTerminate(g, ai, s.causef("an instance was taken out of service in response to a user health-check."))
			}
		}
	}
	active := g.capacity()
	n := int32(len(active))
	s.asgRetireReplaced(g, active)
	switch {
	case n < g.desired && !g.suspendedProcess("Launch"):
		cause := g.cause
		if cause == "" {
			cause = s.causef("an instance was started in response to a difference between desired and actual capacity.")
		}
		cause += " " + s.causef("an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.", n, g.desired)
		s.asgLaunch(g, int(g.desired-n), cause, "")
	case n > g.desired && !g.suspendedProcess("Terminate"):
		for _, ai := range active {
			if ai.rebalance && ai.state != types.LifecycleStateInService {
				// Rebalancing launches before it terminates, so the group
				// waits for the new instance before giving up an old one.
				return
			}
		}
		prefix := g.cause
		if prefix == "" {
			prefix = s.causef("an instance was taken out of service in response to a difference between desired and actual capacity.")
		}
		for _, ai := range s.asgSelectVictims(g, int(n-g.desired)) {
			s.asgBeginTerminate(g, ai, prefix+" "+s.causef("an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from %d to %d. ", n, g.desired)+s.causef("instance %s was selected for termination.", ai.id))
		}
	case n == g.desired && !g.suspendedProcess("AZRebalance"):
		g.cause = ""
		s.asgRebalance(g)
	}
}

// ignoresUnhealthy reports whether the group leaves an unhealthy instance
// alone: it is in a zone the group is shifted away from, and the group's
// impairment policy is IgnoreUnhealthy.
func (g *asGroup) ignoresUnhealthy(ai *asgInstance) bool {
	return g.ignoreImpaired && g.shifted[ai.az]
}

// asgRetireReplaced terminates the unhealthy instances of an impaired zone
// once the group has its desired capacity in service without them.
func (s *Sim) asgRetireReplaced(g *asGroup, capacity []*asgInstance) {
	inService := 0
	for _, ai := range capacity {
		if ai.state == types.LifecycleStateInService {
			inService++
		}
	}
	if inService < int(g.desired) {
		return
	}
	for _, ai := range g.activeInstances() {
		if ai.awaitingReplacement {
			ai.awaitingReplacement = false
			s.asgBeginTerminate(g, ai, s.causef("an instance was taken out of service in response to an EC2 instance status checks failure, after its replacement launched in another Availability Zone."))
		}
	}
}

// zoneCounts counts the group's instances per zone, those waiting to be
// replaced excepted.
func (s *Sim) zoneCounts(g *asGroup) map[string]int {
	counts := map[string]int{}
	for _, z := range s.groupZones(g) {
		counts[z] = 0
	}
	for _, ai := range g.capacity() {
		counts[ai.az]++
	}
	return counts
}

// launchSubnet picks where the next instance goes: the zone with the fewest
// active instances, skipping zones that refused a launch in this pass and
// zones a zonal shift moves the group away from.
func (s *Sim) launchSubnet(g *asGroup, counts map[string]int, skip map[string]bool, only string) *subnet {
	var best *subnet
	for _, z := range s.groupZones(g) {
		if skip[z] || g.shifted[z] || (only != "" && z != only) {
			continue
		}
		for _, id := range g.subnetIDs {
			sn, ok := s.ec2.subnets[id]
			if !ok || sn.zone.name != z {
				continue
			}
			if best == nil || counts[z] < counts[best.zone.name] {
				best = sn
			}
			break
		}
	}
	return best
}

// asgLaunch launches n instances, balancing zones and falling back to other
// zones when one refuses, as Auto Scaling does. only restricts the launch to
// one zone (for rebalancing).
func (s *Sim) asgLaunch(g *asGroup, n int, cause, only string) {
	lt, err := s.findLaunchTemplate(g.ltSpec.LaunchTemplateId, g.ltSpec.LaunchTemplateName)
	var spec launchSpec
	if err == nil {
		spec, _, err = s.specFromTemplate(lt, aws.ToString(g.ltSpec.Version))
	}
	if err != nil {
		a := s.newActivity(g, "Launching a new EC2 instance.  Status Reason: "+errorMessage(err)+". Launching EC2 instance failed.", cause, "", "")
		a.finish(s.clock.now, types.ScalingActivityStatusCodeFailed, errorMessage(err)+". Launching EC2 instance failed.")
		s.emitActivity(g, a, "EC2 Instance Launch Unsuccessful", string(types.ScalingActivityStatusCodeFailed), "", true)
		s.asgKick(g, s.timings.LaunchRetry)
		return
	}
	for k, t := range g.tags {
		if t.propagate {
			spec.tags[k] = t.value
		}
	}
	spec.tags["aws:autoscaling:groupName"] = g.name
	counts := s.zoneCounts(g)
	skip := map[string]bool{}
	for range n {
		for {
			sn := s.launchSubnet(g, counts, skip, only)
			if sn == nil {
				s.asgKick(g, s.timings.LaunchRetry)
				return
			}
			ls := spec
			ls.tags = spec.tags.clone()
			if err := s.validateSpec(&ls, sn); err != nil {
				s.launchFailed(g, cause, sn, err)
				skip[sn.zone.name] = true
				continue
			}
			inst, err := s.launchInstance(ls, sn, s.newID("r"), 0)
			if err != nil {
				s.launchFailed(g, cause, sn, err)
				skip[sn.zone.name] = true
				continue
			}
			counts[sn.zone.name]++
			s.asgAdopt(g, lt, inst, cause, only != "")
			break
		}
	}
}

func errorMessage(err error) string {
	if m, ok := err.(interface{ ErrorMessage() string }); ok {
		return m.ErrorMessage()
	}
	return err.Error()
}

func (s *Sim) launchFailed(g *asGroup, cause string, sn *subnet, err error) {
	msg := errorMessage(err) + " Launching EC2 instance failed."
	a := s.newActivity(g, "Launching a new EC2 instance.  Status Reason: "+msg, cause, sn.id, sn.zone.name)
	a.finish(s.clock.now, types.ScalingActivityStatusCodeFailed, msg)
	s.emitActivity(g, a, "EC2 Instance Launch Unsuccessful", string(types.ScalingActivityStatusCodeFailed), "", true)
	s.log.Debug("sim_asg_launch_failed", "group", g.name, "zone", sn.zone.name, "error", msg)
}

// asgAdopt makes a freshly launched instance a member of the group and starts
// its launch lifecycle.
func (s *Sim) asgAdopt(g *asGroup, lt *launchTemplate, inst *instance, cause string, rebalance bool) {
	inst.asgName = g.name
	s.asg.seq++
	ai := &asgInstance{
		seq: s.asg.seq, id: inst.id, az: inst.az, azID: inst.azID, subnetID: inst.subnetID, health: "Healthy",
		protected: g.protectNew, ltID: lt.id, ltName: lt.name, ltVersion: inst.spec.ltVer, imageID: inst.spec.imageID,
		instType: string(inst.spec.instanceType), rebalance: rebalance,
	}
	g.instances[ai.id] = ai
	ai.activity = s.newActivity(g, "Launching a new EC2 instance: "+inst.id, cause, inst.subnetID, inst.az)
	s.setASGInstanceState(g, ai, types.LifecycleStatePending)
	if hooks := g.hooksFor(launchTransition); len(hooks) > 0 {
		s.asgWait(g, ai, types.LifecycleStatePendingWait, hooks)
		return
	}
	s.asgProceedLaunch(g, ai)
}

// asgProceedLaunch moves a launching instance on once its hooks (if any)
// have completed: into service when EC2 reports it running.
func (s *Sim) asgProceedLaunch(g *asGroup, ai *asgInstance) {
	if len(g.hooksFor(launchTransition)) > 0 || ai.state == types.LifecycleStatePendingWait {
		s.setASGInstanceState(g, ai, types.LifecycleStatePendingProceed)
	}
	if inst, ok := s.ec2.instances[ai.id]; ok && inst.state == stateRunning {
		s.asgInService(g, ai)
	}
}

func (s *Sim) asgInService(g *asGroup, ai *asgInstance) {
	ai.inService = s.clock.now
	s.setASGInstanceState(g, ai, types.LifecycleStateInService)
	if a := ai.activity; a != nil {
		a.finish(s.clock.now, types.ScalingActivityStatusCodeSuccessful, "")
		s.emitActivity(g, a, "EC2 Instance Launch Successful", string(types.ScalingActivityStatusCodeInProgress), ai.id, true)
		ai.activity = nil
	}
	if ai.rebalance {
		ai.rebalance = false
	}
	s.asgKick(g, s.timings.ScalingReaction)
}

// asgBeginTerminate takes an instance out of service and starts its
// termination lifecycle. It returns the termination activity.
func (s *Sim) asgBeginTerminate(g *asGroup, ai *asgInstance, cause string) *activity {
	if ai.activity != nil && ai.activity.end.IsZero() {
		ai.activity.finish(s.clock.now, types.ScalingActivityStatusCodeCancelled, "Instance was taken out of service before its launch completed.")
	}
	for _, a := range ai.actions {
		a.timer.stop()
	}
	ai.actions = nil
	ai.activity = s.newActivity(g, "Terminating EC2 instance: "+ai.id, cause, ai.subnetID, ai.az)
	s.setASGInstanceState(g, ai, types.LifecycleStateTerminating)
	if hooks := g.hooksFor(terminateTransition); len(hooks) > 0 {
		s.asgWait(g, ai, types.LifecycleStateTerminatingWait, hooks)
		return ai.activity
	}
	s.asgProceedTerminate(g, ai)
	return ai.activity
}

// asgProceedTerminate terminates the EC2 instance once the terminate hooks
// have completed.
func (s *Sim) asgProceedTerminate(g *asGroup, ai *asgInstance) {
	s.setASGInstanceState(g, ai, types.LifecycleStateTerminatingProceed)
	inst, ok := s.ec2.instances[ai.id]
	if !ok || inst.state == stateTerminated {
		s.asgTerminated(g, ai)
		return
	}
	s.terminateInstance(inst)
}

// asgTerminated removes a terminated instance from its group.
func (s *Sim) asgTerminated(g *asGroup, ai *asgInstance) {
	if ai.terminated {
		return
	}
	ai.terminated = true
	s.setASGInstanceState(g, ai, types.LifecycleStateTerminated)
	delete(g.instances, ai.id)
	if a := ai.activity; a != nil {
		a.finish(s.clock.now, types.ScalingActivityStatusCodeSuccessful, "")
		s.emitActivity(g, a, "EC2 Instance Terminate Successful", string(types.ScalingActivityStatusCodeInProgress), ai.id, false)
		ai.activity = nil
	}
	s.maybeRemoveGroup(g)
	s.asgKick(g, s.timings.ScalingReaction)
}

// asgSelectVictims applies the default termination policy: take from the
// zone with the most instances, prefer instances on an older launch template
// version, then choose at random. Protected instances are never chosen.
func (s *Sim) asgSelectVictims(g *asGroup, n int) []*asgInstance {
	counts := s.zoneCounts(g)
	chosen := map[string]bool{}
	var out []*asgInstance
	current := ""
	if lt, err := s.findLaunchTemplate(g.ltSpec.LaunchTemplateId, g.ltSpec.LaunchTemplateName); err == nil {
		if v, err := lt.version(aws.ToString(g.ltSpec.Version)); err == nil {
			current = strconv.FormatInt(v.number, 10)
		}
	}
	for range n {
		var candidates []*asgInstance
		for _, ai := range g.capacity() {
			if !ai.protected && !chosen[ai.id] {
				candidates = append(candidates, ai)
			}
		}
		if len(candidates) == 0 {
			break
		}
		zones := map[string]bool{}
		for _, ai := range candidates {
			zones[ai.az] = true
		}
		zone := ""
		for _, z := range sortedKeys(zones) {
			if zone == "" || counts[z] > counts[zone] {
				zone = z
			}
		}
		var inZone, oldTemplate []*asgInstance
		for _, ai := range candidates {
			if ai.az == zone {
				inZone = append(inZone, ai)
				if ai.ltVersion != current {
					oldTemplate = append(oldTemplate, ai)
				}
			}
		}
		pool := inZone
		if len(oldTemplate) > 0 {
			pool = oldTemplate
		}
		victim := pool[s.rng.IntN(len(pool))]
		chosen[victim.id] = true
		counts[zone]--
		out = append(out, victim)
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// asgRebalance restores an even spread across zones after an imbalance (an
// outage, or a zonal shift that ended, say): it launches one instance in
// the emptiest zone, and the next pass terminates one from the fullest. A
// zone a zonal shift moves the group away from takes no part. It may exceed the maximum size by 10%
// (at least one instance) while doing so, as AWS allows.
func (s *Sim) asgRebalance(g *asGroup) {
	for _, ai := range g.instances {
		if ai.state != types.LifecycleStateInService {
			return
		}
	}
	counts := s.zoneCounts(g)
	var zones []string
	for _, z := range s.groupZones(g) {
		if !g.shifted[z] {
			zones = append(zones, z)
		}
	}
	if len(zones) < 2 {
		return
	}
	lo, hi := zones[0], zones[0]
	for _, z := range zones {
		if counts[z] < counts[lo] {
			lo = z
		}
		if counts[z] > counts[hi] {
			hi = z
		}
	}
	if counts[hi]-counts[lo] <= 1 {
		return
	}
	margin := max(1, (int(g.max)+9)/10)
	if len(g.activeInstances()) >= int(g.max)+margin {
		return
	}
	cause := s.causef("an instance was launched to aid in balancing the group's zones.")
	before := len(g.instances)
	s.asgLaunch(g, 1, cause, lo)
	if len(g.instances) == before {
		s.asgKick(g, s.timings.LaunchRetry)
	}
}

// setASGInstanceState changes a member's lifecycle state and tells the
// services that watch group members (load balancer registration, ECS).
func (s *Sim) setASGInstanceState(g *asGroup, ai *asgInstance, state types.LifecycleState) {
	prev := ai.state
	if prev == state {
		return
	}
	ai.state = state
	s.log.Debug("sim_asg_instance_state", "group", g.name, "instance_id", ai.id, "from", prev, "to", state)
	for _, obs := range s.asg.observers {
		obs(g, ai, prev)
	}
}
