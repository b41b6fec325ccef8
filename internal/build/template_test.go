package build_test

import (
	"debug/elf"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/config"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/lambdaenv"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/remediate"
	"github.com/ecsplane/ecsplane/internal/rollout"
	"github.com/ecsplane/ecsplane/internal/service"
)

// statement is an IAM policy statement as template.yaml writes it; the
// short-form intrinsics decode as their argument.
type statement struct {
	Sid       string         `yaml:"Sid"`
	Effect    string         `yaml:"Effect"`
	Action    any            `yaml:"Action"`
	Resource  any            `yaml:"Resource"`
	Condition map[string]any `yaml:"Condition"`
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, strs(x)...)
		}
		return out
	}
	return nil
}

// functionStatements reads every function's inline policy statements from
// template.yaml, by function.
func functionStatements(t *testing.T) map[string][]statement {
	t.Helper()
	tmpl, err := local.LoadTemplate(filepath.Join(awstest.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]statement{}
	for _, fn := range tmpl.ResourcesOfType("AWS::Serverless::Function") {
		var policies []any
		if err := tmpl.Property(fn, "Policies", &policies); err != nil {
			t.Fatal(err)
		}
		for _, p := range policies {
			m, ok := p.(map[string]any)
			if !ok {
				t.Errorf("%s uses policy %v; want inline statements only, so each function's permissions are its own", fn, p)
				continue
			}
			var sts []statement
			n, err := yamlRoundTrip(m["Statement"], &sts)
			if err != nil || n == 0 {
				t.Fatalf("%s: statements %v: %v", fn, m, err)
			}
			out[fn] = append(out[fn], sts...)
		}
	}
	// A statement that refers to a state machine which refers to the
	// function stands apart, in a policy attached to the function's role.
	for _, id := range tmpl.ResourcesOfType("AWS::IAM::Policy") {
		var roles []string
		var doc struct {
			Statement []any `yaml:"Statement"`
		}
		if err := tmpl.Property(id, "Roles", &roles); err != nil {
			t.Fatal(err)
		}
		if err := tmpl.Property(id, "PolicyDocument", &doc); err != nil {
			t.Fatal(err)
		}
		for _, role := range roles {
			fn, ok := strings.CutSuffix(role, "Role")
			if _, declared := out[fn]; !ok || !declared {
				t.Errorf("policy %s is attached to %s, which is no function's role", id, role)
				continue
			}
			var sts []statement
			if _, err := yamlRoundTrip(doc.Statement, &sts); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			out[fn] = append(out[fn], sts...)
		}
	}
	return out
}

// TestFunctionPoliciesAreLeastPrivilege reads every function's statements
// from template.yaml and checks DESIGN.md §8: no wildcard actions, no IAM
// but reads and PassRole, every mutation scoped to named resources or conditioned on the
// stack tag, PassRole only for the declared roles, each to its one
// service, and a plan that only reads.
func TestFunctionPoliciesAreLeastPrivilege(t *testing.T) {
	byFunction := functionStatements(t)
	if len(byFunction) != len(build.Layers)+7 {
		t.Fatalf("policies of %d functions, want the plan, the record, the lifecycle, the remediation, one per layer and the rollout's three", len(byFunction))
	}
	passRole := map[string][]string{}
	for fn, sts := range byFunction {
		for _, st := range sts {
			actions := strs(st.Action)
			resources := strs(st.Resource)
			for _, a := range actions {
				_, op, _ := strings.Cut(a, ":")
				if a == "*" || strings.HasSuffix(a, ":*") || strings.Contains(op, "*") {
					t.Errorf("%s: statement %s allows the wildcard %s", fn, st.Sid, a)
				}
				if strings.HasPrefix(a, "iam:") && a != "iam:PassRole" && !awsclient.IsRead(op) {
					t.Errorf("%s: statement %s allows %s; the functions never manage IAM", fn, st.Sid, a)
				}
				if fn == "PlanFunction" && !awsclient.IsRead(op) {
					t.Errorf("the plan function may %s; it only reads", a)
				}
				if awsclient.IsRead(op) || a == "iam:PassRole" {
					continue
				}
				if slices.Contains(resources, "*") && len(st.Condition) == 0 {
					t.Errorf("%s: statement %s allows %s on every resource, unconditioned", fn, st.Sid, a)
				}
			}
			if slices.Contains(actions, "iam:PassRole") {
				cond, _ := st.Condition["StringEquals"].(map[string]any)
				services := strs(cond["iam:PassedToService"])
				if slices.Contains(resources, "*") || len(services) != 1 {
					t.Errorf("%s: PassRole on %v to %v; want declared roles, each to one service", fn, resources, services)
				}
				passRole[fn] = append(passRole[fn], services...)
			}
		}
	}
	want := map[string][]string{"ComputeFunction": {"ec2.amazonaws.com"}, "ServiceFunction": {"ecs-tasks.amazonaws.com"}, "RolloutFunction": {"ecs-tasks.amazonaws.com"}}
	if len(passRole) != len(want) || !slices.Equal(passRole["ComputeFunction"], want["ComputeFunction"]) || !slices.Equal(passRole["ServiceFunction"], want["ServiceFunction"]) ||
		!slices.Equal(passRole["RolloutFunction"], want["RolloutFunction"]) {
		t.Errorf("PassRole grants %v, want %v: the instance role to EC2 by the compute function, the task roles to ECS tasks by the functions that register revisions", passRole, want)
	}
}

// yamlRoundTrip decodes an already-decoded YAML value into out and returns
// its length when it is a list.
func yamlRoundTrip(v any, out *[]statement) (int, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return 0, err
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		return 0, err
	}
	return len(*out), nil
}

// sdkPrefix maps an SDK service package to its IAM service prefix.
var sdkPrefix = map[string]string{
	"ec2": "ec2", "ssm": "ssm", "autoscaling": "autoscaling", "ecs": "ecs", "elasticloadbalancingv2": "elasticloadbalancing",
	"cloudwatch": "cloudwatch", "applicationautoscaling": "application-autoscaling", "dynamodb": "dynamodb",
	"cloudwatchlogs": "logs", "iam": "iam", "ecr": "ecr", "sfn": "states", "arczonalshift": "arc-zonal-shift",
}

// implied are actions IAM checks without the function calling them by
// name: tagging on create, the group's launches, and passing roles.
var implied = map[string]bool{
	"ec2:CreateTags": true, "ec2:RunInstances": true, "ecs:TagResource": true, "elasticloadbalancing:AddTags": true,
	"autoscaling:CreateOrUpdateTags": true, "cloudwatch:TagResource": true, "iam:PassRole": true,
}

// linkedNotCalled are operations a client links into functions that never
// call them: the Go linker keeps every method of an interface a client is
// stored as.
var linkedNotCalled = map[string]string{
	"dynamodb:Query":             "the ledger's lists (History, Actions), which only the CLI reads",
	"dynamodb:DescribeEndpoints": "DynamoDB's endpoint discovery, off unless configured",
}

var clientMethod = regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/service/([a-z0-9]+)\.\(\*Client\)\.([A-Z][A-Za-z0-9]+)$`)

// linkedOperations builds a function's package and lists the SDK client
// operations its binary holds, as IAM actions: what it can call.
func linkedOperations(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, pkg)
	cmd.Dir = awstest.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, s := range syms {
		m := clientMethod.FindStringSubmatch(s.Name)
		if m == nil || m[2] == "Options" {
			continue
		}
		prefix, ok := sdkPrefix[m[1]]
		if !ok {
			prefix = "unexpected:" + m[1]
		}
		ops[prefix+":"+m[2]] = true
	}
	return ops
}

// TestFunctionsLinkOnlyTheClientsTheyCall builds every function and reads
// the SDK operations its binary links: each function links the clients of
// the services its policy names and no other, its policy allows every
// operation it can call (but linkedNotCalled), and allows nothing it cannot.
// The plan links the whole layer table but runs only the reconciles, dry,
// so it needs no more than the reads they make.
func TestFunctionsLinkOnlyTheClientsTheyCall(t *testing.T) {
	out, err := exec.Command("make", "--no-print-directory", "-s", "-C", awstest.RepoRoot(t), "functions").Output()
	if err != nil {
		t.Fatalf("make functions: %v", err)
	}
	dirs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, dir, _ := strings.Cut(line, " ")
		dirs[id] = dir
	}
	for fn, sts := range functionStatements(t) {
		t.Run(fn, func(t *testing.T) {
			allowed := map[string]bool{}
			for _, st := range sts {
				for _, a := range strs(st.Action) {
					allowed[a] = true
				}
			}
			linked := linkedOperations(t, dirs[fn])
			services := func(actions map[string]bool) []string {
				var out []string
				for a := range actions {
					if p, _, _ := strings.Cut(a, ":"); p != "iam" && !slices.Contains(out, p) {
						out = append(out, p)
					}
				}
				slices.Sort(out)
				return out
			}
			if got, want := services(linked), services(allowed); !slices.Equal(got, want) {
				t.Errorf("links the clients of %v, but its policy names %v", got, want)
			}
			for a := range linked {
				if !allowed[a] && linkedNotCalled[a] == "" && fn != "PlanFunction" {
					t.Errorf("can call %s, which its policy does not allow", a)
				}
			}
			for a := range allowed {
				if !linked[a] && !implied[a] {
					t.Errorf("its policy allows %s, which it never calls", a)
				}
			}
			t.Logf("%d operations of %v", len(linked), services(linked))
		})
	}
}

// configs are the configuration structs the functions' mains load, by the
// name a main declares its variable with.
var configs = map[string]any{
	"build.Config": build.Config{}, "ingress.Config": ingress.Config{}, "service.Config": service.Config{}, "ledger.Config": ledger.Config{},
	"lifecycle.Config": lifecycle.Config{}, "remediate.Config": remediate.Config{},
	"rollout.Config": rollout.Config{}, "rollout.ResumeConfig": rollout.ResumeConfig{}, "rollout.CleanupConfig": rollout.CleanupConfig{},
}

// TestFunctionsDeclareTheEnvironmentTheyRead reads, for every function,
// the configuration its main.go loads (the shared variables and its own
// struct's) and the environment template.yaml gives it: the two are the
// same, so no function is given a variable it never reads, nor misses one.
func TestFunctionsDeclareTheEnvironmentTheyRead(t *testing.T) {
	root := awstest.RepoRoot(t)
	tmpl, err := local.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("make", "--no-print-directory", "-s", "-C", root, "functions").Output()
	if err != nil {
		t.Fatalf("make functions: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, dir, _ := strings.Cut(line, " ")
		t.Run(id, func(t *testing.T) {
			want := config.Names(lambdaenv.Shared{})
			if own := ownConfig(t, filepath.Join(root, dir, "main.go")); own != "" {
				c, ok := configs[own]
				if !ok {
					t.Fatalf("main.go loads %s, which the test does not know", own)
				}
				want = append(want, config.Names(c)...)
			}
			slices.Sort(want)
			got, err := tmpl.FunctionEnvironment(id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("template.yaml gives %v, the function reads %v", got, want)
			}
		})
	}
}

// ownConfig returns the type of the configuration a main.go declares as
// `var cfg pkg.Type`, or "" when it has none.
func ownConfig(t *testing.T, path string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var own string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "cfg" {
			if sel, ok := vs.Type.(*ast.SelectorExpr); ok {
				own = sel.X.(*ast.Ident).Name + "." + sel.Sel.Name
			}
		}
		return true
	})
	return own
}
