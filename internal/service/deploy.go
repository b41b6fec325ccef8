package service

import (
	"context"
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

// LeaseTTL bounds how long a deployment holds the service's lease: the
// build's wait for ECS's verdict, at most 120 rounds of 15 s, fits in it.
// A lease left behind by a run that stopped runs out by itself.
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

// AcquireLease takes the service's lease for owner. Another owner's
// unexpired lease is a NotReadyError: the service is busy with another
// deployment, and the step waits and tries again. The same owner takes it
// again, so a retried step goes on.
func AcquireLease(ctx context.Context, c Clients, service, owner string) (*ledger.Lease, error) {
	lease, err := c.Ledger.Acquire(ctx, service, owner, LeaseTTL)
	var held *ledger.LockHeldError
	if errors.As(err, &held) {
		return nil, &handlererr.NotReadyError{Msg: "another deployment holds the service's lease", Err: err}
	}
	return lease, err
}

// ReleaseLease releases the lease. A lease its owner no longer holds (it
// ran out and was taken, or was released already) is left alone.
func ReleaseLease(ctx context.Context, c Clients, lease *ledger.Lease) error {
	if err := c.Ledger.Release(ctx, lease); err != nil && !errors.Is(err, ledger.ErrNotOwner) {
		return err
	}
	return nil
}

// RecordPending records a PENDING deployment of r, with the revision the
// service ran before and the image it rolls out.
func RecordPending(ctx context.Context, c Clients, r Rollout, owner string) (*ledger.Deployment, error) {
	return c.Ledger.CreateDeployment(ctx, ledger.NewDeployment{
		Service: Name(r.Spec), Cause: r.Cause, ImageTag: imageTag(r.Image), ImageDigest: ImageDigest(r.Image),
		PreviousTaskDef: r.Previous, ExecutionARN: owner,
	})
}

// RegisterRevision registers a revision of the task definition from the
// spec's template with the app running image, pinned by digest for a
// rollout. previous is the revision it follows, empty for the first.
func RegisterRevision(ctx context.Context, c Clients, run *stack.Run, spec stack.Spec, w Workload, image, previous, reason string) (string, error) {
	in, err := TaskDefinitionInput(spec, w, image)
	if err != nil {
		return "", err
	}
	action, detail := stack.Create, fmt.Sprintf("awsvpc, %d containers, cpu %d memory %d, app image %s", len(in.ContainerDefinitions), spec.Service.CPU, spec.Service.Memory, image)
	if previous != "" {
		action, detail = stack.Update, "new revision: "+reason+"; app image "+image
	}
	return run.Do(ctx, stack.NewChange(Layer, action, "ecs:task-definition", TaskDefinition, "", detail), func(ctx context.Context) (string, error) {
		out, err := c.ECS.RegisterTaskDefinition(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
	})
}

// StartDeployment points the service at the revision: UpdateService with
// the task definition, which only this path calls once the service exists,
// or CreateService for the first build. It returns the service's ARN and
// the ECS deployment it started.
func StartDeployment(ctx context.Context, c Clients, run *stack.Run, spec stack.Spec, taskDefinition string, create *ecs.CreateServiceInput) (string, string, error) {
	var deployment string
	primary := func(svc *ecstypes.Service) {
		for _, d := range svc.Deployments {
			if aws.ToString(d.Status) == "PRIMARY" {
				deployment = aws.ToString(d.Id)
			}
		}
	}
	if create != nil {
		in := *create
		in.TaskDefinition = aws.String(taskDefinition)
		arn, err := run.Do(ctx, stack.NewChange(Layer, stack.Create, "ecs:service", Service, "", fmt.Sprintf("%d tasks spread across zones, circuit breaker with rollback", spec.Service.DesiredCount)),
			func(ctx context.Context) (string, error) {
				out, err := c.ECS.CreateService(ctx, &in)
				if err != nil {
					return "", err
				}
				primary(out.Service)
				return aws.ToString(out.Service.ServiceArn), nil
			})
		return arn, deployment, err
	}
	arn, err := run.Do(ctx, stack.NewChange(Layer, stack.Update, "ecs:service", Service, "", "roll out task definition "+taskDefinition),
		func(ctx context.Context) (string, error) {
			out, err := c.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
				Cluster: aws.String(ClusterName(spec)), Service: aws.String(Name(spec)), TaskDefinition: aws.String(taskDefinition),
			})
			if err != nil {
				return "", err
			}
			primary(out.Service)
			return aws.ToString(out.Service.ServiceArn), nil
		})
	return arn, deployment, err
}

// RecordStarted moves the record to IN_PROGRESS with the revision rolled
// out.
func RecordStarted(ctx context.Context, c Clients, rec *ledger.Deployment, taskDefinition, reason string) (*ledger.Deployment, error) {
	return c.Ledger.Transition(ctx, rec, ledger.Change{To: ledger.StatusInProgress, NewTaskDef: taskDefinition, Reason: reason})
}

// Verdict is ECS's verdict on a deployment, as a ledger status.
type Verdict struct {
	Done bool
	// Status is SUCCEEDED, ROLLED_BACK or FAILED once Done.
	Status ledger.Status
	Reason string
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
		return Verdict{Done: true, Status: ledger.StatusFailed, Reason: "the service is no longer active"}, nil
	}
	return verdictOf(out.Services[0], d), nil
}

// verdictOf is DeploymentVerdict's reading of one service.
func verdictOf(svc ecstypes.Service, d *stack.Deployment) Verdict {
	running := aws.ToString(svc.TaskDefinition)
	failed := func(reason string) Verdict {
		v := Verdict{Done: true, Status: ledger.StatusFailed, Reason: reason}
		if running != d.TaskDefinition && (d.Previous == "" || running == d.Previous) {
			v.Status, v.Reason = ledger.StatusRolledBack, reason+"; the service runs "+running+" again"
		}
		return v
	}
	for _, dep := range svc.Deployments {
		if aws.ToString(dep.Id) != d.ECSDeploymentID {
			continue
		}
		reason := aws.ToString(dep.RolloutStateReason)
		switch dep.RolloutState {
		case ecstypes.DeploymentRolloutStateCompleted:
			return Verdict{Done: true, Status: ledger.StatusSucceeded, Reason: reason}
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
	if rec.Cause == ledger.CauseImage && v.Status == ledger.StatusSucceeded {
		return fmt.Errorf("deployment %s rolls out an image, which bakes before it succeeds", d.ID)
	}
	if !rec.Status.Terminal() {
		if _, err := c.Ledger.Transition(ctx, rec, ledger.Change{To: v.Status, Reason: v.Reason}); err != nil {
			return fmt.Errorf("recording the verdict on deployment %s: %w", d.ID, err)
		}
	}
	return ReleaseLease(ctx, c, &ledger.Lease{Service: d.Service, Owner: d.LeaseOwner, Token: d.LeaseToken})
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
		td, err := RegisterRevision(ctx, c, run, r.Spec, r.Workload, r.Image, r.Previous, r.Reason)
		if err != nil {
			return nil, "", err
		}
		arn, _, err := StartDeployment(ctx, c, run, r.Spec, td, r.Create)
		return nil, arn, err
	}
	if c.Ledger == nil {
		return nil, "", fmt.Errorf("deploying %s needs the ledger, for the service's lease and the deployment's record", Name(r.Spec))
	}
	lease, err := AcquireLease(ctx, c, Name(r.Spec), run.Token)
	if err != nil {
		return nil, "", err
	}
	rec, err := RecordPending(ctx, c, r, run.Token)
	if err != nil {
		return nil, "", errors.Join(err, ReleaseLease(ctx, c, lease))
	}
	fail := func(err error) error {
		if _, terr := c.Ledger.Transition(ctx, rec, ledger.Change{To: ledger.StatusFailed, Reason: err.Error()}); terr != nil {
			err = errors.Join(err, terr)
		}
		return errors.Join(err, ReleaseLease(ctx, c, lease))
	}
	td, err := RegisterRevision(ctx, c, run, r.Spec, r.Workload, r.Image, r.Previous, r.Reason)
	if err != nil {
		return nil, "", fail(err)
	}
	arn, deployment, err := StartDeployment(ctx, c, run, r.Spec, td, r.Create)
	if err != nil {
		return nil, "", fail(err)
	}
	started, err := RecordStarted(ctx, c, rec, td, r.Reason)
	if err != nil {
		return nil, "", fail(err)
	}
	run.Log.InfoContext(ctx, "started deployment", "stack", r.Spec.Name, "deployment_id", started.ID, "ecs_deployment", deployment, "task_definition", td, "cause", r.Cause)
	return &stack.Deployment{
		Service: Name(r.Spec), ID: started.ID, ECSDeploymentID: deployment, TaskDefinition: td, Previous: r.Previous,
		LeaseOwner: lease.Owner, LeaseToken: lease.Token,
	}, arn, nil
}
