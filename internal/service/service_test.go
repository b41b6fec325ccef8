package service

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/compute"
	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/network"
	"github.com/ecsplane/ecsplane/internal/security"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestArnSuffix(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188": "app/web-alb/50dc6c495c0c9188",
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067":       "targetgroup/web-tg/73e2d6bc24d8a067",
		"arn:aws:ecs:us-east-1:123456789012:task-definition/web:3":                                      "3",
	} {
		if got := arnSuffix(arn); got != want {
			t.Errorf("arnSuffix(%s) = %s, want %s", arn, got, want)
		}
	}
	if family("arn:aws:ecs:us-east-1:123456789012:task-definition/web-dev:12") != "web-dev" {
		t.Error("family")
	}
}

func TestAlarms(t *testing.T) {
	spec := stack.Defaults("web")
	as := Alarms(spec, []string{"us-east-1a", "us-east-1b"}, "arn:x:loadbalancer/app/web-alb/1", "arn:x:targetgroup/web-tg/2")
	if len(as) != 6 || aws.ToString(as[5].AlarmName) != UnhealthyAlarmName(spec, "us-east-1b") {
		t.Fatalf("%d alarms, last %s", len(as), aws.ToString(as[len(as)-1].AlarmName))
	}
	got := cwtypes.MetricAlarm{
		Namespace: as[0].Namespace, MetricName: as[0].MetricName, Statistic: as[0].Statistic, Period: as[0].Period,
		EvaluationPeriods: as[0].EvaluationPeriods, Threshold: as[0].Threshold, ComparisonOperator: as[0].ComparisonOperator,
		Dimensions: []cwtypes.Dimension{as[0].Dimensions[1], as[0].Dimensions[0]},
	}
	if d := alarmDrift(got, as[0]); len(d) != 0 {
		t.Fatalf("same alarm, dimensions reordered, drifted: %v", d)
	}
	got.Threshold = aws.Float64(99)
	if d := alarmDrift(got, as[0]); len(d) != 1 || !strings.Contains(d[0], "threshold 99, want 85") {
		t.Fatalf("drift = %v", d)
	}
}

func TestDigestFollowsContent(t *testing.T) {
	spec := stack.Defaults("web")
	w := Workload{LoadBalancedContainer: "nginx", Containers: []ecstypes.ContainerDefinition{{Name: aws.String("nginx"), Image: aws.String("nginx:1")}}}
	digest := func() string {
		d, err := Digest(TaskDefinitionInput(spec, w))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := digest(), digest()
	spec.Service.Memory = 2048
	if a != b || a == digest() || len(a) != 24 {
		t.Fatalf("digests %s %s: not stable, or blind to memory", a, b)
	}
}

func TestServiceDriftIgnoresWhatIsNotReported(t *testing.T) {
	spec := stack.Defaults("web")
	in := Inputs{
		Network:  &network.Output{PrivateSubnetIDs: []string{"subnet-1", "subnet-2"}},
		Security: &security.Output{TaskSecurityGroupID: "sg-task"},
		Compute:  &compute.Output{ClusterName: "web", CapacityProviderName: "web-cp"},
		Ingress:  &ingress.Output{TargetGroupARN: "arn:tg"},
	}
	want := ServiceInput(spec, in, Workload{LoadBalancedContainer: "nginx"}, "arn:td", "token")
	svc := &ecstypes.Service{NetworkConfiguration: want.NetworkConfiguration, LoadBalancers: want.LoadBalancers}
	if d := serviceDrift(svc, want); len(d) != 0 {
		t.Fatalf("a service reported without its deployment configuration drifted: %v", d)
	}
	svc.DeploymentConfiguration = &ecstypes.DeploymentConfiguration{DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: false}}
	if d := strings.Join(serviceDrift(svc, want), "; "); !strings.Contains(d, "circuit breaker off") || !strings.Contains(d, "placement strategy") {
		t.Fatalf("drift = %s", d)
	}
	svc.NetworkConfiguration = &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-task"}}}
	if d := strings.Join(serviceDrift(svc, want), "; "); !strings.Contains(d, "network configuration") {
		t.Fatalf("a lost subnet did not drift: %s", d)
	}
}
