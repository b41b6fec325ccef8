// Package ingress reconciles the internet-facing Application Load Balancer
// over the public subnets, the service's target group (ip targets, health
// checked on the service's health path) and the HTTP listener.
package ingress

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Layer is the layer's name in plans.
const Layer = "ingress"

// Components of the layer.
const (
	LoadBalancer = "alb"
	TargetGroup  = "tg"
	Listener     = "listener-http"
)

// Health check settings of the target group.
const (
	HealthInterval  = 15
	HealthTimeout   = 5
	HealthyCount    = 2
	UnhealthyCount  = 3
	HealthMatcher   = "200"
	ListenerPort    = 80
	DeregisterDelay = "30"
)

// ELBAPI is the subset of the Elastic Load Balancing v2 client the layer uses.
type ELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, optFns ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, optFns ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	DescribeListeners(ctx context.Context, in *elb.DescribeListenersInput, optFns ...func(*elb.Options)) (*elb.DescribeListenersOutput, error)
	DescribeTags(ctx context.Context, in *elb.DescribeTagsInput, optFns ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
	CreateLoadBalancer(ctx context.Context, in *elb.CreateLoadBalancerInput, optFns ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error)
	SetSubnets(ctx context.Context, in *elb.SetSubnetsInput, optFns ...func(*elb.Options)) (*elb.SetSubnetsOutput, error)
	SetSecurityGroups(ctx context.Context, in *elb.SetSecurityGroupsInput, optFns ...func(*elb.Options)) (*elb.SetSecurityGroupsOutput, error)
	DeleteLoadBalancer(ctx context.Context, in *elb.DeleteLoadBalancerInput, optFns ...func(*elb.Options)) (*elb.DeleteLoadBalancerOutput, error)
	CreateTargetGroup(ctx context.Context, in *elb.CreateTargetGroupInput, optFns ...func(*elb.Options)) (*elb.CreateTargetGroupOutput, error)
	ModifyTargetGroup(ctx context.Context, in *elb.ModifyTargetGroupInput, optFns ...func(*elb.Options)) (*elb.ModifyTargetGroupOutput, error)
	ModifyTargetGroupAttributes(ctx context.Context, in *elb.ModifyTargetGroupAttributesInput, optFns ...func(*elb.Options)) (*elb.ModifyTargetGroupAttributesOutput, error)
	DeleteTargetGroup(ctx context.Context, in *elb.DeleteTargetGroupInput, optFns ...func(*elb.Options)) (*elb.DeleteTargetGroupOutput, error)
	CreateListener(ctx context.Context, in *elb.CreateListenerInput, optFns ...func(*elb.Options)) (*elb.CreateListenerOutput, error)
	ModifyListener(ctx context.Context, in *elb.ModifyListenerInput, optFns ...func(*elb.Options)) (*elb.ModifyListenerOutput, error)
	DeleteListener(ctx context.Context, in *elb.DeleteListenerInput, optFns ...func(*elb.Options)) (*elb.DeleteListenerOutput, error)
}

var _ ELBAPI = (*elb.Client)(nil)

// Output is what the later layers and the stack's outputs need.
type Output struct {
	LoadBalancerARN string `json:"loadBalancerArn"`
	DNSName         string `json:"dnsName"`
	TargetGroupARN  string `json:"targetGroupArn"`
	ListenerARN     string `json:"listenerArn"`
}

// LoadBalancerName and TargetGroupName are the resources' names.
func LoadBalancerName(spec stack.Spec) string { return spec.ResourceName(LoadBalancer) }

// TargetGroupName is the target group's name.
func TargetGroupName(spec stack.Spec) string { return spec.ResourceName(TargetGroup) }

func elbTags(spec stack.Spec, component string) []types.Tag {
	var tags []types.Tag
	for _, t := range spec.Tags(component) {
		tags = append(tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return tags
}

func change(a stack.Action, resource, name, id, detail string) stack.Change {
	return stack.Change{Action: a, Layer: Layer, Resource: resource, Name: name, ID: id, Detail: detail}
}

type inventory struct {
	lb *types.LoadBalancer
	tg *types.TargetGroup
}

// find looks the resources up by their deterministic names and refuses
// ones that are not tagged as the stack's.
func find(ctx context.Context, api ELBAPI, spec stack.Spec) (*inventory, error) {
	inv := &inventory{}
	lbs, err := api.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{LoadBalancerName(spec)}})
	if err != nil && !awserr.IsNotFound(err) {
		return nil, fmt.Errorf("describing load balancer %s: %w", LoadBalancerName(spec), err)
	}
	if err == nil && len(lbs.LoadBalancers) > 0 {
		inv.lb = &lbs.LoadBalancers[0]
	}
	tgs, err := api.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{TargetGroupName(spec)}})
	if err != nil && !awserr.IsNotFound(err) {
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
		m := map[string]string{}
		for _, t := range d.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !spec.Owned(m) {
			return nil, &handlererr.ConflictError{Msg: fmt.Sprintf("%s exists but is not tagged as part of stack %s", aws.ToString(d.ResourceArn), spec.Name)}
		}
	}
	return inv, nil
}

// Reconcile creates or repairs the load balancer, target group and listener.
func Reconcile(ctx context.Context, api ELBAPI, run *stack.Run, net *network.Output, sec *security.Output) (*Output, error) {
	inv, err := find(ctx, api, run.Spec)
	if err != nil {
		return nil, err
	}
	out := &Output{}
	if out.LoadBalancerARN, out.DNSName, err = reconcileLoadBalancer(ctx, api, run, inv.lb, net.PublicSubnetIDs, sec.ALBSecurityGroupID); err != nil {
		return nil, err
	}
	if out.TargetGroupARN, err = reconcileTargetGroup(ctx, api, run, inv.tg, net.VPCID); err != nil {
		return nil, err
	}
	if out.ListenerARN, err = reconcileListener(ctx, api, run, out.LoadBalancerARN, out.TargetGroupARN); err != nil {
		return nil, err
	}
	return out, nil
}

func reconcileLoadBalancer(ctx context.Context, api ELBAPI, run *stack.Run, lb *types.LoadBalancer, subnets []string, sg string) (string, string, error) {
	spec := run.Spec
	if lb == nil {
		var dns string
		arn, err := run.Do(ctx, change(stack.Create, "elbv2:load-balancer", LoadBalancer, "", "internet-facing over "+strings.Join(subnets, ", ")),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
					Name: aws.String(LoadBalancerName(spec)), Type: types.LoadBalancerTypeEnumApplication,
					Scheme: types.LoadBalancerSchemeEnumInternetFacing, IpAddressType: types.IpAddressTypeIpv4,
					Subnets: subnets, SecurityGroups: []string{sg}, Tags: elbTags(spec, LoadBalancer),
				})
				if err != nil {
					return "", err
				}
				dns = aws.ToString(out.LoadBalancers[0].DNSName)
				return aws.ToString(out.LoadBalancers[0].LoadBalancerArn), nil
			})
		return arn, dns, err
	}
	arn := aws.ToString(lb.LoadBalancerArn)
	if lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing {
		return "", "", handlererr.Invalid(fmt.Sprintf("load balancer %s is %s; the scheme cannot change, so delete it and apply again", arn, lb.Scheme))
	}
	var have []string
	for _, az := range lb.AvailabilityZones {
		have = append(have, aws.ToString(az.SubnetId))
	}
	slices.Sort(have)
	if want := slices.Sorted(slices.Values(subnets)); !slices.Equal(have, want) {
		if _, err := run.Do(ctx, change(stack.Update, "elbv2:load-balancer", LoadBalancer, arn, fmt.Sprintf("subnets %v, want %v", have, want)), func(ctx context.Context) (string, error) {
			_, err := api.SetSubnets(ctx, &elb.SetSubnetsInput{LoadBalancerArn: aws.String(arn), Subnets: subnets})
			return arn, err
		}); err != nil {
			return "", "", err
		}
	}
	if !slices.Equal(lb.SecurityGroups, []string{sg}) {
		if _, err := run.Do(ctx, change(stack.Update, "elbv2:load-balancer", LoadBalancer, arn, fmt.Sprintf("security groups %v, want [%s]", lb.SecurityGroups, sg)), func(ctx context.Context) (string, error) {
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
		return run.Do(ctx, change(stack.Create, "elbv2:target-group", TargetGroup, "", fmt.Sprintf("ip targets on port %d, health check %s", spec.Service.Port, spec.Service.HealthPath)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
					Name: aws.String(TargetGroupName(spec)), TargetType: types.TargetTypeEnumIp,
					Protocol: types.ProtocolEnumHttp, Port: aws.Int32(spec.Service.Port), VpcId: aws.String(vpcID),
					HealthCheckEnabled: aws.Bool(true), HealthCheckProtocol: types.ProtocolEnumHttp, HealthCheckPort: aws.String("traffic-port"),
					HealthCheckPath: aws.String(spec.Service.HealthPath), HealthCheckIntervalSeconds: aws.Int32(HealthInterval),
					HealthCheckTimeoutSeconds: aws.Int32(HealthTimeout), HealthyThresholdCount: aws.Int32(HealthyCount),
					UnhealthyThresholdCount: aws.Int32(UnhealthyCount), Matcher: &types.Matcher{HttpCode: aws.String(HealthMatcher)},
					Tags: elbTags(spec, TargetGroup),
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
		return run.Do(ctx, change(stack.Update, "elbv2:target-group", TargetGroup, arn, strings.Join(d, "; ")), func(ctx context.Context) (string, error) {
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

func forward(tgARN string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
}

func reconcileListener(ctx context.Context, api ELBAPI, run *stack.Run, lbARN, tgARN string) (string, error) {
	var existing *types.Listener
	if !stack.Pending(lbARN) {
		ls, err := api.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
		if err != nil {
			return "", fmt.Errorf("describing listeners of %s: %w", lbARN, err)
		}
		for _, l := range ls.Listeners {
			if aws.ToInt32(l.Port) == ListenerPort {
				existing = &l
			}
		}
	}
	if existing == nil {
		return run.Do(ctx, change(stack.Create, "elbv2:listener", Listener, "", fmt.Sprintf("HTTP :%d forward to %s", ListenerPort, TargetGroupName(run.Spec))),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateListener(ctx, &elb.CreateListenerInput{
					LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(ListenerPort),
					DefaultActions: forward(tgARN), Tags: elbTags(run.Spec, Listener),
				})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.Listeners[0].ListenerArn), nil
			})
	}
	arn := aws.ToString(existing.ListenerArn)
	a := existing.DefaultActions
	if len(a) == 1 && a[0].Type == types.ActionTypeEnumForward && forwardsOnlyTo(a[0], tgARN) && existing.Protocol == types.ProtocolEnumHttp {
		return arn, nil
	}
	return run.Do(ctx, change(stack.Update, "elbv2:listener", Listener, arn, "default action, want forward to "+TargetGroupName(run.Spec)), func(ctx context.Context) (string, error) {
		_, err := api.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: aws.String(arn), Protocol: types.ProtocolEnumHttp, DefaultActions: forward(tgARN)})
		return arn, err
	})
}

// forwardsOnlyTo accepts both shapes AWS reports a plain forward in: the
// TargetGroupArn field or a one-group ForwardConfig.
func forwardsOnlyTo(a types.Action, tgARN string) bool {
	if fc := a.ForwardConfig; fc != nil && len(fc.TargetGroups) > 0 {
		return len(fc.TargetGroups) == 1 && aws.ToString(fc.TargetGroups[0].TargetGroupArn) == tgARN
	}
	return aws.ToString(a.TargetGroupArn) == tgARN
}

// Destroy deletes the listeners, the load balancer and the target group.
// A target group still in use gives a RetryableError. Not-found is done.
func Destroy(ctx context.Context, api ELBAPI, run *stack.Run) error {
	inv, err := find(ctx, api, run.Spec)
	if err != nil {
		return err
	}
	if inv.lb != nil {
		arn := aws.ToString(inv.lb.LoadBalancerArn)
		ls, err := api.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(arn)})
		if err != nil && !awserr.IsNotFound(err) {
			return fmt.Errorf("describing listeners of %s: %w", arn, err)
		}
		if err == nil {
			for _, l := range ls.Listeners {
				id := aws.ToString(l.ListenerArn)
				if _, err := run.Do(ctx, change(stack.Delete, "elbv2:listener", fmt.Sprintf("listener :%d", aws.ToInt32(l.Port)), id, ""), func(ctx context.Context) (string, error) {
					_, err := api.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: aws.String(id)})
					return id, ignoreNotFound(err)
				}); err != nil {
					return err
				}
			}
		}
		if _, err := run.Do(ctx, change(stack.Delete, "elbv2:load-balancer", LoadBalancer, arn, ""), func(ctx context.Context) (string, error) {
			_, err := api.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)})
			return arn, ignoreNotFound(err)
		}); err != nil {
			return err
		}
	}
	if inv.tg != nil {
		arn := aws.ToString(inv.tg.TargetGroupArn)
		_, err := run.Do(ctx, change(stack.Delete, "elbv2:target-group", TargetGroup, arn, ""), func(ctx context.Context) (string, error) {
			_, err := api.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
			return arn, ignoreNotFound(err)
		})
		return network.Retryable(err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if awserr.IsNotFound(err) {
		return nil
	}
	return err
}
