package build_test

import (
	"context"
	"encoding/json"
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
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/local/controlplane/controlplanetest"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/step"
)

// machine is a state machine from statemachine/ with the control plane's
// functions registered, their AWS clients on cfg and the ledger in the
// execution's own moto account.
type machine struct {
	sfn    *awstest.StepFunctions
	arn    string
	calls  *awsclient.Calls
	ledger *ledger.Ledger
	cp     *controlplane.ControlPlane
	sdk    sdk
}

type machineOptions struct {
	// cfg and account are where the layers' clients act; the execution's
	// moto account when cfg is nil.
	cfg     *aws.Config
	account string
	// dnsNameParameter is where the ingress layer publishes the DNS name.
	dnsNameParameter string
	// wrap wraps each layer function's handler.
	wrap func(string, controlplane.StepFunc) controlplane.StepFunc
	// bare leaves out the prerequisites (roles, instance profile, images)
	// that a deployment of the template provides.
	bare bool
}

const machineStack = "asl"

func newMachine(t *testing.T, s *awstest.StepFunctions, file string, o machineOptions) *machine {
	t.Helper()
	cfg, account := s.Config.Copy(), s.AccountID
	if o.cfg != nil {
		cfg, account = o.cfg.Copy(), o.account
	}
	calls := awsclient.NewCalls()
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	led := ledger.New(dynamodb.NewFromConfig(s.Config), awstest.LedgerTable(t, s.Env))
	planCfg := controlplane.StackConfig(account, "us-east-1", machineStack)
	planCfg.DNSNameParameter = o.dnsNameParameter
	cp := controlplane.New(cfg, machineStack, planCfg, led, nil)
	if !o.bare {
		if err := controlplane.CreatePrerequisites(context.Background(), cfg, filepath.Join(awstest.RepoRoot(t), "template.yaml"), planCfg, "latest"); err != nil {
			t.Fatal(err)
		}
	}
	calls.Reset()
	subs := map[string]string{"StackName": machineStack, "ReadyWaitSeconds": "0", "ReadyMaxAttempts": "5"}
	for key, fn := range cp.Functions(o.wrap) {
		subs[key] = s.Function(strings.TrimSuffix(key, "FunctionArn"), fn)
	}
	arn := s.CreateStateMachine(t, filepath.Join(awstest.RepoRoot(t), "statemachine", file), subs)
	return &machine{sfn: s, arn: arn, calls: calls, ledger: led, cp: cp, sdk: newSDK(cfg)}
}

func (m *machine) actions(t *testing.T) []ledger.Action {
	t.Helper()
	as, _, err := m.ledger.Actions(context.Background(), machineStack, ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// refusedBeforeAnyMutation runs the build with spec and checks that it
// fails in its first step, recorded as an InvalidInputError whose message
// lists every problem, with no mutating call and no layer step.
func (m *machine) refusedBeforeAnyMutation(t *testing.T, spec any, problems ...string) {
	t.Helper()
	exec := m.sfn.Run(t, m.arn, map[string]any{"spec": spec})
	if exec.Status != sfntypes.ExecutionStatusFailed || exec.Error != "BuildFailed" {
		t.Fatalf("status %s error %s, want FAILED BuildFailed", exec.Status, exec.Error)
	}
	if n := awsclient.Total(m.calls.Mutations()); n != 0 {
		t.Errorf("%d mutating calls: %v", n, m.calls.Mutations())
	}
	if got := exec.EnteredStates(); slices.Contains(got, "Network") {
		t.Errorf("the network step ran: %v", got)
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
	for _, p := range problems {
		if !strings.Contains(cause.ErrorMessage, p) {
			t.Errorf("recorded cause lacks %q:\n%s", p, cause.ErrorMessage)
		}
	}
}

func TestBuildMachineRejectsBadSpecBeforeAnyMutation(t *testing.T) {
	m := newMachine(t, awstest.NewStepFunctions(t), "build.asl.json", machineOptions{})
	bad := json.RawMessage(`{"network": {"azCount": 1, "publicSubnets": ["10.40.0.0/24"], "privateSubnets": ["10.40.0.0/25"]},
		"compute": {"minSize": 4, "maxSize": 2, "instanceType": "huge"}}`)
	m.refusedBeforeAnyMutation(t, bad, "azCount is 1", "overlaps", "minSize 4 is greater than compute.maxSize 2", `instanceType "huge"`)
}

// TestBuildMachineRunsPreflightFirst: in an account without what a
// deployment of the template provides (roles, instance profile, images),
// the build state machine's first step finds every missing piece and the
// build fails there, recorded, with no mutating call.
func TestBuildMachineRunsPreflightFirst(t *testing.T) {
	m := newMachine(t, awstest.NewStepFunctions(t), "build.asl.json", machineOptions{bare: true})
	m.refusedBeforeAnyMutation(t, map[string]any{}, "roles.executionRoleArn: role", "roles.taskRoleArn: role", "roles.instanceProfileArn: instance profile",
		"service.imageRepository: repository asl does not exist", "service.nginxImage: repository asl-nginx does not exist")
}

// scripted answers every readiness check not ready once, then ready, which
// exercises every Wait/Choice loop; reconcile steps run for real.
func scripted(rounds *atomic.Int32) func(string, controlplane.StepFunc) controlplane.StepFunc {
	return func(layer string, h controlplane.StepFunc) controlplane.StepFunc {
		return func(ctx context.Context, req step.Request) (any, error) {
			if req.Op != step.OpCheck {
				return h(ctx, req)
			}
			rounds.Add(1)
			done := req.Previous != nil && req.Previous.Name == req.Check
			return step.Next(req.Check, req, stack.Status{Ready: done, Detail: "scripted"})
		}
	}
}

// TestBuildMachineRunsEveryLayerAndWaits runs the real plan and layer
// functions against moto. moto's Auto Scaling places every instance in one
// zone and its ECS never registers instances or runs tasks, so readiness is
// scripted here.
func TestBuildMachineRunsEveryLayerAndWaits(t *testing.T) {
	var rounds atomic.Int32
	const param = "/ecsplane/asl/load-balancer-dns-name"
	m := newMachine(t, awstest.NewStepFunctions(t), "build.asl.json", machineOptions{dnsNameParameter: param, wrap: scripted(&rounds)})
	if _, err := m.sdk.SSM.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String("not built yet"), Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		t.Fatal(err)
	}
	m.calls.Reset()
	exec := m.sfn.Run(t, m.arn, map[string]any{"spec": map[string]any{}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	var out struct {
		Layers stack.Outputs    `json:"layers"`
		Plan   build.PlanResult `json:"plan"`
	}
	if err := json.Unmarshal([]byte(exec.Output), &out); err != nil {
		t.Fatal(err)
	}
	if out.Layers.Ingress == nil || out.Layers.Ingress.DNSName == "" || out.Layers.Service == nil || out.Plan.NoChanges || out.Plan.Spec.Name != machineStack {
		t.Fatalf("output lacks the layers, the plan or its resolved spec: %s", exec.Output)
	}
	checks := 0
	for _, l := range build.Layers {
		checks += len(l.Checks)
	}
	if got := int(rounds.Load()); got != 2*checks {
		t.Errorf("%d readiness rounds, want %d (%d checks, each waiting once)", got, 2*checks, checks)
	}
	if n := exec.Count(sfntypes.HistoryEventTypeWaitStateExited); n != checks {
		t.Errorf("%d waits, want %d", n, checks)
	}
	published, err := m.sdk.SSM.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(param)})
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
		Plan build.PlanResult `json:"plan"`
	}
	if err := json.Unmarshal([]byte(again.Output), &second); err != nil || !second.Plan.NoChanges || second.Plan.Summary != stack.NoChanges {
		t.Errorf("second build's plan = %+v (%v), want %q", second.Plan, err, stack.NoChanges)
	}
}

func TestTeardownMachineLeavesNothingTagged(t *testing.T) {
	m := newMachine(t, awstest.NewStepFunctions(t), "teardown.asl.json", machineOptions{})
	spec, err := m.cp.Plan.Plan(context.Background(), build.PlanRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := build.Apply(context.Background(), m.cp.Clients, stack.NewRun(spec.Spec, false, "seed", nil)); err != nil {
		t.Fatal(err)
	}
	// Any spec the execution is given is beside the point: the teardown
	// deletes the stack the control plane manages.
	exec := m.sfn.Run(t, m.arn, map[string]any{"spec": map[string]any{"compute": map[string]any{"minSize": -1}}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	if left := tagged(t, m.sdk, spec.Spec); len(left) > 0 {
		t.Errorf("left after teardown: %v", left)
	}
	as := m.actions(t)
	if len(as) != 1 || as[0].Kind != ledger.KindTeardown || as[0].Outcome != "SUCCEEDED" {
		t.Errorf("recorded %+v, want one SUCCEEDED teardown", as)
	}
}

// runToSteadyService runs the template's build state machine on the
// simulator and checks that it ends with the service steady and a healthy
// target in each zone.
func runToSteadyService(t *testing.T, l *controlplanetest.Local) *awstest.Execution {
	t.Helper()
	exec := l.Run(t, "BuildStateMachine", map[string]any{"spec": map[string]any{}, "waits": map[string]any{"seconds": 0, "maxAttempts": 200}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	var out struct {
		Progress step.Progress `json:"progress"`
		Layers   stack.Outputs `json:"layers"`
	}
	if err := json.Unmarshal([]byte(exec.Output), &out); err != nil {
		t.Fatal(err)
	}
	if out.Progress.Name != "service" || !out.Progress.Done || !strings.Contains(out.Progress.Detail, "healthy targets "+out.Layers.Network.AZs[0]+"=1 "+out.Layers.Network.AZs[1]+"=1") {
		t.Errorf("last readiness = %+v, want the service steady with a healthy target in each zone", out.Progress)
	}
	return exec
}

// localLedger is the ledger of the template's control plane.
func localLedger(l *controlplanetest.Local) *ledger.Ledger {
	return ledger.New(dynamodb.NewFromConfig(l.Config), l.App.Tables[local.LedgerTableID])
}

// TestBuildMachineOnSimulator runs the template's build state machine in
// moto's engine with the real functions, their EC2, Auto Scaling, ECS, ELB,
// CloudWatch and Application Auto Scaling clients on the simulator. Each
// further round of a wait loop stands for 15 simulated seconds. The
// group's instances come into service through the template's lifecycle
// state machine, started by its launch rule. The service's creation goes
// through the shared deployment path, and the ledger holds its verdict.
func TestBuildMachineOnSimulator(t *testing.T) {
	s := sim.New(sim.Options{Seed: 11})
	l := controlplanetest.New(t, s, machineStack, nil)
	wall, start := time.Now(), s.Now()
	exec := runToSteadyService(t, l)
	t.Logf("build on the simulator: %d mutating calls, %d reads (lifecycle's included), %d state transitions; simulated %s, wall %s",
		awsclient.Total(l.Calls.Mutations()), awsclient.Total(l.Calls.Reads()), exec.Count(sfntypes.HistoryEventTypeTaskStateEntered)+exec.Count(sfntypes.HistoryEventTypeWaitStateEntered)+exec.Count(sfntypes.HistoryEventTypeChoiceStateEntered)+exec.Count(sfntypes.HistoryEventTypePassStateEntered),
		s.Now().Sub(start), time.Since(wall).Round(time.Millisecond))
	led := localLedger(l)
	history, _, err := led.History(context.Background(), machineStack, ledger.PageRequest{})
	if err != nil || len(history) != 1 || history[0].Status != ledger.StatusSucceeded || history[0].Cause != ledger.CauseCreate || history[0].ExecutionARN != exec.ARN {
		t.Errorf("ledger history %+v (%v), want the service's creation by this execution, succeeded", history, err)
	}
	as, _, err := led.Actions(context.Background(), machineStack, ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	launches := 0
	for _, a := range as {
		if a.Kind == ledger.KindLifecycle {
			if a.Action != "launch" || a.Outcome != "CONTINUE" {
				t.Errorf("lifecycle action %s %s: %s, want every launch completed with CONTINUE", a.Action, a.Outcome, a.Reason)
			}
			launches++
		}
	}
	if launches != 2 {
		t.Errorf("%d launches recorded, want the group's 2 instances: %+v", launches, as)
	}
}

// TestBuildMachineOnSimulatorWithFaults runs build.asl.json on the
// simulator with a tenth of the calls to every service the build mutates
// throttled, and every new resource invisible for two simulated seconds
// after its create: the SDK's retryer and the eventual-consistency retries
// absorb both, and the execution still ends with the service steady in both
// zones, having created each resource once.
func TestBuildMachineOnSimulatorWithFaults(t *testing.T) {
	s := sim.New(sim.Options{Seed: 13})
	for _, svc := range []string{ec2.ServiceID, autoscaling.ServiceID, ecs.ServiceID, elb.ServiceID} {
		s.Throttle(svc, "", 0.1)
		s.SetConsistencyDelay(svc, 2*time.Second)
	}
	l := controlplanetest.New(t, s, machineStack, nil)
	runningClockAt(t, s, func() float64 { return lifecycleClock }, func(func()) *stack.Outputs {
		runToSteadyService(t, l)
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
		vpcs, err := ec2.NewFromConfig(s.Config()).DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{})
		if err != nil || len(vpcs.Vpcs) != 1 {
			t.Errorf("%d VPCs (%v), want exactly 1 despite retried creates", len(vpcs.Vpcs), err)
		}
		t.Logf("build under faults: %d mutating calls and %d reads, with %d throttled and %d not-found attempts retried",
			awsclient.Total(l.Calls.Mutations()), awsclient.Total(l.Calls.Reads()), throttled, missed)
		return nil
	})
}

// TestTeardownMachineOnSimulator tears down a running stack through the
// template's teardown state machine where deletes take time: the service
// drains, the group deletes its instances, NAT gateways delete. Each
// further round of a wait loop stands for 15 simulated seconds.
func TestTeardownMachineOnSimulator(t *testing.T) {
	f := simFixture(t, 13)
	converge(t, f, stack.NewRun(f.spec, false, "seed", nil))
	exec := f.local.Run(t, "TeardownStateMachine", map[string]any{"waits": map[string]any{"seconds": 0, "maxAttempts": 100}})
	if exec.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	if waits := exec.Count(sfntypes.HistoryEventTypeWaitStateEntered); waits == 0 {
		t.Error("the teardown never waited: the simulator's deletes should take time")
	}
	if left := tagged(t, f.sdk, f.spec); len(left) > 0 {
		t.Errorf("left after teardown: %v", left)
	}
}
