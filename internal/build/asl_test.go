package build

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// machine is a state machine from statemachine/ with the real handlers
// registered, their AWS clients on the execution's own moto account.
type machine struct {
	sfn     *awstest.StepFunctions
	arn     string
	calls   *awsclient.Calls
	ledger  *ledger.Ledger
	handler *Handler
}

func newMachine(t *testing.T, file string, ready func(context.Context, Request) (*Progress, error)) *machine {
	t.Helper()
	s := awstest.NewStepFunctions(t)
	return newMachineOn(t, s, s.Config.Copy(), s.AccountID, file, ready, nil)
}

// newMachineOn is newMachine with the handlers' AWS clients on cfg. wrap,
// when set, wraps the real readiness handler.
func newMachineOn(t *testing.T, s *awstest.StepFunctions, cfg aws.Config, account, file string,
	ready func(context.Context, Request) (*Progress, error), wrap func(*Handler) func(context.Context, Request) (*Progress, error)) *machine {
	return newMachineWith(t, s, cfg, account, file, ready, wrap, nil)
}

// newMachineWith is newMachineOn with the teardown handler wrapped too.
func newMachineWith(t *testing.T, s *awstest.StepFunctions, cfg aws.Config, account, file string,
	ready func(context.Context, Request) (*Progress, error), wrap, wrapTeardown func(*Handler) func(context.Context, Request) (*Progress, error)) *machine {
	t.Helper()
	calls := awsclient.NewCalls()
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	spec := testSpec("asl", account)
	h := &Handler{
		Clients: NewClients(cfg),
		Config: Config{StackName: spec.Name, ImageRepository: spec.Service.ImageRepository, InstanceProfileARN: spec.Roles.InstanceProfileARN,
			ExecutionRoleARN: spec.Roles.ExecutionRoleARN, TaskRoleARN: spec.Roles.TaskRoleARN},
		Workload: Workload("us-east-1", ""),
		Log:      slog.New(slog.DiscardHandler),
	}
	switch {
	case wrap != nil:
		ready = wrap(h)
	case ready == nil:
		ready = h.Ready
	}
	teardown := h.Teardown
	if wrapTeardown != nil {
		teardown = wrapTeardown(h)
	}
	table := awstest.LedgerTable(t, s.Env)
	led := ledger.New(dynamodb.NewFromConfig(s.Config), table)
	rec := &ledger.RecordHandler{Ledger: led, Log: slog.New(slog.DiscardHandler)}
	subs := map[string]string{
		"StackName":           spec.Name,
		"ReadyWaitSeconds":    "0",
		"ReadyMaxAttempts":    "5",
		"PlanFunctionArn":     s.Function("plan", h.Plan),
		"BuildFunctionArn":    s.Function("build", h.Build),
		"ReadyFunctionArn":    s.Function("ready", ready),
		"TeardownFunctionArn": s.Function("teardown", teardown),
		"RecordFunctionArn":   s.Function("record", rec.Handle),
	}
	arn := s.CreateStateMachine(t, filepath.Join(awstest.RepoRoot(t), "statemachine", file), subs)
	return &machine{sfn: s, arn: arn, calls: calls, ledger: led, handler: h}
}

func (m *machine) actions(t *testing.T) []ledger.Action {
	t.Helper()
	as, _, err := m.ledger.Actions(context.Background(), "asl", ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestBuildMachineRejectsBadSpecBeforeAnyMutation(t *testing.T) {
	m := newMachine(t, "build.asl.json", nil)
	bad := json.RawMessage(`{"network": {"azCount": 1, "publicSubnets": ["10.40.0.0/24"], "privateSubnets": ["10.40.0.0/25"]},
		"compute": {"minSize": 4, "maxSize": 2, "instanceType": "huge"}}`)
	exec := m.sfn.Run(t, m.arn, map[string]any{"spec": bad})

	if exec.Status != sfntypes.ExecutionStatusFailed || exec.Error != "BuildFailed" {
		t.Fatalf("status %s error %s, want FAILED BuildFailed", exec.Status, exec.Error)
	}
	if n := awsclient.Total(m.calls.Mutations()); n != 0 {
		t.Errorf("a bad spec led to %d mutating calls: %v", n, m.calls.Mutations())
	}
	if got := exec.EnteredStates(); slices.Contains(got, "Network") {
		t.Errorf("the network step ran for a bad spec: %v", got)
	}
	as := m.actions(t)
	if len(as) != 1 || as[0].Outcome != "FAILED" || as[0].Detail["error"] != handlererr.NameInvalidInput {
		t.Fatalf("recorded %+v, want one FAILED build with InvalidInputError", as)
	}
	var cause struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal([]byte(as[0].Detail["cause"]), &cause); err != nil {
		t.Fatalf("cause %q: %v", as[0].Detail["cause"], err)
	}
	for _, p := range []string{"azCount is 1", "overlaps", "minSize 4 is greater than compute.maxSize 2", `instanceType "huge"`} {
		if !strings.Contains(cause.ErrorMessage, p) {
			t.Errorf("recorded cause lacks %q:\n%s", p, cause.ErrorMessage)
		}
	}
}

// TestBuildMachineRunsEveryLayerAndWaits runs the real plan and build
// handlers against moto. moto's Auto Scaling places every instance in one
// zone and its ECS never registers instances or runs tasks, so readiness is
// scripted here: each check is not ready once, then ready, which exercises
// every Wait/Choice loop.
func TestBuildMachineRunsEveryLayerAndWaits(t *testing.T) {
	var rounds atomic.Int32
	ready := func(ctx context.Context, req Request) (*Progress, error) {
		rounds.Add(1)
		done := req.Previous != nil && req.Previous.Name == req.Check
		return progress(req.Check, req, done, "scripted")
	}
	m := newMachine(t, "build.asl.json", ready)
	const param = "/ecsplane/asl/load-balancer-dns-name"
	if _, err := m.handler.Clients.SSM.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String("not built yet"), Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		t.Fatal(err)
	}
	m.handler.Config.DNSNameParameter = param
	m.calls.Reset()
	exec := m.sfn.Run(t, m.arn, map[string]any{"spec": map[string]any{}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	var out struct {
		Layers Layers     `json:"layers"`
		Plan   PlanResult `json:"plan"`
	}
	if err := json.Unmarshal([]byte(exec.Output), &out); err != nil {
		t.Fatal(err)
	}
	if out.Layers.Ingress == nil || out.Layers.Ingress.DNSName == "" || out.Layers.Service == nil || out.Plan.NoChanges {
		t.Fatalf("output lacks the layers or the plan: %s", exec.Output)
	}
	if got := rounds.Load(); got != 10 {
		t.Errorf("%d readiness rounds, want 10 (5 checks, each waiting once)", got)
	}
	if n := exec.Count(sfntypes.HistoryEventTypeWaitStateExited); n != 5 {
		t.Errorf("%d waits, want 5", n)
	}
	published, err := m.handler.Clients.SSM.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(param)})
	if err != nil || aws.ToString(published.Parameter.Value) != out.Layers.Ingress.DNSName {
		t.Errorf("DNS name parameter = %+v (%v), want %s", published, err, out.Layers.Ingress.DNSName)
	}
	as := m.actions(t)
	if len(as) != 1 || as[0].Outcome != "SUCCEEDED" || as[0].Detail["dnsName"] != out.Layers.Ingress.DNSName {
		t.Errorf("recorded %+v, want one SUCCEEDED build with the DNS name", as)
	}

	// A second execution over the built stack changes nothing.
	m.calls.Reset()
	again := m.sfn.Run(t, m.arn, map[string]any{"spec": map[string]any{}})
	if again.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("second build: %s %s", again.Status, again.Cause)
	}
	if n := awsclient.Total(m.calls.Mutations()); n != 0 {
		t.Errorf("second build made %d mutating AWS calls: %v", n, m.calls.Mutations())
	}
	var second struct {
		Plan PlanResult `json:"plan"`
	}
	if err := json.Unmarshal([]byte(again.Output), &second); err != nil || !second.Plan.NoChanges || second.Plan.Summary != stack.NoChanges {
		t.Errorf("second build's plan = %+v (%v), want %q", second.Plan, err, stack.NoChanges)
	}
}

func TestTeardownMachineLeavesNothingTagged(t *testing.T) {
	m := newMachine(t, "teardown.asl.json", nil)
	spec, err := m.handler.Spec(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), m.handler.Clients, stack.NewRun(spec, false, "seed", nil), mustWorkload(t, spec)); err != nil {
		t.Fatal(err)
	}
	exec := m.sfn.Run(t, m.arn, map[string]any{})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	if left := tagged(t, m.handler.Clients, spec); len(left) > 0 {
		t.Errorf("left after teardown: %v", left)
	}
	as := m.actions(t)
	if len(as) != 1 || as[0].Kind != ledger.KindTeardown || as[0].Outcome != "SUCCEEDED" {
		t.Errorf("recorded %+v, want one SUCCEEDED teardown", as)
	}
}

// readyOnSimulator wraps the ready handler for a state machine running on
// the simulator: the state machine waits 0 s, so each further round of a
// wait loop calls wait to let simulated time pass instead, and completes
// the launch hooks that a lifecycle function would.
func readyOnSimulator(t *testing.T, wait func()) func(*Handler) func(context.Context, Request) (*Progress, error) {
	return func(h *Handler) func(context.Context, Request) (*Progress, error) {
		return func(ctx context.Context, req Request) (*Progress, error) {
			if req.Previous != nil && req.Previous.Name == req.Check && !req.Previous.Done {
				completeLaunches(t, h.Clients, &req.Layers)
				wait()
			}
			return h.Ready(ctx, req)
		}
	}
}

// runToSteadyService runs the build and checks that it ends with the
// service steady and a healthy target in each zone.
func runToSteadyService(t *testing.T, m *machine) *awstest.Execution {
	t.Helper()
	exec := m.sfn.Run(t, m.arn, map[string]any{"spec": map[string]any{}, "waits": map[string]any{"seconds": 0, "maxAttempts": 200}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	var out struct {
		Progress Progress `json:"progress"`
		Layers   Layers   `json:"layers"`
	}
	if err := json.Unmarshal([]byte(exec.Output), &out); err != nil {
		t.Fatal(err)
	}
	if out.Progress.Name != CheckService || !out.Progress.Done || !strings.Contains(out.Progress.Detail, "healthy targets "+out.Layers.Network.AZs[0]+"=1 "+out.Layers.Network.AZs[1]+"=1") {
		t.Errorf("last readiness = %+v, want the service steady with a healthy target in each zone", out.Progress)
	}
	return exec
}

// TestBuildMachineOnSimulator runs statemachine/build.asl.json in moto's
// engine with the real handlers, their EC2, Auto Scaling, ECS, ELB,
// CloudWatch and Application Auto Scaling clients on the simulator. Each
// Wait state stands for 15 simulated seconds.
func TestBuildMachineOnSimulator(t *testing.T) {
	sfnEnv := awstest.NewStepFunctions(t)
	s := sim.New(sim.Options{Seed: 11})
	wall := time.Now()
	m := newMachineOn(t, sfnEnv, s.Config(), s.AccountID(), "build.asl.json", nil, readyOnSimulator(t, func() { s.Advance(15 * time.Second) }))
	start := s.Now()
	exec := runToSteadyService(t, m)
	t.Logf("build on the simulator: %d mutating calls, %d reads, %d state transitions; simulated %s, wall %s",
		awsclient.Total(m.calls.Mutations()), awsclient.Total(m.calls.Reads()), exec.Count(sfntypes.HistoryEventTypeTaskStateEntered)+exec.Count(sfntypes.HistoryEventTypeWaitStateEntered)+exec.Count(sfntypes.HistoryEventTypeChoiceStateEntered)+exec.Count(sfntypes.HistoryEventTypePassStateEntered),
		s.Now().Sub(start), time.Since(wall).Round(time.Millisecond))
}

// TestBuildMachineOnSimulatorWithFaults runs build.asl.json on the
// simulator with a tenth of the calls to every service the build mutates
// throttled, and every new resource invisible for two simulated seconds
// after its create: the SDK's retryer and the eventual-consistency retries
// absorb both, and the execution still ends with the service steady in both
// zones, having created each resource once.
func TestBuildMachineOnSimulatorWithFaults(t *testing.T) {
	sfnEnv := awstest.NewStepFunctions(t)
	s := sim.New(sim.Options{Seed: 13})
	for _, svc := range []string{ec2.ServiceID, autoscaling.ServiceID, ecs.ServiceID, elb.ServiceID} {
		s.Throttle(svc, "", 0.1)
		s.SetConsistencyDelay(svc, 2*time.Second)
	}
	runningClock(t, s, func(wait func()) *Layers {
		m := newMachineOn(t, sfnEnv, s.Config(), s.AccountID(), "build.asl.json", nil, readyOnSimulator(t, wait))
		runToSteadyService(t, m)
		throttled, missed := 0, 0
		for _, c := range s.Calls() {
			switch {
			case c.ErrorCode == "RequestLimitExceeded" || strings.HasPrefix(c.ErrorCode, "Throttling"):
				throttled++
			case strings.Contains(c.ErrorCode, "NotFound"):
				missed++
			}
		}
		if throttled == 0 || missed == 0 {
			t.Errorf("%d throttled and %d not-found attempts: the faults were not injected", throttled, missed)
		}
		vpcs, err := m.handler.Clients.EC2.DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{})
		if err != nil || len(vpcs.Vpcs) != 1 {
			t.Errorf("%d VPCs (%v), want exactly 1 despite retried creates", len(vpcs.Vpcs), err)
		}
		t.Logf("build under faults: %d mutating calls and %d reads, with %d throttled and %d not-found attempts retried",
			awsclient.Total(m.calls.Mutations()), awsclient.Total(m.calls.Reads()), throttled, missed)
		return nil
	})
}

// TestTeardownMachineOnSimulator tears down a running stack through
// statemachine/teardown.asl.json where deletes take time: the service
// drains, the group deletes its instances, NAT gateways delete. Each Wait
// stands for 15 simulated seconds.
func TestTeardownMachineOnSimulator(t *testing.T) {
	sfnEnv := awstest.NewStepFunctions(t)
	s := sim.New(sim.Options{Seed: 13})
	m := newMachineWith(t, sfnEnv, s.Config(), s.AccountID(), "teardown.asl.json", nil, nil,
		func(h *Handler) func(context.Context, Request) (*Progress, error) {
			return func(ctx context.Context, req Request) (*Progress, error) {
				if req.Previous != nil && req.Previous.Name == req.Layer && !req.Previous.Done {
					s.Advance(15 * time.Second)
				}
				return h.Teardown(ctx, req)
			}
		})
	spec, err := m.handler.Spec(nil)
	if err != nil {
		t.Fatal(err)
	}
	converge(t, s, m.handler.Clients, stack.NewRun(spec, false, "seed", nil))
	exec := m.sfn.Run(t, m.arn, map[string]any{"waits": map[string]any{"seconds": 0, "maxAttempts": 100}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	if waits := exec.Count(sfntypes.HistoryEventTypeWaitStateEntered); waits == 0 {
		t.Error("the teardown never waited: the simulator's deletes should take time")
	}
	if left := tagged(t, m.handler.Clients, spec); len(left) > 0 {
		t.Errorf("left after teardown: %v", left)
	}
}
