package events_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// parser parses one fixture and returns the typed event for re-encoding.
type parser func([]byte) (any, error)

func parse[D events.Detail](fn func([]byte) (events.Event[D], error)) parser {
	return func(raw []byte) (any, error) { return fn(raw) }
}

// fixtures maps every EventBridge fixture in events/ to its parser.
var fixtures = map[string]parser{
	"ecr-image-action-push.json":                            parse(events.ParseECRImageAction),
	"ecs-deployment-state-change-in-progress.json":          parse(events.ParseDeploymentStateChange),
	"ecs-deployment-state-change-rollback-in-progress.json": parse(events.ParseDeploymentStateChange),
	"ecs-deployment-state-change-completed.json":            parse(events.ParseDeploymentStateChange),
	"ecs-deployment-state-change-failed.json":               parse(events.ParseDeploymentStateChange),
	"ecs-service-action-steady-state.json":                  parse(events.ParseServiceAction),
	"ecs-service-action-task-placement-failure.json":        parse(events.ParseServiceAction),
	"ecs-service-action-task-start-impaired.json":           parse(events.ParseServiceAction),
	"ecs-task-state-change.json":                            parse(events.ParseTaskStateChange),
	"ecs-container-instance-state-change.json":              parse(events.ParseContainerInstanceStateChange),
	"cloudwatch-alarm-state-change-alarm.json":              parse(events.ParseAlarmStateChange),
	"cloudwatch-alarm-state-change-ok.json":                 parse(events.ParseAlarmStateChange),
	"ec2-instance-launch-lifecycle-action.json":             parse(events.ParseLifecycleAction),
	"ec2-instance-terminate-lifecycle-action.json":          parse(events.ParseLifecycleAction),
	"ec2-instance-launch-successful.json":                   parse(events.Parse[events.InstanceLaunchSuccessful]),
	"ec2-instance-launch-unsuccessful.json":                 parse(events.Parse[events.InstanceLaunchUnsuccessful]),
	"ec2-instance-terminate-successful.json":                parse(events.Parse[events.InstanceTerminateSuccessful]),
	"ec2-instance-state-change-notification.json":           parse(events.Parse[events.InstanceStateChange]),
	"states-execution-status-change-failed.json":            parse(events.ParseExecutionStatusChange),
	"states-execution-status-change-succeeded.json":         parse(events.ParseExecutionStatusChange),
	"states-execution-status-change-aborted.json":           parse(events.ParseExecutionStatusChange),
	"rollout-resume-ecs-completed.json":                     parse(events.ParseDeploymentStateChange),
	"rollout-resume-bake-alarm.json":                        parse(events.ParseAlarmStateChange),
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEveryFixtureRoundTrips(t *testing.T) {
	for name, parse := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, name)
			ev, err := parse(raw)
			if err != nil {
				t.Fatalf("parsing the documented example: %v", err)
			}
			again, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if want, got := decode(t, raw), decode(t, again); !reflect.DeepEqual(want, got) {
				t.Fatalf("re-encoded event differs from the fixture:\n got %s\nwant %s", again, raw)
			}
		})
	}
}

func TestEveryEventBridgeFixtureHasAParser(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		var env struct {
			DetailType string `json:"detail-type"`
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if json.Unmarshal(raw, &env) != nil || env.DetailType == "" {
			continue // a handler's input, not an EventBridge event
		}
		seen++
		if _, ok := fixtures[filepath.Base(f)]; !ok {
			t.Errorf("%s is an EventBridge event (%s) that no test parses", filepath.Base(f), env.DetailType)
		}
	}
	if seen != len(fixtures) {
		t.Fatalf("%d EventBridge fixtures in events/, %d in the table", seen, len(fixtures))
	}
}

// edit returns the fixture with fn applied to its decoded JSON.
func edit(t *testing.T, name string, fn func(ev map[string]any, detail map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFixture(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	detail, _ := ev["detail"].(map[string]any)
	fn(ev, detail)
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParsersRejectBadInputWithATypedError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fixture string
		change  func(ev, detail map[string]any)
		want    string
	}{
		{"not JSON", "", nil, "not an EventBridge event"},
		{"other source", "ecs-deployment-state-change-failed.json", func(ev, _ map[string]any) { ev["source"] = "aws.ec2" }, `source is "aws.ec2"`},
		{"other detail type", "ecs-deployment-state-change-failed.json", func(ev, _ map[string]any) { ev["detail-type"] = "ECS Service Action" }, `detail-type is "ECS Service Action"`},
		{"no detail", "ecs-deployment-state-change-failed.json", func(ev, _ map[string]any) { delete(ev, "detail") }, "detail is missing"},
		{"detail of the wrong shape", "ecs-deployment-state-change-failed.json", func(ev, _ map[string]any) { ev["detail"] = []any{1} }, "detail:"},
		{"no time", "ecs-deployment-state-change-failed.json", func(ev, _ map[string]any) { delete(ev, "time") }, "time is missing"},
		{"unknown deployment event", "ecs-deployment-state-change-failed.json", func(_, d map[string]any) { d["eventName"] = "SERVICE_DEPLOYMENT_MAYBE" }, "eventName"},
		{"bad deployment id", "ecs-deployment-state-change-failed.json", func(_, d map[string]any) { d["deploymentId"] = "123" }, "deploymentId"},
		{"deployment of no service", "ecs-deployment-state-change-failed.json", func(ev, _ map[string]any) { ev["resources"] = []any{} }, "resources"},
		{"push without digest", "ecr-image-action-push.json", func(_, d map[string]any) { d["image-digest"] = "sha256:abc" }, "image-digest"},
		{"push to no repository", "ecr-image-action-push.json", func(_, d map[string]any) { delete(d, "repository-name") }, "repository-name is missing"},
		{"lifecycle action without token", "ec2-instance-launch-lifecycle-action.json", func(_, d map[string]any) { delete(d, "LifecycleActionToken") }, "LifecycleActionToken is missing"},
		{"launch detail type on a terminate action", "ec2-instance-launch-lifecycle-action.json", func(_, d map[string]any) {
			d["LifecycleTransition"] = events.TransitionTerminating
		}, `want "EC2 Instance-terminate Lifecycle Action"`},
		{"alarm in no state", "cloudwatch-alarm-state-change-alarm.json", func(_, d map[string]any) { d["state"].(map[string]any)["value"] = "RED" }, "state.value"},
		{"execution without status", "states-execution-status-change-failed.json", func(_, d map[string]any) { delete(d, "status") }, "status"},
		{"task without ARN", "ecs-task-state-change.json", func(_, d map[string]any) { delete(d, "taskArn") }, "taskArn"},
		{"container instance without instance", "ecs-container-instance-state-change.json", func(_, d map[string]any) { delete(d, "ec2InstanceId") }, "ec2InstanceId is missing"},
		{"service action without cluster", "ecs-service-action-steady-state.json", func(_, d map[string]any) { delete(d, "clusterArn") }, "clusterArn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte("{not json")
			parse := parse(events.ParseDeploymentStateChange)
			if tc.fixture != "" {
				raw = edit(t, tc.fixture, tc.change)
				parse = fixtures[tc.fixture]
			}
			_, err := parse(raw)
			var invalid *handlererr.InvalidInputError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v (%T), want an InvalidInputError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	raw := edit(t, "ec2-instance-launch-lifecycle-action.json", func(ev, d map[string]any) {
		ev["source"] = "aws.ec2"
		delete(d, "LifecycleHookName")
		delete(d, "EC2InstanceId")
	})
	_, err := events.ParseLifecycleAction(raw)
	var invalid *handlererr.InvalidInputError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 3 {
		t.Fatalf("error %v, want the source and both missing fields", err)
	}
}

func TestParsedEventCarriesTheTypedDetail(t *testing.T) {
	ev, err := events.ParseDeploymentStateChange(readFixture(t, "ecs-deployment-state-change-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Detail.EventName != events.DeploymentFailed || ev.Detail.DeploymentID != "ecs-svc/123" || ev.Resources[0] != "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest" {
		t.Fatalf("parsed %+v", ev)
	}
	if ev.Envelope.Detail != nil {
		t.Fatalf("the envelope keeps the raw detail %s beside the typed one", ev.Envelope.Detail)
	}
	push, err := events.ParseECRImageAction(readFixture(t, "ecr-image-action-push.json"))
	if err != nil || push.Detail.ImageTag != "latest" || push.Detail.RepositoryName != "my-repository-name" {
		t.Fatalf("parsed %+v (%v)", push, err)
	}
}

// fuzz runs a parser on arbitrary input, seeded with its fixtures: it must
// never panic, must return a typed error whenever it fails, and whatever it
// accepts must survive a second round.
func fuzz[D events.Detail](f *testing.F, fn func([]byte) (events.Event[D], error)) {
	for name := range fixtures {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"detail":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := fn(raw)
		if err != nil {
			var invalid *handlererr.InvalidInputError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v is not an InvalidInputError", err)
			}
			return
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fn(again); err != nil {
			t.Fatalf("accepted %s, but not its re-encoding %s: %v", raw, again, err)
		}
	})
}

func FuzzParseECRImageAction(f *testing.F)        { fuzz(f, events.ParseECRImageAction) }
func FuzzParseDeploymentStateChange(f *testing.F) { fuzz(f, events.ParseDeploymentStateChange) }
func FuzzParseServiceAction(f *testing.F)         { fuzz(f, events.ParseServiceAction) }
func FuzzParseTaskStateChange(f *testing.F)       { fuzz(f, events.ParseTaskStateChange) }
func FuzzParseContainerInstanceStateChange(f *testing.F) {
	fuzz(f, events.ParseContainerInstanceStateChange)
}
func FuzzParseAlarmStateChange(f *testing.F)      { fuzz(f, events.ParseAlarmStateChange) }
func FuzzParseLifecycleAction(f *testing.F)       { fuzz(f, events.ParseLifecycleAction) }
func FuzzParseExecutionStatusChange(f *testing.F) { fuzz(f, events.ParseExecutionStatusChange) }

// TestCheckKnowsEveryFixture checks that Check runs the strict parser of
// every documented example's kind, and refuses each one once it is broken.
func TestCheckKnowsEveryFixture(t *testing.T) {
	for name := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, name)
			var env map[string]any
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			if !events.Typed(env["source"].(string), env["detail-type"].(string)) {
				t.Fatalf("Check does not know %s / %s", env["source"], env["detail-type"])
			}
			if err := events.Check(raw); err != nil {
				t.Fatalf("the documented example fails: %v", err)
			}
			env["detail"] = map[string]any{}
			broken, _ := json.Marshal(env)
			var invalid *handlererr.InvalidInputError
			if err := events.Check(broken); !errors.As(err, &invalid) {
				t.Fatalf("an empty detail passed: %v", err)
			}
		})
	}
	if err := events.Check([]byte(`{"source":"custom.app","detail-type":"Anything","detail":{}}`)); err != nil {
		t.Errorf("an untyped kind was refused: %v", err)
	}
	if err := events.Check([]byte(`not json`)); err == nil {
		t.Error("text that is no event passed")
	}
}
