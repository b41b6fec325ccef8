package events

import (
	"encoding/json"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// checkers are the strict parsers of the detail types this package types,
// by source and detail type.
var checkers = map[[2]string]func([]byte) error{}

func register[D Detail](detailTypes ...string) {
	var zero D
	if len(detailTypes) == 0 {
		detailTypes = []string{zero.EventDetailType()}
	}
	for _, dt := range detailTypes {
		checkers[[2]string{zero.EventSource(), dt}] = func(raw []byte) error {
			_, err := Parse[D](raw)
			return err
		}
	}
}

func init() {
	register[ECRImageAction]()
	register[DeploymentStateChange]()
	register[ServiceAction]()
	register[TaskStateChange]()
	register[ContainerInstanceStateChange]()
	register[AlarmStateChange]()
	register[LifecycleAction](DetailTypeLaunchLifecycleAction, DetailTypeTerminateLifecycleAction)
	register[InstanceLaunchSuccessful]()
	register[InstanceLaunchUnsuccessful]()
	register[InstanceTerminateSuccessful]()
	register[InstanceStateChange]()
	register[ExecutionStatusChange]()
}

// Check parses an EventBridge event strictly when this package types its
// source and detail type, and returns the parser's
// *handlererr.InvalidInputError if it is malformed. An event of a kind this
// package does not type passes unchecked; one that is not an event at all
// does not.
func Check(raw []byte) error {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return handlererr.Invalid("event is not an EventBridge event: " + err.Error())
	}
	if check, ok := checkers[[2]string{env.Source, env.DetailType}]; ok {
		return check(raw)
	}
	return nil
}

// Typed reports whether this package types events of the given source and
// detail type.
func Typed(source, detailType string) bool {
	_, ok := checkers[[2]string{source, detailType}]
	return ok
}
