package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestNamesAreTheComputeLayers(t *testing.T) {
	spec := stack.Spec{Name: "web-dev"}
	for _, tc := range []struct{ got, want string }{
		{groupName(spec.Name), compute.GroupName(spec)},
		{clusterName(spec.Name), compute.ClusterName(spec)},
		{hookName(spec.Name, KindLaunch), compute.HookName(spec, compute.LaunchHook)},
		{hookName(spec.Name, KindDrain), compute.HookName(spec, compute.TerminateHook)},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, the compute layer names it %q", tc.got, tc.want)
		}
	}
}

// TestDeadlineActsBeforeTheGlobalTimeout: the global timeout is 100
// heartbeat timeouts, at most 48 hours; the deadline ends at least two
// heartbeat timeouts before it.
func TestDeadlineActsBeforeTheGlobalTimeout(t *testing.T) {
	for _, tc := range []struct {
		limit, heartbeat, global, want time.Duration
	}{
		{30 * time.Minute, 900 * time.Second, 25 * time.Hour, 30 * time.Minute},
		{30 * time.Minute, 30 * time.Second, 3000 * time.Second, 30 * time.Minute},
		{2 * time.Hour, 60 * time.Second, 6000 * time.Second, 5880 * time.Second},
		{72 * time.Hour, 7200 * time.Second, 48 * time.Hour, 44 * time.Hour},
	} {
		if got := deadline(tc.limit, tc.heartbeat, tc.global); got != tc.want {
			t.Errorf("deadline(%s, heartbeat %s, global %s) = %s, want %s", tc.limit, tc.heartbeat, tc.global, got, tc.want)
		}
	}
}

// TestHeartbeatSpacing: a heartbeat is due when, by the next round, half
// the heartbeat timeout would have passed since the last one.
func TestHeartbeatSpacing(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &Action{StartedAt: start, HeartbeatTimeout: 60}
	for _, tc := range []struct {
		name      string
		last      time.Time
		now       time.Time
		round     time.Duration
		heartbeat bool
	}{
		{"early", time.Time{}, start.Add(10 * time.Second), 15 * time.Second, false},
		{"by the next round", time.Time{}, start.Add(15 * time.Second), 15 * time.Second, true},
		{"long rounds", time.Time{}, start.Add(5 * time.Second), 30 * time.Second, true},
		{"after one", start.Add(30 * time.Second), start.Add(40 * time.Second), 15 * time.Second, false},
		{"after one, due again", start.Add(30 * time.Second), start.Add(45 * time.Second), 15 * time.Second, true},
	} {
		if got := heartbeatDue(a, &Progress{HeartbeatAt: tc.last}, tc.now, tc.round); got != tc.heartbeat {
			t.Errorf("%s: due = %t, want %t", tc.name, got, tc.heartbeat)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{LaunchDeadline: time.Minute, DrainDeadline: time.Minute, DrainDeadlineResult: ResultAbandon}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	bad := Config{DrainDeadline: -time.Second, DrainDeadlineResult: "STOP"}
	err := bad.Validate()
	for _, want := range []string{"LAUNCH_DEADLINE 0s and DRAIN_DEADLINE -1s must be positive", `DRAIN_DEADLINE_RESULT "STOP"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
}

// refusing are clients that fail the test: a request the handler refuses
// must not reach AWS.
type refusing struct {
	AutoScalingAPI
	ECSAPI
	ELBAPI
	calls *[]string
}

func (r refusing) DescribeAutoScalingInstances(context.Context, *autoscaling.DescribeAutoScalingInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	*r.calls = append(*r.calls, "DescribeAutoScalingInstances")
	return nil, errors.New("no AWS here")
}

func (r refusing) DescribeLifecycleHooks(context.Context, *autoscaling.DescribeLifecycleHooksInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error) {
	*r.calls = append(*r.calls, "DescribeLifecycleHooks")
	return nil, errors.New("no AWS here")
}

func (r refusing) ListContainerInstances(context.Context, *ecs.ListContainerInstancesInput, ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error) {
	*r.calls = append(*r.calls, "ListContainerInstances")
	return nil, errors.New("no AWS here")
}

func (r refusing) DescribeTargetHealth(context.Context, *elb.DescribeTargetHealthInput, ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error) {
	*r.calls = append(*r.calls, "DescribeTargetHealth")
	return nil, errors.New("no AWS here")
}

// refusingTable is a ledger table that fails the same way.
type refusingTable struct {
	ledger.DynamoDBAPI
	calls *[]string
}

func (r refusingTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	*r.calls = append(*r.calls, "PutItem")
	return nil, errors.New("no AWS here")
}

func (r refusingTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	*r.calls = append(*r.calls, "UpdateItem")
	return nil, errors.New("no AWS here")
}

func newRefusingHandler() (*Handler, *[]string) {
	calls := &[]string{}
	r := refusing{calls: calls}
	return &Handler{
		Clients: Clients{AutoScaling: r, ECS: r, ELB: r}, Ledger: ledger.New(refusingTable{calls: calls}, "t"), Stack: "web-dev",
		Config: Config{LaunchDeadline: time.Minute, DrainDeadline: time.Minute, DrainDeadlineResult: ResultContinue},
	}, calls
}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRequestsRefusedBeforeAnyCall: requests that are not the stack's,
// or are not requests at all, get an InvalidInputError naming every
// problem, and the handler calls nothing.
func TestRequestsRefusedBeforeAnyCall(t *testing.T) {
	other := sample(t, "lifecycle-start-other-group.json")
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"not JSON", `{"op": "start", `, []string{"not valid JSON"}},
		{"unknown op", `{"op": "drain"}`, []string{`op "drain" is not one of start, check, complete, record`}},
		{"check without a run", `{"op": "check"}`, []string{"op check needs the run"}},
		{"complete without a run", `{"op": "complete", "run": {"action": {}}}`, []string{"op complete needs the run"}},
		{"record without anything", `{"op": "record"}`, []string{"record needs the run"}},
		{"another group", string(other), []string{`group "batch-asg" is not "web-dev-asg"`, `hook "batch-launch-hook" is not "web-dev-launch-hook"`}},
		{"no execution", strings.Replace(string(other), `"executionArn"`, `"ignored"`, 1), []string{"executionArn is missing"}},
		{"a malformed event", `{"op": "start", "executionArn": "x", "event": {"source": "aws.autoscaling", "detail-type": "EC2 Instance-launch Lifecycle Action", "detail": {}}}`,
			[]string{"LifecycleActionToken is missing", "EC2InstanceId is missing", "id is missing", "time is missing"}},
		{"not an event", `{"op": "start", "executionArn": "x", "event": "i-0123"}`, []string{"not an EventBridge event"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, calls := newRefusingHandler()
			_, err := h.Handle(context.Background(), json.RawMessage(tc.raw))
			var invalid *handlererr.InvalidInputError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v (%T), want an InvalidInputError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(*calls) > 0 {
				t.Errorf("called %v for a refused request", *calls)
			}
		})
	}
}

// FuzzHandle: whatever the function is given, it answers, and an input it
// refuses reaches no AWS API.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"lifecycle-start-terminate.json", "lifecycle-start-other-group.json", "lifecycle-record-refused.json"} {
		f.Add(sample(f, name))
	}
	f.Add([]byte(`{"op": "check", "run": {"action": {"token": "t", "kind": "launch"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, calls := newRefusingHandler()
		var req Request
		_ = json.Unmarshal(raw, &req)
		_, err := h.Handle(context.Background(), raw)
		var invalid *handlererr.InvalidInputError
		if errors.As(err, &invalid) && len(*calls) > 0 {
			t.Errorf("refused %q after calling %v", raw, *calls)
		}
		if err == nil && !slices.Contains([]Op{OpStart, OpCheck, OpComplete}, req.Op) {
			t.Errorf("accepted %q", raw)
		}
	})
}

// TestStateMachineRunsEveryOp: the Task states of lifecycle.asl.json call
// the function with the ops it serves, each at least once, and nothing
// else.
func TestStateMachineRunsEveryOp(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "statemachine", "lifecycle.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			Type       string         `json:"Type"`
			Resource   string         `json:"Resource"`
			Parameters map[string]any `json:"Parameters"`
		} `json:"States"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	seen := map[Op]bool{}
	for name, st := range def.States {
		if st.Type != "Task" || st.Resource != "${LifecycleFunctionArn}" {
			continue
		}
		op, _ := st.Parameters["op"].(string)
		if !slices.Contains([]Op{OpStart, OpCheck, OpComplete, OpRecord}, Op(op)) {
			t.Errorf("state %s calls op %q", name, op)
		}
		seen[Op(op)] = true
	}
	if len(seen) != 4 {
		t.Errorf("the state machine runs ops %v, want start, check, complete and record", seen)
	}
}
