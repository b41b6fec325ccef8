// Package ingress reconciles the internet-facing Application Load Balancer
// over the public subnets (dropping invalid header fields, with deletion
// protection in production and access logs when the spec asks for them), the service's target group (ip targets, health
// checked on the service's health path) and the listeners: plain HTTP on
// 80, or, when the stack has a certificate, HTTPS on 443 with a current TLS
// policy and 80 redirecting to it. A listener the spec no longer wants is
// deleted. The build publishes the load balancer's DNS name to an SSM
// parameter when one is configured.
package ingress

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Layer is the layer's name in plans.
const Layer = "ingress"

// Components of the layer.
const (
	LoadBalancer  = "alb"
	TargetGroup   = "tg"
	Listener      = "listener-http"
	HTTPSListener = "listener-https"
)

// Health check settings of the target group.
const (
	HealthInterval  = 15
	HealthTimeout   = 5
	HealthyCount    = 2
	UnhealthyCount  = 3
	HealthMatcher   = "200"
	DeregisterDelay = "30"
)

// The listeners' ports.
const (
	ListenerPort      = 80
	HTTPSListenerPort = 443
)

// TLSPolicy is the HTTPS listener's security policy: TLS 1.3 and 1.2,
// which AWS recommends and the console uses by default
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// Inputs are the earlier layers' outputs the layer needs.
type Inputs struct {
	Network  *stack.NetworkOutput
	Security *stack.SecurityOutput
}

// LoadBalancerName and TargetGroupName are the resources' names.
func LoadBalancerName(spec stack.Spec) string { return spec.ResourceName(LoadBalancer) }

// TargetGroupName is the target group's name.
func TargetGroupName(spec stack.Spec) string { return spec.ResourceName(TargetGroup) }

// inventory is what find saw: the load balancer and the target group,
// looked up by their names (ELB lists have no tag filter) and checked for
// the stack's tags, and the load balancer's listeners by port.
type inventory struct {
	lb        *types.LoadBalancer
	tg        *types.TargetGroup
	listeners map[int32]types.Listener
}

// find looks the resources up by their deterministic names and refuses
// ones that are not tagged as the stack's.
func find(ctx context.Context, api ELBAPI, spec stack.Spec) (*inventory, error) {
	inv := &inventory{listeners: map[int32]types.Listener{}}
	lbs, err := api.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{LoadBalancerName(spec)}})
	if awserr.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("describing load balancer %s: %w", LoadBalancerName(spec), err)
	}
	if err == nil && len(lbs.LoadBalancers) > 0 {
		inv.lb = &lbs.LoadBalancers[0]
	}
	tgs, err := api.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{TargetGroupName(spec)}})
	if awserr.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("describing target group %s: %w", TargetGroupName(spec), err)
	}
	if err == nil && len(tgs.TargetGroups) > 0 {
		inv.tg = &tgs.TargetGroups[0]
	}
	var arns []string
	if inv.lb != nil {
		arns = append(arns, aws.ToString(inv.lb.LoadBalancerArn))
	}
	if inv.tg != nil {
		arns = append(arns, aws.ToString(inv.tg.TargetGroupArn))
	}
	if len(arns) == 0 {
		return inv, nil
	}
	tags, err := api.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: arns})
	if err != nil {
		return nil, fmt.Errorf("describing tags of %v: %w", arns, err)
	}
	for _, d := range tags.TagDescriptions {
		if !spec.Owned(stack.ELBTagMap(d.Tags)) {
			return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("%s exists but is not tagged as part of stack %s", aws.ToString(d.ResourceArn), spec.Name)}
		}
	}
	if inv.lb == nil {
		return inv, nil
	}
	ls, err := api.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: inv.lb.LoadBalancerArn})
	if awserr.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("describing listeners of %s: %w", aws.ToString(inv.lb.LoadBalancerArn), err)
	}
	if err == nil {
		for _, l := range ls.Listeners {
			inv.listeners[aws.ToInt32(l.Port)] = l
		}
	}
	return inv, nil
}

// Reconcile creates or repairs the load balancer, the target group and the
// listeners the spec wants, deletes the others, and publishes the DNS name.
func Reconcile(ctx context.Context, c Clients, run *stack.Run, in Inputs) (*stack.IngressOutput, error) {
	if in.Network == nil || in.Security == nil {
		return nil, stack.Missing(Layer, "network", "security")
	}
	api := c.ELB
	inv, err := find(ctx, api, run.Spec)
	if err != nil {
		return nil, err
	}
	out := &stack.IngressOutput{}
	if out.LoadBalancerARN, out.DNSName, err = reconcileLoadBalancer(ctx, api, run, inv.lb, in.Network.PublicSubnetIDs, in.Security.ALBSecurityGroupID); err != nil {
		return nil, err
	}
	if out.TargetGroupARN, err = reconcileTargetGroup(ctx, api, run, inv.tg, in.Network.VPCID); err != nil {
		return nil, err
	}
	want := Listeners(run.Spec, out.TargetGroupARN)
	for _, port := range []int32{ListenerPort, HTTPSListenerPort} {
		w, ok := want[port]
		if !ok {
			continue
		}
		arn, err := reconcileListener(ctx, api, run, inv, out.LoadBalancerARN, w)
		if err != nil {
			return nil, err
		}
		if port == ListenerPort {
			out.ListenerARN = arn
		} else {
			out.HTTPSListenerARN = arn
		}
	}
	for _, port := range slices.Sorted(maps.Keys(inv.listeners)) {
		l := inv.listeners[port]
		if _, ok := want[port]; ok {
			continue
		}
		arn := aws.ToString(l.ListenerArn)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "elbv2:listener", listenerName(l), arn, fmt.Sprintf("%s :%d", l.Protocol, aws.ToInt32(l.Port))), func(ctx context.Context) error {
			_, err := api.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: aws.String(arn)})
			return err
		}); err != nil {
			return nil, err
		}
	}
	return out, publishDNSName(ctx, c, run, out.DNSName)
}

func listenerName(l types.Listener) string {
	switch aws.ToInt32(l.Port) {
	case ListenerPort:
		return Listener
	case HTTPSListenerPort:
		return HTTPSListener
	}
	return fmt.Sprintf("listener-%d", aws.ToInt32(l.Port))
}

func reconcileLoadBalancer(ctx context.Context, api ELBAPI, run *stack.Run, lb *types.LoadBalancer, subnets []string, sg string) (string, string, error) {
	spec := run.Spec
	if lb == nil {
		var dns string
		attrs := Attributes(spec)
		arn, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "elbv2:load-balancer", LoadBalancer, "", "internet-facing over "+strings.Join(subnets, ", ")+"; "+renderAttributes(attrs)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
					Name: aws.String(LoadBalancerName(spec)), Type: types.LoadBalancerTypeEnumApplication,
					Scheme: types.LoadBalancerSchemeEnumInternetFacing, IpAddressType: types.IpAddressTypeIpv4,
					Subnets: subnets, SecurityGroups: []string{sg}, Tags: stack.ELBTags(spec.Tags(LoadBalancer)),
				})
				if err != nil {
					return "", err
				}
				dns = aws.ToString(out.LoadBalancers[0].DNSName)
				arn := aws.ToString(out.LoadBalancers[0].LoadBalancerArn)
				return arn, setAttributes(ctx, api, arn, attrs)
			})
		return arn, dns, err
	}
	arn := aws.ToString(lb.LoadBalancerArn)
	if err := reconcileAttributes(ctx, api, run, arn); err != nil {
		return "", "", err
	}
	if lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing {
		return "", "", handlererr.Invalid(fmt.Sprintf("load balancer %s is %s; the scheme cannot change, so delete it and apply again", arn, lb.Scheme))
	}
	var have []string
	for _, az := range lb.AvailabilityZones {
		have = append(have, aws.ToString(az.SubnetId))
	}
	slices.Sort(have)
	if want := slices.Sorted(slices.Values(subnets)); !slices.Equal(have, want) {
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "elbv2:load-balancer", LoadBalancer, arn, fmt.Sprintf("subnets %v, want %v", have, want)), func(ctx context.Context) (string, error) {
			_, err := api.SetSubnets(ctx, &elb.SetSubnetsInput{LoadBalancerArn: aws.String(arn), Subnets: subnets})
			return arn, err
		}); err != nil {
			return "", "", err
		}
	}
	if !slices.Equal(lb.SecurityGroups, []string{sg}) {
		if _, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "elbv2:load-balancer", LoadBalancer, arn, fmt.Sprintf("security groups %v, want [%s]", lb.SecurityGroups, sg)), func(ctx context.Context) (string, error) {
			_, err := api.SetSecurityGroups(ctx, &elb.SetSecurityGroupsInput{LoadBalancerArn: aws.String(arn), SecurityGroups: []string{sg}})
			return arn, err
		}); err != nil {
			return "", "", err
		}
	}
	return arn, aws.ToString(lb.DNSName), nil
}

func healthDrift(spec stack.Spec, tg *types.TargetGroup) []string {
	var d []string
	check := func(field string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			d = append(d, fmt.Sprintf("%s %v, want %v", field, got, want))
		}
	}
	check("health path", aws.ToString(tg.HealthCheckPath), spec.Service.HealthPath)
	check("health interval", aws.ToInt32(tg.HealthCheckIntervalSeconds), HealthInterval)
	check("health timeout", aws.ToInt32(tg.HealthCheckTimeoutSeconds), HealthTimeout)
	check("healthy threshold", aws.ToInt32(tg.HealthyThresholdCount), HealthyCount)
	check("unhealthy threshold", aws.ToInt32(tg.UnhealthyThresholdCount), UnhealthyCount)
	var matcher string
	if tg.Matcher != nil {
		matcher = aws.ToString(tg.Matcher.HttpCode)
	}
	check("matcher", matcher, HealthMatcher)
	return d
}

func reconcileTargetGroup(ctx context.Context, api ELBAPI, run *stack.Run, tg *types.TargetGroup, vpcID string) (string, error) {
	spec := run.Spec
	if tg == nil {
		return run.Do(ctx, stack.NewChange(Layer, stack.Create, "elbv2:target-group", TargetGroup, "", fmt.Sprintf("ip targets on port %d, health check %s", spec.Service.Port, spec.Service.HealthPath)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
					Name: aws.String(TargetGroupName(spec)), TargetType: types.TargetTypeEnumIp,
					Protocol: types.ProtocolEnumHttp, Port: aws.Int32(spec.Service.Port), VpcId: aws.String(vpcID),
					HealthCheckEnabled: aws.Bool(true), HealthCheckProtocol: types.ProtocolEnumHttp, HealthCheckPort: aws.String("traffic-port"),
					HealthCheckPath: aws.String(spec.Service.HealthPath), HealthCheckIntervalSeconds: aws.Int32(HealthInterval),
					HealthCheckTimeoutSeconds: aws.Int32(HealthTimeout), HealthyThresholdCount: aws.Int32(HealthyCount),
					UnhealthyThresholdCount: aws.Int32(UnhealthyCount), Matcher: &types.Matcher{HttpCode: aws.String(HealthMatcher)},
					Tags: stack.ELBTags(spec.Tags(TargetGroup)),
				})
				if err != nil {
					return "", err
				}
				arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
				// The default 300 s would hold every deployment and drain for
				// five minutes; the app finishes requests well within 30 s.
				_, err = api.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
					TargetGroupArn: aws.String(arn),
					Attributes:     []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String(DeregisterDelay)}},
				})
				return arn, err
			})
	}
	arn := aws.ToString(tg.TargetGroupArn)
	if tg.TargetType != types.TargetTypeEnumIp || aws.ToInt32(tg.Port) != spec.Service.Port || aws.ToString(tg.VpcId) != vpcID {
		return "", handlererr.Invalid(fmt.Sprintf("target group %s has %s targets on port %d in %s, want ip on %d in %s; these cannot change, so delete it and apply again",
			arn, tg.TargetType, aws.ToInt32(tg.Port), aws.ToString(tg.VpcId), spec.Service.Port, vpcID))
	}
	if d := healthDrift(spec, tg); len(d) > 0 {
		return run.Do(ctx, stack.NewChange(Layer, stack.Update, "elbv2:target-group", TargetGroup, arn, strings.Join(d, "; ")), func(ctx context.Context) (string, error) {
			_, err := api.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
				TargetGroupArn: aws.String(arn), HealthCheckPath: aws.String(spec.Service.HealthPath),
				HealthCheckIntervalSeconds: aws.Int32(HealthInterval), HealthCheckTimeoutSeconds: aws.Int32(HealthTimeout),
				HealthyThresholdCount: aws.Int32(HealthyCount), UnhealthyThresholdCount: aws.Int32(UnhealthyCount),
				Matcher: &types.Matcher{HttpCode: aws.String(HealthMatcher)},
			})
			return arn, err
		})
	}
	return arn, nil
}

// Destroy deletes the listeners, the load balancer and the target group.
// A target group still in use gives a RetryableError. Not-found is done.
func Destroy(ctx context.Context, c Clients, run *stack.Run) error {
	api := c.ELB
	inv, err := find(ctx, api, run.Spec)
	if err != nil {
		return err
	}
	if inv.lb != nil {
		for _, port := range slices.Sorted(maps.Keys(inv.listeners)) {
			l := inv.listeners[port]
			id := aws.ToString(l.ListenerArn)
			if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "elbv2:listener", listenerName(l), id, ""), func(ctx context.Context) error {
				_, err := api.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: aws.String(id)})
				return err
			}); err != nil {
				return err
			}
		}
		arn := aws.ToString(inv.lb.LoadBalancerArn)
		if err := run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "elbv2:load-balancer", LoadBalancer, arn, ""), func(ctx context.Context) error {
			_, err := api.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)})
			if awserr.Code(err) == "OperationNotPermitted" {
				return fmt.Errorf("the load balancer has deletion protection, as a production stack's has; an operator lifts it with "+
					"`aws elbv2 modify-load-balancer-attributes --load-balancer-arn %s --attributes Key=%s,Value=false`, then the teardown goes on: %w", arn, AttrDeletionProtection, err)
			}
			return err
		}); err != nil {
			return err
		}
	}
	if inv.tg != nil {
		arn := aws.ToString(inv.tg.TargetGroupArn)
		return run.Delete(ctx, stack.NewChange(Layer, stack.Delete, "elbv2:target-group", TargetGroup, arn, ""), func(ctx context.Context) error {
			_, err := api.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
			return err
		})
	}
	return nil
}
