package remediate

import (
	"fmt"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Alarm classes: what an alarm of the stack is about.
const (
	// ClassZone is a zone's health: its unhealthy hosts, its targets' 5xx
	// and the load balancer's 5xx for its requests.
	ClassZone = "zone"
	// ClassScaling is the service's CPU or memory high, which target
	// tracking answers.
	ClassScaling = "scaling"
	// ClassCapacity is tasks waiting for instances.
	ClassCapacity = "capacity"
)

// Rule is one row of the policy: an alarm class in a state, and what
// remediation does about it.
type Rule struct {
	Class string
	// Alarms names the alarms of the class, as the build names them.
	Alarms string
	State  string
	// Action is what remediation does, When the conditions it checks.
	Action string
	When   string
}

// Policy is the table from alarm to action. The state machine's rule
// starts an execution for an alarm of the stack that goes to ALARM, or
// from ALARM back to OK; the README documents this table, and a test holds
// the two together.
var Policy = []Rule{
	{ClassZone, "<stack>-unhealthy-hosts-<zone>, <stack>-target-5xx-<zone>, <stack>-elb-5xx-<zone>", events.AlarmAlarm,
		"evacuate the zone: pre-scale the other, drain the zone, shift its traffic away",
		"the other zone is healthy, nothing is evacuated, the other zone has or can get the capacity, the cooldown allows"},
	{ClassZone, "", events.AlarmAlarm, "record and notify, no evacuation",
		"the other zone is unhealthy too, or another zone is evacuated, or the other zone cannot carry the load"},
	{ClassZone, "", events.AlarmAlarm, "record, nothing else",
		"the zone is being evacuated already, the alarm is no longer in ALARM, or the cooldown runs"},
	{ClassZone, "", events.AlarmOK, "record, nothing else (an evacuation of the zone restores it once its alarms have stayed OK)", "always"},
	{ClassScaling, "<stack>-cpu-high, <stack>-memory-high", events.AlarmAlarm, "record and notify; raise the maximum within the ceiling when one is configured",
		"the service runs at its maximum count, so target tracking cannot add tasks"},
	{ClassScaling, "", events.AlarmAlarm, "record, nothing else: target tracking adds tasks", "the service is below its maximum count"},
	{ClassCapacity, "<stack>-capacity", events.AlarmAlarm, "record and notify", "the group is at its maximum size, so managed scaling cannot add instances"},
	{ClassCapacity, "", events.AlarmAlarm, "record, nothing else: managed scaling adds instances", "the group is below its maximum size"},
	{ClassScaling + ", " + ClassCapacity, "", events.AlarmOK, "record, nothing else", "always"},
}

// alarmClass is what the policy knows of one of the stack's alarms.
type alarmClass struct {
	Class string
	// Component is the alarm's component; Zone the zone of a zone alarm.
	Component, Zone string
}

// classify tells which of the stack's alarms name is. An alarm that is not
// the stack's, or whose zone is not one of zones, is refused.
func classify(stackName, name string, zones []string) (alarmClass, error) {
	if c, z, ok := zoneAlarm(stackName, name); ok {
		for _, known := range zones {
			if known == z {
				return alarmClass{Class: ClassZone, Component: c, Zone: z}, nil
			}
		}
		return alarmClass{}, handlererr.Invalid(fmt.Sprintf("alarm %s names zone %s, which is not one of stack %s's zones %v", name, z, stackName, zones))
	}
	switch name {
	case alarmName(stackName, alarmCPU):
		return alarmClass{Class: ClassScaling, Component: alarmCPU}, nil
	case alarmName(stackName, alarmMemory):
		return alarmClass{Class: ClassScaling, Component: alarmMemory}, nil
	case alarmName(stackName, alarmCapacity):
		return alarmClass{Class: ClassCapacity, Component: alarmCapacity}, nil
	}
	return alarmClass{}, handlererr.Invalid(fmt.Sprintf("alarm %s is not one of stack %s's alarms that remediation acts on", name, stackName))
}

// scope is what an action on the alarm acts on: a cooldown is per alarm and
// scope.
func (c alarmClass) scope() string {
	switch c.Class {
	case ClassZone:
		return "zone:" + c.Zone
	case ClassCapacity:
		return "group"
	}
	return "service"
}

// Watches reports whether the template's rule passes the state change of
// alarm name on to the state machine: one of stack's remediation alarms
// going to ALARM, or from ALARM back to OK. TestWatchesIsTheRule holds it
// to the rule's pattern.
func Watches(stack, name, state, previous string) bool {
	if _, _, ok := zoneAlarm(stack, name); !ok {
		if _, err := classify(stack, name, nil); err != nil {
			return false
		}
	}
	return state == events.AlarmAlarm || (state == events.AlarmOK && previous == events.AlarmAlarm)
}
