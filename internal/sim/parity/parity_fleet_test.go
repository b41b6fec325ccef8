package parity

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// fleetKnown lists the deliberate differences from moto in ECS, Elastic
// Load Balancing, CloudWatch and Application Auto Scaling, with the reason.
// The same list, in prose, is in the sim package's documentation.
var fleetKnown = map[string]string{
	"ecs.cluster.delete-with-service":               "AWS refuses to delete a cluster with active services (ClusterContainsServicesException); moto deletes it",
	"ecs.service.deployment.id":                     "AWS deployment IDs are ecs-svc/ and 19 digits; moto's have 18",
	"ecs.service.create-without-security-groups":    "AWS gives awsvpc tasks without security groups the VPC's default group; moto fails with HTTP 500",
	"ecs.service.min-healthy":                       "AWS echoes the service's deployment configuration; moto leaves it out",
	"ecs.service.max-percent":                       "AWS echoes the service's deployment configuration; moto leaves it out",
	"elb.lb.attribute.idle_timeout.timeout_seconds": "AWS reports the ALB's idle timeout attribute (60 s); moto does not list it",
	"elb.lb.attribute.zonal_shift.config.enabled":   "AWS lists an ALB's zonal_shift.config.enabled attribute, false until enabled; moto lists it only once it is set",
	"elb.lb.create-one-subnet":                      "AWS requires an ALB's subnets to span two zones (ValidationError); moto creates it",
	"elb.lb.scheme":                                 "AWS reports the default scheme internet-facing; moto leaves it out",
	"elb.listener.create-duplicate":                 "AWS refuses a second listener on a port (DuplicateListener); moto accepts it",
	"elb.targets.health.state":                      "a new target is initial until its health checks pass; moto reports it healthy at once",
	"elb.tg.describe-by-lb.lbs":                     "a target group behind one load balancer lists it once; moto lists it once per reference",
	"cw.alarm.state":                                "a new alarm is INSUFFICIENT_DATA until evaluated; moto starts it OK",
	"aas.policy.delete-unknown":                     "AWS answers an unknown policy with ObjectNotFoundException; moto with ValidationException",
	"aas.policy.put-unregistered":                   "AWS refuses a policy for an unregistered scalable target (ObjectNotFoundException); moto accepts it",
	"aas.target.deregister-again":                   "AWS answers an unknown scalable target with ObjectNotFoundException; moto with ValidationException",
	"aas.target.role":                               "AWS reports the service-linked role of a scalable target; moto leaves it out",
}

func init() {
	for k, v := range fleetKnown {
		known[k] = v
	}
}

var (
	accountRe = regexp.MustCompile(`:\d{12}:`)
	uuidAny   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	hexRun    = regexp.MustCompile(`[0-9a-f]{16,}`)
	digitRun  = regexp.MustCompile(`\d{10,}`)
)

// arnShape reduces an ARN or name to its format: the account, UUIDs, long
// hex and digit runs replaced by placeholders.
func arnShape(v *string) string {
	if v == nil {
		return "absent"
	}
	s := accountRe.ReplaceAllString(*v, ":ACCOUNT:")
	s = uuidAny.ReplaceAllString(s, "UUID")
	s = hexRun.ReplaceAllStringFunc(s, func(h string) string { return "HEX" + itoa(len(h)) })
	return digitRun.ReplaceAllStringFunc(s, func(d string) string { return "DIGITS" + itoa(len(d)) })
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// queryCloudWatch is a CloudWatch client speaking awsQuery, as the
// project's handlers build it: moto 5.2.1 does not serve the SDK's default
// RPC v2 CBOR protocol.
func queryCloudWatch(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(smithy.NewServiceSchema(nil, "2010-08-01"))
	})
}

// securityGroup creates a security group for awsvpc tasks in the network.
func securityGroup(t *testing.T, c *ec2.Client, n net) string {
	t.Helper()
	sg, err := c.CreateSecurityGroup(context.Background(), &ec2.CreateSecurityGroupInput{GroupName: aws.String("tasks"), Description: aws.String("tasks"), VpcId: aws.String(n.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(sg.GroupId)
}

func TestECSParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ecs.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, ec2.NewFromConfig(b.cfg), o)
		sg := securityGroup(t, ec2.NewFromConfig(b.cfg), n)
		_, err := c.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String("nope"), ServiceName: aws.String("web"), TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(0),
		})
		o.code("ecs.service.create-unknown-cluster", err)

		cl, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")})

		o.code("ecs.cluster.create", err)
		if err == nil {
			o.set("ecs.cluster.arn", arnShape(cl.Cluster.ClusterArn))
			o.set("ecs.cluster.status", aws.ToString(cl.Cluster.Status))
			_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: cl.Cluster.ClusterArn, Tags: []ecstypes.Tag{{Key: aws.String("ecsplane:stack"), Value: aws.String("parity")}}})
			o.code("ecs.cluster.tag", err)
			tags, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: cl.Cluster.ClusterArn})
			o.code("ecs.cluster.list-tags", err)
			if err == nil {
				o.set("ecs.cluster.tags", len(tags.Tags))
			}
			again, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")})
			o.code("ecs.cluster.create-again", err)
			if err == nil {
				o.set("ecs.cluster.create-again.same-arn", aws.ToString(again.Cluster.ClusterArn) == aws.ToString(cl.Cluster.ClusterArn))
			}
		}
		dc, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"prod", "nope"}})
		o.code("ecs.cluster.describe", err)
		if err == nil {
			o.set("ecs.cluster.describe.count", len(dc.Clusters))
			o.set("ecs.cluster.describe.failures", len(dc.Failures))
			if len(dc.Failures) == 1 {
				o.set("ecs.cluster.describe.failure-reason", aws.ToString(dc.Failures[0].Reason))
			}
			for _, x := range dc.Clusters {
				o.set("ecs.cluster.describe.instances", x.RegisteredContainerInstancesCount)
				o.set("ecs.cluster.describe.services", x.ActiveServicesCount)
			}
		}

		register := func(image string) (*ecs.RegisterTaskDefinitionOutput, error) {
			return c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
				Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc,
				ContainerDefinitions: []ecstypes.ContainerDefinition{{
					Name: aws.String("web"), Image: aws.String(image), Cpu: 256, Memory: aws.Int32(512), Essential: aws.Bool(true),
					PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(80)}},
				}},
			})
		}
		td1, err := register("web:v1")
		o.code("ecs.td.register", err)
		td2, err2 := register("web:v2")
		o.code("ecs.td.register-again", err2)
		if err == nil && err2 == nil {
			o.set("ecs.td.arn", arnShape(td1.TaskDefinition.TaskDefinitionArn))
			o.set("ecs.td.revisions", itoa(int(td1.TaskDefinition.Revision))+","+itoa(int(td2.TaskDefinition.Revision)))
			o.set("ecs.td.status", td1.TaskDefinition.Status)
			o.set("ecs.td.network-mode", td1.TaskDefinition.NetworkMode)
			_, err = c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: td2.TaskDefinition.TaskDefinitionArn})
			o.code("ecs.td.deregister", err)
			d, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: td2.TaskDefinition.TaskDefinitionArn})
			o.code("ecs.td.describe-inactive", err)
			if err == nil {
				o.set("ecs.td.describe-inactive.status", d.TaskDefinition.Status)
			}
			list, err := c.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web")})
			o.code("ecs.td.list", err)
			if err == nil {
				o.set("ecs.td.list.count", len(list.TaskDefinitionArns))
			}
		}
		_, err = c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope:1")})
		o.code("ecs.td.describe-unknown", err)

		if td1 != nil {
			svc, err := c.CreateService(ctx, &ecs.CreateServiceInput{
				Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: td1.TaskDefinition.TaskDefinitionArn,
				DesiredCount: aws.Int32(0), LaunchType: ecstypes.LaunchTypeEc2,
				NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: n.subnets, SecurityGroups: []string{sg}}},
				DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
					MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
					DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
				},
			})
			o.code("ecs.service.create", err)
			if err == nil {
				s := svc.Service
				o.set("ecs.service.arn", arnShape(s.ServiceArn))
				o.set("ecs.service.status", aws.ToString(s.Status))
				o.set("ecs.service.desired", s.DesiredCount)
				o.set("ecs.service.scheduling", s.SchedulingStrategy)
				o.set("ecs.service.deployments", len(s.Deployments))
				if len(s.Deployments) == 1 {
					o.set("ecs.service.deployment.status", aws.ToString(s.Deployments[0].Status))
					o.set("ecs.service.deployment.id", arnShape(s.Deployments[0].Id))
				}
				if dc := s.DeploymentConfiguration; dc != nil {
					o.set("ecs.service.min-healthy", aws.ToInt32(dc.MinimumHealthyPercent))
					o.set("ecs.service.max-percent", aws.ToInt32(dc.MaximumPercent))
				}
			}
			b.settle(2 * time.Minute)
			ds, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"web", "nope"}})
			o.code("ecs.service.describe", err)
			if err == nil {
				o.set("ecs.service.describe.count", len(ds.Services))
				o.set("ecs.service.describe.failures", len(ds.Failures))
				if len(ds.Failures) == 1 {
					o.set("ecs.service.describe.failure-reason", aws.ToString(ds.Failures[0].Reason))
				}
			}
			_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("nope"), DesiredCount: aws.Int32(1)})
			o.code("ecs.service.update-unknown", err)
			ls, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("prod")})
			o.code("ecs.service.list", err)
			if err == nil {
				o.set("ecs.service.list.count", len(ls.ServiceArns))
			}
			_, err = c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("prod")})
			o.code("ecs.cluster.delete-with-service", err)
			_, err = c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("prod"), Service: aws.String("web")})
			o.code("ecs.service.delete", err)
		}
		_, err = c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("nope")})
		o.code("ecs.service.list-unknown-cluster", err)
		lt, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod")})
		o.code("ecs.task.list", err)
		if err == nil {
			o.set("ecs.task.list.count", len(lt.TaskArns))
		}
		ci, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("prod")})
		o.code("ecs.ci.list", err)
		if err == nil {
			o.set("ecs.ci.list.count", len(ci.ContainerInstanceArns))
		}
		if td1 != nil {
			_, err = c.CreateService(ctx, &ecs.CreateServiceInput{
				Cluster: aws.String("prod"), ServiceName: aws.String("bare"), TaskDefinition: td1.TaskDefinition.TaskDefinitionArn,
				DesiredCount: aws.Int32(0), LaunchType: ecstypes.LaunchTypeEc2,
				NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: n.subnets}},
			}, func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
			o.code("ecs.service.create-without-security-groups", err)
		}
	})
}

func TestELBv2Parity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := elb.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, ec2.NewFromConfig(b.cfg), o)

		lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("prod-alb"), Subnets: n.subnets,
			Tags: []elbtypes.Tag{{Key: aws.String("ecsplane:stack"), Value: aws.String("parity")}}})
		o.code("elb.lb.create", err)
		if err != nil {
			return
		}
		l := lb.LoadBalancers[0]
		lbArn := aws.ToString(l.LoadBalancerArn)
		o.set("elb.lb.arn", arnShape(l.LoadBalancerArn))
		o.set("elb.lb.scheme", l.Scheme)
		o.set("elb.lb.type", l.Type)
		o.set("elb.lb.state", l.State.Code)
		o.set("elb.lb.zones", len(l.AvailabilityZones))
		o.set("elb.lb.dns", strings.HasSuffix(aws.ToString(l.DNSName), ".elb.amazonaws.com"))
		o.set("elb.lb.hosted-zone", present(l.CanonicalHostedZoneId))
		o.set("elb.lb.vpc", aws.ToString(l.VpcId) == n.vpc)
		_, err = c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("one-zone"), Subnets: n.subnets[:1]})
		o.code("elb.lb.create-one-subnet", err)
		_, err = c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"nope"}})
		o.code("elb.lb.describe-unknown", err)

		tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String("prod-web"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(n.vpc), TargetType: elbtypes.TargetTypeEnumIp,
		})
		o.code("elb.tg.create", err)
		if err != nil {
			return
		}
		g := tg.TargetGroups[0]
		tgArn := aws.ToString(g.TargetGroupArn)
		o.set("elb.tg.arn", arnShape(g.TargetGroupArn))
		o.set("elb.tg.interval", aws.ToInt32(g.HealthCheckIntervalSeconds))
		o.set("elb.tg.timeout", aws.ToInt32(g.HealthCheckTimeoutSeconds))
		o.set("elb.tg.healthy", aws.ToInt32(g.HealthyThresholdCount))
		o.set("elb.tg.unhealthy", aws.ToInt32(g.UnhealthyThresholdCount))
		o.set("elb.tg.path", aws.ToString(g.HealthCheckPath))
		o.set("elb.tg.port", aws.ToString(g.HealthCheckPort))
		o.set("elb.tg.protocol", g.HealthCheckProtocol)
		o.set("elb.tg.matcher", aws.ToString(g.Matcher.HttpCode))
		o.set("elb.tg.type", g.TargetType)
		_, err = c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String("prod-web"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String(n.vpc), TargetType: elbtypes.TargetTypeEnumIp,
		})
		o.code("elb.tg.create-conflict", err)
		attrs, err := c.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tgArn)})
		o.code("elb.tg.attributes", err)
		if err == nil {
			for _, a := range attrs.Attributes {
				switch aws.ToString(a.Key) {
				case "deregistration_delay.timeout_seconds":
					o.set("elb.tg.deregistration-delay", aws.ToString(a.Value))
				case "load_balancing.cross_zone.enabled":
					o.set("elb.tg.cross-zone", aws.ToString(a.Value))
				}
			}
		}
		// Cross-zone load balancing on, as the build sets it for zonal
		// shift.
		_, err = c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tgArn),
			Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("load_balancing.cross_zone.enabled"), Value: aws.String("true")}}})
		o.code("elb.tg.cross-zone.modify", err)
		ln, err := c.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lbArn), Port: aws.Int32(80), Protocol: elbtypes.ProtocolEnumHttp,
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgArn)}},
		})
		o.code("elb.listener.create", err)
		if err == nil {
			o.set("elb.listener.arn", arnShape(ln.Listeners[0].ListenerArn))
		}
		_, err = c.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lbArn), Port: aws.Int32(80), Protocol: elbtypes.ProtocolEnumHttp,
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgArn)}},
		})
		o.code("elb.listener.create-duplicate", err)
		byLB, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbArn)})
		o.code("elb.tg.describe-by-lb", err)
		if err == nil {
			o.set("elb.tg.describe-by-lb.count", len(byLB.TargetGroups))
			if len(byLB.TargetGroups) == 1 {
				o.set("elb.tg.describe-by-lb.lbs", len(byLB.TargetGroups[0].LoadBalancerArns))
			}
		}
		_, err = c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgArn), Targets: []elbtypes.TargetDescription{{Id: aws.String("10.0.1.10"), Port: aws.Int32(80)}}})
		o.code("elb.targets.register", err)
		th, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgArn)})
		o.code("elb.targets.health", err)
		if err == nil {
			o.set("elb.targets.health.count", len(th.TargetHealthDescriptions))
			for _, d := range th.TargetHealthDescriptions {
				o.set("elb.targets.health.state", d.TargetHealth.State)
				o.set("elb.targets.health.id", shape(d.Target.Id))
			}
		}
		_, err = c.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgArn)})
		o.code("elb.tg.delete-in-use", err)
		tags, err := c.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{lbArn}})
		o.code("elb.tags.describe", err)
		if err == nil {
			o.set("elb.tags.count", len(tags.TagDescriptions[0].Tags))
		}
		la, err := c.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbArn)})
		o.code("elb.lb.attributes", err)
		if err == nil {
			for _, a := range la.Attributes {
				if k := aws.ToString(a.Key); k == "deletion_protection.enabled" || k == "idle_timeout.timeout_seconds" || k == "zonal_shift.config.enabled" {
					o.set("elb.lb.attribute."+k, aws.ToString(a.Value))
				}
			}
		}
		_, err = c.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbArn),
			Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String("zonal_shift.config.enabled"), Value: aws.String("true")}}})
		o.code("elb.lb.zonal-shift.enable", err)
		if la, err := c.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbArn)}); err == nil {
			for _, a := range la.Attributes {
				if aws.ToString(a.Key) == "zonal_shift.config.enabled" {
					o.set("elb.lb.zonal-shift.enabled", aws.ToString(a.Value))
				}
			}
		}
		_, err = c.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(lbArn)})
		o.code("elb.lb.delete", err)
		_, err = c.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgArn)})
		o.code("elb.tg.delete", err)
	})
}

func TestCloudWatchParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := queryCloudWatch(b.cfg)
		ctx := context.Background()
		_, err := c.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String("web-5xx"), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String("app/prod-alb/0123456789abcdef")}},
			Statistic:  cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(3), DatapointsToAlarm: aws.Int32(2),
			Threshold: aws.Float64(10), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching"),
			Tags: []cwtypes.Tag{{Key: aws.String("ecsplane:stack"), Value: aws.String("parity")}},
		})
		o.code("cw.alarm.put", err)
		da, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx"}})
		o.code("cw.alarm.describe", err)
		if err == nil && len(da.MetricAlarms) == 1 {
			a := da.MetricAlarms[0]
			o.set("cw.alarm.arn", arnShape(a.AlarmArn))
			o.set("cw.alarm.state", a.StateValue)
			o.set("cw.alarm.evaluation-periods", aws.ToInt32(a.EvaluationPeriods))
			o.set("cw.alarm.datapoints-to-alarm", aws.ToInt32(a.DatapointsToAlarm))
			o.set("cw.alarm.treat-missing", aws.ToString(a.TreatMissingData))
			o.set("cw.alarm.dimensions", len(a.Dimensions))
			o.set("cw.alarm.actions-enabled", aws.ToBool(a.ActionsEnabled))
			o.set("cw.alarm.state-reason", present(a.StateReason))
			tags, err := c.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: a.AlarmArn})
			o.code("cw.alarm.list-tags", err)
			if err == nil {
				o.set("cw.alarm.tags", len(tags.Tags))
			}
		}
		_, err = c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("web-5xx"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")})
		o.code("cw.alarm.set-state", err)
		byState, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
		o.code("cw.alarm.describe-by-state", err)
		if err == nil {
			o.set("cw.alarm.describe-by-state.count", len(byState.MetricAlarms))
		}
		_, err = c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")})
		o.code("cw.alarm.set-state-unknown", err)
		now := time.Now().UTC().Truncate(time.Minute)
		if b.name == "sim" {
			now = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		_, err = c.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Web"), MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String("Errors"), Value: aws.Float64(3), Timestamp: aws.Time(now)},
			{MetricName: aws.String("Errors"), Value: aws.Float64(5), Timestamp: aws.Time(now.Add(10 * time.Second))},
		}})
		o.code("cw.metric.put", err)
		st, err := c.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("Web"), MetricName: aws.String("Errors"), StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
			Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum, cwtypes.StatisticAverage, cwtypes.StatisticMaximum},
		})
		o.code("cw.metric.statistics", err)
		if err == nil {
			o.set("cw.metric.statistics.count", len(st.Datapoints))
			for _, d := range st.Datapoints {
				o.set("cw.metric.statistics.sum", aws.ToFloat64(d.Sum))
				o.set("cw.metric.statistics.average", aws.ToFloat64(d.Average))
				o.set("cw.metric.statistics.max", aws.ToFloat64(d.Maximum))
			}
		}
		_, err = c.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"web-5xx"}})
		o.code("cw.alarm.delete", err)
		left, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
		o.code("cw.alarm.describe-all", err)
		if err == nil {
			o.set("cw.alarm.describe-all.count", len(left.MetricAlarms))
		}
	})
}

func TestApplicationAutoScalingParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := aas.NewFromConfig(b.cfg)
		e := ecs.NewFromConfig(b.cfg)
		ctx := context.Background()
		n := buildNetwork(t, ec2.NewFromConfig(b.cfg), o)
		sg := securityGroup(t, ec2.NewFromConfig(b.cfg), n)
		if _, err := e.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
			t.Fatal(err)
		}
		td, err := e.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc,
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("web:v1"), Memory: aws.Int32(512)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String("prod"), ServiceName: aws.String("web"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(2),
			LaunchType: ecstypes.LaunchTypeEc2, NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: n.subnets, SecurityGroups: []string{sg}}},
		}); err != nil {
			t.Fatal(err)
		}
		resource := aws.String("service/prod/web")
		_, err = c.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
			MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(8),
		})
		o.code("aas.target.register", err)
		ts, err := c.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
		o.code("aas.target.describe", err)
		if err == nil {
			o.set("aas.target.count", len(ts.ScalableTargets))
			for _, x := range ts.ScalableTargets {
				o.set("aas.target.min", aws.ToInt32(x.MinCapacity))
				o.set("aas.target.max", aws.ToInt32(x.MaxCapacity))
				o.set("aas.target.role", present(x.RoleARN))
				o.set("aas.target.created", present(x.CreationTime))
			}
		}
		p, err := c.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
			PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource,
			ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
			TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
				TargetValue:                   aws.Float64(50),
				PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
			},
		})
		o.code("aas.policy.put", err)
		if err == nil {
			o.set("aas.policy.arn", arnShape(p.PolicyARN))
			o.set("aas.policy.alarms", len(p.Alarms))
		}
		ps, err := c.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource})
		o.code("aas.policy.describe", err)
		if err == nil {
			o.set("aas.policy.count", len(ps.ScalingPolicies))
			for _, x := range ps.ScalingPolicies {
				o.set("aas.policy.type", x.PolicyType)
				o.set("aas.policy.target", aws.ToFloat64(x.TargetTrackingScalingPolicyConfiguration.TargetValue))
			}
		}
		_, err = c.DeleteScalingPolicy(ctx, &aas.DeleteScalingPolicyInput{
			PolicyName: aws.String("nope"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		})
		o.code("aas.policy.delete-unknown", err)
		_, err = c.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
			PolicyName: aws.String("cpu"), ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/prod/nope"),
			ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
			TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
				TargetValue:                   aws.Float64(50),
				PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization},
			},
		})
		o.code("aas.policy.put-unregistered", err)
		_, err = c.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		})
		o.code("aas.target.deregister", err)
		_, err = c.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: resource, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		})
		o.code("aas.target.deregister-again", err)
	})
}
