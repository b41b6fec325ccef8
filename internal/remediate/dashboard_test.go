package remediate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDashboard: the template's dashboard body is valid JSON once its
// substitutions are made, names only resources the template declares, and
// shows the stack's metrics the issue lists.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string    `yaml:"Type"`
			Properties yaml.Node `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	d, ok := tmpl.Resources["Dashboard"]
	if !ok || d.Type != "AWS::CloudWatch::Dashboard" {
		t.Fatalf("template has no AWS::CloudWatch::Dashboard called Dashboard")
	}
	var props struct {
		DashboardBody yaml.Node `yaml:"DashboardBody"`
	}
	if err := d.Properties.Decode(&props); err != nil {
		t.Fatal(err)
	}
	if props.DashboardBody.Tag != "!Sub" {
		t.Fatalf("DashboardBody is %s, want a !Sub string", props.DashboardBody.Tag)
	}
	body := props.DashboardBody.Value
	sub := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)\}`)
	for _, m := range sub.FindAllStringSubmatch(body, -1) {
		if _, ok := tmpl.Resources[m[1]]; !ok && !strings.HasPrefix(m[1], "AWS::") {
			t.Errorf("the body substitutes %s, which the template does not declare", m[1])
		}
	}
	body = sub.ReplaceAllString(body, "web-dev")
	var parsed struct {
		Widgets []struct {
			Properties struct {
				Title   string `json:"title"`
				Metrics []any  `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &parsed); err != nil {
		t.Fatalf("dashboard body is not valid JSON: %v", err)
	}
	for _, w := range parsed.Widgets {
		if w.Properties.Title == "" || len(w.Properties.Metrics) == 0 {
			t.Errorf("widget %q has no title or no metrics", w.Properties.Title)
		}
	}
	for _, want := range []string{
		"HealthyHostCount", "UnHealthyHostCount", "AvailabilityZone", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count",
		"TargetResponseTime", "CPUUtilization", "MemoryUtilization", "ExecutionsStarted", "ExecutionsFailed", `"Errors"`,
		"web-dev-alb", `"ClusterName", "web-dev"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard does not show %s", want)
		}
	}
}

// TestPolicyInREADME: every row of the policy table is in the README's.
func TestPolicyInREADME(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, r := range Policy {
		row := "| " + r.State + " | " + r.When + " | " + r.Action + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README's policy table lacks %q", row)
		}
	}
}
