package remediate

import "strings"

// The names of the stack's resources remediation reads and acts on, as the
// layers give them; TestNamesAreTheLayers holds them to the layers. The
// workflow does not import the layers, which would link their clients into
// the remediation function.

func groupName(stackName string) string        { return stackName + "-asg" }
func clusterName(stackName string) string      { return stackName }
func serviceName(stackName string) string      { return stackName }
func loadBalancerName(stackName string) string { return stackName + "-alb" }
func scalableResourceID(stackName string) string {
	return "service/" + clusterName(stackName) + "/" + serviceName(stackName)
}

// The alarm components, as the service layer names them.
const (
	alarmCPU       = "cpu-high"
	alarmMemory    = "memory-high"
	alarmCapacity  = "capacity"
	alarmUnhealthy = "unhealthy-hosts"
	alarmTarget5xx = "target-5xx"
	alarmELB5xx    = "elb-5xx"
)

// zoneAlarmComponents are the components of each zone's alarms.
var zoneAlarmComponents = []string{alarmUnhealthy, alarmTarget5xx, alarmELB5xx}

func alarmName(stackName, component string) string { return stackName + "-" + component }

func zoneAlarmName(stackName, component, zone string) string {
	return alarmName(stackName, component+"-"+zone)
}

// zoneAlarm splits a zone alarm's name into its component and zone.
func zoneAlarm(stackName, name string) (component, zone string, ok bool) {
	for _, c := range zoneAlarmComponents {
		if z, found := strings.CutPrefix(name, alarmName(stackName, c+"-")); found && z != "" {
			return c, z, true
		}
	}
	return "", "", false
}
