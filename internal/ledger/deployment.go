package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// Status is a deployment's state.
type Status string

// Deployment statuses. The terminal ones are a small closed set of
// outcomes, each recorded with its reason.
const (
	StatusPending     Status = "PENDING"
	StatusInProgress  Status = "IN_PROGRESS"
	StatusBaking      Status = "BAKING"
	StatusRollingBack Status = "ROLLING_BACK"
	// StatusSucceeded: ECS completed the deployment and, for a rollout of
	// an image, the bake passed.
	StatusSucceeded Status = "SUCCEEDED"
	// StatusRolledBack: the control plane rolled the service back to its
	// previous revision, because the bake failed or a step did after the
	// service was changed.
	StatusRolledBack Status = "ROLLED_BACK"
	// StatusRolledBackByECS: ECS failed the deployment and rolled it back
	// on its own (the circuit breaker or its deployment alarms); the
	// reason is ECS's.
	StatusRolledBackByECS Status = "ROLLED_BACK_BY_ECS"
	// StatusFailed: a step failed, or ECS failed the deployment without a
	// rollback; FailedStep names the step.
	StatusFailed Status = "FAILED"
	// StatusSuperseded: a newer push of the service arrived while this one
	// waited for the lease; the newest push wins.
	StatusSuperseded Status = "SUPERSEDED"
	// StatusAborted: stopped from outside (ecsplane abort, or the
	// execution stopped or timed out).
	StatusAborted Status = "ABORTED"
	// StatusSkipped: nothing to do, the service already runs the image.
	StatusSkipped Status = "SKIPPED"
	// StatusBlocked: the rollout never started because a deployment alarm
	// stayed in ALARM, or the lease stayed taken, longer than it waits.
	StatusBlocked Status = "BLOCKED"
)

// transitions lists the legal moves. A deployment that ECS rolled back goes
// IN_PROGRESS → ROLLED_BACK_BY_ECS directly; one the control plane rolls
// back goes through ROLLING_BACK. Terminal statuses have no way out.
var transitions = map[Status][]Status{
	StatusPending:     {StatusInProgress, StatusFailed, StatusSuperseded, StatusAborted, StatusSkipped, StatusBlocked},
	StatusInProgress:  {StatusBaking, StatusRollingBack, StatusRolledBackByECS, StatusFailed, StatusAborted},
	StatusBaking:      {StatusSucceeded, StatusRollingBack, StatusFailed, StatusAborted},
	StatusRollingBack: {StatusRolledBack, StatusFailed, StatusAborted},
}

// CanTransition reports whether from → to is legal for a rollout.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Causes of a deployment: what started it.
const (
	// CauseImage is a rollout of a pushed image, the rollout's own cause;
	// a deployment with no cause recorded is one.
	CauseImage = "image"
	// CauseDeploy is a rollout of an image someone asked for (ecsplane
	// deploy).
	CauseDeploy = "deploy"
	// CauseRollback is a rollout back to the image of an earlier
	// successful deployment (ecsplane rollback).
	CauseRollback = "rollback"
	// CauseCreate is the build creating the service with its initial
	// image.
	CauseCreate = "create"
	// CauseTemplate is the build rolling out a template change with the
	// image the service runs.
	CauseTemplate = "template"
)

// bakes reports whether a deployment of the cause must bake before it
// succeeds. The build's deployments have no bake: ECS's verdict ends them.
func bakes(cause string) bool { return cause != CauseCreate && cause != CauseTemplate }

// Bakes reports whether the deployment bakes before it succeeds.
func (d *Deployment) Bakes() bool { return bakes(d.Cause) }

// legal reports whether d may move to "to".
func legal(d *Deployment, to Status) bool {
	return CanTransition(d.Status, to) || (!bakes(d.Cause) && d.Status == StatusInProgress && to == StatusSucceeded)
}

// Terminal reports whether s ends a deployment.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusRolledBack, StatusRolledBackByECS, StatusFailed, StatusSuperseded,
		StatusAborted, StatusSkipped, StatusBlocked:
		return true
	}
	return false
}

// StatusChange is one entry of a deployment's status history.
type StatusChange struct {
	Status Status    `dynamodbav:"status" json:"status"`
	At     time.Time `dynamodbav:"at" json:"at"`
	Reason string    `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
}

// PhaseName is a step of a deployment's timeline.
type PhaseName string

// The phases of a deployment's timeline, in the order a rollout can reach
// them.
const (
	PhaseAccepted        PhaseName = "accepted"
	PhaseWaitingForLease PhaseName = "waiting-for-lease"
	PhaseGateClosed      PhaseName = "gate-closed"
	PhaseLeaseTaken      PhaseName = "lease-taken"
	PhaseUpdateSent      PhaseName = "update-sent"
	PhaseECSCompleted    PhaseName = "ecs-completed"
	PhaseECSFailed       PhaseName = "ecs-failed"
	PhaseECSRolledBack   PhaseName = "ecs-rolled-back"
	PhaseBakeStarted     PhaseName = "bake-started"
	PhaseBakeEnded       PhaseName = "bake-ended"
	PhaseRollbackSent    PhaseName = "rollback-sent"
	PhaseRollbackEnded   PhaseName = "rollback-ended"
	PhaseFinished        PhaseName = "finished"
)

// Phase is one entry of a deployment's timeline: a step of its progress,
// when it happened, and what was learnt then.
type Phase struct {
	Phase  PhaseName `dynamodbav:"phase" json:"phase"`
	At     time.Time `dynamodbav:"at" json:"at"`
	Detail string    `dynamodbav:"detail,omitempty" json:"detail,omitempty"`
}

// At returns when the timeline first reached phase, and whether it did.
func (d *Deployment) At(phase PhaseName) (time.Time, bool) {
	for _, p := range d.Timeline {
		if p.Phase == phase {
			return p.At, true
		}
	}
	return time.Time{}, false
}

// Reached reports whether the timeline reached phase.
func (d *Deployment) Reached(phase PhaseName) bool {
	_, ok := d.At(phase)
	return ok
}

// Deployment is one rollout of an image to a service. It outlives ECS's own
// record of the deployment, which ECS keeps 90 days and deletes with the
// service.
type Deployment struct {
	Service string `dynamodbav:"service" json:"service"`
	ID      string `dynamodbav:"id" json:"id"`
	// Cause is what started the deployment: CauseImage, CauseDeploy,
	// CauseRollback, CauseCreate or CauseTemplate.
	Cause       string `dynamodbav:"cause,omitempty" json:"cause,omitempty"`
	ImageTag    string `dynamodbav:"image_tag" json:"image_tag"`
	ImageDigest string `dynamodbav:"image_digest" json:"image_digest"`
	// Image is the app image rolled out, pinned by digest for a rollout.
	Image string `dynamodbav:"image,omitempty" json:"image,omitempty"`
	// EventID is the event or request that started the deployment.
	EventID         string `dynamodbav:"event_id,omitempty" json:"event_id,omitempty"`
	PreviousTaskDef string `dynamodbav:"previous_task_definition,omitempty" json:"previous_task_definition,omitempty"`
	// PreviousDigest is the app image digest of the previous revision.
	PreviousDigest string `dynamodbav:"previous_digest,omitempty" json:"previous_digest,omitempty"`
	NewTaskDef     string `dynamodbav:"new_task_definition,omitempty" json:"new_task_definition,omitempty"`
	// TemplateHash is the hash of the template NewTaskDef was registered
	// from, and Template that template's spec, as JSON: a rollout
	// registers its revision from the template of the revision the
	// service runs, which the deployment that registered it recorded.
	TemplateHash string          `dynamodbav:"template_hash,omitempty" json:"template_hash,omitempty"`
	Template     json.RawMessage `dynamodbav:"template,omitempty" json:"template,omitempty"`
	// ECSDeploymentID and ServiceDeploymentARN name the ECS deployment the
	// update started; the Rollback fields name the one that rolled it
	// back, when the control plane rolled back.
	ECSDeploymentID              string `dynamodbav:"ecs_deployment_id,omitempty" json:"ecs_deployment_id,omitempty"`
	ServiceDeploymentARN         string `dynamodbav:"service_deployment_arn,omitempty" json:"service_deployment_arn,omitempty"`
	RollbackDeploymentID         string `dynamodbav:"rollback_deployment_id,omitempty" json:"rollback_deployment_id,omitempty"`
	RollbackServiceDeploymentARN string `dynamodbav:"rollback_service_deployment_arn,omitempty" json:"rollback_service_deployment_arn,omitempty"`
	// FailedStep is the step that failed, for a FAILED deployment.
	FailedStep   string         `dynamodbav:"failed_step,omitempty" json:"failed_step,omitempty"`
	ExecutionARN string         `dynamodbav:"execution_arn,omitempty" json:"execution_arn,omitempty"`
	Status       Status         `dynamodbav:"status" json:"status"`
	Reason       string         `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	Version      int64          `dynamodbav:"version" json:"version"`
	CreatedAt    time.Time      `dynamodbav:"created_at" json:"created_at"`
	UpdatedAt    time.Time      `dynamodbav:"updated_at" json:"updated_at"`
	History      []StatusChange `dynamodbav:"history" json:"history"`
	// Timeline lists the phases the deployment went through, in order.
	Timeline []Phase `dynamodbav:"timeline" json:"timeline"`
}

// IllegalTransitionError refuses a status change the state model forbids.
type IllegalTransitionError struct {
	From, To Status
}

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("illegal deployment transition %s → %s", e.From, e.To)
}

// ErrStale means the deployment changed since it was read: the caller's
// version is out of date.
var ErrStale = errors.New("ledger: deployment changed since it was read")

// ErrNotFound means the item does not exist.
var ErrNotFound = errors.New("ledger: not found")

func servicePK(service string) string { return "SERVICE#" + service }

const deploySK = "DEPLOY#"

type deploymentItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	Deployment
}

// NewDeployment describes a deployment to record.
type NewDeployment struct {
	// ID, when set, is the record's ID (DeploymentID makes one), so that a
	// retried step finds the record it created; otherwise one is made.
	ID      string
	Service string
	// Cause is what started it; CauseImage when empty.
	Cause           string
	ImageTag        string
	ImageDigest     string
	Image           string
	EventID         string
	PreviousTaskDef string
	ExecutionARN    string
	// TemplateHash and Template are the template the deployment's
	// revision is registered from, when it is known at the start.
	TemplateHash string
	Template     json.RawMessage
}

// DeploymentID is the ID of a deployment created at at by owner: IDs sort
// by creation time, and the same owner and time give the same ID.
func DeploymentID(at time.Time, owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return at.UTC().Format(idTime) + "-" + hex.EncodeToString(sum[:4])
}

// CreateDeployment records a PENDING deployment, accepted now, and returns
// it. With an ID, a deployment of that ID recorded by the same execution
// is returned as it is.
func (l *Ledger) CreateDeployment(ctx context.Context, in NewDeployment) (*Deployment, error) {
	if in.Service == "" || (in.ImageDigest == "" && in.ImageTag == "") {
		return nil, errors.New("ledger: a deployment needs a service and an image digest or tag")
	}
	if in.Cause == "" {
		in.Cause = CauseImage
	}
	now := l.now().UTC()
	id := in.ID
	if id == "" {
		id = l.newID()
	}
	d := Deployment{
		Service: in.Service, ID: id, Cause: in.Cause, ImageTag: in.ImageTag, ImageDigest: in.ImageDigest, Image: in.Image,
		EventID: in.EventID, PreviousTaskDef: in.PreviousTaskDef, ExecutionARN: in.ExecutionARN,
		TemplateHash: in.TemplateHash, Template: in.Template,
		Status: StatusPending, Version: 1, CreatedAt: now, UpdatedAt: now,
		History:  []StatusChange{{Status: StatusPending, At: now}},
		Timeline: []Phase{{Phase: PhaseAccepted, At: now}},
	}
	err := l.putNew(ctx, deploymentItem{PK: servicePK(d.Service), SK: deploySK + d.ID, Type: "deployment", Deployment: d})
	if awserr.IsConflict(err) && in.ID != "" {
		got, gerr := l.GetDeployment(ctx, d.Service, d.ID)
		if gerr == nil && got.ExecutionARN == in.ExecutionARN {
			return got, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating deployment %s/%s: %w", d.Service, d.ID, err)
	}
	return &d, nil
}

// GetDeployment reads one deployment.
func (l *Ledger) GetDeployment(ctx context.Context, service, id string) (*Deployment, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.table),
		Key:            key(servicePK(service), deploySK+id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading deployment %s/%s: %w", service, id, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("deployment %s/%s: %w", service, id, ErrNotFound)
	}
	var d Deployment
	if err := attributevalue.UnmarshalMap(out.Item, &d); err != nil {
		return nil, fmt.Errorf("unmarshalling deployment %s/%s: %w", service, id, err)
	}
	return &d, nil
}

// Change is a status transition, or none, and what was learnt with it.
// Empty fields leave the record as it is.
type Change struct {
	// To is the new status; empty keeps the status and only records the
	// rest.
	To     Status
	Reason string
	// NewTaskDef, when set, records the registered task definition.
	NewTaskDef string
	// PreviousTaskDef and PreviousDigest, when set, record what the
	// service ran before.
	PreviousTaskDef string
	PreviousDigest  string
	TemplateHash    string
	Template        json.RawMessage
	// ECSDeploymentID and ServiceDeploymentARN record the ECS deployment
	// the update started; the Rollback ones, the deployment that rolled
	// it back.
	ECSDeploymentID              string
	ServiceDeploymentARN         string
	RollbackDeploymentID         string
	RollbackServiceDeploymentARN string
	FailedStep                   string
	// Phases are appended to the timeline; a phase without a time
	// happened now.
	Phases []Phase
}

// Transition moves d to c.To if the move is legal and nobody changed d since
// it was read, and records what c learnt; it returns the updated
// deployment. The legal moves are CanTransition's, and for the build's
// deployments, which have no bake, IN_PROGRESS → SUCCEEDED too. A change
// without To records the rest and keeps the status, which must not be
// terminal.
func (l *Ledger) Transition(ctx context.Context, d *Deployment, c Change) (*Deployment, error) {
	if c.To == "" && d.Status.Terminal() {
		return nil, &IllegalTransitionError{From: d.Status, To: d.Status}
	}
	if c.To != "" && !legal(d, c.To) {
		return nil, &IllegalTransitionError{From: d.Status, To: c.To}
	}
	now := l.now().UTC()
	set := []string{"#version = :next", "updated_at = :now"}
	names := map[string]string{"#version": "version", "#status": "status"}
	values := map[string]types.AttributeValue{
		":from":     &types.AttributeValueMemberS{Value: string(d.Status)},
		":expected": &types.AttributeValueMemberN{Value: fmt.Sprint(d.Version)},
		":next":     &types.AttributeValueMemberN{Value: fmt.Sprint(d.Version + 1)},
		":now":      &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)},
	}
	add := func(attr string, v any) error {
		av, err := attributevalue.Marshal(v)
		if err != nil {
			return fmt.Errorf("marshalling %s: %w", attr, err)
		}
		set = append(set, fmt.Sprintf("#%s = :%s", attr, attr))
		names["#"+attr], values[":"+attr] = attr, av
		return nil
	}
	appendTo := func(attr string, v any) error {
		av, err := attributevalue.Marshal(v)
		if err != nil {
			return fmt.Errorf("marshalling %s: %w", attr, err)
		}
		set = append(set, fmt.Sprintf("#%s = list_append(if_not_exists(#%s, :empty), :%s)", attr, attr, attr))
		names["#"+attr], values[":"+attr] = attr, av
		values[":empty"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		return nil
	}
	var errs []error
	if c.To != "" {
		errs = append(errs, add("status", c.To), appendTo("history", []StatusChange{{Status: c.To, At: now, Reason: c.Reason}}))
	}
	for attr, v := range map[string]string{
		"reason": c.Reason, "new_task_definition": c.NewTaskDef, "previous_task_definition": c.PreviousTaskDef,
		"previous_digest": c.PreviousDigest, "template_hash": c.TemplateHash,
		"ecs_deployment_id": c.ECSDeploymentID, "service_deployment_arn": c.ServiceDeploymentARN,
		"rollback_deployment_id": c.RollbackDeploymentID, "rollback_service_deployment_arn": c.RollbackServiceDeploymentARN,
		"failed_step": c.FailedStep,
	} {
		if v != "" {
			errs = append(errs, add(attr, v))
		}
	}
	if len(c.Template) > 0 {
		errs = append(errs, add("template", c.Template))
	}
	if len(c.Phases) > 0 {
		phases := make([]Phase, len(c.Phases))
		for i, p := range c.Phases {
			if p.At.IsZero() {
				p.At = now
			}
			phases[i] = p
		}
		errs = append(errs, appendTo("timeline", phases))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	to := c.To
	if to == "" {
		to = d.Status
	}
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       key(servicePK(d.Service), deploySK+d.ID),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("#version = :expected AND #status = :from"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if awserr.IsConflict(err) {
		return nil, fmt.Errorf("moving deployment %s/%s to %s: %w", d.Service, d.ID, to, ErrStale)
	}
	if err != nil {
		return nil, fmt.Errorf("moving deployment %s/%s to %s: %w", d.Service, d.ID, to, err)
	}
	var next Deployment
	if err := attributevalue.UnmarshalMap(out.Attributes, &next); err != nil {
		return nil, fmt.Errorf("unmarshalling deployment %s/%s: %w", d.Service, d.ID, err)
	}
	return &next, nil
}

// Update applies c to the deployment's latest version: it rereads the
// record and retries when someone changed it in between, a few times,
// since the steps of one rollout, its cleanup and an abort may write the
// same record. A change the record's new state makes illegal is returned
// as the IllegalTransitionError.
func (l *Ledger) Update(ctx context.Context, d *Deployment, c Change) (*Deployment, error) {
	const attempts = 5
	for i := 0; ; i++ {
		next, err := l.Transition(ctx, d, c)
		if !errors.Is(err, ErrStale) || i == attempts-1 {
			return next, err
		}
		if d, err = l.GetDeployment(ctx, d.Service, d.ID); err != nil {
			return nil, err
		}
	}
}

// FindByExecution returns the deployment an execution recorded, looking
// through the service's newest deployments; ErrNotFound when none of them
// is the execution's.
func (l *Ledger) FindByExecution(ctx context.Context, service, executionARN string) (*Deployment, error) {
	const pages = 4
	cursor := ""
	for range pages {
		ds, next, err := l.History(ctx, service, PageRequest{Limit: 50, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for i := range ds {
			if ds[i].ExecutionARN == executionARN {
				return &ds[i], nil
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return nil, fmt.Errorf("deployment of execution %s: %w", executionARN, ErrNotFound)
}

// History lists a service's deployments, newest first.
func (l *Ledger) History(ctx context.Context, service string, page PageRequest) ([]Deployment, string, error) {
	return list[Deployment](ctx, l, servicePK(service), deploySK, page)
}
