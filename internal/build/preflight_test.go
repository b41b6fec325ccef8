package build_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/local/controlplane"
	"github.com/ecsplane/ecsplane/internal/preflight"
)

// preflightFixture is an account in moto with everything a deployment of
// the template provides (roles, instance profile, repositories with the
// initial images, the ledger table) and the plan function over it, whose
// calls are counted.
type preflightFixture struct {
	*fixture
	plan *build.PlanHandler
	cfg  build.Config
}

func newPreflightFixture(t *testing.T, name string) *preflightFixture {
	t.Helper()
	f := newFixture(t, name)
	cfg := controlplane.StackConfig(f.env.AccountID, "us-east-1", name)
	cfg.TableName = f.ledger.Table()
	if err := controlplane.CreatePrerequisites(context.Background(), f.env.Config, filepath.Join(awstest.RepoRoot(t), "template.yaml"), cfg, "latest"); err != nil {
		t.Fatal(err)
	}
	cp := controlplane.New(f.env.Config, name, cfg, f.ledger, nil)
	cp.Plan.Clients = f.clients
	return &preflightFixture{fixture: f, plan: cp.Plan, cfg: cfg}
}

// refused runs the plan function, the build state machine's first step,
// on spec, and checks that it refuses with an InvalidInputError listing
// every problem in want, having made no mutating call.
func (f *preflightFixture) refused(t *testing.T, spec string, want ...string) []string {
	t.Helper()
	f.calls.Reset()
	_, err := f.plan.Plan(context.Background(), build.PlanRequest{Spec: json.RawMessage(spec)})
	var inv *handlererr.InvalidInputError
	if !errors.As(err, &inv) {
		t.Fatalf("plan = %v, want an InvalidInputError", err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(inv.Problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("problems lack %q:\n%s", w, strings.Join(inv.Problems, "\n"))
		}
	}
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Errorf("%d mutating calls: %v", n, f.calls.Mutations())
	}
	return inv.Problems
}

func TestPreflightPassesWhatTheTemplateProvides(t *testing.T) {
	f := newPreflightFixture(t, "ready")
	res, err := f.plan.Plan(context.Background(), build.PlanRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Availability Zones us-east-1a, us-east-1b", "t3.medium offered in every zone", "instance profile ready-instance",
		"role ready-instance assumable by ec2.amazonaws.com", "role ready-execution assumable by ecs-tasks.amazonaws.com", "role ready-task assumable by ecs-tasks.amazonaws.com",
		"image " + f.cfg.ImageRepository + ":latest", "image " + f.cfg.NginxImage, "ledger table " + f.ledger.Table()} {
		if !slices.Contains(res.Preflight.Checked, want) {
			t.Errorf("checked %q, want %q among them", res.Preflight.Checked, want)
		}
	}
	if len(res.Preflight.Skipped) != 0 {
		t.Errorf("skipped %v", res.Preflight.Skipped)
	}
	if n := awsclient.Total(f.calls.Mutations()); n != 0 {
		t.Errorf("the plan made %d mutating calls", n)
	}
	// The checks alone, as a first build (the service to be created) and
	// a later one run them.
	for _, creates := range []bool{true, false} {
		f.calls.Reset()
		if _, err := preflight.Check(context.Background(), f.clients.Preflight, preflight.Input{Spec: res.Spec, Zones: []string{"us-east-1a", "us-east-1b"}, CreatesService: creates, Table: f.ledger.Table()}); err != nil {
			t.Fatal(err)
		}
		t.Logf("the checks, creating the service %t: %d reads, %d mutating calls", creates, awsclient.Total(f.calls.Reads()), awsclient.Total(f.calls.Mutations()))
	}
}

// TestPreflightRefusesBeforeAnyMutation: each problem a build would meet
// late, after dozens of changes, is found by the plan function, the build
// state machine's first step, as an InvalidInputError naming it, with no
// mutating call.
func TestPreflightRefusesBeforeAnyMutation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		spec   string
		breaks func(t *testing.T, f *preflightFixture)
		want   []string
	}{
		{name: "missing zone", spec: `{"network": {"azs": ["us-east-1a", "us-east-1q"]}}`,
			want: []string{"Availability Zone us-east-1q does not exist in us-east-1 (its zones: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1e, us-east-1f)"}},
		{name: "instance type offered nowhere", spec: `{"compute": {"instanceType": "t3.mega"}}`,
			want: []string{"compute.instanceType t3.mega is not offered in us-east-1a, us-east-1b"}},
		// moto's offerings are AWS's: us-east-1e offers no t3.
		{name: "instance type not offered in a pinned zone", spec: `{"network": {"azs": ["us-east-1a", "us-east-1e"]}}`,
			want: []string{"compute.instanceType t3.medium is not offered in us-east-1e; pick another type or pin zones that offer it"}},
		{name: "missing role", breaks: func(t *testing.T, f *preflightFixture) {
			f.cfg.TaskRoleARN = strings.Replace(f.cfg.TaskRoleARN, "-task", "-gone", 1)
		},
			want: []string{"roles.taskRoleArn: role arn:aws:iam::"}},
		{name: "role the service cannot assume", breaks: func(t *testing.T, f *preflightFixture) {
			_, err := iam.NewFromConfig(f.env.Config).UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
				RoleName:       aws.String(f.spec.Name + "-execution"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
			})
			if err != nil {
				t.Fatal(err)
			}
		}, want: []string{"roles.executionRoleArn: role " + "unassumable-execution cannot be assumed by ecs-tasks.amazonaws.com"}},
		{name: "missing instance profile", breaks: func(t *testing.T, f *preflightFixture) {
			f.cfg.InstanceProfileARN = strings.Replace(f.cfg.InstanceProfileARN, "-instance", "-none", 1)
		}, want: []string{"roles.instanceProfileArn: instance profile arn:aws:iam::"}},
		{name: "missing repository", breaks: func(t *testing.T, f *preflightFixture) {
			if _, err := ecr.NewFromConfig(f.env.Config).DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String(f.spec.Name + "-nginx"), Force: true}); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"service.nginxImage: repository norepo-nginx does not exist"}},
		{name: "missing initial image", spec: `{"service": {"imageTag": "v9"}}`,
			want: []string{"service.imageRepository: image ", ":v9 is not in repository noimage; push it first"}},
		{name: "missing table", breaks: func(t *testing.T, f *preflightFixture) { f.plan.Config.TableName = "no-such-ledger" },
			want: []string{"ledger table no-such-ledger does not exist in us-east-1"}},
		{name: "subnet outside the VPC", spec: `{"network": {"publicSubnets": ["10.99.0.0/24", "10.40.1.0/24"]}}`,
			want: []string{`network.publicSubnets[0] "10.99.0.0/24" is not inside the VPC 10.40.0.0/16`}},
	}
	names := map[string]string{"role the service cannot assume": "unassumable", "missing repository": "norepo", "missing initial image": "noimage"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := names[tt.name]
			if name == "" {
				name = "pre"
			}
			f := newPreflightFixture(t, name)
			if tt.breaks != nil {
				tt.breaks(t, f)
				f.plan.Config = withTable(f.cfg, f.plan.Config.TableName)
			}
			spec := tt.spec
			if spec == "" {
				spec = "{}"
			}
			f.refused(t, spec, tt.want...)
		})
	}
}

func withTable(cfg build.Config, table string) build.Config {
	cfg.TableName = table
	return cfg
}

// TestPreflightListsEveryProblemAtOnce: problems from the spec, the
// region and the account come back together.
func TestPreflightListsEveryProblemAtOnce(t *testing.T) {
	f := newPreflightFixture(t, "many")
	if _, err := dynamodb.NewFromConfig(f.env.Config).DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(f.ledger.Table())}); err != nil {
		t.Fatal(err)
	}
	if _, err := ecr.NewFromConfig(f.env.Config).BatchDeleteImage(context.Background(), &ecr.BatchDeleteImageInput{
		RepositoryName: aws.String("many-nginx"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("stable")}},
	}); err != nil {
		t.Fatal(err)
	}
	problems := f.refused(t, `{"network": {"azs": ["us-east-1a", "us-east-1q"]}, "compute": {"instanceType": "t3.mega"}}`,
		"Availability Zone us-east-1q does not exist", "compute.instanceType t3.mega is not offered in us-east-1a",
		"service.nginxImage: image ", "ledger table ledger does not exist")
	if len(problems) != 4 {
		t.Errorf("%d problems, want 4:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	t.Logf("problems:\n%s", strings.Join(problems, "\n"))
}
