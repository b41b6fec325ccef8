package sim_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/sim"
)

// fleet is a two-zone ECS-on-EC2 stack on the simulator: a cluster "prod"
// fed by an Auto Scaling group, an ALB with one listener and an ip target
// group, and an awsvpc task definition "web".
type fleet struct {
	*env
	ecs      *ecs.Client
	elb      *elb.Client
	cw       *cloudwatch.Client
	aas      *aas.Client
	ecr      *ecr.Client
	net      network
	lb, tg   string
	listener string
	td       string
}

const (
	fleetCluster = "prod"
	// fleetImage is the healthy image; tests deploy others next to it.
	fleetImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"
)

type fleetOpts struct {
	seed      uint64
	instances int32
	// provider adds a capacity provider with managed scaling on the group
	// and makes it the cluster's default strategy.
	provider bool
}

func newFleet(t testing.TB, o fleetOpts) *fleet {
	t.Helper()
	e := newEnv(t, sim.Options{Seed: o.seed})
	cfg := e.sim.Config()
	f := &fleet{env: e, ecs: ecs.NewFromConfig(cfg), elb: elb.NewFromConfig(cfg), cw: queryCloudWatch(cfg), aas: aas.NewFromConfig(cfg), ecr: ecr.NewFromConfig(cfg)}
	f.net = e.network(t)
	ctx := context.Background()
	userData := base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\necho ECS_CLUSTER=" + fleetCluster + " >> /etc/ecs/ecs.config\n"))
	ami := f.latestAMI(t)
	lt, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("prod-node"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Medium, UserData: aws.String(userData)},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate: %v", err)
	}
	if _, err := f.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(fleetCluster)}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	if _, err := e.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("prod-nodes"), MinSize: aws.Int32(0), MaxSize: aws.Int32(10), DesiredCapacity: aws.Int32(o.instances),
		VPCZoneIdentifier:                aws.String(f.net.subnets[0] + "," + f.net.subnets[1]),
		LaunchTemplate:                   &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		NewInstancesProtectedFromScaleIn: aws.Bool(o.provider),
	}); err != nil {
		t.Fatalf("CreateAutoScalingGroup: %v", err)
	}
	if o.provider {
		g := e.describeGroup(t, "prod-nodes")
		if _, err := f.ecs.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{
			Name: aws.String("prod-cp"),
			AutoScalingGroupProvider: &ecstypes.AutoScalingGroupProvider{
				AutoScalingGroupArn: g.AutoScalingGroupARN, ManagedTerminationProtection: ecstypes.ManagedTerminationProtectionEnabled,
				ManagedScaling: &ecstypes.ManagedScaling{Status: ecstypes.ManagedScalingStatusEnabled, TargetCapacity: aws.Int32(100)},
			},
		}); err != nil {
			t.Fatalf("CreateCapacityProvider: %v", err)
		}
		if _, err := f.ecs.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
			Cluster: aws.String(fleetCluster), CapacityProviders: []string{"prod-cp"},
			DefaultCapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("prod-cp"), Weight: 1}},
		}); err != nil {
			t.Fatalf("PutClusterCapacityProviders: %v", err)
		}
	}
	f.ingress(t)
	f.td = f.registerTD(t, fleetImage)
	advanceUntil(t, e.sim, 5*time.Minute, "container instances registered", func() bool { return len(f.containerInstances(t)) == int(o.instances) })
	return f
}

// queryCloudWatch is a CloudWatch client speaking awsQuery, as the
// project's handlers build theirs; the simulator answers either protocol.
func queryCloudWatch(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(smithy.NewServiceSchema(nil, "2010-08-01"))
	})
}

func (f *fleet) latestAMI(t testing.TB) string {
	t.Helper()
	out, err := f.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(sim.ECSAMIParameter)})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	return aws.ToString(out.Parameter.Value)
}

// ingress creates the ALB, an ip target group checked every 10 s (3 to turn
// healthy, 2 to turn unhealthy, a 5 s deregistration delay) and a listener.
func (f *fleet) ingress(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	lb, err := f.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("prod-alb"), Subnets: f.net.subnets})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	f.lb = aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	f.tg = f.targetGroup(t, "prod-web", elbtypes.TargetTypeEnumIp)
	l, err := f.elb.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(f.lb), Port: aws.Int32(80), Protocol: elbtypes.ProtocolEnumHttp,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(f.tg)}},
	})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	f.listener = aws.ToString(l.Listeners[0].ListenerArn)
}

func (f *fleet) targetGroup(t testing.TB, name string, typ elbtypes.TargetTypeEnum) string {
	t.Helper()
	ctx := context.Background()
	tg, err := f.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(f.net.vpcID), TargetType: typ,
		HealthCheckPath: aws.String("/health"), HealthCheckIntervalSeconds: aws.Int32(10), HealthyThresholdCount: aws.Int32(3), UnhealthyThresholdCount: aws.Int32(2),
	})
	if err != nil {
		t.Fatalf("CreateTargetGroup: %v", err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := f.elb.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
		TargetGroupArn: aws.String(arn), Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}},
	}); err != nil {
		t.Fatalf("ModifyTargetGroupAttributes: %v", err)
	}
	return arn
}

func (f *fleet) registerTD(t testing.TB, image string) string {
	t.Helper()
	out, err := f.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(image), Cpu: 256, Memory: aws.Int32(512), Essential: aws.Bool(true),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(80)}},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

type serviceOpts struct {
	name             string
	desired          int32
	minHealthy, max  int32
	breaker          bool
	noRollback       bool
	alarms           []string
	grace            int32
	noLoadBalancer   bool
	constraints      []ecstypes.PlacementConstraint
	capacityProvider bool
	noRebalancing    bool
}

func (f *fleet) createService(t testing.TB, o serviceOpts) {
	t.Helper()
	in := &ecs.CreateServiceInput{
		Cluster: aws.String(fleetCluster), ServiceName: aws.String(o.name), TaskDefinition: aws.String(f.td), DesiredCount: aws.Int32(o.desired),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: f.net.subnets}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(o.minHealthy), MaximumPercent: aws.Int32(o.max),
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: o.breaker, Rollback: o.breaker && !o.noRollback},
		},
		HealthCheckGracePeriodSeconds: aws.Int32(o.grace), PlacementConstraints: o.constraints,
	}
	if !o.capacityProvider {
		in.LaunchType = ecstypes.LaunchTypeEc2
	}
	if o.noRebalancing {
		in.AvailabilityZoneRebalancing = ecstypes.AvailabilityZoneRebalancingDisabled
	}
	if len(o.alarms) > 0 {
		in.DeploymentConfiguration.Alarms = &ecstypes.DeploymentAlarms{AlarmNames: o.alarms, Enable: true, Rollback: true}
	}
	if !o.noLoadBalancer {
		in.LoadBalancers = []ecstypes.LoadBalancer{{TargetGroupArn: aws.String(f.tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(80)}}
	}
	if _, err := f.ecs.CreateService(context.Background(), in); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
}

func (f *fleet) service(t testing.TB, name string) ecstypes.Service {
	t.Helper()
	out, err := f.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(fleetCluster), Services: []string{name}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("DescribeServices: %d services, failures %v", len(out.Services), out.Failures)
	}
	return out.Services[0]
}

// steady reports whether the service has one deployment, COMPLETED, with
// every desired task running.
func (f *fleet) steady(t testing.TB, name string) bool {
	t.Helper()
	svc := f.service(t, name)
	return len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted &&
		svc.RunningCount == svc.DesiredCount && svc.PendingCount == 0
}

func (f *fleet) waitSteady(t testing.TB, name string, limit time.Duration) {
	t.Helper()
	advanceUntil(t, f.sim, limit, "service "+name+" steady", func() bool { return f.steady(t, name) })
}

func (f *fleet) updateTD(t testing.TB, name, td string) {
	t.Helper()
	if _, err := f.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{Cluster: aws.String(fleetCluster), Service: aws.String(name), TaskDefinition: aws.String(td)}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
}

func (f *fleet) containerInstances(t testing.TB) []ecstypes.ContainerInstance {
	t.Helper()
	ctx := context.Background()
	list, err := f.ecs.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(fleetCluster)})
	if err != nil {
		t.Fatalf("ListContainerInstances: %v", err)
	}
	if len(list.ContainerInstanceArns) == 0 {
		return nil
	}
	out, err := f.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(fleetCluster), ContainerInstances: list.ContainerInstanceArns})
	if err != nil {
		t.Fatalf("DescribeContainerInstances: %v", err)
	}
	return out.ContainerInstances
}

// tasks describes the service's tasks with the given desired status.
func (f *fleet) tasks(t testing.TB, service string, desired ecstypes.DesiredStatus) []ecstypes.Task {
	t.Helper()
	ctx := context.Background()
	list, err := f.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(fleetCluster), ServiceName: aws.String(service), DesiredStatus: desired})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(list.TaskArns) == 0 {
		return nil
	}
	out, err := f.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(fleetCluster), Tasks: list.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	return out.Tasks
}

// targets returns the target group's targets by state.
func (f *fleet) targets(t testing.TB, tg string) []elbtypes.TargetHealthDescription {
	t.Helper()
	out, err := f.elb.DescribeTargetHealth(context.Background(), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		t.Fatalf("DescribeTargetHealth: %v", err)
	}
	return out.TargetHealthDescriptions
}

func (f *fleet) healthyTargets(t testing.TB, tg string) int {
	t.Helper()
	n := 0
	for _, d := range f.targets(t, tg) {
		if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			n++
		}
	}
	return n
}

// deploymentEvents returns the detail of every ECS Deployment State Change
// event so far, parsed as a rollout handler parses them.
func (f *fleet) deploymentEvents(t testing.TB) []events.DeploymentStateChange {
	t.Helper()
	var out []events.DeploymentStateChange
	for _, ev := range f.sim.Events() {
		if ev.DetailType != events.DetailTypeECSDeploymentStateChange {
			continue
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := events.ParseDeploymentStateChange(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, parsed.Detail)
	}
	return out
}

func (f *fleet) hasDeploymentEvent(t testing.TB, name string) bool {
	t.Helper()
	for _, d := range f.deploymentEvents(t) {
		if d.EventName == name {
			return true
		}
	}
	return false
}

// putAlarm creates an alarm on an Average above threshold over one-minute
// periods, treating missing data as treat.
func (f *fleet) putAlarm(t testing.TB, name, namespace, metric string, threshold float64, evals, toAlarm int32, treat string) {
	t.Helper()
	if _, err := f.cw.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), AlarmDescription: aws.String(name + " is above " + fmt.Sprint(threshold)), Namespace: aws.String(namespace), MetricName: aws.String(metric), Statistic: "Average",
		Period: aws.Int32(60), EvaluationPeriods: aws.Int32(evals), DatapointsToAlarm: aws.Int32(toAlarm), Threshold: aws.Float64(threshold),
		ComparisonOperator: "GreaterThanThreshold", TreatMissingData: aws.String(treat),
	}); err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
}

func (f *fleet) alarmState(t testing.TB, name string) string {
	t.Helper()
	out, err := f.cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		t.Fatalf("DescribeAlarms: %v", err)
	}
	if len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms: %d alarms", len(out.MetricAlarms))
	}
	return string(out.MetricAlarms[0].StateValue)
}

func (f *fleet) putMetric(t testing.TB, namespace, metric string, v float64) {
	t.Helper()
	if _, err := f.cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(namespace), MetricData: []cwtypes.MetricDatum{{MetricName: aws.String(metric), Value: aws.Float64(v)}},
	}); err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
}

// pushImages creates the web repository in the simulated ECR and pushes
// each tag to it, so fleetImage and its siblings resolve to pushed images.
func (f *fleet) pushImages(t testing.TB, tags ...string) map[string]string {
	t.Helper()
	if _, err := f.ecr.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("web")}); err != nil && errCode(err) != "RepositoryAlreadyExistsException" {
		t.Fatalf("CreateRepository: %v", err)
	}
	digests := map[string]string{}
	for _, tag := range tags {
		d, err := f.sim.PushImage("web", tag)
		if err != nil {
			t.Fatal(err)
		}
		digests[tag] = d
	}
	return digests
}

// lbDim is the fleet's load balancer as CloudWatch dimensions name it.
func (f *fleet) lbDim() string {
	return f.lb[strings.Index(f.lb, ":loadbalancer/")+len(":loadbalancer/"):]
}

// tgDimension is a target group's CloudWatch dimension value.
func tgDimension(arn string) string {
	return "targetgroup/" + arn[strings.Index(arn, ":targetgroup/")+len(":targetgroup/"):]
}

// lastMinute returns a metric's statistic for the minute that just ended,
// and whether there was a datapoint.
func (f *fleet) lastMinute(t testing.TB, ns, name string, stat cwtypes.Statistic, kv ...string) (float64, bool) {
	t.Helper()
	var d []cwtypes.Dimension
	for i := 0; i < len(kv); i += 2 {
		d = append(d, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	end := f.sim.Now().Truncate(time.Minute)
	out, err := f.cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: d, Statistics: []cwtypes.Statistic{stat},
		StartTime: aws.Time(end.Add(-time.Minute)), EndTime: aws.Time(end), Period: aws.Int32(60),
	})
	if err != nil {
		t.Fatalf("GetMetricStatistics %s: %v", name, err)
	}
	if len(out.Datapoints) == 0 {
		return 0, false
	}
	dp := out.Datapoints[0]
	if stat == cwtypes.StatisticSum {
		return aws.ToFloat64(dp.Sum), true
	}
	return aws.ToFloat64(dp.Average), true
}

func zoneCounts(tasks []ecstypes.Task) map[string]int {
	out := map[string]int{}
	for _, tk := range tasks {
		out[aws.ToString(tk.AvailabilityZone)]++
	}
	return out
}

func describe(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}
