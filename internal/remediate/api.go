package remediate

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// AutoScalingAPI is what remediation calls on Auto Scaling: the group, its
// desired capacity for the pre-scale, and the impaired zone's instances,
// which it takes out of the group so their terminate hooks drain them.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, optFns ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
}

// ECSAPI reads the service, its tasks and the cluster's container
// instances; remediation changes nothing in ECS.
type ECSAPI interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	ListContainerInstances(ctx context.Context, in *ecs.ListContainerInstancesInput, optFns ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error)
	DescribeContainerInstances(ctx context.Context, in *ecs.DescribeContainerInstancesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error)
	ListTasks(ctx context.Context, in *ecs.ListTasksInput, optFns ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// ELBAPI finds the load balancer and reads its targets' health.
type ELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, optFns ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elb.DescribeTargetHealthInput, optFns ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
}

// CloudWatchAPI reads the stack's alarms.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	GetMetricStatistics(ctx context.Context, in *cloudwatch.GetMetricStatisticsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

// ScalingAPI reads the service's scalable target, and raises its maximum
// within the configured ceiling when that is asked for.
type ScalingAPI interface {
	DescribeScalableTargets(ctx context.Context, in *aas.DescribeScalableTargetsInput, optFns ...func(*aas.Options)) (*aas.DescribeScalableTargetsOutput, error)
	RegisterScalableTarget(ctx context.Context, in *aas.RegisterScalableTargetInput, optFns ...func(*aas.Options)) (*aas.RegisterScalableTargetOutput, error)
}

// ZonalShiftAPI starts, extends and ends the zonal shifts of the load
// balancer and the group.
type ZonalShiftAPI interface {
	StartZonalShift(ctx context.Context, in *arc.StartZonalShiftInput, optFns ...func(*arc.Options)) (*arc.StartZonalShiftOutput, error)
	UpdateZonalShift(ctx context.Context, in *arc.UpdateZonalShiftInput, optFns ...func(*arc.Options)) (*arc.UpdateZonalShiftOutput, error)
	CancelZonalShift(ctx context.Context, in *arc.CancelZonalShiftInput, optFns ...func(*arc.Options)) (*arc.CancelZonalShiftOutput, error)
}

// EC2API maps zone names to the zone IDs zonal shift takes.
type EC2API interface {
	DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
}

var (
	_ AutoScalingAPI = (*autoscaling.Client)(nil)
	_ ECSAPI         = (*ecs.Client)(nil)
	_ ELBAPI         = (*elb.Client)(nil)
	_ CloudWatchAPI  = (*cloudwatch.Client)(nil)
	_ ScalingAPI     = (*aas.Client)(nil)
	_ ZonalShiftAPI  = (*arc.Client)(nil)
	_ EC2API         = (*ec2.Client)(nil)
)

// Clients are remediation's AWS clients.
type Clients struct {
	AutoScaling AutoScalingAPI
	ECS         ECSAPI
	ELB         ELBAPI
	CloudWatch  CloudWatchAPI
	Scaling     ScalingAPI
	ZonalShift  ZonalShiftAPI
	EC2         EC2API
}

// NewClients builds the clients from one configuration. CloudWatch speaks
// awsQuery, as the service layer's client does.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		AutoScaling: autoscaling.NewFromConfig(cfg), ECS: ecs.NewFromConfig(cfg), ELB: elb.NewFromConfig(cfg),
		CloudWatch: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
			o.Protocol = awsquery.New(smithy.NewServiceSchema(nil, "2010-08-01"))
		}),
		Scaling: aas.NewFromConfig(cfg), ZonalShift: arc.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg),
	}
}
