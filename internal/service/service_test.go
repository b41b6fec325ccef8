package service

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/stack"
)

func TestArnSuffix(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188": "app/web-alb/50dc6c495c0c9188",
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067":       "targetgroup/web-tg/73e2d6bc24d8a067",
		"arn:aws:ecs:us-east-1:123456789012:task-definition/web:3":                                      "3",
	} {
		if got := ARNDimension(arn); got != want {
			t.Errorf("ARNDimension(%s) = %s, want %s", arn, got, want)
		}
	}
	if family("arn:aws:ecs:us-east-1:123456789012:task-definition/web-dev:12") != "web-dev" {
		t.Error("family")
	}
}

func TestAlarms(t *testing.T) {
	spec := stack.Defaults("web")
	as := Alarms(spec, []string{"us-east-1a", "us-east-1b"}, "arn:x:loadbalancer/app/web-alb/1", "arn:x:targetgroup/web-tg/2", "web-cp")
	var names []string
	for _, a := range as {
		names = append(names, aws.ToString(a.AlarmName))
	}
	want := []string{"web-cpu-high", "web-memory-high", "web-target-5xx", "web-elb-5xx", "web-capacity",
		"web-unhealthy-hosts-us-east-1a", "web-target-5xx-us-east-1a", "web-elb-5xx-us-east-1a",
		"web-unhealthy-hosts-us-east-1b", "web-target-5xx-us-east-1b", "web-elb-5xx-us-east-1b"}
	if !slices.Equal(names, want) {
		t.Fatalf("alarms %v, want %v", names, want)
	}
	for _, a := range as {
		if !ours(spec, aws.ToString(a.AlarmName)) {
			t.Errorf("%s is not recognised as the stack's alarm", aws.ToString(a.AlarmName))
		}
	}
	if c := as[4]; c.ComparisonOperator != cwtypes.ComparisonOperatorGreaterThanThreshold || aws.ToFloat64(c.Threshold) != 100 {
		t.Errorf("capacity alarm %s %v, want above 100 %%", c.ComparisonOperator, aws.ToFloat64(c.Threshold))
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

func testWorkload(t *testing.T, spec stack.Spec) Workload {
	t.Helper()
	w, err := NewWorkload(spec, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func workloadSpec() stack.Spec {
	spec := stack.Defaults("web")
	spec.Service.ImageRepository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
	spec.Service.NginxImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web-nginx:1"
	spec.Roles = stack.Roles{ExecutionRoleARN: "arn:aws:iam::123456789012:role/e", TaskRoleARN: "arn:aws:iam::123456789012:role/t"}
	return spec
}

// TestTemplateHashIgnoresTheImage: the hash follows every field of the
// template and none of the app's image, so a rollout's revision has the
// template of the build's.
func TestTemplateHashIgnoresTheImage(t *testing.T) {
	spec := workloadSpec()
	hash := func() string {
		h, err := TemplateHash(spec, testWorkload(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := hash(), hash()
	if a != b || len(a) != 24 {
		t.Fatalf("hashes %s %s: not stable", a, b)
	}
	digest := "sha256:" + strings.Repeat("b", 64)
	in, err := TaskDefinitionInput(spec, testWorkload(t, spec), spec.Service.ImageRepository+"@"+digest)
	if err != nil {
		t.Fatal(err)
	}
	tags := stack.ECSTagMap(in.Tags)
	if tags[stack.TagTemplateHash] != a || tags[stack.TagImageDigest] != digest {
		t.Fatalf("revision tags %v, want template hash %s and digest %s", tags, a, digest)
	}
	var app ecstypes.ContainerDefinition
	for _, c := range in.ContainerDefinitions {
		if aws.ToString(c.Name) == "app" {
			app = c
		}
	}
	if aws.ToString(app.Image) != spec.Service.ImageRepository+"@"+digest || !slices.ContainsFunc(app.Environment, func(kv ecstypes.KeyValuePair) bool {
		return aws.ToString(kv.Name) == "APP_VERSION" && aws.ToString(kv.Value) == "sha256:bbbbbbbbbbbb"
	}) {
		t.Fatalf("app container %+v does not run the pinned image with its version", app)
	}
	spec.Service.Memory = 2048
	if hash() == a {
		t.Fatal("the hash is blind to memory")
	}
	spec.Service.Memory = 1024
	spec.Service.NginxImage += "-other"
	if hash() == a {
		t.Fatal("the hash is blind to the nginx image, a template field")
	}
}

func TestImageReferences(t *testing.T) {
	d := "sha256:" + strings.Repeat("c", 64)
	for _, tt := range []struct{ image, version, digest, tag string }{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1.2", "v1.2", "", "v1.2"},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/web@" + d, "sha256:cccccccccccc", d, ""},
		{"localhost:5000/web", "latest", "", ""},
	} {
		if v, g, tag := ImageVersion(tt.image), ImageDigest(tt.image), imageTag(tt.image); v != tt.version || g != tt.digest || tag != tt.tag {
			t.Errorf("%s: version %q digest %q tag %q, want %q %q %q", tt.image, v, g, tag, tt.version, tt.digest, tt.tag)
		}
	}
}

// TestVerdict reads ECS's verdict the way the deployment path does, from
// the service's deployments.
func TestVerdict(t *testing.T) {
	d := &stack.Deployment{ECSDeploymentID: "ecs-svc/2", TaskDefinition: "web:2", Previous: "web:1"}
	dep := func(id string, state ecstypes.DeploymentRolloutState, reason string) ecstypes.Deployment {
		return ecstypes.Deployment{Id: aws.String(id), RolloutState: state, RolloutStateReason: aws.String(reason), DesiredCount: 2, RunningCount: 1}
	}
	tests := []struct {
		name    string
		svc     ecstypes.Service
		done    bool
		status  ledger.Status
		inCause string
	}{
		{"in progress", ecstypes.Service{TaskDefinition: aws.String("web:2"), Deployments: []ecstypes.Deployment{dep("ecs-svc/2", ecstypes.DeploymentRolloutStateInProgress, "")}}, false, "", "1 of 2 tasks running"},
		{"completed", ecstypes.Service{TaskDefinition: aws.String("web:2"), Deployments: []ecstypes.Deployment{dep("ecs-svc/2", ecstypes.DeploymentRolloutStateCompleted, "ECS deployment ecs-svc/2 completed.")}}, true, ledger.StatusSucceeded, "completed"},
		{"rolled back by the circuit breaker", ecstypes.Service{TaskDefinition: aws.String("web:1"), Deployments: []ecstypes.Deployment{
			dep("ecs-svc/3", ecstypes.DeploymentRolloutStateInProgress, "rolling back"), dep("ecs-svc/2", ecstypes.DeploymentRolloutStateFailed, "circuit breaker tripped")}},
			true, ledger.StatusRolledBackByECS, "circuit breaker tripped; the service runs web:1 again"},
		{"failed without a rollback", ecstypes.Service{TaskDefinition: aws.String("web:2"), Deployments: []ecstypes.Deployment{dep("ecs-svc/2", ecstypes.DeploymentRolloutStateFailed, "tasks failed to start")}}, true, ledger.StatusFailed, "failed to start"},
		{"replaced", ecstypes.Service{TaskDefinition: aws.String("web:3"), Deployments: []ecstypes.Deployment{dep("ecs-svc/4", ecstypes.DeploymentRolloutStateInProgress, "")}}, true, ledger.StatusFailed, "no longer lists deployment ecs-svc/2"},
	}
	for _, tt := range tests {
		v := verdictOf(tt.svc, d)
		if v.Done != tt.done || v.Status != tt.status || !strings.Contains(v.Reason, tt.inCause) {
			t.Errorf("%s: verdict %+v, want done=%t %s with %q", tt.name, v, tt.done, tt.status, tt.inCause)
		}
	}
}

func TestServiceDriftIgnoresWhatIsNotReported(t *testing.T) {
	spec := stack.Defaults("web")
	in := Inputs{
		Network:  &stack.NetworkOutput{PrivateSubnetIDs: []string{"subnet-1", "subnet-2"}},
		Security: &stack.SecurityOutput{TaskSecurityGroupID: "sg-task"},
		Compute:  &stack.ComputeOutput{ClusterName: "web", CapacityProviderName: "web-cp"},
		Ingress:  &stack.IngressOutput{TargetGroupARN: "arn:tg"},
	}
	want := ServiceInput(spec, in, Workload{LoadBalancedContainer: "nginx"}, "token")
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
