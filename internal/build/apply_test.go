package build_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/service"
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
// does, through the shared path (the current template, the image pinned by
// digest), and points the service at it: a build then changes nothing,
// neither the revision nor the service.
func TestRolloutRevisionIsLeftAlone(t *testing.T) {
	f := newFixture(t, "roll")
	o, _ := f.run(t, false)
	ctx := context.Background()
	c := f.clients.Service
	w, err := service.NewWorkload(f.spec, c.Region)
	if err != nil {
		t.Fatal(err)
	}
	run := stack.NewRun(f.spec, false, "rollout", nil)
	image := f.spec.Service.ImageRepository + "@sha256:" + strings.Repeat("a", 64)
	td, err := service.RegisterRevision(ctx, c.ECS, run, f.spec, w, image, o.Service.TaskDefinitionARN, "pushed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := service.StartDeployment(ctx, c.ECS, run, f.spec, td, nil); err != nil {
		t.Fatal(err)
	}
	f.calls.Reset()
	if _, plan := f.run(t, false); len(plan.Changes) != 0 || awsclient.Total(f.calls.Mutations()) != 0 {
		t.Errorf("a build after a rollout changed things:\n%s", plan)
	}
	svc, err := f.sdk.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(o.Service.ClusterName), Services: []string{o.Service.ServiceName}})
	if err != nil || aws.ToString(svc.Services[0].TaskDefinition) != td {
		t.Errorf("the service runs %v (%v), want the rollout's %s", svc, err, td)
	}
}
