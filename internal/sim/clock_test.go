package sim_test

import (
	"context"
	"encoding/json"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecsplane/ecsplane/internal/sim"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)
	s := sim.New(sim.Options{Start: start})
	if !s.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", s.Now(), start)
	}
	time.Sleep(10 * time.Millisecond)
	if !s.Now().Equal(start) {
		t.Fatal("virtual clock moved with wall time")
	}
	s.Advance(90 * time.Second)
	if got := s.Now().Sub(start); got != 90*time.Second {
		t.Fatalf("after Advance(90s) the clock moved %s", got)
	}
}

func TestRunUntilStopsAtTheFirstInstantTheConditionHolds(t *testing.T) {
	e := newEnv(t, sim.Options{Seed: 1, Timings: sim.Timings{InstanceBoot: 45 * time.Second}})
	n := e.network(t)
	run, err := e.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(n.subnets[0]), ImageId: aws.String(e.sim.ECSOptimizedAMI()),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	start := e.sim.Now()
	if !e.sim.RunUntil(func() bool { return e.ec2State(t, id) == "running" }, time.Hour) {
		t.Fatal("instance never ran")
	}
	if got := e.sim.Now().Sub(start); got != 45*time.Second {
		t.Fatalf("RunUntil stopped after %s, want the 45s boot time", got)
	}
	if e.sim.RunUntil(func() bool { return false }, 10*time.Minute) {
		t.Fatal("RunUntil reported a condition that never held")
	}
	if got := e.sim.Now().Sub(start); got != 45*time.Second+10*time.Minute {
		t.Fatalf("RunUntil with a false condition moved the clock %s, want the full limit", got)
	}
}

func TestECSOptimizedAMIParameter(t *testing.T) {
	s := sim.New(sim.Options{Region: "eu-west-1"})
	client := ssm.NewFromConfig(s.Config())
	ctx := context.Background()
	p, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
	if err != nil {
		t.Fatal(err)
	}
	ami := aws.ToString(p.Parameter.Value)
	if !regexp.MustCompile(`^ami-[0-9a-f]{17}$`).MatchString(ami) {
		t.Fatalf("parameter value %q, want a well-formed AMI ID", ami)
	}
	if arn := aws.ToString(p.Parameter.ARN); arn != "arn:aws:ssm:eu-west-1::parameter"+sim.ECSAMIParameter {
		t.Fatalf("public parameter ARN %q", arn)
	}
	rec, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended")})
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		ImageID string `json:"image_id"`
		OS      string `json:"os"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(rec.Parameter.Value)), &meta); err != nil || meta.ImageID != ami || meta.OS != "Amazon Linux 2023" {
		t.Fatalf("recommended metadata %q (%v)", aws.ToString(rec.Parameter.Value), err)
	}
	other, err := ssm.NewFromConfig(sim.New(sim.Options{Region: "us-east-1"}).Config()).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
	if err != nil || aws.ToString(other.Parameter.Value) == ami {
		t.Fatalf("us-east-1 publishes %v (%v), want an AMI ID of its own", describe(other), err)
	}
	both, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{sim.ECSAMIParameter, "/nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(both.Parameters) != 1 || len(both.InvalidParameters) != 1 || both.InvalidParameters[0] != "/nope" {
		t.Fatalf("GetParameters = %+v", both)
	}
}

// TestSetSpeedChangesARun: a Run follows wall time at its factor, and
// SetSpeed changes the factor of the Run in progress (with the clock
// stepped by hand it does nothing); SetHold stops the clock while its
// function says so.
func TestSetSpeedChangesARun(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	s.SetSpeed(100)
	if got := s.Speed(); got != 0 {
		t.Fatalf("Speed %g with the clock stepped by hand after SetSpeed, want 0", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, 1); close(done) }()
	for s.Speed() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.SetSpeed(3600)
	from := s.Now()
	time.Sleep(200 * time.Millisecond)
	// 200 ms at 3600x is 12 simulated minutes; at 1x it would be 200 ms.
	if moved := s.Now().Sub(from); moved < 5*time.Minute {
		t.Fatalf("the clock moved %s in 200 ms after SetSpeed(3600)", moved)
	}
	var held atomic.Bool
	held.Store(true)
	s.SetHold(held.Load)
	time.Sleep(30 * time.Millisecond)
	from = s.Now()
	time.Sleep(100 * time.Millisecond)
	if moved := s.Now().Sub(from); moved != 0 {
		t.Fatalf("the clock moved %s while held", moved)
	}
	held.Store(false)
	time.Sleep(100 * time.Millisecond)
	if moved := s.Now().Sub(from); moved < time.Minute {
		t.Fatalf("the clock moved %s in 100 ms after the hold ended", moved)
	}
	cancel()
	<-done
	if got := s.Speed(); got != 0 {
		t.Fatalf("Speed %g after Run ended, want 0", got)
	}
}
