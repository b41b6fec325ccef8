package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/stack"
	"github.com/ecsplane/ecsplane/internal/workload"
)

// DescribeAPI reads the service and its revisions.
type DescribeAPI interface {
	ServicesAPI
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// ServiceDeploymentsAPI reads ECS's service deployments.
type ServiceDeploymentsAPI interface {
	DescribeServiceDeployments(ctx context.Context, in *ecs.DescribeServiceDeploymentsInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServiceDeploymentsOutput, error)
}

// Running is the service as a rollout finds it: the revision it runs, that
// revision's template hash and app image digest, its deployments, and the
// alarms its deployments are watched by.
type Running struct {
	Service      *ecstypes.Service
	TaskDef      string
	TemplateHash string
	AppImage     string
	Digest       string
	// DeploymentAlarms are the alarms ECS watches during a deployment.
	DeploymentAlarms []string
}

// ErrNoService means the stack's service does not exist (or is INACTIVE):
// there is nothing to roll out to until a build creates it.
var ErrNoService = errors.New("the service does not exist; a build creates it")

// ServicesAPI reads services.
type ServicesAPI interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

// DescribeService reads the service; ErrNoService when it does not exist
// or is INACTIVE.
func DescribeService(ctx context.Context, api ServicesAPI, cluster, name string) (*ecstypes.Service, error) {
	out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
	if err != nil {
		if awsNotFound(err) {
			return nil, fmt.Errorf("service %s in cluster %s: %w", name, cluster, ErrNoService)
		}
		return nil, fmt.Errorf("describing service %s: %w", name, err)
	}
	for i, s := range out.Services {
		if st := aws.ToString(s.Status); st == "ACTIVE" || st == "DRAINING" {
			return &out.Services[i], nil
		}
	}
	return nil, fmt.Errorf("service %s in cluster %s: %w", name, cluster, ErrNoService)
}

// FindRunning reads the service and the revision it runs. The app image's
// digest is the revision's digest tag, or the digest its image is pinned
// to.
func FindRunning(ctx context.Context, api DescribeAPI, cluster, name string) (*Running, error) {
	svc, err := DescribeService(ctx, api, cluster, name)
	if err != nil {
		return nil, err
	}
	r := &Running{Service: svc, TaskDef: aws.ToString(svc.TaskDefinition)}
	if dc := svc.DeploymentConfiguration; dc != nil && dc.Alarms != nil && dc.Alarms.Enable {
		r.DeploymentAlarms = dc.Alarms.AlarmNames
	}
	td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition, Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		return nil, fmt.Errorf("describing task definition %s: %w", r.TaskDef, err)
	}
	rev := revisionOf(td.TaskDefinition, td.Tags, workload.AppContainerName)
	r.TemplateHash, r.AppImage = rev.TemplateHash, rev.AppImage
	r.Digest = stack.ECSTagMap(td.Tags)[stack.TagImageDigest]
	if r.Digest == "" {
		r.Digest = ImageDigest(rev.AppImage)
	}
	return r, nil
}

func awsNotFound(err error) bool {
	var nf *ecstypes.ClusterNotFoundException
	var snf *ecstypes.ServiceNotFoundException
	return errors.As(err, &nf) || errors.As(err, &snf)
}

// TemplateOf returns the template the running revision was registered
// from: the spec a deployment of the service recorded with the same
// template hash. The build records the template of every revision it
// registers, and each rollout the one it reused, so the newest deployments
// hold it.
func TemplateOf(ctx context.Context, led *ledger.Ledger, service, hash string) (stack.Spec, error) {
	if hash == "" {
		return stack.Spec{}, handlererr.Invalid(fmt.Sprintf("the revision service %s runs has no %s tag, so its template is unknown; a build registers one that has", service, stack.TagTemplateHash))
	}
	cursor := ""
	for range 4 {
		ds, next, err := led.History(ctx, service, ledger.PageRequest{Limit: 50, Cursor: cursor})
		if err != nil {
			return stack.Spec{}, err
		}
		for _, d := range ds {
			if d.TemplateHash != hash || len(d.Template) == 0 {
				continue
			}
			var spec stack.Spec
			if err := json.Unmarshal(d.Template, &spec); err != nil {
				return stack.Spec{}, fmt.Errorf("reading the template deployment %s recorded: %w", d.ID, err)
			}
			return spec, nil
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return stack.Spec{}, handlererr.Invalid(fmt.Sprintf("no deployment of %s records the template %s of the revision it runs; a build (ecsplane stack apply) records it", service, hash))
}

// ServiceDeploymentOutcome reads ECS's service deployment arn: its state,
// its reason, and ECS's rollback of it.
//
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
func ServiceDeploymentOutcome(ctx context.Context, api ServiceDeploymentsAPI, arn string) (ECSOutcome, error) {
	if arn == "" {
		return ECSOutcome{}, nil
	}
	out, err := api.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{arn}})
	if err != nil {
		return ECSOutcome{}, fmt.Errorf("describing service deployment %s: %w", arn, err)
	}
	if len(out.ServiceDeployments) == 0 {
		reason := "ECS does not know it"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason)
		}
		return ECSOutcome{State: ECSFailed, Reason: fmt.Sprintf("service deployment %s: %s", arn, reason)}, nil
	}
	return outcomeOf(out.ServiceDeployments[0]), nil
}

// outcomeOf maps a service deployment's status to the verdict's terms.
func outcomeOf(d ecstypes.ServiceDeployment) ECSOutcome {
	o := ECSOutcome{Reason: aws.ToString(d.StatusReason)}
	if d.Rollback != nil {
		o.RollbackReason = aws.ToString(d.Rollback.Reason)
	}
	switch d.Status {
	case ecstypes.ServiceDeploymentStatusSuccessful:
		o.State = ECSCompleted
	case ecstypes.ServiceDeploymentStatusStopped, ecstypes.ServiceDeploymentStatusStopRequested:
		o.State = ECSStopped
	case ecstypes.ServiceDeploymentStatusRollbackRequested, ecstypes.ServiceDeploymentStatusRollbackInProgress:
		o.State, o.Rollback = ECSFailed, ECSInProgress
	case ecstypes.ServiceDeploymentStatusRollbackSuccessful:
		o.State, o.Rollback = ECSFailed, ECSCompleted
	case ecstypes.ServiceDeploymentStatusRollbackFailed:
		o.State, o.Rollback = ECSFailed, ECSFailed
	default:
		o.State = ECSInProgress
	}
	return o
}

// DeploymentState reads one of the service's deployments, by ECS
// deployment ID, from the service as DescribeServices reports it: its
// rollout state and reason. A deployment the service no longer lists was
// replaced by a newer one.
func DeploymentState(svc *ecstypes.Service, id string) ECSOutcome {
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != id {
			continue
		}
		o := ECSOutcome{State: ECSInProgress, Reason: aws.ToString(d.RolloutStateReason)}
		switch d.RolloutState {
		case ecstypes.DeploymentRolloutStateCompleted:
			o.State = ECSCompleted
		case ecstypes.DeploymentRolloutStateFailed:
			o.State = ECSFailed
		}
		return o
	}
	return ECSOutcome{State: ECSStopped, Reason: fmt.Sprintf("ECS no longer lists deployment %s", id)}
}

// RollbackOf finds the deployment with which ECS rolls a failed deployment
// back: the PRIMARY deployment, which runs the previous revision again. ok
// is false when ECS made no rollback.
func RollbackOf(svc *ecstypes.Service, failedID, previous string) (id string, ok bool) {
	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" && aws.ToString(d.Id) != failedID && aws.ToString(d.TaskDefinition) == previous {
			return aws.ToString(d.Id), true
		}
	}
	return "", false
}

// IsRollbackReason reports whether a deployment's reason says ECS started
// it to roll another back.
func IsRollbackReason(reason string) bool {
	return strings.Contains(reason, "rolling back to deploymentId")
}
