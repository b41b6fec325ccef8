package rollout_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/execution"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// world is template.yaml's control plane in the local environment, with a
// stack built on the simulator: the real rollout.asl.json in moto's Step
// Functions engine, the real handlers, the rules on moto's bus and the
// dispatcher to their targets, the simulator's events on the bus, and the
// simulator's clock running.
type world struct {
	t       testing.TB
	name    string
	sim     *sim.Sim
	sf      *awstest.StepFunctions
	env     *awstest.Env
	app     *local.App
	wiring  *local.Wiring
	ledger  *ledger.Ledger
	machine string
	outputs *stack.Outputs
	spec    stack.Spec
	calls   *awsclient.Calls
	// handlers are the functions' handlers, by logical ID; motoCfg and
	// simCfg configurations like the handlers', counted by calls.
	handlers        map[string]any
	motoCfg, simCfg aws.Config
	log             *slog.Logger
	pushes          int

	mu      sync.Mutex
	samples []map[string]int
	// breaching makes the clock put a breaching datapoint of Web/Errors at
	// every step.
	breaching atomic.Bool
}

// worldOptions configure a world.
type worldOptions struct {
	// Params override template parameters (the rollout's waits are short
	// by default).
	Params map[string]string
	// NoECSEvents keeps the simulator's ECS deployment events off the bus,
	// as if ECS's events never came.
	NoECSEvents bool
	// Speed is how many simulated seconds pass per wall second.
	Speed float64
	// BakeAlarm makes the bake watch an alarm of its own, <stack>-errors
	// on the custom metric Web/Errors, which breach keeps in ALARM.
	BakeAlarm bool
}

var worldSeq struct {
	sync.Mutex
	n int
}

func newWorld(t testing.TB, opts worldOptions) *world {
	t.Helper()
	ctx := context.Background()
	worldSeq.Lock()
	worldSeq.n++
	n := worldSeq.n
	worldSeq.Unlock()
	name := fmt.Sprintf("r%d%s", n, strings.ToLower(rand.Text()[:5]))
	s := sim.New(sim.Options{Seed: uint64(len(name) + n)})
	sf := awstest.NewStepFunctions(t)
	env := awstest.NewEnv(sf.Endpoint, local.Account)
	root := awstest.RepoRoot(t)
	params := map[string]string{
		"ImageRepositoryName": name, "RolloutBakeSeconds": "3", "RolloutPollSeconds": "1",
		"RolloutEcsWaitSeconds": "60", "RolloutGateTimeoutSeconds": "20",
	}
	if opts.BakeAlarm {
		params["RolloutBakeAlarms"] = name + "-errors"
	}
	maps.Copy(params, opts.Params)
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("ROLLOUT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// calls counts the functions' calls, to the simulator and to moto.
	calls := awsclient.NewCalls()
	var filter func(<-chan sim.Event) <-chan sim.Event
	if opts.NoECSEvents {
		filter = withoutECSDeploymentEvents
	}
	l, err := controlplane.StartOnSim(ctx, &local.Env{Gateway: sf.Gateway}, s, controlplane.Options{
		TemplatePath: filepath.Join(root, "template.yaml"), StackName: name, Prefix: name + "-", Parameters: params,
		Log: log, APIOptions: []func(*middleware.Stack) error{calls.Middleware()}, Events: filter,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	motoCfg := l.Config.Copy()
	motoCfg.APIOptions = slices.Concat(l.Config.APIOptions, []func(*middleware.Stack) error{calls.Middleware()})
	simCfg := s.ConfigOver(motoCfg)
	w := &world{t: t, name: name, sim: s, sf: sf, env: env, app: l.App, wiring: l.Wiring, calls: calls, handlers: l.Handlers, motoCfg: motoCfg, simCfg: simCfg, log: log,
		ledger: ledger.New(dynamodb.NewFromConfig(env.Config), l.App.Tables[local.LedgerTableID])}
	if w.machine, err = l.StateMachine("RolloutStateMachine"); err != nil {
		t.Fatal(err)
	}

	// The roles exist before the build, as a deployment of the template
	// provides them; the initial image's tag is one the rollout filters
	// out. The build's calls are not the rollout's; its waits go in step
	// with the lifecycle state machine, which lets the instances in.
	buildCfg := s.ConfigOver(env.Config)
	stackCfg := controlplane.StackConfig(local.Account, local.Region, name)
	if w.spec, err = build.Resolve(json.RawMessage(`{}`), name, stackCfg); err != nil {
		t.Fatal(err)
	}
	if err := controlplane.CreatePrerequisites(ctx, buildCfg, filepath.Join(root, "template.yaml"), stackCfg, w.spec.Service.ImageTag); err != nil {
		t.Fatal(err)
	}
	w.outputs, err = build.Converge(ctx, build.NewClients(buildCfg, build.Options{Ledger: w.ledger}), stack.NewRun(w.spec, false, "build-"+name, nil),
		func(ctx context.Context, o *stack.Outputs, check string, st stack.Status, round int) error {
			if round > 200 {
				return fmt.Errorf("check %s not ready: %s", check, st.Detail)
			}
			return l.Round(ctx)
		})
	if err != nil {
		t.Fatal(err)
	}
	if opts.BakeAlarm {
		if _, err := service.NewCloudWatch(s.Config()).PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name + "-errors"), Namespace: aws.String("Web"), MetricName: aws.String("Errors"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String(name)}}, Statistic: cwtypes.StatisticSum,
			Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5), TreatMissingData: aws.String("notBreaching"),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
		}); err != nil {
			t.Fatal(err)
		}
	}
	w.runClock(opts.Speed)
	// The service's creation ends with ECS's verdict, which reaches the
	// resume function like any; the rollouts' figures start after it.
	if !opts.NoECSEvents {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := w.wiring.Dispatcher.WaitFor(ctx, func(o local.Outcome) bool { return o.Rule == "RolloutResumeFunctionOnEcsVerdict" }); err != nil {
			t.Fatalf("the service's creation: %v", err)
		}
	}
	calls.Reset()
	return w
}

// withoutECSDeploymentEvents passes on every event but ECS's deployment
// state changes.
func withoutECSDeploymentEvents(in <-chan sim.Event) <-chan sim.Event {
	out := make(chan sim.Event)
	go func() {
		defer close(out)
		for ev := range in {
			if ev.DetailType != "ECS Deployment State Change" {
				out <- ev
			}
		}
	}()
	return out
}

// runClock moves the simulator's clock with wall time, speed times faster
// (120 by default), and samples the healthy targets per zone at every
// step, until the test ends.
func (w *world) runClock(speed float64) {
	if speed <= 0 {
		speed = 120
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w.t.Cleanup(func() { cancel(); <-done })
	const tick = 20 * time.Millisecond
	go func() {
		defer close(done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.sim.Advance(time.Duration(float64(tick) * speed))
				w.sample(ctx)
				if w.breaching.Load() {
					w.putErrors(ctx, 50)
				}
			}
		}
	}()
}

// putErrors puts a datapoint of the bake alarm's metric.
func (w *world) putErrors(ctx context.Context, v float64) {
	_, _ = service.NewCloudWatch(w.sim.Config()).PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Web"), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String("Errors"), Value: aws.Float64(v), Dimensions: []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String(w.name)}},
	}}})
}

// breach keeps the bake alarm's metric breaching, or stops, and waits for
// the alarm to reach the state that follows.
func (w *world) breach(on bool) {
	w.t.Helper()
	w.breaching.Store(on)
	want := cwtypes.StateValueOk
	if on {
		want = cwtypes.StateValueAlarm
	}
	w.waitFor("alarm "+w.name+"-errors in "+string(want), func() bool {
		out, err := service.NewCloudWatch(w.sim.Config()).DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{w.name + "-errors"}})
		return err == nil && len(out.MetricAlarms) == 1 && out.MetricAlarms[0].StateValue == want
	})
}

// sample records the healthy targets per zone now.
func (w *world) sample(ctx context.Context) {
	c := build.NewClients(w.sim.Config(), build.Options{}).Service
	tasks, err := service.Tasks(ctx, c, w.outputs.Service.ClusterName, w.outputs.Service.ServiceName)
	if err != nil {
		return
	}
	counts, err := service.HealthyTargets(ctx, c, w.outputs.Ingress.TargetGroupARN, tasks)
	if err != nil {
		return
	}
	w.mu.Lock()
	w.samples = append(w.samples, counts)
	w.mu.Unlock()
}

// minHealthyPerZone is the fewest healthy targets any zone had at any
// sampled moment since the last reset, and how many moments were sampled.
func (w *world) minHealthyPerZone() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	low := -1
	for _, s := range w.samples {
		for _, az := range w.outputs.Network.AZs {
			if low < 0 || s[az] < low {
				low = s[az]
			}
		}
	}
	return low, len(w.samples)
}

func (w *world) resetSamples() {
	w.mu.Lock()
	w.samples = nil
	w.mu.Unlock()
}

// push pushes a new image under tag to the simulated ECR, whose event goes
// through the bus and the template's push rule, and returns its digest.
func (w *world) push(tag string) string {
	w.t.Helper()
	d, err := w.sim.PushImage(w.name, tag)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// started waits for the next execution the push rule starts.
func (w *world) started() string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := 0
	o, err := w.wiring.Dispatcher.WaitFor(ctx, func(o local.Outcome) bool {
		if o.Rule != "RolloutStateMachineOnPush" || o.Execution == "" {
			return false
		}
		seen++
		return seen > w.pushes
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.pushes++
	return o.Execution
}

// logger is the functions' logger: discarded unless ROLLOUT_TEST_LOG is
// set.
func (w *world) logger() *slog.Logger { return w.log }

// fn is a function's name in the world, as the gateway serves it.
func (w *world) fn(logicalID string) string { return w.name + "-" + logicalID }

// rolloutStep is the rollout function's handler.
type rolloutStep = func(context.Context, rollout.Invocation) (any, error)

// script serves the rollout function with wrap around its handler.
func (w *world) script(wrap func(real rolloutStep) rolloutStep) {
	w.sf.Gateway.Register(w.fn("RolloutFunction"), wrap(w.handlers["RolloutFunction"].(rolloutStep)))
}

// invocations counts the invocations of the world's functions so far.
func (w *world) invocations() map[string]int {
	out := map[string]int{}
	for _, f := range w.app.Functions {
		out[f.LogicalID] = w.sf.Gateway.Invocations(f.Name)
	}
	return out
}

// settle waits until the build's own events (its ECS deployment's
// verdict among them) have been delivered: no delivery for two seconds, so
// that a rollout's budget counts only its own invocations.
func (w *world) settle() {
	w.t.Helper()
	n, quiet := len(w.wiring.Dispatcher.Outcomes()), time.Now()
	w.waitFor("the build's events to be delivered", func() bool {
		if m := len(w.wiring.Dispatcher.Outcomes()); m != n {
			n, quiet = m, time.Now()
		}
		return time.Since(quiet) >= 2*time.Second
	})
}

// wait waits for an execution's end.
func (w *world) wait(arn string) *awstest.Execution {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := execution.Wait(ctx, sfn.NewFromConfig(w.env.Config), arn, 50*time.Millisecond, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return &awstest.Execution{ARN: arn, Status: d.Status, Output: aws.ToString(d.Output), Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause), History: d.History}
}

// record is the deployment record an execution made.
func (w *world) record(execution string) *ledger.Deployment {
	w.t.Helper()
	d, err := w.ledger.FindByExecution(context.Background(), w.name, execution)
	if err != nil {
		ex := w.wait(execution)
		w.t.Fatalf("the record of %s: %v; the execution %s %s %s, states %v, output %s", execution, err, ex.Status, ex.Error, ex.Cause, ex.EnteredStates(), ex.Output)
	}
	return d
}

// leaseHolder is the revision lease's holder, or "".
func (w *world) leaseHolder() string {
	w.t.Helper()
	l, err := w.ledger.CurrentLock(context.Background(), w.name, ledger.ScopeRevision)
	if err != nil {
		return ""
	}
	return l.Owner
}

// runningImages returns the app images the service's running tasks run,
// per zone.
func (w *world) runningImages() map[string][]string {
	w.t.Helper()
	ctx := context.Background()
	c := build.NewClients(w.sim.Config(), build.Options{}).Service
	tasks, err := service.Tasks(ctx, c, w.outputs.Service.ClusterName, w.outputs.Service.ServiceName)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]string{}
	api := ecs.NewFromConfig(w.sim.Config())
	for _, task := range tasks {
		if aws.ToString(task.LastStatus) != "RUNNING" || aws.ToString(task.DesiredStatus) != "RUNNING" {
			continue
		}
		td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: task.TaskDefinitionArn})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, cd := range td.TaskDefinition.ContainerDefinitions {
			if aws.ToString(cd.Name) == "app" {
				az := aws.ToString(task.AvailabilityZone)
				out[az] = append(out[az], aws.ToString(cd.Image))
			}
		}
	}
	return out
}

// image is the app image pinned by digest.
func (w *world) image(digest string) string { return w.spec.Service.ImageRepository + "@" + digest }

// runsOnly waits until every running task in every zone runs image, and
// at least one does in each zone.
func (w *world) runsOnly(image string) {
	w.t.Helper()
	var got map[string][]string
	ok := func() bool {
		got = w.runningImages()
		for _, az := range w.outputs.Network.AZs {
			if len(got[az]) == 0 {
				return false
			}
			for _, img := range got[az] {
				if img != image {
					return false
				}
			}
		}
		return true
	}
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			w.t.Fatalf("the service's tasks run %v, want %s in every zone", got, image)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start starts an execution of the rollout machine with input, as the
// CLI does.
func (w *world) start(name string, input any) string {
	w.t.Helper()
	b, err := json.Marshal(input)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := sfn.NewFromConfig(w.env.Config).StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(w.machine), Name: aws.String(name), Input: aws.String(string(b)),
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return aws.ToString(out.ExecutionArn)
}

// request is a request, as ecsplane deploy makes it, to roll out digest.
func request(digest, cause string) map[string]any {
	return map[string]any{"request": rollout.Request{Digest: digest, Cause: cause, ID: rand.Text(), At: time.Now().UTC()}}
}

// waitFor polls cond until it holds.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
