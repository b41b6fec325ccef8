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

func TestListenersFollowTheCertificate(t *testing.T) {
	spec := stack.Defaults("web")
	plain := Listeners(spec, "tg-1")
	if len(plain) != 1 || plain[ListenerPort].Protocol != types.ProtocolEnumHttp || !forwardsOnlyTo(plain[ListenerPort].Actions[0], "tg-1") {
		t.Fatalf("without a certificate: %+v, want HTTP on 80 forwarding", plain)
	}
	spec.Ingress.CertificateARN = "arn:aws:acm:us-east-1:123456789012:certificate/c"
	https := Listeners(spec, "tg-1")
	h, r := https[HTTPSListenerPort], https[ListenerPort]
	if h.Protocol != types.ProtocolEnumHttps || h.Policy != TLSPolicy || h.Certificate != spec.Ingress.CertificateARN || r.Actions[0].Type != types.ActionTypeEnumRedirect {
		t.Fatalf("with a certificate: %+v", https)
	}
	// A listener as AWS reports it, without drift, then with the old
	// forward on 80 and an old policy on 443.
	as := func(w ListenerSpec) types.Listener {
		l := types.Listener{Port: aws.Int32(w.Port), Protocol: w.Protocol, DefaultActions: w.Actions}
		if w.Certificate != "" {
			l.SslPolicy, l.Certificates = aws.String(w.Policy), []types.Certificate{{CertificateArn: aws.String(w.Certificate)}}
		}
		return l
	}
	if d := listenerDrift(as(h), h); len(d) != 0 {
		t.Fatalf("drift on a matching listener: %v", d)
	}
	if d := strings.Join(listenerDrift(as(plain[ListenerPort]), r), "; "); !strings.Contains(d, "redirect to HTTPS") {
		t.Fatalf("a forward where a redirect is wanted: %q", d)
	}
	old := as(h)
	old.SslPolicy = aws.String("ELBSecurityPolicy-2016-08")
	if d := strings.Join(listenerDrift(old, h), "; "); !strings.Contains(d, "policy ELBSecurityPolicy-2016-08, want "+TLSPolicy) {
		t.Fatalf("an old policy: %q", d)
	}
}
