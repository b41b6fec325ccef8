package build_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/build"
	"github.com/ecsplane/ecsplane/internal/local"
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
	return out
}

// TestFunctionPoliciesAreLeastPrivilege reads every function's statements
// from template.yaml and checks DESIGN.md §8: no wildcard actions, no IAM
// creation, every mutation scoped to named resources or conditioned on the
// stack tag, PassRole only for the declared roles, each to its one
// service, and a plan that only reads.
func TestFunctionPoliciesAreLeastPrivilege(t *testing.T) {
	byFunction := functionStatements(t)
	if len(byFunction) != len(build.Layers)+2 {
		t.Fatalf("policies of %d functions, want the plan, the record and one per layer", len(byFunction))
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
				if strings.HasPrefix(a, "iam:") && a != "iam:PassRole" {
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
	want := map[string][]string{"ComputeFunction": {"ec2.amazonaws.com"}, "ServiceFunction": {"ecs-tasks.amazonaws.com"}}
	if len(passRole) != len(want) || !slices.Equal(passRole["ComputeFunction"], want["ComputeFunction"]) || !slices.Equal(passRole["ServiceFunction"], want["ServiceFunction"]) {
		t.Errorf("PassRole grants %v, want %v: the instance role to EC2 by the compute function, the task roles to ECS tasks by the service function", passRole, want)
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
