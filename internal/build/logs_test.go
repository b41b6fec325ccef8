package build_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// logGroup returns the stack's log group's retention and tags, and whether
// it exists.
func logGroup(t *testing.T, f *fixture, name string) (int32, map[string]string, bool) {
	t.Helper()
	ctx := context.Background()
	out, err := f.sdk.Logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) != name {
			continue
		}
		tags, err := f.sdk.Logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(aws.ToString(g.LogGroupArn))})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToInt32(g.RetentionInDays), tags.Tags, true
	}
	return 0, nil, false
}

// TestLogGroupIsTheBuilds: the build creates the containers' log group
// with the spec's retention and the stack's tags, before the service that
// logs to it; a changed retention is repaired (0 keeps events forever); a
// teardown deletes it, unless the spec retains it.
func TestLogGroupIsTheBuilds(t *testing.T) {
	f := newFixture(t, "logs")
	name := f.spec.Service.LogGroup
	_, plan := f.run(t, false)
	var order []string
	for _, c := range plan.Changes {
		if c.Resource == "logs:log-group" || c.Resource == "ecs:service" {
			order = append(order, c.Resource)
		}
	}
	if len(order) != 2 || order[0] != "logs:log-group" {
		t.Errorf("changes %v, want the log group created before the service", order)
	}
	days, tags, ok := logGroup(t, f, name)
	if !ok || days != 30 || !f.spec.Owned(tags) || tags[stack.TagComponent] != service.LogGroup || tags[service.TagRetain] != "false" {
		t.Fatalf("log group %s: exists %t, retention %d, tags %v", name, ok, days, tags)
	}

	forever := f.spec
	forever.Service.LogRetentionDays = 0
	forever.Service.RetainLogGroup = true
	f.calls.Reset()
	r := stack.NewRun(forever, false, "forever", nil)
	if _, err := build.Apply(context.Background(), f.clients, r); err != nil {
		t.Fatal(err)
	}
	if p := r.Plan(); len(p.Changes) != 2 {
		t.Errorf("changes to the retention and the retain tag:\n%s", p)
	}
	if days, tags, _ := logGroup(t, f, name); days != 0 || tags[service.TagRetain] != "true" {
		t.Errorf("retention %d, retain %q; want none (forever) and true", days, tags[service.TagRetain])
	}
	again := stack.NewRun(forever, false, "again", nil)
	if _, err := build.Apply(context.Background(), f.clients, again); err != nil || len(again.Plan().Changes) != 0 {
		t.Errorf("a second build changed %v (%v)", again.Plan(), err)
	}

	// A teardown knows only the stack's name; it finds the group through
	// the task definitions and keeps it, as the build tagged it.
	if err := build.DestroyAll(context.Background(), f.clients, stack.NewRun(stack.Spec{Name: f.spec.Name}, false, "destroy", nil), build.Sleep(10*time.Millisecond), 5); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := logGroup(t, f, name); !ok {
		t.Error("the teardown deleted a retained log group")
	}
}

// TestLogGroupAdoptedOrRefused: a log group of the stack's name without
// the stack's tags (one an earlier template created) is adopted by tagging
// it; one tagged for another stack stops the build.
func TestLogGroupAdoptedOrRefused(t *testing.T) {
	f := newFixture(t, "adopt")
	name := f.spec.Service.LogGroup
	ctx := context.Background()
	if _, err := f.sdk.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	_, plan := f.run(t, false)
	found := false
	for _, c := range plan.Changes {
		if c.Resource == "logs:log-group" {
			found = true
			if c.Action != stack.Update {
				t.Errorf("log group change %s, want an update of the existing group", c)
			}
		}
	}
	if days, tags, _ := logGroup(t, f, name); !found || !f.spec.Owned(tags) || days != 30 {
		t.Errorf("adopted group: retention %d, tags %v", days, tags)
	}

	taken := newFixture(t, "taken")
	name = taken.spec.Service.LogGroup
	if _, err := taken.sdk.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name), Tags: map[string]string{stack.TagStack: "other"}}); err != nil {
		t.Fatal(err)
	}
	_, err := build.Apply(ctx, taken.clients, stack.NewRun(taken.spec, false, "taken", nil))
	if err == nil || !strings.Contains(err.Error(), "log group "+name+` is tagged for stack "other"`) {
		t.Fatalf("a build over another stack's log group = %v, want a conflict naming it", err)
	}
}
