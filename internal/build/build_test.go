package build_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// testSpec is the resolved spec of a stack called name in account, as the
// plan function resolves it from the template's configuration.
func testSpec(t testing.TB, name, account string) stack.Spec {
	t.Helper()
	spec, err := build.Resolve(nil, name, controlplane.StackConfig(account, "us-east-1", name))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// fixture is one isolated moto account with counted clients and a ledger.
type fixture struct {
	env     *awstest.Env
	calls   *awsclient.Calls
	clients build.Clients
	sdk     sdk
	ledger  *ledger.Ledger
	spec    stack.Spec
}

// sdk are plain SDK clients on a fixture's configuration, for the tests'
// own looks at what a build made.
type sdk struct {
	EC2            *ec2.Client
	Logs           *cloudwatchlogs.Client
	SSM            *ssm.Client
	AutoScaling    *autoscaling.Client
	ECS            *ecs.Client
	ELB            *elb.Client
	CloudWatch     *cloudwatch.Client
	AppAutoScaling *aas.Client
}

func newSDK(cfg aws.Config) sdk {
	return sdk{
		EC2: ec2.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), ECS: ecs.NewFromConfig(cfg),
		ELB: elb.NewFromConfig(cfg), CloudWatch: service.NewCloudWatch(cfg), AppAutoScaling: aas.NewFromConfig(cfg),
	}
}

func newFixture(t *testing.T, name string) *fixture {
	t.Helper()
	env := awstest.Moto(t)
	calls := awsclient.NewCalls()
	cfg := env.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, calls.Middleware())
	led := ledger.New(dynamodb.NewFromConfig(cfg), awstest.LedgerTable(t, env))
	return &fixture{env: env, calls: calls, ledger: led, clients: build.NewClients(cfg, build.Options{Ledger: led}), sdk: newSDK(cfg), spec: testSpec(t, name, env.AccountID)}
}

func (f *fixture) run(t *testing.T, dryRun bool) (*stack.Outputs, stack.Plan) {
	t.Helper()
	r := stack.NewRun(f.spec, dryRun, t.Name(), nil)
	o, err := build.Apply(context.Background(), f.clients, r)
	if err != nil {
		t.Fatalf("apply (dry run %t): %v\nchanges so far:\n%s", dryRun, err, r.Plan())
	}
	return o, r.Plan()
}

func TestPlanOnEmptyAccountListsEverything(t *testing.T) {
	f := newFixture(t, "plan")
	_, plan := f.run(t, true)
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Fatalf("plan made %d mutating calls: %v", n, f.calls.Mutations())
	}
	// The only updates are the VPC's default security group, stripped of
	// its rules, and the group's scale-out, once its capacity provider
	// exists.
	if u := plan.Count(stack.Update); u != 2 || !strings.Contains(plan.String(), "~ update compute autoscaling:group asg (plan-asg): scale out to 2") ||
		!strings.Contains(plan.String(), "~ update network ec2:security-group default-sg: revoke the default group's rules") {
		t.Errorf("plan on an empty account has %d updates, want the default group's and the group's scale-out:\n%s", u, plan)
	}
	want := map[string]int{
		"ec2:vpc": 1, "ec2:subnet": 4, "ec2:internet-gateway": 1, "ec2:elastic-ip": 2, "ec2:nat-gateway": 2,
		"ec2:route-table": 3, "ec2:route": 3, "ec2:route-table-association": 4,
		"ec2:security-group": 3, "ec2:security-group-rule": 6,
		"ecs:cluster": 1, "ecs:cluster-capacity-providers": 1, "ec2:launch-template": 1, "autoscaling:group": 1, "ecs:capacity-provider": 1,
		"elbv2:load-balancer": 1, "elbv2:target-group": 1, "elbv2:listener": 1,
		"logs:log-group": 1, "ecs:task-definition": 1, "cloudwatch:alarm": 11, "ecs:service": 1,
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
	// The only deletes are the allow-all egress AWS gives every new group,
	// which the load balancer's and the tasks' groups must not keep.
	if d := plan.Count(stack.Delete); d != 2 || !strings.Contains(plan.String(), "- delete security ec2:security-group-rule alb-sg") ||
		!strings.Contains(plan.String(), "- delete security ec2:security-group-rule task-sg") {
		t.Errorf("plan has %d deletes, want the load balancer's and the tasks' groups' default egress:\n%s", d, plan)
	}
	if s := plan.String(); !strings.Contains(s, "to create") {
		t.Errorf("human-readable plan lacks its summary:\n%s", s)
	}
}

// TestMinSizeZero: a minimum of 0 instances is kept as given, not taken
// for "unset"; the build still starts an instance in every zone, and a
// second build changes nothing.
func TestMinSizeZero(t *testing.T) {
	f := simFixture(t, 47)
	f.spec.Compute.MinSize = 0
	o := converge(t, f, stack.NewRun(f.spec, false, "first", nil))
	g, err := f.sdk.AutoScaling.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{o.Compute.AutoScalingGroupName}})
	if err != nil || len(g.AutoScalingGroups) != 1 {
		t.Fatalf("group: %v", err)
	}
	if asg := g.AutoScalingGroups[0]; aws.ToInt32(asg.MinSize) != 0 || aws.ToInt32(asg.DesiredCapacity) != 2 {
		t.Errorf("group min %d desired %d, want 0 and 2", aws.ToInt32(asg.MinSize), aws.ToInt32(asg.DesiredCapacity))
	}
	again := stack.NewRun(f.spec, false, "again", nil)
	converge(t, f, again)
	if n := len(again.Plan().Changes); n != 0 {
		t.Errorf("second build:\n%s", again.Plan())
	}
}
