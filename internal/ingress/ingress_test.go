package ingress

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestForwardsOnlyTo(t *testing.T) {
	tests := []struct {
		name string
		a    types.Action
		want bool
	}{
		{"target group field", types.Action{TargetGroupArn: aws.String("tg-1")}, true},
		{"forward config", types.Action{ForwardConfig: &types.ForwardActionConfig{TargetGroups: []types.TargetGroupTuple{{TargetGroupArn: aws.String("tg-1")}}}}, true},
		{"weighted split", types.Action{ForwardConfig: &types.ForwardActionConfig{TargetGroups: []types.TargetGroupTuple{
			{TargetGroupArn: aws.String("tg-1")}, {TargetGroupArn: aws.String("tg-2")}}}}, false},
		{"other group", types.Action{TargetGroupArn: aws.String("tg-2")}, false},
	}
	for _, tt := range tests {
		if got := forwardsOnlyTo(tt.a, "tg-1"); got != tt.want {
			t.Errorf("%s: %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestHealthDrift(t *testing.T) {
	spec := stack.Defaults("web")
	tg := &types.TargetGroup{
		HealthCheckPath: aws.String(spec.Service.HealthPath), HealthCheckIntervalSeconds: aws.Int32(HealthInterval),
		HealthCheckTimeoutSeconds: aws.Int32(HealthTimeout), HealthyThresholdCount: aws.Int32(HealthyCount),
		UnhealthyThresholdCount: aws.Int32(UnhealthyCount), Matcher: &types.Matcher{HttpCode: aws.String(HealthMatcher)},
	}
	if d := healthDrift(spec, tg); len(d) != 0 {
		t.Fatalf("drift on a matching group: %v", d)
	}
	tg.HealthCheckPath = aws.String("/")
	if d := healthDrift(spec, tg); len(d) != 1 || !strings.Contains(d[0], "health path /, want /readyz") {
		t.Fatalf("drift = %v", d)
	}
}
