package sim

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
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
	// zonalShift and ignoreImpaired are the group's
	// AvailabilityZoneImpairmentPolicy: zonal shift enabled, and whether
	// unhealthy instances in a shifted zone are left alone
	// (IgnoreUnhealthy) rather than replaced (ReplaceUnhealthy).
	zonalShift     bool
	ignoreImpaired bool
	// shifted are the zones an active zonal shift moves the group away
	// from.
	shifted map[string]bool
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
	// awaitingReplacement marks an unhealthy instance of an impaired zone
	// that stays until its replacement is in service.
	awaitingReplacement bool
}

// Scaling processes, as SuspendProcesses names them.
var scalingProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance", "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

func (g *asGroup) suspendedProcess(name string) bool {
	_, ok := g.suspended[name]
	return ok
}

// impairmentPolicy reads an AvailabilityZoneImpairmentPolicy into the
// group. ImpairedZoneHealthCheckBehavior is required with zonal shift
// enabled.
//
// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AvailabilityZoneImpairmentPolicy.html
func (g *asGroup) impairmentPolicy(p *types.AvailabilityZoneImpairmentPolicy) error {
	if p == nil {
		return nil
	}
	behavior := p.ImpairedZoneHealthCheckBehavior
	switch {
	case behavior != "" && behavior != types.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy && behavior != types.ImpairedZoneHealthCheckBehaviorIgnoreUnhealthy:
		return validationError("ImpairedZoneHealthCheckBehavior %s is not one of ReplaceUnhealthy, IgnoreUnhealthy", behavior)
	case aws.ToBool(p.ZonalShiftEnabled) && behavior == "":
		return validationError("ImpairedZoneHealthCheckBehavior is required when zonal shift is enabled")
	}
	if p.ZonalShiftEnabled != nil {
		g.zonalShift = *p.ZonalShiftEnabled
	}
	if behavior != "" {
		g.ignoreImpaired = behavior == types.ImpairedZoneHealthCheckBehaviorIgnoreUnhealthy
	}
	return nil
}

// impairmentOut is the group's policy as DescribeAutoScalingGroups reports
// it.
func (g *asGroup) impairmentOut() *types.AvailabilityZoneImpairmentPolicy {
	behavior := types.ImpairedZoneHealthCheckBehaviorReplaceUnhealthy
	if g.ignoreImpaired {
		behavior = types.ImpairedZoneHealthCheckBehaviorIgnoreUnhealthy
	}
	return &types.AvailabilityZoneImpairmentPolicy{ZonalShiftEnabled: aws.Bool(g.zonalShift), ImpairedZoneHealthCheckBehavior: behavior}
}

// asgShift moves the group away from a zone while a zonal shift is active,
// or back when it ends. While it is active the group treats the zone as
// impaired: it launches no instance there, balances its zones without it
// and, with IgnoreUnhealthy, leaves unhealthy instances there alone; when
// it ends the group rebalances into the zone again.
//
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html
func (s *Sim) asgShift(g *asGroup, zone string, away bool) {
	if away {
		g.shifted[zone] = true
	} else {
		delete(g.shifted, zone)
	}
	s.asgKick(g, s.timings.ScalingReaction)
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

// capacity returns the active instances that count toward the desired
// capacity: those not waiting to be replaced.
func (g *asGroup) capacity() []*asgInstance {
	var out []*asgInstance
	for _, i := range g.activeInstances() {
		if !i.awaitingReplacement {
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

// groupOf finds the group that manages an instance.
func (s *Sim) groupOf(instanceID string) (*asGroup, *asgInstance, bool) {
	for _, g := range s.asg.groups {
		if ai, ok := g.instances[instanceID]; ok && ai.state != types.LifecycleStateTerminated {
			return g, ai, true
		}
	}
	return nil, nil, false
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

// causef prefixes a scaling cause with the time, as activity causes are
// written.
func (s *Sim) causef(format string, args ...any) string {
	return "At " + s.clock.now.UTC().Format("2006-01-02T15:04:05Z") + " " + fmt.Sprintf(format, args...)
}
