package rollout_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

type aslState struct {
	Type               string          `json:"Type"`
	Resource           string          `json:"Resource"`
	Parameters         json.RawMessage `json:"Parameters"`
	TimeoutSecondsPath string          `json:"TimeoutSecondsPath"`
	ResultPath         *string         `json:"ResultPath"`
	Next               string          `json:"Next"`
	Default            string          `json:"Default"`
	End                bool            `json:"End"`
	Choices            []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Catch []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		ResultPath  string   `json:"ResultPath"`
		Next        string   `json:"Next"`
	} `json:"Catch"`
}

type aslMachine struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

func readMachine(t *testing.T) aslMachine {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(awstest.RepoRoot(t), "statemachine", "rollout.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m aslMachine
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMachineFollowsTheTable checks statemachine/rollout.asl.json against
// rollout.Machine: every Task state with its step, its task token and
// timeout, its result path, its next state and its Catch clauses, in
// order; and every state a transition names exists.
func TestMachineFollowsTheTable(t *testing.T) {
	m := readMachine(t)
	var tasks []string
	for name, st := range m.States {
		if st.Type == "Task" {
			tasks = append(tasks, name)
		}
	}
	var want []string
	for _, ts := range rollout.Machine {
		want = append(want, ts.Name)
	}
	slices.Sort(tasks)
	slices.Sort(want)
	if !slices.Equal(tasks, want) {
		t.Fatalf("Task states %v, the table's %v", tasks, want)
	}
	for _, ts := range rollout.Machine {
		st := m.States[ts.Name]
		var params struct {
			Step    rollout.Step `json:"step"`
			Token   string       `json:"token.$"`
			Payload *struct {
				Step  rollout.Step `json:"step"`
				Token string       `json:"token.$"`
			} `json:"Payload"`
		}
		if err := json.Unmarshal(st.Parameters, &params); err != nil {
			t.Fatalf("%s: parameters: %v", ts.Name, err)
		}
		step, token := params.Step, params.Token
		if params.Payload != nil {
			step, token = params.Payload.Step, params.Payload.Token
		}
		switch {
		case ts.Step == "" && strings.Contains(st.Resource, "lambda"):
			t.Errorf("%s invokes a function, the table says a direct integration", ts.Name)
		case ts.Step != "" && step != ts.Step:
			t.Errorf("%s runs step %q, the table says %q", ts.Name, step, ts.Step)
		case ts.Token != (st.Resource == "arn:aws:states:::lambda:invoke.waitForTaskToken") || ts.Token != (token == "$$.Task.Token"):
			t.Errorf("%s: resource %s with token %q, the table says token=%t", ts.Name, st.Resource, token, ts.Token)
		case !ts.Token && ts.Step != "" && st.Resource != "${RolloutFunctionArn}":
			t.Errorf("%s: resource %s, want the rollout function", ts.Name, st.Resource)
		case st.TimeoutSecondsPath != ts.Timeout:
			t.Errorf("%s: TimeoutSecondsPath %q, the table says %q", ts.Name, st.TimeoutSecondsPath, ts.Timeout)
		case st.ResultPath == nil || *st.ResultPath != ts.ResultPath || st.Next != ts.Next:
			t.Errorf("%s: ResultPath %v Next %s, the table says %s and %s", ts.Name, st.ResultPath, st.Next, ts.ResultPath, ts.Next)
		}
		var got, wantCatch []string
		for _, c := range st.Catch {
			got = append(got, fmt.Sprintf("%v→%s→%s", c.ErrorEquals, c.ResultPath, c.Next))
		}
		for _, c := range ts.Catch {
			wantCatch = append(wantCatch, fmt.Sprintf("%v→%s→%s", c.Errors, c.ResultPath, c.Next))
		}
		if !slices.Equal(got, wantCatch) {
			t.Errorf("%s catches %v, the table says %v", ts.Name, got, wantCatch)
		}
	}
	if _, ok := m.States[m.StartAt]; !ok {
		t.Errorf("StartAt %s is no state", m.StartAt)
	}
	for name, st := range m.States {
		targets := []string{st.Next, st.Default}
		for _, c := range st.Choices {
			targets = append(targets, c.Next)
		}
		for _, c := range st.Catch {
			targets = append(targets, c.Next)
		}
		for _, n := range targets {
			if _, ok := m.States[n]; n != "" && !ok {
				t.Errorf("%s leads to %s, which is no state", name, n)
			}
		}
	}
}
