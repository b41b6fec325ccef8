package rollout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestResumeParse reads each kind of event the resume function is sent,
// and the near misses it answers without resuming anything.
func TestResumeParse(t *testing.T) {
	r := &Resume{Stack: "web-dev", BakeAlarms: []string{"web-dev-target-5xx", "web-dev-elb-5xx"}}
	ev, err := r.parse(readEvent(t, "rollout-resume-ecs-completed.json"))
	if err != nil || ev.ignore != "" || ev.deployment != "ecs-svc/7214581929836159401" || ev.result.Status != "COMPLETED" || ev.result.At.Format("15:04:05") != "09:05:11" {
		t.Fatalf("ECS verdict: %+v %v", ev, err)
	}
	if ev, err = r.parse(readEvent(t, "rollout-resume-bake-alarm.json")); err != nil || ev.ignore != "" || ev.alarm != "web-dev-target-5xx" || !strings.Contains(ev.cause, "Threshold Crossed") {
		t.Fatalf("bake alarm: %+v %v", ev, err)
	}
	for name, want := range map[string]string{
		"ecs-deployment-state-change-completed.json":   `service "servicetest", not "web-dev"`,
		"ecs-deployment-state-change-in-progress.json": `service "servicetest"`,
		"cloudwatch-alarm-state-change-alarm.json":     "not one of the bake's",
		"cloudwatch-alarm-state-change-ok.json":        "went to OK, not ALARM",
	} {
		if ev, err := r.parse(readEvent(t, name)); err != nil || !strings.Contains(ev.ignore, want) {
			t.Errorf("%s: %+v %v, want it ignored: %s", name, ev, err, want)
		}
	}
	for _, name := range []string{"ecr-image-action-push.json", "plan.json", "states-execution-status-change-failed.json"} {
		if _, err := r.parse(readEvent(t, name)); err == nil {
			t.Errorf("%s was taken for an event to resume with", name)
		}
	}
	if _, err := r.parse([]byte(`{"source":"aws.ecs","detail-type":"ECS Deployment State Change","detail":{"eventName":"SERVICE_DEPLOYMENT_COMPLETED"}}`)); err == nil {
		t.Error("a malformed deployment event was accepted")
	}
}

func TestServiceOfARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:ecs:us-east-1:123456789012:service/web/web":   "web/web",
		"arn:aws:ecs:us-east-1:123456789012:service/default/x": "default/x",
		"arn:aws:ecs:us-east-1:123456789012:service/web":       "",
		"arn:aws:ecs:us-east-1:123456789012:cluster/web":       "",
		"arn:aws:ecs:us-east-1:123456789012:service/a/b/c":     "",
	} {
		c, n, ok := ServiceOfARN(arn)
		if got := c + "/" + n; (ok && got != want) || (!ok && want != "") {
			t.Errorf("%s: %q %q %t, want %q", arn, c, n, ok, want)
		}
	}
}

// FuzzResumeParse feeds the resume function's parser mutations of its
// events: it never panics, and an event it would resume with names a
// deployment of its service, or an alarm of the bake's set in ALARM.
func FuzzResumeParse(f *testing.F) {
	for _, name := range []string{"rollout-resume-ecs-completed.json", "rollout-resume-bake-alarm.json", "ecs-deployment-state-change-failed.json", "cloudwatch-alarm-state-change-ok.json"} {
		f.Add(readEvent(f, name))
	}
	r := &Resume{Stack: "web-dev", BakeAlarms: []string{"web-dev-target-5xx"}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := r.parse(raw)
		if err != nil || ev.ignore != "" {
			return
		}
		if ev.alarm != "" && ev.alarm != "web-dev-target-5xx" {
			t.Fatalf("resumes with alarm %q", ev.alarm)
		}
		if ev.alarm == "" && (!strings.HasPrefix(ev.deployment, "ecs-svc/") || (ev.result.Status != "COMPLETED" && ev.result.Status != "FAILED")) {
			t.Fatalf("resumes with %+v", ev)
		}
	})
}
