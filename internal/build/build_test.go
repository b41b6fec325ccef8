package build

import (
	"context"
	"strings"
	"testing"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// testSpec is a valid spec with role ARNs in the test's account.
func testSpec(name, account string) stack.Spec {
	s := stack.Defaults(name)
	s.Service.ImageRepository = account + ".dkr.ecr.us-east-1.amazonaws.com/web"
	s.Roles = stack.Roles{
		InstanceProfileARN: "arn:aws:iam::" + account + ":instance-profile/" + name + "-instance",
		ExecutionRoleARN:   "arn:aws:iam::" + account + ":role/" + name + "-execution",
		TaskRoleARN:        "arn:aws:iam::" + account + ":role/" + name + "-task",
	}
	return s
}

// mustWorkload is the real workload of spec.
func mustWorkload(t testing.TB, spec stack.Spec) service.Workload {
	t.Helper()
	w, err := Workload("us-east-1", "")(spec)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// fixture is one isolated moto account with counted clients.
type fixture struct {
	env     *awstest.Env
	calls   *awsclient.Calls
	clients Clients
	spec    stack.Spec
}

func newFixture(t *testing.T, name string) *fixture {
	t.Helper()
	env := awstest.Moto(t)
	calls := awsclient.NewCalls()
	cfg := env.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	return &fixture{env: env, calls: calls, clients: NewClients(cfg), spec: testSpec(name, env.AccountID)}
}

func (f *fixture) run(t *testing.T, dryRun bool) (*Layers, stack.Plan) {
	t.Helper()
	r := stack.NewRun(f.spec, dryRun, t.Name(), nil)
	l, err := Apply(context.Background(), f.clients, r, mustWorkload(t, f.spec))
	if err != nil {
		t.Fatalf("apply (dry run %t): %v\nchanges so far:\n%s", dryRun, err, r.Plan())
	}
	return l, r.Plan()
}

func TestPlanOnEmptyAccountListsEverything(t *testing.T) {
	f := newFixture(t, "plan")
	_, plan := f.run(t, true)
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Fatalf("plan made %d mutating calls: %v", n, f.calls.Mutations())
	}
	// The only update is the group's scale-out, once its capacity provider
	// exists.
	if u := plan.Count(stack.Update); u != 1 || !strings.Contains(plan.String(), "~ update compute autoscaling:group asg (plan-asg): scale out to 2") {
		t.Errorf("plan on an empty account has %d updates, want the group's scale-out:\n%s", u, plan)
	}
	want := map[string]int{
		"ec2:vpc": 1, "ec2:subnet": 4, "ec2:internet-gateway": 1, "ec2:elastic-ip": 2, "ec2:nat-gateway": 2,
		"ec2:route-table": 3, "ec2:route": 3, "ec2:route-table-association": 4,
		"ec2:security-group": 3, "ec2:security-group-rule": 4,
		"ecs:cluster": 1, "ecs:cluster-capacity-providers": 1, "ec2:launch-template": 1, "autoscaling:group": 1, "ecs:capacity-provider": 1,
		"elbv2:load-balancer": 1, "elbv2:target-group": 1, "elbv2:listener": 1,
		"ecs:task-definition": 1, "cloudwatch:alarm": 6, "ecs:service": 1,
		"application-autoscaling:scalable-target": 1, "application-autoscaling:scaling-policy": 2,
	}
	got := map[string]int{}
	for _, c := range plan.Changes {
		if c.Action == stack.Create {
			got[c.Resource]++
		}
	}
	for res, n := range want {
		if got[res] != n {
			t.Errorf("plan creates %d %s, want %d", got[res], res, n)
		}
	}
	// The only delete is the allow-all egress AWS gives every new group,
	// which the load balancer's group must not keep.
	if d := plan.Count(stack.Delete); d != 1 || !strings.Contains(plan.String(), "- delete security ec2:security-group-rule alb-sg") {
		t.Errorf("plan has %d deletes, want the load balancer group's default egress:\n%s", d, plan)
	}
	if s := plan.String(); !strings.Contains(s, "to create") {
		t.Errorf("human-readable plan lacks its summary:\n%s", s)
	}
}
