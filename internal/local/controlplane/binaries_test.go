package controlplane_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// binaryStep is one invocation of a function's real binary with a sample
// event of events/.
type binaryStep struct {
	Function string
	Event    string
	// Layers names the earlier answers that replace the event's layers of
	// the same names: the stack as the earlier steps really built it,
	// rather than the sample's IDs.
	Layers []string
	// Save keeps the answer under this layer name for later steps.
	Save string
	// Error is the errorType the function must answer with; empty when it
	// must succeed.
	Error string
	// Check inspects a successful answer.
	Check func(t *testing.T, answer []byte)
}

// binarySteps run in order, as a build and a teardown would. Every
// function of template.yaml needs at least one; one without fails
// TestEveryFunctionBinaryUnderRIE.
var binarySteps = []binaryStep{
	{Function: "RecordFunction", Event: "record-build-succeeded.json", Check: wantFields(map[string]any{"subject": "web-dev", "kind": "build", "outcome": "SUCCEEDED"})},
	{Function: "RecordFunction", Event: "record-build-failed.json", Check: wantFields(map[string]any{"outcome": "FAILED", "reason": "NotReadyError"})},
	{Function: "PlanFunction", Event: "plan.json", Check: wantFields(map[string]any{"stack": "web-dev", "noChanges": false})},
	{Function: "NetworkFunction", Event: "step-network-reconcile.json", Save: "network", Check: wantKeys("vpcId", "publicSubnetIds", "privateSubnetIds", "natGatewayIds")},
	{Function: "NetworkFunction", Event: "step-network-check-nat.json", Layers: []string{"network"}, Check: wantFields(map[string]any{"name": "nat"})},
	{Function: "SecurityFunction", Event: "step-security-reconcile.json", Layers: []string{"network"}, Check: wantKeys("albSecurityGroupId")},
	{Function: "ComputeFunction", Event: "step-compute-destroy.json", Check: wantFields(map[string]any{"name": "compute", "done": true})},
	{Function: "IngressFunction", Event: "step-ingress-destroy.json", Check: wantFields(map[string]any{"name": "ingress", "done": true})},
	{Function: "ServiceFunction", Event: "step-service-destroy.json", Check: wantFields(map[string]any{"name": "service", "done": true})},
	{Function: "NetworkFunction", Event: "step-network-destroy.json", Check: wantFields(map[string]any{"name": "network"})},
	// Another function's event is refused, typed, before any AWS call.
	{Function: "RecordFunction", Event: "step-network-reconcile.json", Error: "InvalidInputError"},
	{Function: "NetworkFunction", Event: "record-build-succeeded.json", Error: "InvalidInputError"},
	// The rollout's functions, with moto's empty ECS: a push is accepted
	// and recorded, and ends FAILED since no build made the service.
	{Function: "RolloutFunction", Event: "rollout-prepare-push.json", Check: wantFields(map[string]any{"next": "finish", "decided": "FAILED", "decidedStep": "prepare"})},
	{Function: "RolloutFunction", Event: "rollout-prepare-other-repository.json", Error: "InvalidInputError"},
	{Function: "RolloutFunction", Event: "plan.json", Error: "InvalidInputError"},
	{Function: "RolloutResumeFunction", Event: "rollout-resume-ecs-completed.json", Check: wantFields(map[string]any{"resumed": false, "reason": "no rollout step waits for ECS deployment ecs-svc/7214581929836159401"})},
	{Function: "RolloutResumeFunction", Event: "rollout-resume-bake-alarm.json", Check: wantFields(map[string]any{"resumed": false, "reason": "no rollout of web-dev is baking"})},
	{Function: "RolloutResumeFunction", Event: "ecs-deployment-state-change-completed.json", Check: wantFields(map[string]any{"resumed": false})},
	{Function: "RolloutResumeFunction", Event: "record-build-succeeded.json", Error: "InvalidInputError"},
	{Function: "RolloutCleanupFunction", Event: "states-execution-status-change-aborted.json", Check: wantFields(map[string]any{"ended": false})},
	{Function: "RolloutCleanupFunction", Event: "ecr-image-action-push.json", Error: "InvalidInputError"},
}

// wantFields checks that the answer has these top-level values.
func wantFields(want map[string]any) func(*testing.T, []byte) {
	return func(t *testing.T, answer []byte) {
		t.Helper()
		var got map[string]any
		if err := json.Unmarshal(answer, &got); err != nil {
			t.Fatalf("answer %s: %v", answer, err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("answer's %s = %v, want %v: %s", k, got[k], v, answer)
			}
		}
	}
}

// wantKeys checks that the answer sets these top-level fields.
func wantKeys(keys ...string) func(*testing.T, []byte) {
	return func(t *testing.T, answer []byte) {
		t.Helper()
		var got map[string]json.RawMessage
		if err := json.Unmarshal(answer, &got); err != nil {
			t.Fatalf("answer %s: %v", answer, err)
		}
		for _, k := range keys {
			if v, ok := got[k]; !ok || string(v) == `""` || string(v) == "null" || string(v) == "[]" {
				t.Errorf("answer has no %s: %s", k, answer)
			}
		}
	}
}

// TestEveryFunctionBinaryUnderRIE builds every function of template.yaml
// with its make build-<LogicalId> target for this machine's architecture,
// runs the bootstrap under aws-lambda-rie with the environment the
// template gives it in the local environment, and invokes it with its
// sample events. A separate process cannot reach the simulator, so the
// binaries' AWS calls all go to moto through the gateway.
func TestEveryFunctionBinaryUnderRIE(t *testing.T) {
	shared := awstest.NewStepFunctions(t)
	env := awstest.NewEnv(shared.Endpoint, local.Account)
	tmpl, err := local.LoadTemplate("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pseudo := local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "web-dev"}
	prefix := "x" + strings.ToLower(rand.Text()[:8]) + "-"
	fns, err := tmpl.Functions(local.NewNames(tmpl, pseudo, nil, prefix, nil))
	if err != nil {
		t.Fatal(err)
	}
	handlers, err := controlplane.Handlers(fns, controlplane.Clients{Moto: env.Config, Sim: sim.New(sim.Options{}).Config()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.DeployApp(context.Background(), env.Config, shared.Gateway, tmpl, local.AppOptions{
		TemplatePath: "../../../template.yaml", Pseudo: pseudo, Prefix: prefix, Handlers: handlers,
	}); err != nil {
		t.Fatal(err)
	}
	// The images a deployment has in ECR before its first build, which the
	// plan function's preflight checks read.
	for _, fn := range fns {
		if fn.LogicalID != "PlanFunction" {
			continue
		}
		for _, img := range []string{fn.Environment["IMAGE_REPOSITORY"] + ":latest", fn.Environment["NGINX_IMAGE"]} {
			if err := local.PushImage(context.Background(), ecr.NewFromConfig(env.Config), img); err != nil {
				t.Fatal(err)
			}
		}
	}
	running := map[string]*local.RIE{}
	for _, fn := range fns {
		if !slices.ContainsFunc(binarySteps, func(s binaryStep) bool { return s.Function == fn.LogicalID }) {
			t.Errorf("%s has no sample event in binarySteps", fn.LogicalID)
			continue
		}
		rie := startBinary(t, fn, shared.Endpoint)
		defer rie.Stop()
		running[fn.LogicalID] = rie
	}
	saved := map[string]json.RawMessage{}
	for _, s := range binarySteps {
		rie, ok := running[s.Function]
		if !ok {
			t.Errorf("binarySteps names %s, which the template does not declare", s.Function)
			continue
		}
		payload, err := os.ReadFile("../../../events/" + s.Event)
		if err != nil {
			t.Fatal(err)
		}
		if payload, err = withLayers(payload, s.Layers, saved); err != nil {
			t.Fatal(err)
		}
		answer, _, err := rie.Invoke(context.Background(), payload, 30*time.Second)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", s.Function, s.Event, err, rie.Output())
		}
		var fe struct {
			ErrorType string `json:"errorType"`
		}
		_ = json.Unmarshal(answer, &fe)
		t.Logf("%s %s: %s", s.Function, s.Event, answer)
		switch {
		case fe.ErrorType != s.Error:
			t.Errorf("%s %s: answered %s, want errorType %q", s.Function, s.Event, answer, s.Error)
		case s.Check != nil:
			s.Check(t, answer)
		}
		if s.Save != "" {
			saved[s.Save] = answer
		}
	}
}

// startBinary builds the function for this machine and starts it under the
// emulator with its template environment, pointed at endpoint.
func startBinary(t *testing.T, fn local.Function, endpoint string) *local.RIE {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("make", "--no-print-directory", "build-"+fn.LogicalID, "ARTIFACTS_DIR="+dir, "LAMBDA_ARCH="+runtime.GOARCH)
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build-%s: %v\n%s", fn.LogicalID, err, out)
	}
	vars := []string{"AWS_REGION=" + local.Region, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON"}
	for _, k := range slices.Sorted(maps.Keys(fn.Environment)) {
		vars = append(vars, k+"="+fn.Environment[k])
	}
	rie, err := local.StartRIE(filepath.Join(dir, "bootstrap"), vars)
	if err != nil {
		t.Fatal(err)
	}
	return rie
}

// withLayers replaces the event's layers of the given names with saved
// answers.
func withLayers(payload []byte, names []string, saved map[string]json.RawMessage) ([]byte, error) {
	if len(names) == 0 {
		return payload, nil
	}
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	layers := map[string]json.RawMessage{}
	if raw, ok := ev["layers"]; ok {
		if err := json.Unmarshal(raw, &layers); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		v, ok := saved[n]
		if !ok {
			return nil, fmt.Errorf("no earlier step saved layer %s", n)
		}
		layers[n] = v
	}
	raw, err := json.Marshal(layers)
	if err != nil {
		return nil, err
	}
	ev["layers"] = raw
	return json.Marshal(ev)
}
