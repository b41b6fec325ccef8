package sim

import (
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func init() {
	handle(ecsID, "ListServiceDeployments", (*Sim).listServiceDeployments)
	handle(ecsID, "DescribeServiceDeployments", (*Sim).describeServiceDeployments)
	handle(ecsID, "StopServiceDeployment", (*Sim).stopServiceDeployment)
}

// Service deployments are the history view of a service's rolling
// deployments: one per UpdateService (or CreateService) that started a
// deployment, whose status follows its rollout. A rollback is part of the
// deployment it rolls back, not a service deployment of its own.
//
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html

// serviceDeploymentStatus maps a deployment's rollout to its service
// deployment status: IN_PROGRESS while it rolls out; SUCCESSFUL once
// completed; ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED
// after the circuit breaker, a deployment alarm or a stop request rolled it
// back; STOPPED when it failed with no rollback, or when a newer deployment
// replaced it before it finished (the simulator's choice: AWS documents the
// first case only).
func serviceDeploymentStatus(d *deployment) types.ServiceDeploymentStatus {
	switch {
	case d.rollback != nil:
		switch d.rollback.rollout {
		case types.DeploymentRolloutStateCompleted:
			return types.ServiceDeploymentStatusRollbackSuccessful
		case types.DeploymentRolloutStateFailed:
			return types.ServiceDeploymentStatusRollbackFailed
		}
		return types.ServiceDeploymentStatusRollbackInProgress
	case d.rollout == types.DeploymentRolloutStateCompleted:
		return types.ServiceDeploymentStatusSuccessful
	case !d.stoppedAt.IsZero():
		return types.ServiceDeploymentStatusStopped
	}
	return types.ServiceDeploymentStatusInProgress
}

// monitorStatus is a failure detection mechanism's status for a deployment.
func monitorStatus(enabled, triggered bool, d *deployment) types.ServiceDeploymentRollbackMonitorsStatus {
	switch {
	case !enabled:
		return types.ServiceDeploymentRollbackMonitorsStatusDisabled
	case triggered:
		return types.ServiceDeploymentRollbackMonitorsStatusTriggered
	case serviceDeploymentStatus(d) == types.ServiceDeploymentStatusInProgress:
		return types.ServiceDeploymentRollbackMonitorsStatusMonitoring
	}
	return types.ServiceDeploymentRollbackMonitorsStatusMonitoringComplete
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return aws.Time(t)
}

func (s *Sim) revisionSummary(svc *ecsService, d *deployment) types.ServiceRevisionSummary {
	out := s.deploymentOut(svc, d)
	return types.ServiceRevisionSummary{
		Arn: aws.String(d.revisionArn), RequestedTaskCount: out.DesiredCount, RunningTaskCount: out.RunningCount, PendingTaskCount: out.PendingCount,
	}
}

func (s *Sim) serviceDeploymentOut(svc *ecsService, d *deployment) types.ServiceDeployment {
	// A rolled-back deployment's reason is why it failed; the rollback's is
	// why it rolled back.
	out := types.ServiceDeployment{
		ServiceDeploymentArn: aws.String(d.arn), ServiceArn: aws.String(svc.arn), ClusterArn: aws.String(svc.cluster.arn),
		CreatedAt: aws.Time(d.createdAt), StartedAt: aws.Time(d.createdAt), UpdatedAt: aws.Time(d.updatedAt),
		Status: serviceDeploymentStatus(d), StatusReason: aws.String(d.reason),
		TargetServiceRevision: ptr(s.revisionSummary(svc, d)), SourceServiceRevisions: []types.ServiceRevisionSummary{},
		FinishedAt: optTime(d.finishedAt), StoppedAt: optTime(d.stoppedAt),
		DeploymentConfiguration: &types.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(svc.minHealthy), MaximumPercent: aws.Int32(svc.maxPercent),
			DeploymentCircuitBreaker: breakerOut(svc.breaker), Alarms: svc.alarms,
		},
		DeploymentCircuitBreaker: &types.ServiceDeploymentCircuitBreaker{
			Status: monitorStatus(svc.breaker.Enable, d.breakerTripped, d), FailureCount: d.failed,
			Threshold: circuitBreakerThreshold(svc.breaker, svc.desired),
		},
	}
	for _, src := range d.sources {
		out.SourceServiceRevisions = append(out.SourceServiceRevisions, s.revisionSummary(svc, src))
	}
	alarms := &types.ServiceDeploymentAlarms{Status: monitorStatus(svc.alarms != nil && svc.alarms.Enable, len(d.alarmsTripped) > 0, d), AlarmNames: []string{}, TriggeredAlarmNames: append([]string{}, d.alarmsTripped...)}
	if svc.alarms != nil {
		alarms.AlarmNames = append(alarms.AlarmNames, svc.alarms.AlarmNames...)
	}
	out.Alarms = alarms
	if rb := d.rollback; rb != nil {
		out.Rollback = &types.Rollback{Reason: aws.String(d.rollbackReason), StartedAt: aws.Time(rb.createdAt), ServiceRevisionArn: aws.String(rb.revisionArn)}
		if rb.rollout == types.DeploymentRolloutStateCompleted {
			out.FinishedAt = aws.Time(rb.finishedAt)
		}
	}
	return out
}

// findServiceDeployment resolves a service deployment ARN.
func (s *Sim) findServiceDeployment(arn string) (*ecsService, *deployment) {
	for _, c := range sortedBySeq(s.ecs.clusters, func(c *ecsCluster) uint64 { return c.seq }) {
		for _, svc := range c.sortedServices() {
			for _, d := range svc.history {
				if d.arn == arn {
					return svc, d
				}
			}
		}
	}
	return nil, nil
}

func (s *Sim) listServiceDeployments(in *ecs.ListServiceDeploymentsInput) (*ecs.ListServiceDeploymentsOutput, error) {
	svc, err := s.findClusterService(in.Cluster, aws.ToString(in.Service))
	if err != nil {
		return nil, err
	}
	var briefs []types.ServiceDeploymentBrief
	// Newest first.
	for _, d := range slices.Backward(svc.history) {
		st := serviceDeploymentStatus(d)
		if len(in.Status) > 0 && !slices.Contains(in.Status, st) {
			continue
		}
		if ca := in.CreatedAt; ca != nil && (ca.After != nil && d.createdAt.Before(*ca.After) || ca.Before != nil && d.createdAt.After(*ca.Before)) {
			continue
		}
		out := s.serviceDeploymentOut(svc, d)
		briefs = append(briefs, types.ServiceDeploymentBrief{
			ServiceDeploymentArn: out.ServiceDeploymentArn, ServiceArn: out.ServiceArn, ClusterArn: out.ClusterArn, Status: st,
			StatusReason: out.StatusReason, CreatedAt: out.CreatedAt, StartedAt: out.StartedAt, FinishedAt: out.FinishedAt,
			TargetServiceRevisionArn: aws.String(d.revisionArn),
		})
	}
	page, next, err := paginate(briefs, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListServiceDeploymentsOutput{ServiceDeployments: append([]types.ServiceDeploymentBrief{}, page...), NextToken: next}, nil
}

func (s *Sim) describeServiceDeployments(in *ecs.DescribeServiceDeploymentsInput) (*ecs.DescribeServiceDeploymentsOutput, error) {
	out := &ecs.DescribeServiceDeploymentsOutput{ServiceDeployments: []types.ServiceDeployment{}, Failures: []types.Failure{}}
	for _, arn := range in.ServiceDeploymentArns {
		svc, d := s.findServiceDeployment(arn)
		if d == nil {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
			continue
		}
		out.ServiceDeployments = append(out.ServiceDeployments, s.serviceDeploymentOut(svc, d))
	}
	return out, nil
}

// stopServiceDeployment stops a deployment in progress. The rolling update
// takes the ROLLBACK stop type (the default): the service returns to its last
// completed deployment, whether or not the deployment configured rollback.
//
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html
func (s *Sim) stopServiceDeployment(in *ecs.StopServiceDeploymentInput) (*ecs.StopServiceDeploymentOutput, error) {
	arn := aws.ToString(in.ServiceDeploymentArn)
	svc, d := s.findServiceDeployment(arn)
	if d == nil {
		return nil, &types.ServiceDeploymentNotFoundException{Message: aws.String("The service deployment " + arn + " does not exist.")}
	}
	if in.StopType != "" && in.StopType != types.StopServiceDeploymentStopTypeRollback {
		return nil, ecsInvalid("The stop type %s is not valid for a rolling update deployment. The valid values are ROLLBACK.", in.StopType)
	}
	if serviceDeploymentStatus(d) != types.ServiceDeploymentStatusInProgress {
		return nil, &types.ConflictException{Message: aws.String("The service deployment " + arn + " is " + string(serviceDeploymentStatus(d)) + " and can't be stopped.")}
	}
	if svc.completed == nil {
		return nil, &types.ConflictException{Message: aws.String("The service has no completed service revision to roll back to.")}
	}
	s.failDeployment(svc, d, "ECS deployment "+d.id+" stopped by a StopServiceDeployment request.", "stop requested", true, "ECS deployment stop request: rolling back to deploymentId ")
	return &ecs.StopServiceDeploymentOutput{ServiceDeploymentArn: aws.String(arn)}, nil
}
