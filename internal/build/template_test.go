package build

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/awstest"
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

// TestFunctionPoliciesAreLeastPrivilege reads the build functions' and
// the read policy's statements from template.yaml and checks DESIGN.md §8:
// no wildcard actions, no IAM creation, every mutation scoped to named
// resources or conditioned on the stack tag, PassRole only for the
// declared roles and services.
func TestFunctionPoliciesAreLeastPrivilege(t *testing.T) {
	tmpl, err := local.LoadTemplate(filepath.Join(awstest.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var all []statement
	for _, fn := range []string{"PlanFunction", "BuildFunction", "ReadyFunction", "TeardownFunction"} {
		var policies []any
		if err := tmpl.Property(fn, "Policies", &policies); err != nil {
			t.Fatal(err)
		}
		for _, p := range policies {
			m, ok := p.(map[string]any)
			if !ok {
				if p != "StackReadPolicy" {
					t.Errorf("%s uses policy %v; want only StackReadPolicy and inline statements", fn, p)
				}
				continue
			}
			var sts []statement
			n, err := yamlRoundTrip(m["Statement"], &sts)
			if err != nil || n == 0 {
				t.Fatalf("%s: statements %v: %v", fn, m, err)
			}
			all = append(all, sts...)
		}
	}
	var doc struct {
		Statement []statement `yaml:"Statement"`
	}
	if err := tmpl.Property("StackReadPolicy", "PolicyDocument", &doc); err != nil {
		t.Fatal(err)
	}
	for _, st := range doc.Statement {
		for _, a := range strs(st.Action) {
			if _, op, _ := strings.Cut(a, ":"); !awsclient.IsRead(op) {
				t.Errorf("the read policy allows %s", a)
			}
		}
	}
	all = append(all, doc.Statement...)

	if len(all) < 12 {
		t.Fatalf("found %d statements; the policies were not read", len(all))
	}
	passRole := 0
	for _, st := range all {
		actions := strs(st.Action)
		resources := strs(st.Resource)
		for _, a := range actions {
			_, op, _ := strings.Cut(a, ":")
			if a == "*" || strings.HasSuffix(a, ":*") || strings.Contains(op, "*") {
				t.Errorf("statement %s allows the wildcard %s", st.Sid, a)
			}
			if strings.HasPrefix(a, "iam:") && a != "iam:PassRole" {
				t.Errorf("statement %s allows %s; the functions never manage IAM", st.Sid, a)
			}
			if awsclient.IsRead(op) || a == "iam:PassRole" {
				continue
			}
			if slices.Contains(resources, "*") && len(st.Condition) == 0 {
				t.Errorf("statement %s allows %s on every resource, unconditioned", st.Sid, a)
			}
		}
		if slices.Contains(actions, "iam:PassRole") {
			passRole++
			cond, _ := st.Condition["StringEquals"].(map[string]any)
			services := strs(cond["iam:PassedToService"])
			if slices.Contains(resources, "*") || len(resources) != 3 || !slices.Equal(services, []string{"ec2.amazonaws.com", "ecs-tasks.amazonaws.com"}) {
				t.Errorf("PassRole on %v to %v; want the three declared roles, to EC2 and ECS tasks only", resources, services)
			}
		}
	}
	if passRole != 1 {
		t.Errorf("%d PassRole statements, want exactly the build function's", passRole)
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
