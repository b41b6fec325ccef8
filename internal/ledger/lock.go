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

// Scope is what of a service a lease covers. Leases of different scopes of
// one service are independent: their holders run side by side, each
// changing only the fields its scope names.
type Scope string

// Lease scopes.
const (
	// ScopeRevision covers which revision the service runs: a rollout, and
	// the build when it rolls out a template change or creates the
	// service. Two holders of it would overlap deployments.
	ScopeRevision Scope = "revision"
	// ScopeCapacity covers the desired counts, which remediation moves
	// within the build's bounds. A zone impairment during a rollout takes
	// it without waiting for the rollout, which holds ScopeRevision.
	ScopeCapacity Scope = "capacity"
)

func lockSK(scope Scope) string { return "LOCK#" + string(scope) }

// Lease is a held per-service lock of one scope. Token is the fencing
// token: it grows with every acquisition, so a writer holding an older
// token knows it lost the lock.
type Lease struct {
	Service string    `json:"service"`
	Scope   Scope     `json:"scope"`
	Owner   string    `json:"owner"`
	Token   int64     `json:"token"`
	Expires time.Time `json:"expires"`
}

// LockHeldError means another owner holds an unexpired lease.
type LockHeldError struct {
	Service string
	Scope   Scope
	Owner   string
	Expires time.Time
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("%s lock on %s is held by %s until %s", e.Scope, e.Service, e.Owner, e.Expires.Format(time.RFC3339))
}

// ErrNotOwner means a renew or release came from someone who no longer holds
// the lease: it expired and was taken over, or was never theirs.
var ErrNotOwner = errors.New("ledger: lease is not held by this owner")

// Acquire takes the service's lock of scope for ttl. It succeeds when the
// lock is free, expired, or already held by owner (a retried step), and
// fails with *LockHeldError otherwise.
func (l *Ledger) Acquire(ctx context.Context, service string, scope Scope, owner string, ttl time.Duration) (*Lease, error) {
	if service == "" || scope == "" || owner == "" || ttl <= 0 {
		return nil, errors.New("ledger: acquiring a lock needs a service, a scope, an owner and a positive ttl")
	}
	now := l.now().UTC()
	exp := now.Add(ttl)
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(l.table),
		Key:                 key(servicePK(service), lockSK(scope)),
		UpdateExpression:    aws.String("SET #owner = :owner, expires_at = :exp, acquired_at = :now, #type = :type ADD fencing_token :one"),
		ConditionExpression: aws.String("attribute_not_exists(#owner) OR expires_at <= :nowms OR #owner = :owner"),
		ExpressionAttributeNames: map[string]string{
			"#owner": "owner", "#type": "type",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": &types.AttributeValueMemberS{Value: owner},
			":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(exp.UnixMilli(), 10)},
			":nowms": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			":now":   &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)},
			":type":  &types.AttributeValueMemberS{Value: "lock"},
			":one":   &types.AttributeValueMemberN{Value: "1"},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if awserr.IsConflict(err) {
		held, readErr := l.readLock(ctx, service, scope)
		if readErr != nil {
			return nil, fmt.Errorf("%s lock on %s is held: %w", scope, service, readErr)
		}
		return nil, &LockHeldError{Service: service, Scope: scope, Owner: held.Owner, Expires: held.Expires}
	}
	if err != nil {
		return nil, fmt.Errorf("acquiring %s lock on %s: %w", scope, service, err)
	}
	return leaseFrom(service, scope, out.Attributes)
}

// Renew extends a held lease to ttl from now.
func (l *Ledger) Renew(ctx context.Context, lease *Lease, ttl time.Duration) (*Lease, error) {
	now := l.now().UTC()
	exp := now.Add(ttl)
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      key(servicePK(lease.Service), lockSK(lease.Scope)),
		UpdateExpression:         aws.String("SET expires_at = :exp"),
		ConditionExpression:      aws.String("#owner = :owner AND fencing_token = :token AND expires_at > :nowms"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": &types.AttributeValueMemberS{Value: lease.Owner},
			":token": &types.AttributeValueMemberN{Value: strconv.FormatInt(lease.Token, 10)},
			":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(exp.UnixMilli(), 10)},
			":nowms": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if awserr.IsConflict(err) {
		return nil, fmt.Errorf("renewing lock on %s for %s: %w", lease.Service, lease.Owner, ErrNotOwner)
	}
	if err != nil {
		return nil, fmt.Errorf("renewing lock on %s: %w", lease.Service, err)
	}
	return leaseFrom(lease.Service, lease.Scope, out.Attributes)
}

// Release frees the lock if lease still holds it. The fencing token stays
// on the item so the next owner's token is larger.
func (l *Ledger) Release(ctx context.Context, lease *Lease) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      key(servicePK(lease.Service), lockSK(lease.Scope)),
		UpdateExpression:         aws.String("REMOVE #owner SET expires_at = :zero"),
		ConditionExpression:      aws.String("#owner = :owner AND fencing_token = :token"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": &types.AttributeValueMemberS{Value: lease.Owner},
			":token": &types.AttributeValueMemberN{Value: strconv.FormatInt(lease.Token, 10)},
			":zero":  &types.AttributeValueMemberN{Value: "0"},
		},
	})
	if awserr.IsConflict(err) {
		return fmt.Errorf("releasing lock on %s for %s: %w", lease.Service, lease.Owner, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("releasing lock on %s: %w", lease.Service, err)
	}
	return nil
}

// CurrentLock returns the holder of the service's lock of scope, or
// ErrNotFound when nobody holds it.
func (l *Ledger) CurrentLock(ctx context.Context, service string, scope Scope) (*Lease, error) {
	lease, err := l.readLock(ctx, service, scope)
	if err != nil {
		return nil, err
	}
	if lease.Owner == "" || !lease.Expires.After(l.now()) {
		return nil, fmt.Errorf("%s lock on %s: %w", scope, service, ErrNotFound)
	}
	return lease, nil
}

func (l *Ledger) readLock(ctx context.Context, service string, scope Scope) (*Lease, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.table),
		Key:            key(servicePK(service), lockSK(scope)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s lock on %s: %w", scope, service, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%s lock on %s: %w", scope, service, ErrNotFound)
	}
	return leaseFrom(service, scope, out.Item)
}

func leaseFrom(service string, scope Scope, item map[string]types.AttributeValue) (*Lease, error) {
	lease := &Lease{Service: service, Scope: scope}
	if v, ok := item["owner"].(*types.AttributeValueMemberS); ok {
		lease.Owner = v.Value
	}
	if v, ok := item["fencing_token"].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("lock on %s has a malformed fencing token: %w", service, err)
		}
		lease.Token = n
	}
	if v, ok := item["expires_at"].(*types.AttributeValueMemberN); ok {
		ms, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("lock on %s has a malformed expiry: %w", service, err)
		}
		lease.Expires = time.UnixMilli(ms).UTC()
	}
	return lease, nil
}
