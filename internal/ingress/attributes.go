package ingress

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/ecsplane/ecsplane/internal/stack"
)

// The load balancer attributes the layer owns
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-attributes).
const (
	// AttrDropInvalidHeaders makes the load balancer drop header fields
	// whose names are not valid HTTP tokens before they reach the tasks,
	// a request-smuggling defence.
	AttrDropInvalidHeaders = "routing.http.drop_invalid_header_fields.enabled"
	// AttrDeletionProtection refuses DeleteLoadBalancer; a production
	// stack's load balancer has it.
	AttrDeletionProtection = "deletion_protection.enabled"
	// AttrAccessLogs, AttrAccessLogsBucket and AttrAccessLogsPrefix write
	// access logs to S3.
	AttrAccessLogs       = "access_logs.s3.enabled"
	AttrAccessLogsBucket = "access_logs.s3.bucket"
	AttrAccessLogsPrefix = "access_logs.s3.prefix"
	// AttrZonalShift registers the load balancer with ARC zonal shift,
	// which remediation uses to move traffic away from an impaired zone;
	// "Zonal shift is disabled by default and must be enabled on each
	// Application Load Balancer". Cross-zone load balancing stays on (an
	// ALB cannot turn it off, and the target group keeps the load
	// balancer's setting), so a shift also stops the other zones' nodes
	// from routing to the shifted zone's targets.
	//
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-zonal-shift.html
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/zonal-shift.html
	AttrZonalShift = "zonal_shift.config.enabled"
)

// Attributes are the load balancer attributes the spec wants.
func Attributes(spec stack.Spec) map[string]string {
	a := map[string]string{
		AttrDropInvalidHeaders: "true",
		AttrDeletionProtection: strconv.FormatBool(spec.Production),
		AttrAccessLogs:         "false",
		AttrZonalShift:         "true",
	}
	if l := spec.Ingress.AccessLogs; l != nil {
		a[AttrAccessLogs], a[AttrAccessLogsBucket], a[AttrAccessLogsPrefix] = "true", l.Bucket, l.Prefix
	}
	return a
}

// attributeDrift returns the wanted attributes whose value differs from
// have, where an attribute AWS does not report has its default, false.
func attributeDrift(want map[string]string, have []types.LoadBalancerAttribute) map[string]string {
	got := map[string]string{}
	for _, a := range have {
		got[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	drift := map[string]string{}
	for k, v := range want {
		g, ok := got[k]
		if !ok && v == "false" {
			continue
		}
		if g != v {
			drift[k] = v
		}
	}
	return drift
}

func renderAttributes(attrs map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, " ")
}

func setAttributes(ctx context.Context, api ELBAPI, arn string, attrs map[string]string) error {
	in := &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(arn)}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		in.Attributes = append(in.Attributes, types.LoadBalancerAttribute{Key: aws.String(k), Value: aws.String(attrs[k])})
	}
	if _, err := api.ModifyLoadBalancerAttributes(ctx, in); err != nil {
		return fmt.Errorf("setting attributes %s: %w", renderAttributes(attrs), err)
	}
	return nil
}

// reconcileAttributes sets the attributes that differ from the spec's.
func reconcileAttributes(ctx context.Context, api ELBAPI, run *stack.Run, arn string) error {
	out, err := api.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("describing the attributes of %s: %w", arn, err)
	}
	drift := attributeDrift(Attributes(run.Spec), out.Attributes)
	if len(drift) == 0 {
		return nil
	}
	_, err = run.Do(ctx, stack.NewChange(Layer, stack.Update, "elbv2:load-balancer", LoadBalancer, arn, "attributes "+renderAttributes(drift)), func(ctx context.Context) (string, error) {
		return arn, setAttributes(ctx, api, arn, drift)
	})
	return err
}
