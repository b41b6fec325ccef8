package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// Status is a deployment's state.
type Status string

// Deployment statuses.
const (
	StatusPending     Status = "PENDING"
	StatusInProgress  Status = "IN_PROGRESS"
	StatusBaking      Status = "BAKING"
	StatusRollingBack Status = "ROLLING_BACK"
	StatusSucceeded   Status = "SUCCEEDED"
	StatusRolledBack  Status = "ROLLED_BACK"
	StatusFailed      Status = "FAILED"
	StatusCancelled   Status = "CANCELLED"
)

// transitions lists the legal moves. A deployment that ECS rolled back goes
// IN_PROGRESS → ROLLED_BACK directly; one the bake rejects goes through
// ROLLING_BACK. Terminal statuses have no way out.
var transitions = map[Status][]Status{
	StatusPending:     {StatusInProgress, StatusFailed, StatusCancelled},
	StatusInProgress:  {StatusBaking, StatusRollingBack, StatusRolledBack, StatusFailed},
	StatusBaking:      {StatusSucceeded, StatusRollingBack, StatusFailed},
	StatusRollingBack: {StatusRolledBack, StatusFailed},
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

// legal reports whether d may move to "to".
func legal(d *Deployment, to Status) bool {
	return CanTransition(d.Status, to) || (!bakes(d.Cause) && d.Status == StatusInProgress && to == StatusSucceeded)
}

// Terminal reports whether s ends a deployment.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusRolledBack, StatusFailed, StatusCancelled:
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

// Deployment is one rollout of an image to a service.
type Deployment struct {
	Service string `dynamodbav:"service" json:"service"`
	ID      string `dynamodbav:"id" json:"id"`
	// Cause is what started the deployment: CauseImage, CauseCreate or
	// CauseTemplate.
	Cause           string         `dynamodbav:"cause,omitempty" json:"cause,omitempty"`
	ImageTag        string         `dynamodbav:"image_tag" json:"image_tag"`
	ImageDigest     string         `dynamodbav:"image_digest" json:"image_digest"`
	PreviousTaskDef string         `dynamodbav:"previous_task_definition,omitempty" json:"previous_task_definition,omitempty"`
	NewTaskDef      string         `dynamodbav:"new_task_definition,omitempty" json:"new_task_definition,omitempty"`
	ExecutionARN    string         `dynamodbav:"execution_arn,omitempty" json:"execution_arn,omitempty"`
	Status          Status         `dynamodbav:"status" json:"status"`
	Reason          string         `dynamodbav:"reason,omitempty" json:"reason,omitempty"`
	Version         int64          `dynamodbav:"version" json:"version"`
	CreatedAt       time.Time      `dynamodbav:"created_at" json:"created_at"`
	UpdatedAt       time.Time      `dynamodbav:"updated_at" json:"updated_at"`
	History         []StatusChange `dynamodbav:"history" json:"history"`
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
	Service string
	// Cause is what started it; CauseImage when empty.
	Cause           string
	ImageTag        string
	ImageDigest     string
	PreviousTaskDef string
	ExecutionARN    string
}

// CreateDeployment records a PENDING deployment and returns it.
func (l *Ledger) CreateDeployment(ctx context.Context, in NewDeployment) (*Deployment, error) {
	if in.Service == "" || (in.ImageDigest == "" && in.ImageTag == "") {
		return nil, errors.New("ledger: a deployment needs a service and an image digest or tag")
	}
	if in.Cause == "" {
		in.Cause = CauseImage
	}
	now := l.now().UTC()
	d := Deployment{
		Service: in.Service, ID: l.newID(), Cause: in.Cause, ImageTag: in.ImageTag, ImageDigest: in.ImageDigest,
		PreviousTaskDef: in.PreviousTaskDef, ExecutionARN: in.ExecutionARN,
		Status: StatusPending, Version: 1, CreatedAt: now, UpdatedAt: now,
		History: []StatusChange{{Status: StatusPending, At: now}},
	}
	if err := l.putNew(ctx, deploymentItem{PK: servicePK(d.Service), SK: deploySK + d.ID, Type: "deployment", Deployment: d}); err != nil {
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

// Change is a status transition and the fields learnt with it.
type Change struct {
	To     Status
	Reason string
	// NewTaskDef, when set, records the registered task definition.
	NewTaskDef string
	// PreviousTaskDef, when set, records what the service ran before.
	PreviousTaskDef string
}

// Transition moves d to c.To if the move is legal and nobody changed d since
// it was read; it returns the updated deployment. The legal moves are
// CanTransition's, and for the build's deployments, which have no bake,
// IN_PROGRESS → SUCCEEDED too.
func (l *Ledger) Transition(ctx context.Context, d *Deployment, c Change) (*Deployment, error) {
	if !legal(d, c.To) {
		return nil, &IllegalTransitionError{From: d.Status, To: c.To}
	}
	now := l.now().UTC()
	change, err := attributevalue.Marshal([]StatusChange{{Status: c.To, At: now, Reason: c.Reason}})
	if err != nil {
		return nil, fmt.Errorf("marshalling status change: %w", err)
	}
	set := "SET #status = :to, #version = :next, updated_at = :now, #history = list_append(#history, :change)"
	names := map[string]string{"#status": "status", "#version": "version", "#history": "history"}
	values := map[string]types.AttributeValue{
		":to":       &types.AttributeValueMemberS{Value: string(c.To)},
		":from":     &types.AttributeValueMemberS{Value: string(d.Status)},
		":expected": &types.AttributeValueMemberN{Value: fmt.Sprint(d.Version)},
		":next":     &types.AttributeValueMemberN{Value: fmt.Sprint(d.Version + 1)},
		":now":      &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)},
		":change":   change,
	}
	if c.Reason != "" {
		set += ", reason = :reason"
		values[":reason"] = &types.AttributeValueMemberS{Value: c.Reason}
	}
	if c.NewTaskDef != "" {
		set += ", new_task_definition = :newtd"
		values[":newtd"] = &types.AttributeValueMemberS{Value: c.NewTaskDef}
	}
	if c.PreviousTaskDef != "" {
		set += ", previous_task_definition = :prevtd"
		values[":prevtd"] = &types.AttributeValueMemberS{Value: c.PreviousTaskDef}
	}
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       key(servicePK(d.Service), deploySK+d.ID),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("#version = :expected AND #status = :from"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if awserr.IsConflict(err) {
		return nil, fmt.Errorf("moving deployment %s/%s to %s: %w", d.Service, d.ID, c.To, ErrStale)
	}
	if err != nil {
		return nil, fmt.Errorf("moving deployment %s/%s to %s: %w", d.Service, d.ID, c.To, err)
	}
	var next Deployment
	if err := attributevalue.UnmarshalMap(out.Attributes, &next); err != nil {
		return nil, fmt.Errorf("unmarshalling deployment %s/%s: %w", d.Service, d.ID, err)
	}
	return &next, nil
}

// History lists a service's deployments, newest first.
func (l *Ledger) History(ctx context.Context, service string, page PageRequest) ([]Deployment, string, error) {
	return list[Deployment](ctx, l, servicePK(service), deploySK, page)
}
