package sim

import (
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// asgOnInstance reacts to EC2 instance changes for instances in a group.
func (s *Sim) asgOnInstance(inst *instance, prev string) {
	if inst.asgName == "" {
		return
	}
	g, ok := s.asg.groups[inst.asgName]
	if !ok {
		return
	}
	ai, ok := g.instances[inst.id]
	if !ok {
		return
	}
	switch {
	case inst.state == stateRunning && prev == statePending:
		if ai.state == types.LifecycleStatePendingProceed || (ai.state == types.LifecycleStatePending && len(ai.actions) == 0) {
			s.asgInService(g, ai)
		}
	case inst.state == stateTerminated:
		if ai.state == types.LifecycleStateTerminatingProceed {
			s.asgTerminated(g, ai)
			return
		}
		s.asgScheduleHealthCheck(g)
	case inst.impairedBy != impairedNone || inst.state == stateShuttingDown:
		s.asgScheduleHealthCheck(g)
	}
}

// asgScheduleHealthCheck makes the group look at its instances' health after
// the detection delay.
func (s *Sim) asgScheduleHealthCheck(g *asGroup) {
	if g.healthCheck != nil && !g.healthCheck.stopped {
		return
	}
	g.healthCheck = s.after(s.timings.HealthCheckDetection, func() {
		g.healthCheck = nil
		s.asgCheckHealth(g)
	})
}

// asgCheckHealth applies the EC2 health check: an instance that is no longer
// running is unhealthy at once; one whose status checks fail is unhealthy
// once its grace period has passed. Unhealthy instances are replaced.
func (s *Sim) asgCheckHealth(g *asGroup) {
	if _, ok := s.asg.groups[g.name]; !ok || g.deleting || g.suspendedProcess("HealthCheck") {
		return
	}
	recheck, replaced := false, false
	for _, ai := range g.activeInstances() {
		inst, ok := s.ec2.instances[ai.id]
		var reason string
		switch {
		case !ok || (inst.state != statePending && inst.state != stateRunning):
			// An instance that is gone is unhealthy whatever its group
			// state, even while a launch hook holds it.
			reason = "an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped."
		case ai.awaitingReplacement || g.ignoresUnhealthy(ai):
			continue
		case inst.impairedBy == impairedByZone && !s.inGrace(g, ai):
			// An instance that failed with its zone is replaced first: "If
			// an Availability Zone becomes unhealthy or unavailable, Amazon
			// EC2 Auto Scaling launches new instances in an unaffected
			// Availability Zone"; the group terminates it once the
			// replacement is in service.
			//
			// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html
			ai.health = "Unhealthy"
			if !g.suspendedProcess("ReplaceUnhealthy") {
				ai.awaitingReplacement = true
				replaced = true
			}
			continue
		case inst.impairedBy != impairedNone:
			// Failed status checks count only for an instance in service
			// and past its grace period; look again later for the others.
			if s.inGrace(g, ai) {
				recheck = true
				continue
			}
			reason = "an instance was taken out of service in response to an EC2 instance status checks failure."
		default:
			continue
		}
		ai.health = "Unhealthy"
		if !g.suspendedProcess("ReplaceUnhealthy") {
			s.asgBeginTerminate(g, ai, s.causef("%s", reason))
			replaced = true
		}
	}
	if recheck {
		s.asgScheduleHealthCheck(g)
	}
	if replaced {
		s.asgKick(g, s.timings.ScalingReaction)
	}
}
