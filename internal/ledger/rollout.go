package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// The items a rollout keeps besides its deployment record: the service's
// newest push, which decides between rollouts waiting for the lease, and
// the task tokens of the steps that wait for an event.

const (
	newestSK = "NEWEST"
	waiterSK = "WAITER#"
)

// waiterRetention is how long a waiter is kept, through the table's TTL,
// after it was stored: longer than any wait of a rollout.
const waiterRetention = 48 * time.Hour

// Newest is a service's newest push: the one rollout among those waiting
// that may take the service's revision lease. A rollout that finds another
// marked newest ends SUPERSEDED.
type Newest struct {
	Service string `dynamodbav:"service" json:"service"`
	// Owner is the execution of the rollout of the push.
	Owner  string `dynamodbav:"owner" json:"owner"`
	Digest string `dynamodbav:"digest" json:"digest"`
	// PushedAt is when the image was pushed (the event's time), or the
	// request was made.
	PushedAt time.Time `dynamodbav:"pushed_at" json:"pushed_at"`
	// DeploymentID is the rollout's deployment record.
	DeploymentID string `dynamodbav:"deployment_id" json:"deployment_id"`
}

type newestItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	// PushedAtMS orders pushes in the write's condition.
	PushedAtMS int64 `dynamodbav:"pushed_at_ms"`
	Newest
}

// MarkNewest records n as the service's newest push unless a push pushed
// later is marked already. Of two pushes of the same instant, the one
// marked last wins. It returns the newest push after the write, which is n
// or the later one.
func (l *Ledger) MarkNewest(ctx context.Context, n Newest) (*Newest, error) {
	if n.Service == "" || n.Owner == "" || n.PushedAt.IsZero() {
		return nil, errors.New("ledger: marking the newest push needs a service, an owner and a time")
	}
	n.PushedAt = n.PushedAt.UTC()
	item, err := attributevalue.MarshalMap(newestItem{PK: servicePK(n.Service), SK: newestSK, Type: "newest", PushedAtMS: n.PushedAt.UnixMilli(), Newest: n})
	if err != nil {
		return nil, fmt.Errorf("marshalling the newest push of %s: %w", n.Service, err)
	}
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(l.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk) OR pushed_at_ms <= :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": &types.AttributeValueMemberN{Value: strconv.FormatInt(n.PushedAt.UnixMilli(), 10)},
		},
	})
	if awserr.IsConflict(err) {
		return l.NewestPush(ctx, n.Service)
	}
	if err != nil {
		return nil, fmt.Errorf("marking the newest push of %s: %w", n.Service, err)
	}
	return &n, nil
}

// NewestPush returns the service's newest push, or ErrNotFound.
func (l *Ledger) NewestPush(ctx context.Context, service string) (*Newest, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), Key: key(servicePK(service), newestSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading the newest push of %s: %w", service, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("newest push of %s: %w", service, ErrNotFound)
	}
	var it newestItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshalling the newest push of %s: %w", service, err)
	}
	return &it.Newest, nil
}

// Waiter is a rollout step paused until an event resumes it: the Step
// Functions task token of the step, stored under what it waits for.
type Waiter struct {
	Service string `dynamodbav:"service" json:"service"`
	// Key is what the step waits for: WaitECS's or WaitBake's.
	Key   string `dynamodbav:"key" json:"key"`
	Token string `dynamodbav:"token" json:"token"`
	// ExecutionARN and DeploymentID are the rollout's execution and
	// deployment record.
	ExecutionARN string `dynamodbav:"execution_arn" json:"execution_arn"`
	DeploymentID string `dynamodbav:"deployment_id" json:"deployment_id"`
	// Alarms are the alarms that end a bake, for WaitBake.
	Alarms   []string  `dynamodbav:"alarms,omitempty" json:"alarms,omitempty"`
	StoredAt time.Time `dynamodbav:"stored_at" json:"stored_at"`
}

// WaitECS is the waiter key of a step waiting for ECS's verdict on one of
// its deployments, by ECS deployment ID.
func WaitECS(ecsDeploymentID string) string { return "ECS#" + ecsDeploymentID }

// WaitBake is the waiter key of the bake, which an alarm ends. The
// revision lease lets one rollout of a service bake at a time.
const WaitBake = "BAKE"

type waiterItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	TTL  int64  `dynamodbav:"ttl"`
	Waiter
}

// PutWaiter stores w, replacing any waiter of the same key: a retried step
// stores its new token.
func (l *Ledger) PutWaiter(ctx context.Context, w Waiter) error {
	if w.Service == "" || w.Key == "" || w.Token == "" {
		return errors.New("ledger: a waiter needs a service, a key and a task token")
	}
	now := l.now().UTC()
	w.StoredAt = now
	item, err := attributevalue.MarshalMap(waiterItem{
		PK: servicePK(w.Service), SK: waiterSK + w.Key, Type: "waiter", TTL: now.Add(waiterRetention).Unix(), Waiter: w,
	})
	if err != nil {
		return fmt.Errorf("marshalling waiter %s of %s: %w", w.Key, w.Service, err)
	}
	if _, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: item}); err != nil {
		return fmt.Errorf("storing waiter %s of %s: %w", w.Key, w.Service, err)
	}
	return nil
}

// GetWaiter returns the waiter of key, or ErrNotFound.
func (l *Ledger) GetWaiter(ctx context.Context, service, key string) (*Waiter, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), Key: waiterKey(service, key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading waiter %s of %s: %w", key, service, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("waiter %s of %s: %w", key, service, ErrNotFound)
	}
	var it waiterItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshalling waiter %s of %s: %w", key, service, err)
	}
	return &it.Waiter, nil
}

// DeleteWaiter deletes the waiter of key if it belongs to execution (any
// execution when empty). A waiter already gone, or another execution's,
// is left as it is.
func (l *Ledger) DeleteWaiter(ctx context.Context, service, key, execution string) error {
	in := &dynamodb.DeleteItemInput{TableName: aws.String(l.table), Key: waiterKey(service, key)}
	if execution != "" {
		in.ConditionExpression = aws.String("execution_arn = :exec")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":exec": &types.AttributeValueMemberS{Value: execution}}
	}
	if _, err := l.db.DeleteItem(ctx, in); err != nil && !awserr.IsConflict(err) {
		return fmt.Errorf("deleting waiter %s of %s: %w", key, service, err)
	}
	return nil
}

func waiterKey(service, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: servicePK(service)},
		AttrSK: &types.AttributeValueMemberS{Value: waiterSK + key},
	}
}
