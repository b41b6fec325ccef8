package build_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// push rolls image out through the shared deployment path, phase by phase
// as the rollout's state machine will: lease, PENDING record with the
// previous revision, a revision from the current template with the image
// pinned by digest, UpdateService, IN_PROGRESS, ECS's verdict. The bake and
// the record of the outcome come with the rollout workflow; here each push
// stops at ECS's verdict and releases the lease.
func push(t *testing.T, f *simStack, spec stack.Spec, image, owner string) string {
	t.Helper()
	ctx := context.Background()
	c := f.clients.Service
	run := stack.NewRun(spec, false, owner, nil)
	w, err := service.NewWorkload(spec, c.Region)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.FindService(ctx, c.ECS, spec)
	if err != nil || svc == nil {
		t.Fatalf("service: %v (%v)", svc, err)
	}
	r := service.Rollout{Spec: spec, Workload: w, Image: image, Cause: ledger.CauseImage, Reason: "pushed " + image, Previous: aws.ToString(svc.TaskDefinition)}
	lease, err := service.AcquireLease(ctx, c.Ledger, service.Name(spec), owner, service.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := service.RecordPending(ctx, c.Ledger, r, owner)
	if err != nil {
		t.Fatal(err)
	}
	td, err := service.RegisterRevision(ctx, c.ECS, run, spec, w, image, r.Previous, r.Reason)
	if err != nil {
		t.Fatal(err)
	}
	st, err := service.StartDeployment(ctx, c.ECS, run, spec, td, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = service.RecordStarted(ctx, c.Ledger, rec, td, st, r.Reason); err != nil {
		t.Fatal(err)
	}
	d := &stack.Deployment{Service: service.Name(spec), ID: rec.ID, ECSDeploymentID: st.DeploymentID, TaskDefinition: td, Previous: r.Previous}
	for i := 0; ; i++ {
		v, err := service.DeploymentVerdict(ctx, c, service.ClusterName(spec), d)
		if err != nil {
			t.Fatal(err)
		}
		if v.Done {
			if v.Status != ledger.StatusSucceeded {
				t.Fatalf("push of %s: %s %s", image, v.Status, v.Reason)
			}
			break
		}
		if i == 200 {
			t.Fatalf("push of %s has no verdict after %d rounds: %s", image, i, v.Reason)
		}
		f.sim.Advance(15 * time.Second)
	}
	if err := service.ReleaseLease(ctx, c.Ledger, lease); err != nil {
		t.Fatal(err)
	}
	return td
}

// running describes the revision the service runs and its app's image.
func running(t *testing.T, f *simStack, spec stack.Spec) (*ecstypes.TaskDefinition, string) {
	t.Helper()
	ctx := context.Background()
	svc, err := service.FindService(ctx, f.sdk.ECS, spec)
	if err != nil || svc == nil {
		t.Fatalf("service: %v (%v)", svc, err)
	}
	td, err := f.sdk.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range td.TaskDefinition.ContainerDefinitions {
		if aws.ToString(c.Name) == "app" {
			return td.TaskDefinition, aws.ToString(c.Image)
		}
	}
	t.Fatalf("revision %s has no app container", aws.ToString(svc.TaskDefinition))
	return nil, ""
}

// TestBuildOwnsTheTemplateAndRolloutsOwnTheRevision is the ownership rule:
// after 12 new digests rolled out through the shared path, a build makes no
// mutating call and the service still runs the last digest; a template
// change (CPU) makes the build register a revision with the running digest,
// roll it out through the same path and record it in the ledger.
func TestBuildOwnsTheTemplateAndRolloutsOwnTheRevision(t *testing.T) {
	f := simFixture(t, 21)
	ctx := context.Background()
	converge(t, f, stack.NewRun(f.spec, false, "first-build", nil))
	first, _, err := f.ledger.History(ctx, service.Name(f.spec), ledger.PageRequest{})
	if err != nil || len(first) != 1 || first[0].Cause != ledger.CauseCreate || first[0].Status != ledger.StatusSucceeded || first[0].ImageTag != f.spec.Service.ImageTag {
		t.Fatalf("after the first build the ledger holds %+v (%v), want the service's creation, succeeded", first, err)
	}

	var last, lastRevision string
	for i := 1; i <= 12; i++ {
		last = fmt.Sprintf("%s@sha256:%064x", f.spec.Service.ImageRepository, i)
		lastRevision = push(t, f, f.spec, last, fmt.Sprintf("rollout-%d", i))
	}
	if _, image := running(t, f, f.spec); image != last {
		t.Fatalf("after 12 pushes the service runs %s, want %s", image, last)
	}

	f.calls.Reset()
	again := stack.NewRun(f.spec, false, "second-build", nil)
	converge(t, f, again)
	if n := awsclient.Total(f.calls.Mutations()); n != 0 || len(again.Plan().Changes) != 0 {
		t.Fatalf("a build after 12 rollouts made %d mutating calls %v:\n%s", n, f.calls.Mutations(), again.Plan())
	}
	t.Logf("build after 12 rollouts: 0 mutating calls, %d reads", awsclient.Total(f.calls.Reads()))
	if td, image := running(t, f, f.spec); image != last || aws.ToString(td.TaskDefinitionArn) != lastRevision {
		t.Fatalf("after the build the service runs %s (%s), want %s (%s)", image, aws.ToString(td.TaskDefinitionArn), last, lastRevision)
	}

	// A template change, more CPU, while a rollout holds the service's
	// lease: the build waits its turn, and registers nothing meanwhile.
	bigger := f.spec
	bigger.Service.CPU = 1024
	held, err := service.AcquireLease(ctx, f.ledger, service.Name(f.spec), "rollout-13", service.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	busy := stack.NewRun(bigger, false, "busy-build", nil)
	_, err = build.Apply(ctx, f.clients, busy)
	var notReady *handlererr.NotReadyError
	if !errors.As(err, &notReady) || !strings.Contains(err.Error(), "held by rollout-13") {
		t.Fatalf("a build while a rollout holds the lease: %v, want a NotReadyError naming the holder", err)
	}
	if td, _ := running(t, f, f.spec); aws.ToString(td.TaskDefinitionArn) != lastRevision || strings.Contains(busy.Plan().String(), "ecs:task-definition") {
		t.Fatalf("the build moved the service while the lease was held:\n%s", busy.Plan())
	}
	if err := service.ReleaseLease(ctx, f.ledger, held); err != nil {
		t.Fatal(err)
	}
	f.calls.Reset()
	change := stack.NewRun(bigger, false, "cpu-build", nil)
	converge(t, f, change)
	td, image := running(t, f, bigger)
	if image != last || aws.ToString(td.Cpu) != "1024" || aws.ToString(td.TaskDefinitionArn) == lastRevision {
		t.Fatalf("after the CPU change the service runs %s with %s CPU units (%s), want a new revision of %s with 1024",
			image, aws.ToString(td.Cpu), aws.ToString(td.TaskDefinitionArn), last)
	}
	if s := change.Plan().String(); !strings.Contains(s, "~ update service ecs:task-definition task-definition ("+aws.ToString(td.TaskDefinitionArn)+"): new revision: template changed: cpu 512, want 1024; app image "+last) ||
		!strings.Contains(s, "~ update service ecs:service service") {
		t.Errorf("the build's changes do not show the template rollout:\n%s", s)
	}
	history, _, err := f.ledger.History(ctx, service.Name(f.spec), ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	d := history[0]
	if d.Cause != ledger.CauseTemplate || d.Status != ledger.StatusSucceeded || d.PreviousTaskDef != lastRevision ||
		d.NewTaskDef != aws.ToString(td.TaskDefinitionArn) || d.ImageDigest != strings.TrimPrefix(last, f.spec.Service.ImageRepository+"@") {
		t.Fatalf("newest deployment %+v, want the template change from %s to %s with the running digest, succeeded", d, lastRevision, aws.ToString(td.TaskDefinitionArn))
	}
	if _, err := f.ledger.CurrentLock(ctx, service.Name(f.spec), ledger.ScopeRevision); err == nil {
		t.Error("the build did not release the service's lease")
	}
}
