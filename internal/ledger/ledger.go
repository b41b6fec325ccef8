// Package ledger records deployments, locks, idempotency keys and audit
// actions in one DynamoDB table.
//
// Item layout (pk / sk):
//
//	SERVICE#<service> / DEPLOY#<id>        a deployment; ids sort by creation time
//	SERVICE#<service> / LOCK#<scope>       the service's lease of one scope (revision, capacity)
//	SERVICE#<service> / NEWEST             the service's newest push, which rollouts waiting for the lease defer to
//	SERVICE#<service> / WAITER#<key>       the task token of a rollout step waiting for an event
//	SUBJECT#<subject> / ACTION#<id>        an audit item (remediation, lifecycle, build)
//	SUBJECT#<subject> / COOLDOWN#<key>     a remediation cooldown: no other action for the key before it ends
//	SUBJECT#<subject> / EVACUATION         the stack's zone evacuation, running or the last one, with what it changed
//	IDEMPOTENCY#<key> / IDEMPOTENCY        an idempotency key
//
// Only idempotency items, waiters and cooldowns carry the table's TTL
// attribute; deployments, audit items and evacuations are kept for good.
package ledger

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the table's keys and TTL, shared with template.yaml.
const (
	AttrPK  = "pk"
	AttrSK  = "sk"
	AttrTTL = "ttl"
)

const idTime = "20060102T150405.000Z"

// Ledger reads and writes the table.
type Ledger struct {
	db    DynamoDBAPI
	table string
	now   func() time.Time
}

// Option customises a Ledger.
type Option func(*Ledger)

// WithClock sets the time source, for virtual time in tests and simulation.
func WithClock(now func() time.Time) Option { return func(l *Ledger) { l.now = now } }

// New returns a ledger over table.
func New(db DynamoDBAPI, table string, opts ...Option) *Ledger {
	l := &Ledger{db: db, table: table, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Table is the table's name.
func (l *Ledger) Table() string { return l.table }

func (l *Ledger) newID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return l.now().UTC().Format(idTime) + "-" + hex.EncodeToString(b[:])
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// PageRequest asks for one page of a listing.
type PageRequest struct {
	// Limit is the page size; 25 if zero.
	Limit int32
	// Cursor is the NextCursor of the previous page; empty for the first.
	Cursor string
}

// ErrBadCursor means a pagination cursor was not produced by this package.
var ErrBadCursor = errors.New("ledger: malformed pagination cursor")

func encodeCursor(k map[string]types.AttributeValue) string {
	if len(k) == 0 {
		return ""
	}
	m := map[string]string{}
	for name, v := range k {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			m[name] = s.Value
		}
	}
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c, wantPK string) (map[string]types.AttributeValue, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || m[AttrPK] != wantPK || m[AttrSK] == "" {
		return nil, ErrBadCursor
	}
	return key(m[AttrPK], m[AttrSK]), nil
}

// list pages newest first through the items of pk whose sort key starts
// with prefix, decoded as T.
func list[T any](ctx context.Context, l *Ledger, pk, prefix string, page PageRequest) ([]T, string, error) {
	items, next, err := l.query(ctx, pk, prefix, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, 0, len(items))
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, "", fmt.Errorf("unmarshalling %s: %w", pk, err)
	}
	return out, next, nil
}

// putNew writes item, which must not exist yet.
func (l *Ledger) putNew(ctx context.Context, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("marshalling item: %w", err)
	}
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(l.table),
		Item:                av,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	return err
}

// query pages newest first through items of pk whose sort key starts with
// prefix.
func (l *Ledger) query(ctx context.Context, pk, prefix string, page PageRequest) ([]map[string]types.AttributeValue, string, error) {
	start, err := decodeCursor(page.Cursor, pk)
	if err != nil {
		return nil, "", err
	}
	limit := page.Limit
	if limit <= 0 {
		limit = 25
	}
	out, err := l.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}, ":prefix": &types.AttributeValueMemberS{Value: prefix}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return nil, "", fmt.Errorf("querying %s: %w", pk, err)
	}
	return out.Items, encodeCursor(out.LastEvaluatedKey), nil
}
