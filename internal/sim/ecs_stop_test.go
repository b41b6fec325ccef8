package sim_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// TestStoppingTaskIsKilledAtItsStopTimeout follows the stopTimeout
// parameter: on StopTask the agent sends SIGTERM and, if the container has
// not exited, SIGKILL after the container's stopTimeout, 30 s when neither
// it nor the agent's ECS_CONTAINER_STOP_TIMEOUT is set. A workload that
// handles SIGTERM exits within the simulator's TaskStop (2 s).
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#ContainerDefinition-stopTimeout
func TestStoppingTaskIsKilledAtItsStopTimeout(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ignores     bool
		stopTimeout *int32
		wantStop    time.Duration
		wantExit    int32
	}{
		{"handles SIGTERM", false, nil, 2 * time.Second, 0},
		{"ignores SIGTERM, default timeout", true, nil, 30 * time.Second, 137},
		{"ignores SIGTERM, stopTimeout 10", true, aws.Int32(10), 10 * time.Second, 137},
		{"ignores SIGTERM, stopTimeout 120", true, aws.Int32(120), 120 * time.Second, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, fleetOpts{seed: 19, instances: 1})
			ctx := context.Background()
			image := strings.Replace(fleetImage, ":v1", ":stubborn", 1)
			if tc.ignores {
				f.sim.FailImage(image, sim.ImageIgnoresSIGTERM)
			}
			td, err := f.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
				Family: aws.String("worker"), NetworkMode: ecstypes.NetworkModeAwsvpc,
				ContainerDefinitions: []ecstypes.ContainerDefinition{{
					Name: aws.String("worker"), Image: aws.String(image), Cpu: 256, Memory: aws.Int32(512), Essential: aws.Bool(true), StopTimeout: tc.stopTimeout,
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			run, err := f.ecs.RunTask(ctx, &ecs.RunTaskInput{
				Cluster: aws.String(fleetCluster), TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
				NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
			})
			if err != nil || len(run.Tasks) != 1 {
				t.Fatalf("RunTask: %s (%v)", describe(run), err)
			}
			arn := aws.ToString(run.Tasks[0].TaskArn)
			status := func() string {
				out, err := f.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(fleetCluster), Tasks: []string{arn}})
				if err != nil {
					t.Fatal(err)
				}
				return aws.ToString(out.Tasks[0].LastStatus)
			}
			advanceUntil(t, f.sim, time.Minute, "task running", func() bool { return status() == "RUNNING" })
			if _, err := f.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(fleetCluster), Task: aws.String(arn)}); err != nil {
				t.Fatal(err)
			}
			advanceUntil(t, f.sim, 5*time.Minute, "task stopped", func() bool { return status() == "STOPPED" })
			var stopping, deprovisioning time.Time
			var exit *int32
			for _, ev := range f.sim.Events() {
				if ev.DetailType != events.DetailTypeECSTaskStateChange || ev.Resources[0] != arn {
					continue
				}
				raw, _ := json.Marshal(ev)
				parsed, err := events.ParseTaskStateChange(raw)
				if err != nil {
					t.Fatal(err)
				}
				switch parsed.Detail.LastStatus {
				case "STOPPING":
					stopping = ev.Time
				case "DEPROVISIONING":
					deprovisioning = ev.Time
					exit = parsed.Detail.Containers[0].ExitCode
				}
			}
			if got := deprovisioning.Sub(stopping); got != tc.wantStop {
				t.Fatalf("containers took %s to stop, want %s", got, tc.wantStop)
			}
			if exit == nil || *exit != tc.wantExit {
				t.Fatalf("exit code %v, want %d", describe(exit), tc.wantExit)
			}
		})
	}
}
