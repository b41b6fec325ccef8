package build_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// TestHTTPSComesAndGoes adds a spec field that implies new tagged
// resources, a certificate, then removes it: the HTTPS listener and the
// 443 rule come, and on removal the plan lists their deletion and apply
// deletes them, leaving plain HTTP on 80.
func TestHTTPSComesAndGoes(t *testing.T) {
	f := simFixture(t, 31)
	o := converge(t, f, stack.NewRun(f.spec, false, "http", nil))
	lb := o.Ingress.LoadBalancerARN

	https := f.spec
	https.Ingress.CertificateARN = "arn:aws:acm:us-east-1:" + f.sim.AccountID() + ":certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
	converge(t, f, stack.NewRun(https, false, "https", nil))
	ls := listeners(t, f, lb)
	if l, ok := ls[443]; !ok || l.Protocol != elbtypes.ProtocolEnumHttps || aws.ToString(l.SslPolicy) != ingress.TLSPolicy ||
		len(l.Certificates) != 1 || aws.ToString(l.Certificates[0].CertificateArn) != https.Ingress.CertificateARN {
		t.Fatalf("listener 443 = %+v, want HTTPS with %s and the certificate", l, ingress.TLSPolicy)
	}
	if a := ls[80].DefaultActions; len(a) != 1 || a[0].Type != elbtypes.ActionTypeEnumRedirect || aws.ToString(a[0].RedirectConfig.Port) != "443" {
		t.Fatalf("listener 80 actions = %+v, want a redirect to 443", a)
	}
	if !slices.Contains(albRules(t, f, o), "ingress tcp 443-443 0.0.0.0/0") {
		t.Fatal("the load balancer's group does not admit 443 with a certificate")
	}

	plan := stack.NewRun(f.spec, true, "plan-http", nil)
	converge(t, f, plan)
	p := plan.Plan().String()
	for _, want := range []string{
		"- delete security ec2:security-group-rule alb-sg (" + o.Security.ALBSecurityGroupID + "): tcp/443 ingress from 0.0.0.0/0",
		"~ update ingress elbv2:listener listener-http",
		"- delete ingress elbv2:listener listener-https",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("the plan without the certificate lacks %q:\n%s", want, p)
		}
	}
	converge(t, f, stack.NewRun(f.spec, false, "back-to-http", nil))
	ls = listeners(t, f, lb)
	if _, ok := ls[443]; ok || len(ls) != 1 || ls[80].DefaultActions[0].Type != elbtypes.ActionTypeEnumForward {
		t.Fatalf("listeners after removing the certificate: %+v, want only 80 forwarding", ls)
	}
	if slices.Contains(albRules(t, f, o), "ingress tcp 443-443 0.0.0.0/0") {
		t.Fatal("443 stays open without a certificate")
	}
	again := stack.NewRun(f.spec, true, "plan-again", nil)
	converge(t, f, again)
	if n := len(again.Plan().Changes); n != 0 {
		t.Fatalf("plan after the removal:\n%s", again.Plan())
	}
}

func listeners(t *testing.T, f *simStack, lb string) map[int32]elbtypes.Listener {
	t.Helper()
	out, err := f.sdk.ELB.DescribeListeners(context.Background(), &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lb)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[int32]elbtypes.Listener{}
	for _, l := range out.Listeners {
		m[aws.ToInt32(l.Port)] = l
	}
	return m
}

func albRules(t *testing.T, f *simStack, o *stack.Outputs) []string {
	t.Helper()
	sgs, err := f.sdk.EC2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{o.Security.ALBSecurityGroupID}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("the load balancer's group: %v", err)
	}
	return describeRules(sgs.SecurityGroups[0])
}
