package build_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
)

// aslState is what the order test reads of a state.
type aslState struct {
	Type       string         `json:"Type"`
	Resource   string         `json:"Resource"`
	Parameters map[string]any `json:"Parameters"`
	Next       string         `json:"Next"`
	Default    string         `json:"Default"`
	Choices    []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
}

// taskOrder walks a definition from StartAt along the path an execution
// takes when every optional input is present and every wait loop is done
// (a Choice's first branch), and names each Task it passes: "plan",
// "record", or "<layer> <op> [check]" for a layer's function.
func taskOrder(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(awstest.RepoRoot(t), "statemachine", file))
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		StartAt string              `json:"StartAt"`
		States  map[string]aslState `json:"States"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	var order []string
	for name, seen := def.StartAt, 0; name != ""; seen++ {
		st, ok := def.States[name]
		if !ok || seen > len(def.States) {
			t.Fatalf("%s: the path reaches %q, which is not a state or loops", file, name)
		}
		switch st.Type {
		case "Task":
			order = append(order, taskName(t, file, name, st))
			name = st.Next
		case "Choice":
			name = st.Choices[0].Next
		default:
			name = st.Next
		}
	}
	return order
}

func taskName(t *testing.T, file, state string, st aslState) string {
	switch st.Resource {
	case "${PlanFunctionArn}":
		return "plan"
	case "${RecordFunctionArn}":
		return "record"
	}
	for _, l := range build.Layers {
		if st.Resource != "${"+build.FunctionArnKey(l.Name)+"}" {
			continue
		}
		name := l.Name + " " + st.Parameters["op"].(string)
		if c, ok := st.Parameters["check"].(string); ok {
			name += " " + c
		}
		return name
	}
	t.Fatalf("%s: state %s runs %s, which is no function of the control plane", file, state, st.Resource)
	return ""
}

// TestStateMachinesFollowTheLayerTable reads build.asl.json and
// teardown.asl.json and fails when their Task order differs from the layer
// table: the build reconciles each layer and runs its checks, in order;
// the teardown destroys the layers in reverse.
func TestStateMachinesFollowTheLayerTable(t *testing.T) {
	want := []string{"plan"}
	for _, l := range build.Layers {
		want = append(want, l.Name+" reconcile")
		for _, c := range l.Checks {
			want = append(want, l.Name+" check "+c.Name)
		}
	}
	want = append(want, "record")
	if got := taskOrder(t, "build.asl.json"); !slices.Equal(got, want) {
		t.Errorf("build.asl.json runs\n  %s\nwant the layer table's order\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	want = nil
	for _, l := range slices.Backward(build.Layers) {
		want = append(want, l.Name+" destroy")
	}
	want = append(want, "record")
	if got := taskOrder(t, "teardown.asl.json"); !slices.Equal(got, want) {
		t.Errorf("teardown.asl.json runs\n  %s\nwant the layer table's reverse order\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
