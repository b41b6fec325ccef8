package sim_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/sim"
)

func typed[D events.Detail](raw []byte) (any, error) { return events.Parse[D](raw) }

// parsers are the typed parsers of every detail type the simulator emits.
var parsers = map[string]func([]byte) (any, error){
	events.DetailTypeECRImageAction:                  typed[events.ECRImageAction],
	events.DetailTypeECSDeploymentStateChange:        typed[events.DeploymentStateChange],
	events.DetailTypeECSServiceAction:                typed[events.ServiceAction],
	events.DetailTypeECSTaskStateChange:              typed[events.TaskStateChange],
	events.DetailTypeECSContainerInstanceStateChange: typed[events.ContainerInstanceStateChange],
	events.DetailTypeAlarmStateChange:                typed[events.AlarmStateChange],
	events.DetailTypeLaunchLifecycleAction:           typed[events.LifecycleAction],
	events.DetailTypeTerminateLifecycleAction:        typed[events.LifecycleAction],
	events.DetailTypeLaunchSuccessful:                typed[events.InstanceLaunchSuccessful],
	events.DetailTypeLaunchUnsuccessful:              typed[events.InstanceLaunchUnsuccessful],
	events.DetailTypeTerminateSuccessful:             typed[events.InstanceTerminateSuccessful],
	events.DetailTypeInstanceStateChange:             typed[events.InstanceStateChange],
}

// parseEmitted parses every event with the typed parser of its detail type,
// checks that the typed form re-encodes to the same JSON (so no emitted field
// is lost on the handlers' side), and counts the events by detail type.
func parseEmitted(t *testing.T, emitted []sim.Event) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, ev := range emitted {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		parse, ok := parsers[ev.DetailType]
		if !ok {
			t.Fatalf("no typed parser for emitted %q", ev.DetailType)
		}
		parsed, err := parse(raw)
		if err != nil {
			t.Fatalf("emitted event %s does not parse: %v", raw, err)
		}
		again, err := json.Marshal(parsed)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if json.Unmarshal(raw, &a) != nil || json.Unmarshal(again, &b) != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("emitted event changes through its typed form:\n%s\n%s", raw, again)
		}
		counts[ev.DetailType]++
	}
	return counts
}

func TestEmittedEventsParseWithTheTypedParsers(t *testing.T) {
	emitted := append(scenario(t, 5).sim.Events(), fleetScenario(t, 5).sim.Events()...)
	counts := parseEmitted(t, emitted)
	for dt := range parsers {
		if counts[dt] == 0 {
			t.Errorf("the busy scenarios emitted no %q event", dt)
		}
	}
	t.Logf("parsed %d events: %v", len(emitted), counts)
}
