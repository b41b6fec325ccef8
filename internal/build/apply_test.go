package build

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestSecondApplyMakesNoMutatingCalls(t *testing.T) {
	f := newFixture(t, "again")
	first, plan := f.run(t, false)
	created := awsclient.Total(f.calls.Mutations())
	t.Logf("fresh build: %d changes, %d mutating calls, %d reads", len(plan.Changes), created, awsclient.Total(f.calls.Reads()))
	if created == 0 {
		t.Fatal("the first apply made no mutating calls")
	}

	f.calls.Reset()
	second, plan := f.run(t, false)
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Errorf("second apply made %d mutating calls: %v", n, f.calls.Mutations())
	}
	t.Logf("repeated build: %d reads, 0 mutating calls", awsclient.Total(f.calls.Reads()))
	if len(plan.Changes) != 0 {
		t.Errorf("second apply recorded changes:\n%s", plan)
	}
	if second.Network.VPCID != first.Network.VPCID || second.Ingress.LoadBalancerARN != first.Ingress.LoadBalancerARN ||
		second.Service.TaskDefinitionARN != first.Service.TaskDefinitionARN {
		t.Errorf("second apply returned other resources: %+v vs %+v", second, first)
	}

	f.calls.Reset()
	_, dry := f.run(t, true)
	if got := dry.String(); got != "stack again: "+stack.NoChanges+"\n" {
		t.Errorf("plan on an unchanged stack = %q", got)
	}
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Errorf("plan made %d mutating calls", n)
	}
}

// TestRolloutRevisionIsLeftAlone registers a revision the way the rollout
// does (pinned image, no spec hash) and points the service at it: a build
// then changes nothing, neither the revision nor the service.
func TestRolloutRevisionIsLeftAlone(t *testing.T) {
	f := newFixture(t, "roll")
	l, _ := f.run(t, false)
	ctx := context.Background()
	td, err := f.clients.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(l.Service.TaskDefinitionARN)})
	if err != nil {
		t.Fatal(err)
	}
	d := td.TaskDefinition
	d.ContainerDefinitions[0].Image = aws.String(f.spec.Service.ImageRepository + "@sha256:" + strings.Repeat("a", 64))
	rev, err := f.clients.ECS.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: d.Family, NetworkMode: d.NetworkMode, RequiresCompatibilities: d.RequiresCompatibilities, Cpu: d.Cpu, Memory: d.Memory,
		ExecutionRoleArn: d.ExecutionRoleArn, TaskRoleArn: d.TaskRoleArn, ContainerDefinitions: d.ContainerDefinitions,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.clients.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(l.Service.ClusterName), Service: aws.String(l.Service.ServiceName),
		TaskDefinition: rev.TaskDefinition.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	f.calls.Reset()
	if _, plan := f.run(t, false); len(plan.Changes) != 0 || awsclient.Total(f.calls.Mutations()) != 0 {
		t.Errorf("a build after a rollout changed things:\n%s", plan)
	}
}
