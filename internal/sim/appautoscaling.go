package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const aasID = aas.ServiceID

func init() {
	registerService(service{id: aasID, throttleCode: "ThrottlingException", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) {
		s.aas = &aasState{targets: map[string]*scalableTarget{}, policies: map[string]*scalingPolicy{}}
	})
	handle(aasID, "RegisterScalableTarget", (*Sim).registerScalableTarget)
	handle(aasID, "DescribeScalableTargets", (*Sim).describeScalableTargets)
	handle(aasID, "DeregisterScalableTarget", (*Sim).deregisterScalableTarget)
	handle(aasID, "PutScalingPolicy", (*Sim).putScalingPolicy)
	handle(aasID, "DescribeScalingPolicies", (*Sim).describeScalingPolicies)
	handle(aasID, "DeleteScalingPolicy", (*Sim).deleteScalingPolicy)
	handle(aasID, "DescribeScalingActivities", (*Sim).describeAASActivities)
}

// aasState is the simulated Application Auto Scaling, for ECS services'
// desired count.
type aasState struct {
	seq        uint64
	targets    map[string]*scalableTarget
	policies   map[string]*scalingPolicy // by ARN
	activities []types.ScalingActivity   // newest first
}

func (st *aasState) next() uint64 {
	st.seq++
	return st.seq
}

// scalableTarget is a registered scalable target.
type scalableTarget struct {
	seq        uint64
	resourceID string
	arn        string
	min, max   int32
	roleArn    string
	created    time.Time
}

// scalingPolicy is a target tracking policy.
type scalingPolicy struct {
	seq       uint64
	arn, name string
	target    *scalableTarget
	conf      types.TargetTrackingScalingPolicyConfiguration
	high, low string
	created   time.Time
	lastIn    time.Time
}

const ecsDesiredCount = types.ScalableDimensionECSServiceDesiredCount

func aasValidation(format string, args ...any) error {
	return &types.ValidationException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func (s *Sim) checkECSTarget(ns types.ServiceNamespace, dim types.ScalableDimension) error {
	if ns != types.ServiceNamespaceEcs || dim != ecsDesiredCount {
		return aasValidation("The simulator scales ECS services' desired count only (ecs, ecs:service:DesiredCount).")
	}
	return nil
}

// serviceForResource resolves service/CLUSTER/SERVICE.
func (s *Sim) serviceForResource(id string) (*ecsService, error) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || parts[0] != "service" {
		return nil, aasValidation("Unsupported service namespace, resource type or scalable dimension")
	}
	c, ok := s.ecs.clusters[parts[1]]
	if !ok {
		return nil, aasValidation("ECS cluster %s does not exist.", parts[1])
	}
	svc, ok := c.services[parts[2]]
	if !ok || svc.status != "ACTIVE" {
		return nil, aasValidation("ECS service doesn't exist: %s", id)
	}
	return svc, nil
}

func (s *Sim) registerScalableTarget(in *aas.RegisterScalableTargetInput) (*aas.RegisterScalableTargetOutput, error) {
	if err := s.checkECSTarget(in.ServiceNamespace, in.ScalableDimension); err != nil {
		return nil, err
	}
	id := aws.ToString(in.ResourceId)
	svc, err := s.serviceForResource(id)
	if err != nil {
		return nil, err
	}
	t, exists := s.aas.targets[id]
	if !exists {
		if in.MinCapacity == nil || in.MaxCapacity == nil {
			return nil, aasValidation("MinCapacity and MaxCapacity are required for registering a new scalable target")
		}
		t = &scalableTarget{seq: s.aas.next(), resourceID: id, arn: s.arn("application-autoscaling", "scalable-target/0ec5"+s.hex32()[:28]), created: s.clock.now}
	}
	minC, maxC := t.min, t.max
	if in.MinCapacity != nil {
		minC = *in.MinCapacity
	}
	if in.MaxCapacity != nil {
		maxC = *in.MaxCapacity
	}
	if minC > maxC {
		return nil, aasValidation("Minimum capacity cannot be greater than maximum capacity")
	}
	t.min, t.max = minC, maxC
	if in.RoleARN != nil {
		t.roleArn = *in.RoleARN
	} else if t.roleArn == "" {
		t.roleArn = s.arn("iam", "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
	}
	s.aas.targets[id] = t
	// Application Auto Scaling moves the current capacity into a new range.
	if svc.desired < t.min {
		s.aasSetDesired(t, svc, t.min, fmt.Sprintf("minimum capacity was set to %d", t.min))
	} else if svc.desired > t.max {
		s.aasSetDesired(t, svc, t.max, fmt.Sprintf("maximum capacity was set to %d", t.max))
	}
	return &aas.RegisterScalableTargetOutput{ScalableTargetARN: aws.String(t.arn)}, nil
}

func (s *Sim) describeScalableTargets(in *aas.DescribeScalableTargetsInput) (*aas.DescribeScalableTargetsOutput, error) {
	var out []types.ScalableTarget
	for _, t := range sortedBySeq(s.aas.targets, func(t *scalableTarget) uint64 { return t.seq }) {
		if in.ServiceNamespace != types.ServiceNamespaceEcs || (in.ScalableDimension != "" && in.ScalableDimension != ecsDesiredCount) {
			continue
		}
		if len(in.ResourceIds) > 0 && !containsString(in.ResourceIds, t.resourceID) {
			continue
		}
		out = append(out, types.ScalableTarget{
			ServiceNamespace: types.ServiceNamespaceEcs, ScalableDimension: ecsDesiredCount, ResourceId: aws.String(t.resourceID),
			MinCapacity: aws.Int32(t.min), MaxCapacity: aws.Int32(t.max), RoleARN: aws.String(t.roleArn), CreationTime: aws.Time(t.created),
			ScalableTargetARN: aws.String(t.arn),
			SuspendedState:    &types.SuspendedState{DynamicScalingInSuspended: aws.Bool(false), DynamicScalingOutSuspended: aws.Bool(false), ScheduledScalingSuspended: aws.Bool(false)},
		})
	}
	page, next, err := listPage(out, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.InvalidNextTokenException{Message: aws.String("Invalid token")}
	}
	return &aas.DescribeScalableTargetsOutput{ScalableTargets: page, NextToken: next}, nil
}

func (s *Sim) deregisterScalableTarget(in *aas.DeregisterScalableTargetInput) (*aas.DeregisterScalableTargetOutput, error) {
	if err := s.checkECSTarget(in.ServiceNamespace, in.ScalableDimension); err != nil {
		return nil, err
	}
	id := aws.ToString(in.ResourceId)
	t, ok := s.aas.targets[id]
	if !ok {
		return nil, &types.ObjectNotFoundException{Message: aws.String("No scalable target found for service namespace: ecs, resource ID: " + id + ", scalable dimension: ecs:service:DesiredCount")}
	}
	for arn, p := range s.aas.policies {
		if p.target == t {
			s.removePolicy(arn)
		}
	}
	delete(s.aas.targets, id)
	return &aas.DeregisterScalableTargetOutput{}, nil
}

func (s *Sim) removePolicy(arn string) {
	p := s.aas.policies[arn]
	delete(s.cw.alarms, p.high)
	delete(s.cw.alarms, p.low)
	delete(s.aas.policies, arn)
}

// policyMetric returns the CloudWatch metric a target tracking policy
// tracks.
func policyMetric(conf *types.TargetTrackingScalingPolicyConfiguration, svc *ecsService) (ns, name string, d []cwtypes.Dimension, stat cwtypes.Statistic, err error) {
	if pm := conf.PredefinedMetricSpecification; pm != nil {
		d = dims("ClusterName", svc.cluster.name, "ServiceName", svc.name)
		switch pm.PredefinedMetricType {
		case types.MetricTypeECSServiceAverageCPUUtilization:
			return "AWS/ECS", "CPUUtilization", d, cwtypes.StatisticAverage, nil
		case types.MetricTypeECSServiceAverageMemoryUtilization:
			return "AWS/ECS", "MemoryUtilization", d, cwtypes.StatisticAverage, nil
		}
		return "", "", nil, "", aasValidation("The simulator tracks ECSServiceAverageCPUUtilization and ECSServiceAverageMemoryUtilization only.")
	}
	if cm := conf.CustomizedMetricSpecification; cm != nil && cm.MetricName != nil {
		for _, md := range cm.Dimensions {
			d = append(d, cwtypes.Dimension{Name: md.Name, Value: md.Value})
		}
		return aws.ToString(cm.Namespace), *cm.MetricName, d, cwtypes.Statistic(cm.Statistic), nil
	}
	return "", "", nil, "", aasValidation("A target tracking policy needs a predefined or customized metric specification.")
}

func (s *Sim) putScalingPolicy(in *aas.PutScalingPolicyInput) (*aas.PutScalingPolicyOutput, error) {
	if err := s.checkECSTarget(in.ServiceNamespace, in.ScalableDimension); err != nil {
		return nil, err
	}
	if in.PolicyType != types.PolicyTypeTargetTrackingScaling {
		return nil, aasValidation("The simulator supports TargetTrackingScaling policies only.")
	}
	id := aws.ToString(in.ResourceId)
	t, ok := s.aas.targets[id]
	if !ok {
		return nil, &types.ObjectNotFoundException{Message: aws.String("No scalable target registered for service namespace: ecs, resource ID: " + id + ", scalable dimension: ecs:service:DesiredCount")}
	}
	conf := in.TargetTrackingScalingPolicyConfiguration
	if conf == nil || conf.TargetValue == nil || *conf.TargetValue <= 0 {
		return nil, aasValidation("TargetTrackingScalingPolicyConfiguration with a positive TargetValue is required")
	}
	svc, err := s.serviceForResource(id)
	if err != nil {
		return nil, err
	}
	ns, metric, d, stat, err := policyMetric(conf, svc)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.PolicyName)
	var p *scalingPolicy
	for _, old := range s.aas.policies {
		if old.target == t && old.name == name {
			p = old
		}
	}
	if p == nil {
		p = &scalingPolicy{
			seq: s.aas.next(), name: name, target: t, created: s.clock.now,
			arn: s.arn("autoscaling", "scalingPolicy:"+s.newUUID()+":resource/ecs/"+id+":policyName/"+name),
		}
	} else {
		delete(s.cw.alarms, p.high)
		delete(s.cw.alarms, p.low)
	}
	p.conf = *conf
	target := *conf.TargetValue
	desc := "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy " + p.arn + "."
	mk := func(kind string, cmp cwtypes.ComparisonOperator, threshold float64, evals int32) string {
		alarmName := "TargetTracking-" + id + "-" + kind + "-" + s.newUUID()
		a := &metricAlarm{
			seq: s.cw.next(), name: alarmName, arn: s.alarmArn(alarmName), desc: desc, namespace: ns, metric: metric, dims: sortedDims(d),
			stat: stat, period: 60, evalPeriods: evals, toAlarm: evals, threshold: threshold, comparison: cmp, treatMissing: "missing",
			actionsEnabled: true, alarmActions: []string{p.arn}, state: cwtypes.StateValueInsufficientData,
			reason: "Unchecked: Initial alarm creation", stateUpdated: s.clock.now, configUpdated: s.clock.now, metricID: s.newUUID(),
		}
		s.cw.alarms[alarmName] = a
		return alarmName
	}
	p.high = mk("AlarmHigh", cwtypes.ComparisonOperatorGreaterThanThreshold, target, 3)
	p.low = ""
	if !aws.ToBool(conf.DisableScaleIn) {
		p.low = mk("AlarmLow", cwtypes.ComparisonOperatorLessThanThreshold, target*0.9, 15)
	}
	s.aas.policies[p.arn] = p
	s.ensureMinuteTick()
	return &aas.PutScalingPolicyOutput{PolicyARN: aws.String(p.arn), Alarms: s.policyAlarms(p)}, nil
}

func (s *Sim) policyAlarms(p *scalingPolicy) []types.Alarm {
	out := []types.Alarm{}
	for _, n := range []string{p.high, p.low} {
		if n != "" {
			out = append(out, types.Alarm{AlarmName: aws.String(n), AlarmARN: aws.String(s.alarmArn(n))})
		}
	}
	return out
}

func (s *Sim) describeScalingPolicies(in *aas.DescribeScalingPoliciesInput) (*aas.DescribeScalingPoliciesOutput, error) {
	var out []types.ScalingPolicy
	for _, p := range sortedBySeq(s.aas.policies, func(p *scalingPolicy) uint64 { return p.seq }) {
		if in.ServiceNamespace != types.ServiceNamespaceEcs {
			continue
		}
		if in.ResourceId != nil && *in.ResourceId != p.target.resourceID {
			continue
		}
		if len(in.PolicyNames) > 0 && !containsString(in.PolicyNames, p.name) {
			continue
		}
		conf := p.conf
		out = append(out, types.ScalingPolicy{
			PolicyARN: aws.String(p.arn), PolicyName: aws.String(p.name), PolicyType: types.PolicyTypeTargetTrackingScaling,
			ResourceId: aws.String(p.target.resourceID), ScalableDimension: ecsDesiredCount, ServiceNamespace: types.ServiceNamespaceEcs,
			CreationTime: aws.Time(p.created), Alarms: s.policyAlarms(p), TargetTrackingScalingPolicyConfiguration: &conf,
		})
	}
	page, next, err := listPage(out, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.InvalidNextTokenException{Message: aws.String("Invalid token")}
	}
	return &aas.DescribeScalingPoliciesOutput{ScalingPolicies: page, NextToken: next}, nil
}

func (s *Sim) deleteScalingPolicy(in *aas.DeleteScalingPolicyInput) (*aas.DeleteScalingPolicyOutput, error) {
	for arn, p := range s.aas.policies {
		if p.name == aws.ToString(in.PolicyName) && p.target.resourceID == aws.ToString(in.ResourceId) {
			s.removePolicy(arn)
			return &aas.DeleteScalingPolicyOutput{}, nil
		}
	}
	return nil, &types.ObjectNotFoundException{Message: aws.String("No scaling policy found for service namespace: ecs, resource ID: " + aws.ToString(in.ResourceId) + ", scalable dimension: ecs:service:DesiredCount, policy name: " + aws.ToString(in.PolicyName))}
}

func (s *Sim) describeAASActivities(in *aas.DescribeScalingActivitiesInput) (*aas.DescribeScalingActivitiesOutput, error) {
	var out []types.ScalingActivity
	for _, a := range s.aas.activities {
		if in.ResourceId != nil && aws.ToString(a.ResourceId) != *in.ResourceId {
			continue
		}
		out = append(out, a)
	}
	page, next, err := listPage(out, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.InvalidNextTokenException{Message: aws.String("Invalid token")}
	}
	return &aas.DescribeScalingActivitiesOutput{ScalingActivities: page, NextToken: next}, nil
}

// aasExecute runs a target tracking policy for one of its alarms. The new
// desired count is the running task count scaled by metric / target,
// rounded up, within the target's bounds:
//
//   - Scale-out proceeds whenever it asks for more than the desired count,
//     also during the scale-out cooldown: "the capacity added by the
//     scale-out activity that initiated the cooldown is calculated as part
//     of the desired capacity for the next scale-out activity", so only a
//     larger scale-out goes ahead.
//   - Scale-in waits for the scale-in cooldown (300 s by default) and does
//     not happen while an ECS deployment is in progress: "Application Auto
//     Scaling turns off scale-in processes while Amazon ECS deployments are
//     in progress."
//   - With several target tracking policies on one target, scale-in waits
//     until every policy that may scale in is ready to (its low alarm in
//     ALARM), and goes no lower than any of them asks: "Application Auto
//     Scaling scales out if any of the target tracking policies are ready
//     for scale out, but will scale in only if all of the target tracking
//     policies (with the scale-in portion enabled) are ready to scale in."
//
// https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html
// https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-auto-scaling.html
func (s *Sim) aasExecute(policyArn string, a *metricAlarm) {
	p, ok := s.aas.policies[policyArn]
	if !ok {
		return
	}
	svc, err := s.serviceForResource(p.target.resourceID)
	if err != nil {
		return
	}
	value, ok := s.latestValue(a)
	if !ok {
		return
	}
	_, _, running := s.serviceUtilization(svc)
	want := int32(math.Ceil(float64(running) * value / aws.ToFloat64(p.conf.TargetValue)))
	want = min(max(want, p.target.min), p.target.max)
	cause := fmt.Sprintf("monitor alarm %s in state ALARM triggered policy %s", a.name, p.name)
	switch {
	case a.name == p.high && want > svc.desired:
		s.aasSetDesired(p.target, svc, want, cause)
	case a.name == p.low && want < svc.desired:
		cool := 300 * time.Second
		if v := p.conf.ScaleInCooldown; v != nil {
			cool = time.Duration(*v) * time.Second
		}
		if s.deploymentInProgress(svc) || !p.lastIn.IsZero() && s.clock.now.Before(p.lastIn.Add(cool)) {
			return
		}
		for _, q := range s.aas.policies {
			if q == p || q.target != p.target || q.low == "" {
				continue
			}
			qa, ok := s.cw.alarms[q.low]
			if !ok || qa.state != cwtypes.StateValueAlarm {
				return
			}
			if v, ok := s.latestValue(qa); ok {
				want = max(want, min(int32(math.Ceil(float64(running)*v/aws.ToFloat64(q.conf.TargetValue))), p.target.max))
			}
		}
		if want >= svc.desired {
			return
		}
		p.lastIn = s.clock.now
		s.aasSetDesired(p.target, svc, want, cause)
	}
}

// deploymentInProgress reports whether a deployment of the service is
// still rolling out or still replacing an earlier one's tasks.
func (s *Sim) deploymentInProgress(svc *ecsService) bool {
	return len(svc.deployments) > 1 || svc.deployments[0].rollout == ecstypes.DeploymentRolloutStateInProgress
}

// aasSetDesired sets the service's desired count and records the activity.
func (s *Sim) aasSetDesired(t *scalableTarget, svc *ecsService, want int32, cause string) {
	if want == svc.desired {
		return
	}
	svc.desired = want
	svc.steady = false
	s.serviceKick(svc, 0)
	act := types.ScalingActivity{
		ActivityId: aws.String(s.newUUID()), ServiceNamespace: types.ServiceNamespaceEcs, ScalableDimension: ecsDesiredCount,
		ResourceId: aws.String(t.resourceID), Description: aws.String(fmt.Sprintf("Setting desired count to %d.", want)),
		Cause: aws.String(cause), StartTime: aws.Time(s.clock.now), EndTime: aws.Time(s.clock.now), StatusCode: types.ScalingActivityStatusCodeSuccessful,
		StatusMessage: aws.String(fmt.Sprintf("Successfully set desired count to %d. Change successfully fulfilled by ecs.", want)),
	}
	s.aas.activities = append([]types.ScalingActivity{act}, s.aas.activities...)
}
