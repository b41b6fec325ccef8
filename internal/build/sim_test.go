package build_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/local/controlplane/controlplanetest"
	"github.com/ecsplane/ecsplane/internal/sim"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// simStack runs the build against the simulator, which reproduces what
// moto does not: Auto Scaling balancing across zones, container instances
// registering, tasks running and targets turning healthy. The template's
// control plane runs beside it, so its lifecycle state machine lets the
// group's instances into service; DynamoDB (the control plane's ledger)
// and CloudWatch Logs are moto's, in the account the control plane lives
// in, and calls counts both. Each fixture's stack has a name of its own,
// since that account is shared.
type simStack struct {
	sim     *sim.Sim
	clients build.Clients
	sdk     sdk
	calls   *awsclient.Calls
	ledger  *ledger.Ledger
	spec    stack.Spec
	local   *controlplanetest.Local
}

func simFixture(t testing.TB, seed uint64) *simStack {
	t.Helper()
	s := sim.New(sim.Options{Seed: seed})
	spec := testSpec(t, "s"+strings.ToLower(rand.Text()[:8]), s.AccountID())
	l := controlplanetest.New(t, s, spec.Name, nil)
	calls := awsclient.NewCalls()
	cfg := s.ConfigOver(l.Config)
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	led := ledger.New(dynamodb.NewFromConfig(cfg), l.App.Tables[local.LedgerTableID])
	return &simStack{sim: s, clients: build.NewClients(cfg, build.Options{Ledger: led}), sdk: newSDK(cfg), calls: calls, ledger: led, spec: spec, local: l}
}

// converge runs every layer and its readiness checks, letting a round of
// simulated time pass while a check waits, as the state machine's Wait
// states would, in step with the lifecycle state machine.
func converge(t testing.TB, f *simStack, run *stack.Run) *stack.Outputs {
	return convergeWith(t, f, run, f.local.Round)
}

// convergeWith is converge with wait standing for the Wait state.
func convergeWith(t testing.TB, f *simStack, run *stack.Run, wait func(context.Context) error) *stack.Outputs {
	t.Helper()
	o, err := build.Converge(context.Background(), f.clients, run, func(ctx context.Context, o *stack.Outputs, check string, st stack.Status, round int) error {
		if round == 240 {
			if o.Service != nil {
				out, _ := f.sdk.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(o.Service.ClusterName), Services: []string{o.Service.ServiceName}})
				for _, e := range out.Services[0].Events[:min(5, len(out.Services[0].Events))] {
					t.Logf("service event: %s", aws.ToString(e.Message))
				}
			}
			t.Fatalf("check %s not ready after %d rounds: %s", check, round, st.Detail)
		}
		return wait(ctx)
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, run.Plan())
	}
	return o
}

func TestBuildConvergesOnSimulator(t *testing.T) {
	f := simFixture(t, 1)
	start := f.sim.Now()
	wall := time.Now()
	converge(t, f, stack.NewRun(f.spec, false, "sim", nil))
	t.Logf("fresh build: %d mutating calls (%d of them ledger writes), %d reads; simulated %s, wall %s",
		awsclient.Total(f.calls.Mutations()), ledgerWrites(f.calls), awsclient.Total(f.calls.Reads()), f.sim.Now().Sub(start), time.Since(wall).Round(time.Millisecond))

	f.calls.Reset()
	again := stack.NewRun(f.spec, false, "sim-2", nil)
	converge(t, f, again)
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Errorf("repeated build on the simulator made %d mutating calls: %v\n%s", n, f.calls.Mutations(), again.Plan())
	}
	t.Logf("repeated build: %d reads", awsclient.Total(f.calls.Reads()))
}

// ledgerWrites counts the mutating DynamoDB calls: the lease and the
// deployment record.
func ledgerWrites(calls *awsclient.Calls) int {
	n := 0
	for op, c := range calls.Mutations() {
		if len(op) > 9 && op[:9] == "DynamoDB:" {
			n += c
		}
	}
	return n
}

// TestBuildConvergesUnderThrottling throttles a fifth of the calls to every
// service the build mutates: the SDK's standard retryer absorbs it, and the
// build converges without duplicating anything.
func TestBuildConvergesUnderThrottling(t *testing.T) {
	f := simFixture(t, 7)
	for _, svc := range []string{ec2.ServiceID, autoscaling.ServiceID, ecs.ServiceID, elb.ServiceID} {
		f.sim.Throttle(svc, "", 0.2)
	}
	o := converge(t, f, stack.NewRun(f.spec, false, "faults", nil))
	if o.Service == nil {
		t.Fatal("no service")
	}
	throttled := 0
	for _, c := range f.sim.Calls() {
		if c.ErrorCode == "RequestLimitExceeded" || strings.HasPrefix(c.ErrorCode, "Throttling") {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no attempt was throttled: throttling was not injected")
	}
	vpcs, err := f.sdk.EC2.DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{Filters: f.spec.EC2Filter()})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("%d VPCs (%v), want 1", len(vpcs.Vpcs), err)
	}
	t.Logf("under throttling: %d mutating calls, %d reads", awsclient.Total(f.calls.Mutations()), awsclient.Total(f.calls.Reads()))
}

// TestBuildConvergesUnderEventualConsistency builds the whole stack while
// every new EC2, Auto Scaling, ELB and ECS resource stays invisible for a
// while after its create, and some calls are throttled: the calls naming a
// new resource are retried until it shows, and the service comes up steady
// with a running task in each zone.
//
// The group's window makes the build wait for it with the SDK's waiter,
// whose delays are wall time: at this speed-up its first 1 s delay stands
// for five minutes, long enough for instances to boot and register before
// the capacity provider exists, where they would never join it. The build
// creates the group empty and scales it out only once the capacity
// provider exists, so the service still gets its capacity.
func TestBuildConvergesUnderEventualConsistency(t *testing.T) {
	f := simFixture(t, 7)
	for _, svc := range []string{ec2.ServiceID, autoscaling.ServiceID, elb.ServiceID, ecs.ServiceID} {
		f.sim.SetConsistencyDelay(svc, 2*time.Second)
		f.sim.Throttle(svc, "", 0.05)
	}
	o := runningClockAt(t, f.sim, func() float64 { return lifecycleClock }, func(wait func()) *stack.Outputs {
		// The clock runs by itself; each wait lets the lifecycle state
		// machine catch up with it.
		return convergeWith(t, f, stack.NewRun(f.spec, false, "consistency", nil), func(ctx context.Context) error {
			wait()
			return f.local.Settle(ctx)
		})
	})
	if o.Service == nil {
		t.Fatal("no service")
	}
	ctx := context.Background()
	c := f.sdk
	cis, err := c.ECS.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(o.Service.ClusterName)})
	if err != nil || len(cis.ContainerInstanceArns) == 0 {
		t.Fatalf("container instances: %v (%v)", cis, err)
	}
	described, err := c.ECS.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(o.Service.ClusterName), ContainerInstances: cis.ContainerInstanceArns})
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range described.ContainerInstances {
		if aws.ToString(ci.CapacityProviderName) == "" {
			t.Errorf("container instance %s has no capacity provider", aws.ToString(ci.Ec2InstanceId))
		}
	}
	tasks, err := c.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(o.Service.ClusterName), ServiceName: aws.String(o.Service.ServiceName)})
	if err != nil || len(tasks.TaskArns) == 0 {
		t.Fatalf("tasks: %v (%v)", tasks, err)
	}
	running, err := c.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(o.Service.ClusterName), Tasks: tasks.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string]int{}
	for _, task := range running.Tasks {
		if aws.ToString(task.LastStatus) == "RUNNING" {
			zones[aws.ToString(task.AvailabilityZone)]++
		}
	}
	if len(zones) != 2 {
		t.Errorf("running tasks by zone = %v, want tasks running in both zones", zones)
	}
	vpcs, err := c.EC2.DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{Filters: f.spec.EC2Filter()})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("%d VPCs (%v), want 1", len(vpcs.Vpcs), err)
	}
	if n := f.sim.CallCount(ec2.ServiceID, "ModifyVpcAttribute"); n <= 2 {
		t.Errorf("ModifyVpcAttribute attempts = %d, want retries past the window", n)
	}
	t.Logf("under eventual consistency: %d mutating calls, %d reads", awsclient.Total(f.calls.Mutations()), awsclient.Total(f.calls.Reads()))
}

// TestNetworkConvergesUnderEC2Consistency builds the network and security
// layers while every new EC2 resource stays invisible for a while: the
// calls naming it (DNS attributes, subnets, routes, rules) are retried
// until it shows, and a second run changes nothing.
func TestNetworkConvergesUnderEC2Consistency(t *testing.T) {
	f := simFixture(t, 3)
	f.sim.SetConsistencyDelay(ec2.ServiceID, 2*time.Second)
	runningClock(t, f.sim, func(func()) *stack.Outputs {
		for _, token := range []string{"first", "second"} {
			f.calls.Reset()
			o := &stack.Outputs{}
			for _, l := range build.Layers[:2] {
				if err := l.Reconcile(context.Background(), f.clients, stack.NewRun(f.spec, false, token, nil), o); err != nil {
					t.Fatalf("%s run, %s: %v", token, l.Name, err)
				}
			}
		}
		return nil
	})
	// The second run starts after the window, so it sees everything.
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Errorf("second run made %d mutating calls: %v", n, f.calls.Mutations())
	}
	if n := f.sim.CallCount(ec2.ServiceID, "ModifyVpcAttribute"); n <= 2 {
		t.Errorf("ModifyVpcAttribute attempts = %d, want retries past the consistency window", n)
	}
}

// fastClock is how many times faster than wall time runningClock moves the
// simulator's clock.
const fastClock = 300

// lifecycleClock is runningClock's speed-up where the template's lifecycle
// state machine completes the group's launch hooks: a 300 s hook lasts 5 s
// of wall time at it, time enough for the event to reach the state machine
// and its rounds to see the instance join.
const lifecycleClock = 60

// runningClock runs fn while the simulator's clock moves with wall time,
// fastClock times faster, so the retryer's backoff lets time pass; fn's
// wait stands for one 15 s Wait state.
func runningClock(t *testing.T, s *sim.Sim, fn func(wait func()) *stack.Outputs) *stack.Outputs {
	t.Helper()
	return runningClockAt(t, s, func() float64 { return fastClock }, fn)
}

// runningClockAt is runningClock with a speed-up that may change while fn
// runs.
func runningClockAt(t *testing.T, s *sim.Sim, speed func() float64, fn func(wait func()) *stack.Outputs) *stack.Outputs {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			v := speed()
			phase, stop := context.WithCancel(ctx)
			go func() {
				defer stop()
				for phase.Err() == nil && speed() == v {
					time.Sleep(time.Millisecond)
				}
			}()
			s.Run(phase, v)
			stop()
		}
	}()
	defer func() { cancel(); <-done }()
	for start := s.Now(); !s.Now().After(start); {
		time.Sleep(time.Millisecond)
	}
	return fn(func() { time.Sleep(time.Duration(float64(15*time.Second) / speed())) })
}

// TestDestroyOnSimulator tears a running stack down where deletes take time
// and refuse while dependants exist: the service drains, the group deletes
// its instances, the NAT gateways delete, and nothing tagged is left.
func TestDestroyOnSimulator(t *testing.T) {
	f := simFixture(t, 9)
	converge(t, f, stack.NewRun(f.spec, false, "build", nil))
	f.calls.Reset()
	rounds := 0
	wait := func(context.Context) error { rounds++; f.sim.Advance(15 * time.Second); return nil }
	run := stack.NewRun(stack.Spec{Name: f.spec.Name}, false, "destroy", nil)
	if err := build.DestroyAll(context.Background(), f.clients, run, wait, 120); err != nil {
		t.Fatalf("destroy: %v\n%s", err, run.Plan())
	}
	if left := tagged(t, f.sdk, f.spec); len(left) > 0 {
		t.Fatalf("left after destroy: %v", left)
	}
	t.Logf("destroy: %d deletes, %d waits, %d mutating calls", run.Plan().Count(stack.Delete), rounds, awsclient.Total(f.calls.Mutations()))
}
