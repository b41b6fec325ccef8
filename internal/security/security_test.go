package security

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestDesiredRulesAreExactlyTheDesign(t *testing.T) {
	ids := stack.SecurityOutput{ALBSecurityGroupID: "sg-alb", TaskSecurityGroupID: "sg-task", InstanceSecurityGroupID: "sg-inst"}
	spec := stack.Defaults("web")
	spec.Ingress.CertificateARN = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
	d := Desired(spec, ids)
	render := func(rs []Rule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.String())
		}
		slices.Sort(out)
		return out
	}
	want := map[string][]string{
		ALB:      {"tcp/443 ingress from 0.0.0.0/0", "tcp/80 egress to sg-task", "tcp/80 ingress from 0.0.0.0/0"},
		Task:     {"tcp/443 egress to 0.0.0.0/0", "tcp/53 egress to 10.40.0.0/16", "tcp/80 ingress from sg-alb", "udp/53 egress to 10.40.0.0/16"},
		Instance: {"all traffic egress to 0.0.0.0/0"},
	}
	for c, w := range want {
		if got := render(d[c]); !slices.Equal(got, w) {
			t.Errorf("%s: %v, want %v", c, got, w)
		}
	}
	// Without a certificate the load balancer serves HTTP only, and 443
	// stays closed.
	if got, w := render(Desired(stack.Defaults("web"), ids)[ALB]), []string{"tcp/80 egress to sg-task", "tcp/80 ingress from 0.0.0.0/0"}; !slices.Equal(got, w) {
		t.Errorf("plain HTTP: %s: %v, want %v", ALB, got, w)
	}
}

func TestUnwantedGroups(t *testing.T) {
	found := map[string]types.SecurityGroup{ALB: {}, Task: {}, Instance: {}, "bastion-sg": {GroupId: aws.String("sg-b")}}
	u := unwanted(found)
	if len(u) != 1 || aws.ToString(u["bastion-sg"].GroupId) != "sg-b" {
		t.Fatalf("unwanted = %+v, want only the group that is not a component", u)
	}
}

func TestRulesFlattenPermissions(t *testing.T) {
	g := types.SecurityGroup{
		IpPermissions: []types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80),
			IpRanges:         []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}, {CidrIp: aws.String("10.0.0.0/8")}},
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String("sg-1")}},
		}},
		// AWS reports all-traffic rules with ports -1 or absent; both are
		// the same rule.
		IpPermissionsEgress: []types.IpPermission{{IpProtocol: aws.String("-1"), FromPort: aws.Int32(-1), ToPort: aws.Int32(-1),
			IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}},
	}
	got := rules(g)
	if len(got) != 4 || !slices.Contains(got, allEgress) || !slices.Contains(got, Rule{Protocol: "tcp", From: 80, To: 80, Group: "sg-1"}) {
		t.Fatalf("rules = %+v", got)
	}
	if p := allEgress.permission(); p.FromPort != nil || aws.ToString(p.IpProtocol) != "-1" {
		t.Errorf("all-traffic permission %+v must carry no ports", p)
	}
}
