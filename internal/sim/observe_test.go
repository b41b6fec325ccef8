package sim_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/sim"
)

// TestObserveSeesEveryStep follows two tasks' ends step by step. One is
// stopped through the API: ECS deregisters it from its target group
// (DEACTIVATING) and only once the target has drained stops its
// containers (STOPPING), so no step shows it stopping while its target
// still takes or drains traffic. The other's instance is terminated under
// it: in the step the instance shuts down, its task is STOPPED while its
// target still drains, which is what a test of draining must be able to
// catch.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html
func TestObserveSeesEveryStep(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 23, instances: 2})
	f.createService(t, serviceOpts{name: "web", desired: 2, minHealthy: 50, max: 200, grace: 30})
	f.waitSteady(t, "web", 10*time.Minute)
	tasks := f.tasks(t, "web", ecstypes.DesiredStatusRunning)
	if len(tasks) != 2 {
		t.Fatalf("%d tasks, want 2", len(tasks))
	}
	stopped, orphaned := aws.ToString(tasks[0].TaskArn), aws.ToString(tasks[1].TaskArn)

	var mu sync.Mutex
	var snaps []sim.Snapshot
	stop := f.sim.Observe(func(s sim.Snapshot) {
		mu.Lock()
		snaps = append(snaps, s)
		mu.Unlock()
	})
	ctx := context.Background()
	if _, err := f.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(fleetCluster), Task: aws.String(stopped)}); err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(2 * time.Minute)
	ci := f.containerInstances(t)
	host := ""
	for _, c := range ci {
		if aws.ToString(c.ContainerInstanceArn) == aws.ToString(tasks[1].ContainerInstanceArn) {
			host = aws.ToString(c.Ec2InstanceId)
		}
	}
	if _, err := f.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{host}}); err != nil {
		t.Fatal(err)
	}
	f.sim.Advance(2 * time.Minute)
	stop()
	mu.Lock()
	seen := len(snaps)
	mu.Unlock()
	f.sim.Advance(5 * time.Minute)
	if len(snaps) != seen {
		t.Errorf("%d snapshots after the observation stopped", len(snaps)-seen)
	}

	task := func(s sim.Snapshot, arn string) (sim.TaskView, bool) {
		i := slices.IndexFunc(s.Tasks, func(v sim.TaskView) bool { return v.ARN == arn })
		if i < 0 {
			return sim.TaskView{}, false
		}
		return s.Tasks[i], true
	}
	target := func(s sim.Snapshot, id string) string {
		for _, tv := range s.Targets {
			if tv.ID == id {
				return tv.State
			}
		}
		return ""
	}
	var statuses []string
	caught := false
	for i, s := range snaps {
		if i > 0 && s.At.Before(snaps[i-1].At) {
			t.Fatalf("snapshot %d at %s is before the one before it", i, s.At)
		}
		if v, ok := task(s, stopped); ok {
			if len(statuses) == 0 || statuses[len(statuses)-1] != v.LastStatus {
				statuses = append(statuses, v.LastStatus)
			}
			// Once STOPPED, the task's address may be a newer task's.
			if (v.LastStatus == "STOPPING" || v.LastStatus == "DEPROVISIONING") && target(s, v.TargetID) != "" {
				t.Errorf("at %s the stopped task is %s while its target is %s", s.At, v.LastStatus, target(s, v.TargetID))
			}
		}
		if v, ok := task(s, orphaned); ok && v.LastStatus == "STOPPED" && v.StopCode == string(ecstypes.TaskStopCodeTerminationNotice) && target(s, v.TargetID) == "draining" {
			caught = true
		}
	}
	if want := []string{"DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}; !slices.Equal(statuses, want) {
		t.Errorf("the stopped task went through %v, want %v", statuses, want)
	}
	if !caught {
		t.Error("no snapshot shows the task of the terminated instance STOPPED while its target drains")
	}
}
