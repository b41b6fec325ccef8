package ingress

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// ListenerSpec is one listener as the spec wants it.
type ListenerSpec struct {
	Component string
	Port      int32
	Protocol  types.ProtocolEnum
	// Certificate and Policy are set for HTTPS.
	Certificate string
	Policy      string
	Actions     []types.Action
	// Detail describes the listener in plans.
	Detail string
}

// Listeners returns the listeners the spec wants, by port: HTTP on 80
// forwarding to the target group; or, with a certificate, HTTPS on 443
// forwarding to it with TLSPolicy, and HTTP on 80 redirecting there
// permanently (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html#redirect-actions).
func Listeners(spec stack.Spec, tgARN string) map[int32]ListenerSpec {
	forward := []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
	if !spec.HTTPS() {
		return map[int32]ListenerSpec{ListenerPort: {Component: Listener, Port: ListenerPort, Protocol: types.ProtocolEnumHttp, Actions: forward,
			Detail: fmt.Sprintf("HTTP :%d forward to %s", ListenerPort, TargetGroupName(spec))}}
	}
	redirect := []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{
		Protocol: aws.String("HTTPS"), Port: aws.String(fmt.Sprint(HTTPSListenerPort)), StatusCode: types.RedirectActionStatusCodeEnumHttp301,
	}}}
	return map[int32]ListenerSpec{
		ListenerPort: {Component: Listener, Port: ListenerPort, Protocol: types.ProtocolEnumHttp, Actions: redirect,
			Detail: fmt.Sprintf("HTTP :%d redirect to HTTPS :%d", ListenerPort, HTTPSListenerPort)},
		HTTPSListenerPort: {Component: HTTPSListener, Port: HTTPSListenerPort, Protocol: types.ProtocolEnumHttps, Actions: forward,
			Certificate: spec.Ingress.CertificateARN, Policy: TLSPolicy,
			Detail: fmt.Sprintf("HTTPS :%d with %s forward to %s", HTTPSListenerPort, TLSPolicy, TargetGroupName(spec))},
	}
}

// listenerDrift lists what differs between a listener and what is wanted.
func listenerDrift(l types.Listener, want ListenerSpec) []string {
	var d []string
	if l.Protocol != want.Protocol {
		d = append(d, fmt.Sprintf("protocol %s, want %s", l.Protocol, want.Protocol))
	}
	if len(l.DefaultActions) != 1 || !sameAction(l.DefaultActions[0], want.Actions[0]) {
		d = append(d, "default action, want "+want.Detail)
	}
	if want.Protocol == types.ProtocolEnumHttps {
		if aws.ToString(l.SslPolicy) != want.Policy {
			d = append(d, fmt.Sprintf("policy %s, want %s", aws.ToString(l.SslPolicy), want.Policy))
		}
		var certs []string
		for _, c := range l.Certificates {
			certs = append(certs, aws.ToString(c.CertificateArn))
		}
		if len(certs) != 1 || certs[0] != want.Certificate {
			d = append(d, fmt.Sprintf("certificate %s, want %s", strings.Join(certs, ","), want.Certificate))
		}
	}
	return d
}

// sameAction compares the two kinds of default action the layer makes.
func sameAction(a, want types.Action) bool {
	if a.Type != want.Type {
		return false
	}
	if want.Type == types.ActionTypeEnumRedirect {
		r, w := a.RedirectConfig, want.RedirectConfig
		return r != nil && aws.ToString(r.Protocol) == aws.ToString(w.Protocol) && aws.ToString(r.Port) == aws.ToString(w.Port) && r.StatusCode == w.StatusCode
	}
	return forwardsOnlyTo(a, aws.ToString(want.TargetGroupArn))
}

// forwardsOnlyTo accepts both shapes AWS reports a plain forward in: the
// TargetGroupArn field or a one-group ForwardConfig.
func forwardsOnlyTo(a types.Action, tgARN string) bool {
	if fc := a.ForwardConfig; fc != nil && len(fc.TargetGroups) > 0 {
		return len(fc.TargetGroups) == 1 && aws.ToString(fc.TargetGroups[0].TargetGroupArn) == tgARN
	}
	return aws.ToString(a.TargetGroupArn) == tgARN
}

func reconcileListener(ctx context.Context, api ELBAPI, run *stack.Run, inv *inventory, lbARN string, want ListenerSpec) (string, error) {
	var certs []types.Certificate
	if want.Certificate != "" {
		certs = []types.Certificate{{CertificateArn: aws.String(want.Certificate)}}
	}
	var policy *string
	if want.Policy != "" {
		policy = aws.String(want.Policy)
	}
	existing, ok := inv.listeners[want.Port]
	if !ok {
		return run.Do(ctx, stack.NewChange(Layer, stack.Create, "elbv2:listener", want.Component, "", want.Detail),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateListener(ctx, &elb.CreateListenerInput{
					LoadBalancerArn: aws.String(lbARN), Protocol: want.Protocol, Port: aws.Int32(want.Port),
					Certificates: certs, SslPolicy: policy, DefaultActions: want.Actions, Tags: stack.ELBTags(run.Spec.Tags(want.Component)),
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.Listeners[0].ListenerArn), nil
			})
	}
	arn := aws.ToString(existing.ListenerArn)
	d := listenerDrift(existing, want)
	if len(d) == 0 {
		return arn, nil
	}
	return run.Do(ctx, stack.NewChange(Layer, stack.Update, "elbv2:listener", want.Component, arn, strings.Join(d, "; ")), func(ctx context.Context) (string, error) {
		_, err := api.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: aws.String(arn), Protocol: want.Protocol,
			Certificates: certs, SslPolicy: policy, DefaultActions: want.Actions})
		return arn, err
	})
}
