package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// LeaseTTL bounds how long the build's deployment holds the service's
// lease: the build's wait for ECS's verdict, at most 120 rounds of 15 s,
// fits in it. A lease left behind by a run that stopped runs out by itself.
const LeaseTTL = 30 * time.Minute

// Rollout is one pass through the shared deployment path.
type Rollout struct {
	Spec     stack.Spec
	Workload Workload
	// Image is the app's image: pinned by digest for a rollout, the image
	// the service runs for a template change, the spec's initial image when
	// the build creates the service.
	Image string
	// Cause is what started the deployment: ledger.CauseImage,
	// CauseTemplate or CauseCreate.
	Cause string
	// Reason says why, for the plan and the record.
	Reason string
	// Previous is the revision the service runs; empty when the deployment
	// creates the service.
	Previous string
	// Create, when set, creates the service with the new revision: the
	// first build. Otherwise the service is updated.
	Create *ecs.CreateServiceInput
}

// RegisterAPI registers revisions.
type RegisterAPI interface {
	RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
}

// UpdateAPI points the service at a revision.
type UpdateAPI interface {
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// DeployAPI starts deployments: UpdateService, or CreateService for the
// first build.
type DeployAPI interface {
	UpdateAPI
	CreateService(ctx context.Context, in *ecs.CreateServiceInput, optFns ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error)
}

// AcquireLease takes the service's revision lease for owner, for ttl.
// Another owner's unexpired lease is a NotReadyError: the service is busy
// with another deployment, and the step waits and tries again. The same
// owner takes it again, so a retried step goes on.
func AcquireLease(ctx context.Context, led *ledger.Ledger, service, owner string, ttl time.Duration) (*ledger.Lease, error) {
	lease, err := led.Acquire(ctx, service, ledger.ScopeRevision, owner, ttl)
	var held *ledger.LockHeldError
	if errors.As(err, &held) {
		return nil, &handlererr.NotReadyError{Msg: "another deployment holds the service's lease", Err: err}
	}
	return lease, err
}

// ReleaseLease releases the lease. A lease its owner no longer holds (it
// ran out and was taken, or was released already) is left alone.
func ReleaseLease(ctx context.Context, led *ledger.Ledger, lease *ledger.Lease) error {
	if err := led.Release(ctx, lease); err != nil && !errors.Is(err, ledger.ErrNotOwner) {
		return err
	}
	return nil
}

// Template is the spec of the template a revision is registered from, as a
// deployment records it, and its hash.
func Template(spec stack.Spec, w Workload) (hash string, raw json.RawMessage, err error) {
	if hash, err = TemplateHash(spec, w); err != nil {
		return "", nil, err
	}
	if raw, err = json.Marshal(spec); err != nil {
		return "", nil, fmt.Errorf("encoding the template of %s: %w", spec.Name, err)
	}
	return hash, raw, nil
}

// RecordPending records a PENDING deployment of r, with the revision the
// service ran before, the image it rolls out and the template its revision
// is registered from.
func RecordPending(ctx context.Context, led *ledger.Ledger, r Rollout, owner string) (*ledger.Deployment, error) {
	hash, tmpl, err := Template(r.Spec, r.Workload)
	if err != nil {
		return nil, err
	}
	return led.CreateDeployment(ctx, ledger.NewDeployment{
		Service: Name(r.Spec), Cause: r.Cause, ImageTag: imageTag(r.Image), ImageDigest: ImageDigest(r.Image), Image: r.Image,
		PreviousTaskDef: r.Previous, ExecutionARN: owner, TemplateHash: hash, Template: tmpl,
	})
}

// RegisterRevision registers a revision of the task definition from the
// spec's template with the app running image, pinned by digest for a
// rollout. previous is the revision it follows, empty for the first.
func RegisterRevision(ctx context.Context, api RegisterAPI, run *stack.Run, spec stack.Spec, w Workload, image, previous, reason string) (string, error) {
	in, err := TaskDefinitionInput(spec, w, image)
	if err != nil {
		return "", err
	}
	action, detail := stack.Create, fmt.Sprintf("awsvpc, %d containers, cpu %d memory %d, app image %s", len(in.ContainerDefinitions), spec.Service.CPU, spec.Service.Memory, image)
	if previous != "" {
		action, detail = stack.Update, "new revision: "+reason+"; app image "+image
	}
	return run.Do(ctx, stack.NewChange(Layer, action, "ecs:task-definition", TaskDefinition, "", detail), func(ctx context.Context) (string, error) {
		out, err := api.RegisterTaskDefinition(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
	})
}

// Started is the deployment StartDeployment started.
type Started struct {
	// ServiceARN is the service's ARN.
	ServiceARN string
	// DeploymentID is the ECS deployment (ecs-svc/…), which ECS's
	// deployment events name.
	DeploymentID string
	// ServiceDeploymentARN is the service deployment, which
	// DescribeServiceDeployments and StopServiceDeployment take.
	ServiceDeploymentARN string
}

// startedOf reads the deployment the service's PRIMARY deployment is.
func startedOf(svc *ecstypes.Service) Started {
	st := Started{ServiceARN: aws.ToString(svc.ServiceArn), ServiceDeploymentARN: aws.ToString(svc.CurrentServiceDeployment)}
	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			st.DeploymentID = aws.ToString(d.Id)
		}
	}
	return st
}

// StartDeployment points the service at the revision: UpdateService with
// the task definition, which only this path calls once the service exists,
// or CreateService for the first build. It returns the deployment it
// started.
func StartDeployment(ctx context.Context, api DeployAPI, run *stack.Run, spec stack.Spec, taskDefinition string, create *ecs.CreateServiceInput) (Started, error) {
	var st Started
	if create != nil {
		in := *create
		in.TaskDefinition = aws.String(taskDefinition)
		_, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ecs:service", Service, "", fmt.Sprintf("%d tasks spread across zones, circuit breaker with rollback", spec.Service.DesiredCount)),
			func(ctx context.Context) (string, error) {
				out, err := api.CreateService(ctx, &in)
				if err != nil {
					return "", err
				}
				st = startedOf(out.Service)
				return st.ServiceARN, nil
			})
		return st, err
	}
	_, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "ecs:service", Service, "", "roll out task definition "+taskDefinition),
		func(ctx context.Context) (string, error) {
			var err error
			st, err = UpdateRevision(ctx, api, ClusterName(spec), Name(spec), taskDefinition)
			return st.ServiceARN, err
		})
	return st, err
}

// UpdateRevision calls UpdateService with the revision and nothing else:
// the deployment configuration, circuit breaker and alarms stay as the
// build set them.
func UpdateRevision(ctx context.Context, api UpdateAPI, cluster, service, taskDefinition string) (Started, error) {
	out, err := api.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(cluster), Service: aws.String(service), TaskDefinition: aws.String(taskDefinition),
	})
	if err != nil {
		return Started{}, fmt.Errorf("updating service %s to %s: %w", service, taskDefinition, err)
	}
	return startedOf(out.Service), nil
}

// RecordStarted moves the record to IN_PROGRESS with the revision rolled
// out and the ECS deployment that rolls it out.
func RecordStarted(ctx context.Context, led *ledger.Ledger, rec *ledger.Deployment, taskDefinition string, st Started, reason string) (*ledger.Deployment, error) {
	return led.Update(ctx, rec, ledger.Change{
		To: ledger.StatusInProgress, NewTaskDef: taskDefinition, Reason: reason,
		ECSDeploymentID: st.DeploymentID, ServiceDeploymentARN: st.ServiceDeploymentARN,
		Phases: []ledger.Phase{{Phase: ledger.PhaseUpdateSent, Detail: fmt.Sprintf("%s, ECS deployment %s", taskDefinition, st.DeploymentID)}},
	})
}

// DeploymentVerdict reads ECS's verdict on d from the service's
// deployments: the deployment's rollout state, and which revision the
// service runs when it failed.
func DeploymentVerdict(ctx context.Context, c Clients, cluster string, d *stack.Deployment) (Verdict, error) {
	out, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{d.Service}})
	if err != nil {
		return Verdict{}, fmt.Errorf("describing service %s: %w", d.Service, err)
	}
	if len(out.Services) == 0 || aws.ToString(out.Services[0].Status) != "ACTIVE" {
		return Decide(Evidence{ECS: ECSOutcome{State: ECSFailed, Reason: "the service is no longer active"}}), nil
	}
	return verdictOf(out.Services[0], d), nil
}

// verdictOf is DeploymentVerdict's reading of one service: the evidence a
// build's deployment, which has no bake, is decided from.
func verdictOf(svc ecstypes.Service, d *stack.Deployment) Verdict {
	running := aws.ToString(svc.TaskDefinition)
	failed := func(reason string) Verdict {
		o := ECSOutcome{State: ECSFailed, Reason: reason}
		// ECS rolls a failed deployment back to the last completed one,
		// which the service then runs.
		if running != d.TaskDefinition && (d.Previous == "" || running == d.Previous) {
			o.Rollback, o.RollbackReason = ECSCompleted, "the service runs "+running+" again"
		}
		return Decide(Evidence{ECS: o})
	}
	for _, dep := range svc.Deployments {
		if aws.ToString(dep.Id) != d.ECSDeploymentID {
			continue
		}
		reason := aws.ToString(dep.RolloutStateReason)
		switch dep.RolloutState {
		case ecstypes.DeploymentRolloutStateCompleted:
			return Decide(Evidence{ECS: ECSOutcome{State: ECSCompleted, Reason: reason}})
		case ecstypes.DeploymentRolloutStateFailed:
			return failed(reason)
		}
		return Verdict{Reason: fmt.Sprintf("%d of %d tasks running: %s", dep.RunningCount, dep.DesiredCount, reason)}
	}
	// ECS lists a deployment until a newer one replaces it.
	return failed(fmt.Sprintf("ECS no longer lists deployment %s", d.ECSDeploymentID))
}

// Finish records the verdict on a deployment without a bake, the build's,
// and releases the lease. It can run again: a record already ended is left
// as it is. A rollout of an image bakes between ECS's verdict and its
// outcome, so its record goes through the rollout's bake instead.
func Finish(ctx context.Context, c Clients, d *stack.Deployment, v Verdict) error {
	rec, err := c.Ledger.GetDeployment(ctx, d.Service, d.ID)
	if err != nil {
		return err
	}
	if rec.Bakes() && v.Status == ledger.StatusSucceeded {
		return fmt.Errorf("deployment %s rolls out an image, which bakes before it succeeds", d.ID)
	}
	if !rec.Status.Terminal() {
		if _, err := c.Ledger.Update(ctx, rec, ledger.Change{To: v.Status, Reason: v.Reason, FailedStep: v.Step,
			Phases: []ledger.Phase{{Phase: ledger.PhaseFinished, Detail: string(v.Status)}}}); err != nil {
			return fmt.Errorf("recording the verdict on deployment %s: %w", d.ID, err)
		}
	}
	return ReleaseLease(ctx, c.Ledger, &ledger.Lease{Service: d.Service, Scope: ledger.ScopeRevision, Owner: d.LeaseOwner, Token: d.LeaseToken})
}

// Deploy is the build's composition of the path's first phases: it takes
// the service's lease, records the deployment PENDING, registers the
// revision, starts the deployment and records it IN_PROGRESS. It returns
// the deployment in flight and the service's ARN; DeploymentStatus then
// waits for ECS's verdict, records it and releases the lease. A failure
// after the lease is taken records the deployment FAILED and releases the
// lease. A dry run only records the revision and the service change.
func Deploy(ctx context.Context, c Clients, run *stack.Run, r Rollout) (*stack.Deployment, string, error) {
	if run.DryRun {
		td, err := RegisterRevision(ctx, c.ECS, run, r.Spec, r.Workload, r.Image, r.Previous, r.Reason)
		if err != nil {
			return nil, "", err
		}
		st, err := StartDeployment(ctx, c.ECS, run, r.Spec, td, r.Create)
		return nil, st.ServiceARN, err
	}
	if c.Ledger == nil {
		return nil, "", fmt.Errorf("deploying %s needs the ledger, for the service's lease and the deployment's record", Name(r.Spec))
	}
	lease, err := AcquireLease(ctx, c.Ledger, Name(r.Spec), run.Token, LeaseTTL)
	if err != nil {
		return nil, "", err
	}
	rec, err := RecordPending(ctx, c.Ledger, r, run.Token)
	if err != nil {
		return nil, "", errors.Join(err, ReleaseLease(ctx, c.Ledger, lease))
	}
	fail := func(err error) error {
		if _, terr := c.Ledger.Update(ctx, rec, ledger.Change{To: ledger.StatusFailed, Reason: err.Error(), FailedStep: "deploy"}); terr != nil {
			err = errors.Join(err, terr)
		}
		return errors.Join(err, ReleaseLease(ctx, c.Ledger, lease))
	}
	td, err := RegisterRevision(ctx, c.ECS, run, r.Spec, r.Workload, r.Image, r.Previous, r.Reason)
	if err != nil {
		return nil, "", fail(err)
	}
	st, err := StartDeployment(ctx, c.ECS, run, r.Spec, td, r.Create)
	if err != nil {
		return nil, "", fail(err)
	}
	started, err := RecordStarted(ctx, c.Ledger, rec, td, st, r.Reason)
	if err != nil {
		return nil, "", fail(err)
	}
	run.Log.InfoContext(ctx, "started deployment", "stack", r.Spec.Name, "deployment_id", started.ID, "ecs_deployment", st.DeploymentID, "task_definition", td, "cause", r.Cause)
	return &stack.Deployment{
		Service: Name(r.Spec), ID: started.ID, ECSDeploymentID: st.DeploymentID, TaskDefinition: td, Previous: r.Previous,
		LeaseOwner: lease.Owner, LeaseToken: lease.Token,
	}, st.ServiceARN, nil
}
