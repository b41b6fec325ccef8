package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// Idempotency states.
const (
	IdemInProgress = "INPROGRESS"
	IdemCompleted  = "COMPLETED"
)

// idempotencyRetention is how long a key is kept, through the table's TTL,
// after which a redelivered event would count as new. EventBridge retries
// for at most 24 hours.
const idempotencyRetention = 7 * 24 * time.Hour

const idemSK = "IDEMPOTENCY"

// Claim is an idempotency key held by its first writer.
type Claim struct {
	Key     string
	Owner   string
	State   string
	Result  string
	Expires time.Time
}

// DuplicateError means the key was already claimed: completed, or in
// progress under an unexpired claim.
type DuplicateError struct {
	Claim Claim
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("idempotency key %s already %s by %s", e.Claim.Key, e.Claim.State, e.Claim.Owner)
}

// ClaimKey records that owner is handling key. The first writer wins. A
// claim left INPROGRESS past inProgressTTL (its owner died) can be taken
// over; a COMPLETED one never can.
func (l *Ledger) ClaimKey(ctx context.Context, key, owner string, inProgressTTL time.Duration) (*Claim, error) {
	if key == "" || owner == "" || inProgressTTL <= 0 {
		return nil, errors.New("ledger: claiming a key needs a key, an owner and a positive ttl")
	}
	now := l.now().UTC()
	exp := now.Add(inProgressTTL)
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.table),
		Item: map[string]types.AttributeValue{
			AttrPK:       &types.AttributeValueMemberS{Value: idemPK(key)},
			AttrSK:       &types.AttributeValueMemberS{Value: idemSK},
			"type":       &types.AttributeValueMemberS{Value: "idempotency"},
			"key":        &types.AttributeValueMemberS{Value: key},
			"owner":      &types.AttributeValueMemberS{Value: owner},
			"state":      &types.AttributeValueMemberS{Value: IdemInProgress},
			"expires_at": &types.AttributeValueMemberN{Value: strconv.FormatInt(exp.UnixMilli(), 10)},
			AttrTTL:      &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(idempotencyRetention).Unix(), 10)},
		},
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#state = :inprogress AND expires_at <= :nowms)"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inprogress": &types.AttributeValueMemberS{Value: IdemInProgress},
			":nowms":      &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
		},
	})
	if awserr.IsConflict(err) {
		existing, readErr := l.GetClaim(ctx, key)
		if readErr != nil {
			return nil, fmt.Errorf("idempotency key %s is taken: %w", key, readErr)
		}
		return nil, &DuplicateError{Claim: *existing}
	}
	if err != nil {
		return nil, fmt.Errorf("claiming idempotency key %s: %w", key, err)
	}
	return &Claim{Key: key, Owner: owner, State: IdemInProgress, Expires: exp}, nil
}

// CompleteKey marks owner's claim COMPLETED with a result (for example the
// deployment ID), so duplicates can be answered with it.
func (l *Ledger) CompleteKey(ctx context.Context, key, owner, result string) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      map[string]types.AttributeValue{AttrPK: &types.AttributeValueMemberS{Value: idemPK(key)}, AttrSK: &types.AttributeValueMemberS{Value: idemSK}},
		UpdateExpression:         aws.String("SET #state = :completed, #result = :result"),
		ConditionExpression:      aws.String("#state = :inprogress AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#state": "state", "#owner": "owner", "#result": "result"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":completed":  &types.AttributeValueMemberS{Value: IdemCompleted},
			":inprogress": &types.AttributeValueMemberS{Value: IdemInProgress},
			":owner":      &types.AttributeValueMemberS{Value: owner},
			":result":     &types.AttributeValueMemberS{Value: result},
		},
	})
	if awserr.IsConflict(err) {
		return fmt.Errorf("completing idempotency key %s for %s: %w", key, owner, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("completing idempotency key %s: %w", key, err)
	}
	return nil
}

// GetClaim reads a key's claim.
func (l *Ledger) GetClaim(ctx context.Context, key string) (*Claim, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.table),
		Key:            map[string]types.AttributeValue{AttrPK: &types.AttributeValueMemberS{Value: idemPK(key)}, AttrSK: &types.AttributeValueMemberS{Value: idemSK}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading idempotency key %s: %w", key, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("idempotency key %s: %w", key, ErrNotFound)
	}
	c := &Claim{Key: key}
	c.Owner = str(out.Item["owner"])
	c.State = str(out.Item["state"])
	c.Result = str(out.Item["result"])
	if ms, err := strconv.ParseInt(num(out.Item["expires_at"]), 10, 64); err == nil {
		c.Expires = time.UnixMilli(ms).UTC()
	}
	return c, nil
}

func idemPK(key string) string { return "IDEMPOTENCY#" + key }

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func num(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}
