package build_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// TestProductionLoadBalancer builds a production stack with access logs on
// the simulator, which refuses to delete a load balancer with deletion
// protection as AWS does: the load balancer has the protection and writes
// its logs to the bucket, and a teardown stops at it with a message that
// says how to lift it, leaving the rest of the ingress layer in place.
// Once an operator lifts it, the teardown goes on to the end.
func TestProductionLoadBalancer(t *testing.T) {
	f := simFixture(t, 41)
	prod := f.spec
	prod.Production = true
	prod.Ingress.AccessLogs = &stack.AccessLogs{Bucket: "web-alb-logs", Prefix: "prod"}
	o := converge(t, f, stack.NewRun(prod, false, "prod", nil))
	ctx := context.Background()
	want := map[string]string{
		ingress.AttrDeletionProtection: "true", ingress.AttrDropInvalidHeaders: "true",
		ingress.AttrAccessLogs: "true", ingress.AttrAccessLogsBucket: "web-alb-logs", ingress.AttrAccessLogsPrefix: "prod",
	}
	got := lbAttributes(t, f.sdk.ELB, o.Ingress.LoadBalancerARN)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got[k], v)
		}
	}

	err := build.DestroyAll(ctx, f.clients, stack.NewRun(prod, false, "teardown", nil), func(context.Context) error { f.sim.Advance(time.Minute); return nil }, 20)
	if err == nil || !strings.Contains(err.Error(), "deletion protection") || !strings.Contains(err.Error(), "Key="+ingress.AttrDeletionProtection+",Value=false") {
		t.Fatalf("teardown of a production stack = %v, want it stopped by deletion protection, saying how to lift it", err)
	}
	if lbs, err := f.sdk.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{o.Ingress.LoadBalancerARN}}); err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("the protected load balancer is gone: %v", err)
	}
	if _, err := f.sdk.ELB.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: aws.String(o.Ingress.LoadBalancerARN),
		Attributes:      []elbtypes.LoadBalancerAttribute{{Key: aws.String(ingress.AttrDeletionProtection), Value: aws.String("false")}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := build.DestroyAll(ctx, f.clients, stack.NewRun(prod, false, "teardown-again", nil), func(context.Context) error { f.sim.Advance(time.Minute); return nil }, 20); err != nil {
		t.Fatalf("teardown after lifting the protection: %v", err)
	}
	if left := tagged(t, f.sdk, prod); len(left) > 0 {
		t.Errorf("left after teardown: %v", left)
	}
}

// TestLoadBalancerAttributesDrift: a spec that stops being a production one
// and drops its access logs updates the attributes in one change, and a
// build over the result changes nothing.
func TestLoadBalancerAttributesDrift(t *testing.T) {
	f := simFixture(t, 43)
	prod := f.spec
	prod.Production = true
	o := converge(t, f, stack.NewRun(prod, false, "prod", nil))
	plan := stack.NewRun(f.spec, true, "plan", nil)
	converge(t, f, plan)
	p := plan.Plan()
	if len(p.Changes) != 1 || p.Changes[0].String() != "~ update ingress elbv2:load-balancer alb ("+o.Ingress.LoadBalancerARN+"): attributes "+ingress.AttrDeletionProtection+"=false" {
		t.Fatalf("plan after dropping production:\n%s", p)
	}
	converge(t, f, stack.NewRun(f.spec, false, "dev", nil))
	again := stack.NewRun(f.spec, true, "again", nil)
	converge(t, f, again)
	if n := len(again.Plan().Changes); n != 0 {
		t.Errorf("plan after the update:\n%s", again.Plan())
	}
}
