package sim

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func init() {
	handle(elbID, "CreateTargetGroup", (*Sim).createTargetGroup)
	handle(elbID, "DescribeTargetGroups", (*Sim).elbDescribeTargetGroups)
	handle(elbID, "ModifyTargetGroup", (*Sim).modifyTargetGroup)
	handle(elbID, "DeleteTargetGroup", (*Sim).deleteTargetGroup)
	handle(elbID, "DescribeTargetGroupAttributes", (*Sim).describeTargetGroupAttributes)
	handle(elbID, "ModifyTargetGroupAttributes", (*Sim).modifyTargetGroupAttributes)
	handle(elbID, "RegisterTargets", (*Sim).registerTargets)
	handle(elbID, "DeregisterTargets", (*Sim).deregisterTargets)
	handle(elbID, "DescribeTargetHealth", (*Sim).describeTargetHealth)
}

func defaultTGAttributes() map[string]string {
	return map[string]string{
		"deregistration_delay.timeout_seconds": "300", "stickiness.enabled": "false", "stickiness.type": "lb_cookie",
		"stickiness.lb_cookie.duration_seconds": "86400", "slow_start.duration_seconds": "0",
		"load_balancing.algorithm.type": "round_robin", "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
	}
}

// applyHealthCheck sets health check fields from a create or modify call,
// checking AWS's bounds.
func applyHealthCheck(hc *healthCheck, enabled *bool, proto types.ProtocolEnum, port, path *string, interval, timeout, healthy, unhealthy *int32, matcher *types.Matcher) error {
	if enabled != nil {
		hc.enabled = *enabled
	}
	if proto != "" {
		hc.protocol = proto
	}
	if port != nil {
		hc.port = *port
	}
	if path != nil {
		hc.path = *path
	}
	if interval != nil {
		if *interval < 5 || *interval > 300 {
			return elbValidation("Health check interval must be between 5 and 300 seconds")
		}
		hc.interval = *interval
	}
	if timeout != nil {
		if *timeout < 2 || *timeout > 120 {
			return elbValidation("Health check timeout must be between 2 and 120 seconds")
		}
		hc.timeout = *timeout
	}
	if healthy != nil {
		if *healthy < 2 || *healthy > 10 {
			return elbValidation("Healthy threshold count must be between 2 and 10")
		}
		hc.healthy = *healthy
	}
	if unhealthy != nil {
		if *unhealthy < 2 || *unhealthy > 10 {
			return elbValidation("Unhealthy threshold count must be between 2 and 10")
		}
		hc.unhealthy = *unhealthy
	}
	if matcher != nil && matcher.HttpCode != nil {
		hc.matcher = *matcher.HttpCode
	}
	if hc.timeout >= hc.interval {
		return elbValidation("Health check interval must be greater than the timeout.")
	}
	return nil
}

func (s *Sim) createTargetGroup(in *elb.CreateTargetGroupInput) (*elb.CreateTargetGroupOutput, error) {
	name := aws.ToString(in.Name)
	if len(name) == 0 || len(name) > 32 {
		return nil, elbValidation("Target group name '%s' cannot be longer than '32' characters", name)
	}
	targetType := in.TargetType
	if targetType == "" {
		targetType = types.TargetTypeEnumInstance
	}
	if targetType != types.TargetTypeEnumLambda {
		if in.Protocol == "" || in.Port == nil || in.VpcId == nil {
			return nil, elbValidation("A protocol, port and VPC ID must be specified for target groups of type '%s'", targetType)
		}
		if _, ok := s.ec2.vpcs[aws.ToString(in.VpcId)]; !ok {
			return nil, elbValidation("The VPC ID '%s' is not found", aws.ToString(in.VpcId))
		}
	}
	hc := healthCheck{enabled: true, protocol: in.Protocol, port: "traffic-port", path: "/", interval: 30, timeout: 5, healthy: 5, unhealthy: 2, matcher: "200"}
	if err := applyHealthCheck(&hc, in.HealthCheckEnabled, in.HealthCheckProtocol, in.HealthCheckPort, in.HealthCheckPath, in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher); err != nil {
		return nil, err
	}
	for _, tg := range s.elb.targetGroups {
		if tg.name == name {
			// CreateTargetGroup is idempotent for identical settings.
			if tg.protocol == in.Protocol && tg.port == aws.ToInt32(in.Port) && tg.vpcID == aws.ToString(in.VpcId) && tg.targetType == targetType && tg.hc == hc {
				return &elb.CreateTargetGroupOutput{TargetGroups: []types.TargetGroup{s.tgOut(tg)}}, nil
			}
			return nil, &types.DuplicateTargetGroupNameException{Message: aws.String("A target group with the same name '" + name + "' exists, but with different settings")}
		}
	}
	tg := &targetGroup{
		seq: s.elb.next(), name: name, arn: s.elbArn("targetgroup/" + name + "/" + s.hex16()), protocol: in.Protocol,
		port: aws.ToInt32(in.Port), vpcID: aws.ToString(in.VpcId), targetType: targetType, hc: hc, attrs: defaultTGAttributes(),
		targets: map[string]*target{}, created: s.clock.now,
	}
	s.elb.targetGroups[tg.arn] = tg
	if len(in.Tags) > 0 {
		s.elb.tags[tg.arn] = append([]types.Tag(nil), in.Tags...)
	}
	return &elb.CreateTargetGroupOutput{TargetGroups: []types.TargetGroup{s.tgOut(tg)}}, nil
}

func (s *Sim) tgOut(tg *targetGroup) types.TargetGroup {
	return types.TargetGroup{
		TargetGroupArn: aws.String(tg.arn), TargetGroupName: aws.String(tg.name), Protocol: tg.protocol, Port: aws.Int32(tg.port),
		VpcId: aws.String(tg.vpcID), TargetType: tg.targetType, HealthCheckEnabled: aws.Bool(tg.hc.enabled),
		HealthCheckProtocol: tg.hc.protocol, HealthCheckPort: aws.String(tg.hc.port), HealthCheckPath: aws.String(tg.hc.path),
		HealthCheckIntervalSeconds: aws.Int32(tg.hc.interval), HealthCheckTimeoutSeconds: aws.Int32(tg.hc.timeout),
		HealthyThresholdCount: aws.Int32(tg.hc.healthy), UnhealthyThresholdCount: aws.Int32(tg.hc.unhealthy),
		Matcher: &types.Matcher{HttpCode: aws.String(tg.hc.matcher)}, LoadBalancerArns: append([]string{}, s.tgLoadBalancers(tg)...),
		IpAddressType: types.TargetGroupIpAddressTypeEnumIpv4, ProtocolVersion: aws.String("HTTP1"),
	}
}

func (s *Sim) findTG(arn string) (*targetGroup, error) {
	tg, ok := s.elb.targetGroups[arn]
	if !ok {
		return nil, &types.TargetGroupNotFoundException{Message: aws.String("One or more target groups not found")}
	}
	return tg, nil
}

func (s *Sim) elbDescribeTargetGroups(in *elb.DescribeTargetGroupsInput) (*elb.DescribeTargetGroupsOutput, error) {
	all := sortedBySeq(s.elb.targetGroups, func(tg *targetGroup) uint64 { return tg.seq })
	var tgs []*targetGroup
	switch {
	case len(in.TargetGroupArns) > 0:
		for _, arn := range in.TargetGroupArns {
			tg, err := s.findTG(arn)
			if err != nil {
				return nil, err
			}
			tgs = append(tgs, tg)
		}
	case len(in.Names) > 0:
		for _, n := range in.Names {
			found := false
			for _, tg := range all {
				if tg.name == n {
					tgs, found = append(tgs, tg), true
				}
			}
			if !found {
				return nil, &types.TargetGroupNotFoundException{Message: aws.String("One or more target groups not found")}
			}
		}
	case in.LoadBalancerArn != nil:
		if _, err := s.findLB(*in.LoadBalancerArn); err != nil {
			return nil, err
		}
		for _, tg := range all {
			if containsString(s.tgLoadBalancers(tg), *in.LoadBalancerArn) {
				tgs = append(tgs, tg)
			}
		}
	default:
		tgs = all
	}
	page, next, err := paginate(tgs, in.PageSize, in.Marker)
	if err != nil {
		return nil, elbValidation("Invalid marker")
	}
	out := &elb.DescribeTargetGroupsOutput{TargetGroups: []types.TargetGroup{}, NextMarker: next}
	for _, tg := range page {
		out.TargetGroups = append(out.TargetGroups, s.tgOut(tg))
	}
	return out, nil
}

func (s *Sim) modifyTargetGroup(in *elb.ModifyTargetGroupInput) (*elb.ModifyTargetGroupOutput, error) {
	tg, err := s.findTG(aws.ToString(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	hc := tg.hc
	if err := applyHealthCheck(&hc, in.HealthCheckEnabled, in.HealthCheckProtocol, in.HealthCheckPort, in.HealthCheckPath, in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher); err != nil {
		return nil, err
	}
	tg.hc = hc
	return &elb.ModifyTargetGroupOutput{TargetGroups: []types.TargetGroup{s.tgOut(tg)}}, nil
}

func (s *Sim) deleteTargetGroup(in *elb.DeleteTargetGroupInput) (*elb.DeleteTargetGroupOutput, error) {
	tg, ok := s.elb.targetGroups[aws.ToString(in.TargetGroupArn)]
	if !ok {
		// Deleting a target group that does not exist succeeds.
		return &elb.DeleteTargetGroupOutput{}, nil
	}
	if len(s.tgLoadBalancers(tg)) > 0 {
		return nil, &types.ResourceInUseException{Message: aws.String("Target group '" + tg.arn + "' is currently in use by a listener or a rule")}
	}
	for _, t := range tg.targets {
		t.check.stop()
	}
	delete(s.elb.targetGroups, tg.arn)
	delete(s.elb.tags, tg.arn)
	return &elb.DeleteTargetGroupOutput{}, nil
}

func tgAttrsOut(m map[string]string) []types.TargetGroupAttribute {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.TargetGroupAttribute, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func (s *Sim) describeTargetGroupAttributes(in *elb.DescribeTargetGroupAttributesInput) (*elb.DescribeTargetGroupAttributesOutput, error) {
	tg, err := s.findTG(aws.ToString(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	return &elb.DescribeTargetGroupAttributesOutput{Attributes: tgAttrsOut(tg.attrs)}, nil
}

func (s *Sim) modifyTargetGroupAttributes(in *elb.ModifyTargetGroupAttributesInput) (*elb.ModifyTargetGroupAttributesOutput, error) {
	tg, err := s.findTG(aws.ToString(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	for _, a := range in.Attributes {
		k, v := aws.ToString(a.Key), aws.ToString(a.Value)
		if _, ok := tg.attrs[k]; !ok {
			return nil, &types.InvalidConfigurationRequestException{Message: aws.String("Target group attribute key '" + k + "' is not recognized")}
		}
		if k == "deregistration_delay.timeout_seconds" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 3600 {
				return nil, elbValidation("Deregistration delay timeout must be between 0 and 3600 seconds")
			}
		}
	}
	for _, a := range in.Attributes {
		tg.attrs[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return &elb.ModifyTargetGroupAttributesOutput{Attributes: tgAttrsOut(tg.attrs)}, nil
}

func (tg *targetGroup) deregistrationDelay() time.Duration {
	n, _ := strconv.Atoi(tg.attrs["deregistration_delay.timeout_seconds"])
	return time.Duration(n) * time.Second
}

// targetZone checks a target and returns its zone.
func (s *Sim) targetZone(tg *targetGroup, id string) (string, error) {
	switch tg.targetType {
	case types.TargetTypeEnumIp:
		ip, err := netip.ParseAddr(id)
		if err != nil {
			return "", &types.InvalidTargetException{Message: aws.String("The IP address '" + id + "' is not a valid IPv4 address")}
		}
		z, ok := s.zoneOfIP(tg.vpcID, ip)
		if !ok {
			return "", &types.InvalidTargetException{Message: aws.String("The IP address '" + id + "' is not within the CIDR block of the target group's VPC")}
		}
		return z, nil
	case types.TargetTypeEnumInstance:
		inst, ok := s.ec2.instances[id]
		if !ok {
			return "", &types.InvalidTargetException{Message: aws.String("The following targets are not valid instances: '" + id + "'")}
		}
		if inst.state != stateRunning {
			return "", &types.InvalidTargetException{Message: aws.String("The following targets are not in a running state and cannot be registered: '" + id + "'")}
		}
		return inst.az, nil
	}
	return "", &types.InvalidTargetException{Message: aws.String("The simulator does not register targets of type " + string(tg.targetType))}
}

// elbRegister registers a target; registering a registered target does
// nothing, and one still draining is registered afresh.
func (s *Sim) elbRegister(tgArn, id string, port int32, az string) error {
	tg, err := s.findTG(tgArn)
	if err != nil {
		return err
	}
	if az == "" {
		if az, err = s.targetZone(tg, id); err != nil {
			return err
		}
	}
	if port == 0 {
		port = tg.port
	}
	key := targetKey(id, port)
	if t, ok := tg.targets[key]; ok {
		if t.state != types.TargetHealthStateEnumDraining {
			return nil
		}
		t.check.stop()
	}
	t := &target{
		seq: s.elb.next(), id: id, port: port, az: az, state: types.TargetHealthStateEnumInitial,
		reason: types.TargetHealthReasonEnumRegistrationInProgress, desc: "Target registration is in progress", registered: s.clock.now,
	}
	tg.targets[key] = t
	s.scheduleCheck(tg, t)
	return nil
}

// scheduleCheck runs a target's next health check one interval from now.
// The first check comes one interval after registration.
func (s *Sim) scheduleCheck(tg *targetGroup, t *target) {
	t.check = s.after(time.Duration(tg.hc.interval)*time.Second, func() {
		if tg.targets[targetKey(t.id, t.port)] != t || t.state == types.TargetHealthStateEnumDraining {
			return
		}
		s.healthCheck(tg, t)
		s.scheduleCheck(tg, t)
	})
}

// answer is how a target answers a request or health check.
type answer int

const (
	// answerOK: the target responds with a success code.
	answerOK answer = iota
	// answerError: the target responds, with a 5xx code.
	answerError
	// answerRequestErrors: the target passes its health checks, on the
	// health check path, and answers every other request with a 5xx code.
	// "HealthCheckPath: The destination for health checks on the targets."
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
	answerRequestErrors
	// answerRefused: the host is up but nothing accepts the connection;
	// the load balancer answers 502.
	answerRefused
	// answerTimeout: nothing answers in time; the load balancer answers
	// 504.
	answerTimeout
)

// targetAnswer is how a target answers, before any gray failure of its
// zone: flaky is the fraction of requests and checks that time out there,
// latency what the zone adds to each response.
func (s *Sim) targetAnswer(tg *targetGroup, t *target) (a answer, flaky float64, latency time.Duration) {
	deg := s.faults.degraded[t.az]
	if tg.targetType == types.TargetTypeEnumIp {
		for _, task := range s.ecs.sortedTasks() {
			if !task.ip.IsValid() || task.ip.String() != t.id || task.lastStatus == "STOPPED" {
				continue
			}
			switch {
			case task.ci == nil || !task.ci.inst.serving():
				return answerTimeout, 0, 0
			case task.lastStatus != "RUNNING" && task.lastStatus != "DEACTIVATING":
				return answerRefused, 0, 0
			case task.fault == ImageUnhealthy:
				return answerError, deg.Failures, deg.Latency
			case task.fault == ImageServerErrors || s.taskFault(task.td) == ImageServerErrors:
				return answerRequestErrors, deg.Failures, deg.Latency
			}
			return answerOK, deg.Failures, deg.Latency
		}
		for _, inst := range s.ec2.sortedInstances() {
			if inst.privateIP.String() == t.id {
				if inst.serving() {
					return answerOK, deg.Failures, deg.Latency
				}
				return answerTimeout, 0, 0
			}
		}
		return answerTimeout, 0, 0
	}
	if inst, ok := s.ec2.instances[t.id]; ok && inst.serving() {
		return answerOK, deg.Failures, deg.Latency
	}
	return answerTimeout, 0, 0
}

// probe answers one health check request to a target. A check in a zone
// with a gray failure times out with the zone's failure fraction, and always
// when the zone's latency reaches the check's timeout.
func (s *Sim) probe(tg *targetGroup, t *target) (ok bool, reason types.TargetHealthReasonEnum, desc string) {
	if !tg.hc.enabled {
		return true, "", ""
	}
	a, flaky, latency := s.targetAnswer(tg, t)
	if a == answerRequestErrors {
		a = answerOK
	}
	if a == answerOK || a == answerError {
		if latency >= time.Duration(tg.hc.timeout)*time.Second || (flaky > 0 && s.grayRng.Float64() < flaky) {
			a = answerTimeout
		}
	}
	switch a {
	case answerError:
		return false, types.TargetHealthReasonEnumResponseCodeMismatch, "Health checks failed with these codes: [502]"
	case answerRefused:
		return false, types.TargetHealthReasonEnumFailedHealthChecks, "Health checks failed"
	case answerTimeout:
		return false, types.TargetHealthReasonEnumTimeout, "Request timed out"
	}
	return true, "", ""
}

// healthCheck runs one health check and applies the thresholds. A newly
// registered target turns healthy after passing one check; the healthy
// threshold applies to a target that was unhealthy, and the unhealthy
// threshold to failing ones: "After you register a target, it must pass one
// health check to be considered healthy." HealthyThresholdCount is "the
// number of consecutive successful health checks required before considering
// an unhealthy target healthy".
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
func (s *Sim) healthCheck(tg *targetGroup, t *target) {
	ok, reason, desc := s.probe(tg, t)
	prev := t.state
	if ok {
		t.successes++
		t.failures = 0
		switch {
		case t.state == types.TargetHealthStateEnumInitial:
			t.state, t.reason, t.desc = types.TargetHealthStateEnumHealthy, "", ""
		case t.state != types.TargetHealthStateEnumHealthy && t.successes >= tg.hc.healthy:
			t.state, t.reason, t.desc = types.TargetHealthStateEnumHealthy, "", ""
		}
	} else {
		t.failures++
		t.successes = 0
		if t.state != types.TargetHealthStateEnumUnhealthy && t.failures >= tg.hc.unhealthy {
			t.state = types.TargetHealthStateEnumUnhealthy
		}
		if t.state == types.TargetHealthStateEnumUnhealthy {
			t.reason, t.desc = reason, desc
		} else if t.state == types.TargetHealthStateEnumInitial {
			t.reason, t.desc = types.TargetHealthReasonEnumInitialHealthChecking, "Initial health checks in progress"
		}
	}
	if t.state != prev {
		s.log.Debug("sim_target_health", "target_group", tg.name, "target", t.id, "from", prev, "to", t.state)
		s.ecsTargetHealthChanged(tg.arn, t.id, t.port, string(t.state))
	}
}

// elbDeregister starts a target's deregistration: it drains for the group's
// deregistration delay and is then removed.
func (s *Sim) elbDeregister(tgArn, id string, port int32) {
	tg, ok := s.elb.targetGroups[tgArn]
	if !ok {
		return
	}
	if port == 0 {
		port = tg.port
	}
	t, ok := tg.targets[targetKey(id, port)]
	if !ok || t.state == types.TargetHealthStateEnumDraining {
		return
	}
	t.check.stop()
	t.state, t.reason, t.desc = types.TargetHealthStateEnumDraining, types.TargetHealthReasonEnumDeregistrationInProgress, "Target deregistration is in progress"
	delay := tg.deregistrationDelay()
	if len(s.tgLoadBalancers(tg)) == 0 {
		delay = 0
	}
	t.drainUntil = s.clock.now.Add(delay)
	s.after(delay, func() {
		if tg.targets[targetKey(id, port)] == t {
			delete(tg.targets, targetKey(id, port))
		}
	})
}

// elbDrainingLeft reports how long a draining target has left.
func (s *Sim) elbDrainingLeft(tgArn, id string, port int32) (time.Duration, bool) {
	tg, ok := s.elb.targetGroups[tgArn]
	if !ok {
		return 0, false
	}
	t, ok := tg.targets[targetKey(id, port)]
	if !ok || t.state != types.TargetHealthStateEnumDraining {
		return 0, false
	}
	return max(t.drainUntil.Sub(s.clock.now), 0), true
}

// targetState is a target's health as DescribeTargetHealth reports it.
func (s *Sim) targetState(tgArn, id string, port int32) string {
	tg, ok := s.elb.targetGroups[tgArn]
	if !ok {
		return ""
	}
	t, ok := tg.targets[targetKey(id, port)]
	if !ok {
		return string(types.TargetHealthStateEnumUnused)
	}
	st, _, _ := s.effectiveHealth(tg, t)
	return string(st)
}

// effectiveHealth overrides a target's checked health with unused when no
// load balancer uses its group or its zone is not one of the load
// balancer's.
func (s *Sim) effectiveHealth(tg *targetGroup, t *target) (types.TargetHealthStateEnum, types.TargetHealthReasonEnum, string) {
	if t.state == types.TargetHealthStateEnumDraining {
		return t.state, t.reason, t.desc
	}
	lbs := s.tgLoadBalancers(tg)
	if len(lbs) == 0 {
		return types.TargetHealthStateEnumUnused, types.TargetHealthReasonEnumNotInUse, "Target group is not configured to receive traffic from the load balancer"
	}
	inZone := false
	for _, arn := range lbs {
		if lb, ok := s.elb.lbs[arn]; ok && containsString(s.lbZones(lb), t.az) {
			inZone = true
		}
	}
	if !inZone {
		return types.TargetHealthStateEnumUnused, types.TargetHealthReasonEnumNotInUse, "Target is in an Availability Zone that is not enabled for the load balancer"
	}
	return t.state, t.reason, t.desc
}

func (s *Sim) registerTargets(in *elb.RegisterTargetsInput) (*elb.RegisterTargetsOutput, error) {
	tg, err := s.findTG(aws.ToString(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	zones := make([]string, len(in.Targets))
	for i, t := range in.Targets {
		if zones[i], err = s.targetZone(tg, aws.ToString(t.Id)); err != nil {
			return nil, err
		}
	}
	for i, t := range in.Targets {
		if err := s.elbRegister(tg.arn, aws.ToString(t.Id), aws.ToInt32(t.Port), zones[i]); err != nil {
			return nil, err
		}
	}
	return &elb.RegisterTargetsOutput{}, nil
}

func (s *Sim) deregisterTargets(in *elb.DeregisterTargetsInput) (*elb.DeregisterTargetsOutput, error) {
	tg, err := s.findTG(aws.ToString(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	for _, t := range in.Targets {
		port := aws.ToInt32(t.Port)
		if port == 0 {
			port = tg.port
		}
		if _, ok := tg.targets[targetKey(aws.ToString(t.Id), port)]; !ok {
			return nil, &types.InvalidTargetException{Message: aws.String(fmt.Sprintf("The target '%s' is not registered in the target group", aws.ToString(t.Id)))}
		}
	}
	for _, t := range in.Targets {
		s.elbDeregister(tg.arn, aws.ToString(t.Id), aws.ToInt32(t.Port))
	}
	return &elb.DeregisterTargetsOutput{}, nil
}

func (s *Sim) describeTargetHealth(in *elb.DescribeTargetHealthInput) (*elb.DescribeTargetHealthOutput, error) {
	tg, err := s.findTG(aws.ToString(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	out := &elb.DescribeTargetHealthOutput{TargetHealthDescriptions: []types.TargetHealthDescription{}}
	desc := func(t *target) types.TargetHealthDescription {
		st, reason, d := s.effectiveHealth(tg, t)
		th := &types.TargetHealth{State: st, Reason: reason}
		if d != "" {
			th.Description = aws.String(d)
		}
		hcPort := tg.hc.port
		if hcPort == "traffic-port" {
			hcPort = strconv.Itoa(int(t.port))
		}
		return types.TargetHealthDescription{
			Target:          &types.TargetDescription{Id: aws.String(t.id), Port: aws.Int32(t.port), AvailabilityZone: aws.String(t.az)},
			HealthCheckPort: aws.String(hcPort), TargetHealth: th, AdministrativeOverride: s.administrativeOverride(tg, t),
		}
	}
	if len(in.Targets) > 0 {
		for _, td := range in.Targets {
			port := aws.ToInt32(td.Port)
			if port == 0 {
				port = tg.port
			}
			t, ok := tg.targets[targetKey(aws.ToString(td.Id), port)]
			if !ok {
				out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, types.TargetHealthDescription{
					Target: &types.TargetDescription{Id: td.Id, Port: aws.Int32(port)}, HealthCheckPort: aws.String(strconv.Itoa(int(port))),
					TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnumUnused, Reason: types.TargetHealthReasonEnumNotRegistered, Description: aws.String("Target is not registered to the target group")},
				})
				continue
			}
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, desc(t))
		}
		return out, nil
	}
	for _, t := range sortedBySeq(tg.targets, func(t *target) uint64 { return t.seq }) {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, desc(t))
	}
	return out, nil
}

// administrativeOverride is a target's override state: while a zonal shift
// of its load balancer is active in the target's zone, the target takes no
// new traffic from the load balancer, whatever its health. With cross-zone
// load balancing on (the target group's default, the load balancer's
// setting, which an Application Load Balancer always has on) the load
// balancer stops routing to it (zonal_shift_active); with it off, each node
// routes only within its zone and the shift works by taking the zone's
// node out of DNS (zonal_shift_delegated_to_dns). The descriptions are the
// simulator's own.
//
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/zonal-shift.html
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AdministrativeOverride.html
func (s *Sim) administrativeOverride(tg *targetGroup, t *target) *types.AdministrativeOverride {
	for _, arn := range s.tgLoadBalancers(tg) {
		if lb, ok := s.elb.lbs[arn]; ok && lb.shiftedOff[t.az] {
			if tg.attrs["load_balancing.cross_zone.enabled"] == "false" {
				return &types.AdministrativeOverride{State: types.TargetAdministrativeOverrideStateEnumZonalShiftDelegatedToDns,
					Reason: types.TargetAdministrativeOverrideReasonEnumZonalShiftDelegatedToDns, Description: aws.String("The zonal shift of the target's Availability Zone works through DNS: cross-zone load balancing is off")}
			}
			return &types.AdministrativeOverride{State: types.TargetAdministrativeOverrideStateEnumZonalShiftActive,
				Reason: types.TargetAdministrativeOverrideReasonEnumZonalShiftEngaged, Description: aws.String("A zonal shift is active in the target's Availability Zone")}
		}
	}
	return &types.AdministrativeOverride{State: types.TargetAdministrativeOverrideStateEnumNoOverride,
		Reason: types.TargetAdministrativeOverrideReasonEnumNoOverrideEngaged, Description: aws.String("No override is active on the target")}
}
