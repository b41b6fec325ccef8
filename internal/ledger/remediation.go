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

// The items remediation keeps besides its audit items: one cooldown per
// alarm and scope, which at most one action a cooldown takes, and the
// stack's zone evacuation, of which there is at most one at a time.

const (
	cooldownSK   = "COOLDOWN#"
	evacuationSK = "EVACUATION"
)

// cooldownRetention is how long a cooldown item stays, through the table's
// TTL, after its cooldown ended.
const cooldownRetention = 24 * time.Hour

// Cooldown is the time before which no other action may be taken for its
// key.
type Cooldown struct {
	Subject string    `dynamodbav:"subject" json:"subject"`
	Key     string    `dynamodbav:"key" json:"key"`
	Owner   string    `dynamodbav:"owner" json:"owner"`
	Until   time.Time `dynamodbav:"until" json:"until"`
	TakenAt time.Time `dynamodbav:"taken_at" json:"taken_at"`
}

type cooldownItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Type    string `dynamodbav:"type"`
	UntilMS int64  `dynamodbav:"until_ms"`
	TTL     int64  `dynamodbav:"ttl"`
	Cooldown
}

// CooldownError means another action holds the key's cooldown.
type CooldownError struct {
	Cooldown Cooldown
}

func (e *CooldownError) Error() string {
	return fmt.Sprintf("cooldown %s is held by %s until %s", e.Cooldown.Key, e.Cooldown.Owner, e.Cooldown.Until.Format(time.RFC3339))
}

// TakeCooldown starts the cooldown of key, for owner, until until: with a
// conditional write that succeeds only when the key has no cooldown running
// or its own (a retried step). Otherwise it returns a *CooldownError with
// the cooldown that runs.
func (l *Ledger) TakeCooldown(ctx context.Context, subject, key, owner string, until time.Time) (*Cooldown, error) {
	if subject == "" || key == "" || owner == "" {
		return nil, errors.New("ledger: a cooldown needs a subject, a key and an owner")
	}
	now := l.now().UTC()
	c := Cooldown{Subject: subject, Key: key, Owner: owner, Until: until.UTC(), TakenAt: now}
	item, err := attributevalue.MarshalMap(cooldownItem{
		PK: subjectPK(subject), SK: cooldownSK + key, Type: "cooldown", UntilMS: c.Until.UnixMilli(), TTL: c.Until.Add(cooldownRetention).Unix(), Cooldown: c,
	})
	if err != nil {
		return nil, fmt.Errorf("marshalling cooldown %s: %w", key, err)
	}
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(l.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR until_ms <= :now OR #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			":owner": &types.AttributeValueMemberS{Value: owner},
		},
	})
	if awserr.IsConflict(err) {
		held, rerr := l.GetCooldown(ctx, subject, key)
		if rerr != nil {
			return nil, fmt.Errorf("cooldown %s is held: %w", key, rerr)
		}
		return nil, &CooldownError{Cooldown: *held}
	}
	if err != nil {
		return nil, fmt.Errorf("taking cooldown %s: %w", key, err)
	}
	return &c, nil
}

// GetCooldown returns the key's last cooldown, running or not, or
// ErrNotFound.
func (l *Ledger) GetCooldown(ctx context.Context, subject, key string) (*Cooldown, error) {
	var it cooldownItem
	if err := l.get(ctx, subjectPK(subject), cooldownSK+key, &it); err != nil {
		return nil, fmt.Errorf("cooldown %s: %w", key, err)
	}
	return &it.Cooldown, nil
}

// Evacuation is a zone evacuation: the zone, the execution that runs it,
// and everything it changed besides desired counts, each with its expiry,
// so that its restore, or anyone reading the ledger, can undo it.
type Evacuation struct {
	Subject string `dynamodbav:"subject" json:"subject"`
	// Zone is the impaired zone, ZoneID its ID, Healthy the zone that
	// carries the load meanwhile.
	Zone    string `dynamodbav:"zone" json:"zone"`
	ZoneID  string `dynamodbav:"zone_id" json:"zone_id"`
	Healthy string `dynamodbav:"healthy_zone" json:"healthy_zone"`
	// Alarm is the alarm whose state change started it.
	Alarm        string `dynamodbav:"alarm" json:"alarm"`
	ExecutionARN string `dynamodbav:"execution_arn" json:"execution_arn"`
	// Phase is how far it got.
	Phase string `dynamodbav:"phase" json:"phase"`
	// Shifts are the zonal shifts it started, each with its expiry.
	Shifts []Shift `dynamodbav:"shifts,omitempty" json:"shifts,omitempty"`
	// GroupDesiredBefore is the group's desired capacity before the
	// evacuation, GroupDesiredSet what the pre-scale set it to (0: left as
	// it was), GroupDesiredAfter what the evacuation left it at when it
	// ended (0: it ended before it changed anything).
	GroupDesiredBefore int32 `dynamodbav:"group_desired_before" json:"group_desired_before"`
	GroupDesiredSet    int32 `dynamodbav:"group_desired_set,omitempty" json:"group_desired_set,omitempty"`
	GroupDesiredAfter  int32 `dynamodbav:"group_desired_after,omitempty" json:"group_desired_after,omitempty"`
	// Terminated are the zone's instances it took out of the group, whose
	// terminate hooks drained them.
	Terminated []string  `dynamodbav:"terminated,omitempty" json:"terminated,omitempty"`
	StartedAt  time.Time `dynamodbav:"started_at" json:"started_at"`
	UpdatedAt  time.Time `dynamodbav:"updated_at" json:"updated_at"`
	// EndedAt is set once it ended: restored, or given up.
	EndedAt time.Time `dynamodbav:"ended_at,omitempty" json:"ended_at,omitzero"`
	Outcome string    `dynamodbav:"outcome,omitempty" json:"outcome,omitempty"`
}

// Shift is a zonal shift an evacuation started.
type Shift struct {
	// Resource is the shifted resource's ARN: the load balancer or the
	// group.
	Resource string    `dynamodbav:"resource" json:"resource"`
	ID       string    `dynamodbav:"id" json:"id"`
	Expiry   time.Time `dynamodbav:"expiry" json:"expiry"`
	// Ended is set once the evacuation cancelled it.
	Ended bool `dynamodbav:"ended,omitempty" json:"ended,omitempty"`
}

// Active reports whether the evacuation has not ended.
func (e *Evacuation) Active() bool { return e != nil && e.EndedAt.IsZero() }

type evacuationItem struct {
	PK    string `dynamodbav:"pk"`
	SK    string `dynamodbav:"sk"`
	Type  string `dynamodbav:"type"`
	Ended bool   `dynamodbav:"ended"`
	Evacuation
}

// EvacuationActiveError means another evacuation of the subject has not
// ended: there is one evacuation at a time.
type EvacuationActiveError struct {
	Evacuation Evacuation
}

func (e *EvacuationActiveError) Error() string {
	return fmt.Sprintf("zone %s of %s is being evacuated by %s since %s", e.Evacuation.Zone, e.Evacuation.Subject, e.Evacuation.ExecutionARN, e.Evacuation.StartedAt.Format(time.RFC3339))
}

// BeginEvacuation records e as the subject's evacuation, unless another
// execution's has not ended: then it returns an *EvacuationActiveError
// with that one. The same execution may begin it again (a retried step).
func (l *Ledger) BeginEvacuation(ctx context.Context, e Evacuation) (*Evacuation, error) {
	if e.Subject == "" || e.Zone == "" || e.ExecutionARN == "" {
		return nil, errors.New("ledger: an evacuation needs a subject, a zone and an execution")
	}
	now := l.now().UTC()
	e.StartedAt, e.UpdatedAt, e.EndedAt = now, now, time.Time{}
	err := l.putEvacuation(ctx, e, "attribute_not_exists(pk) OR ended = :ended OR execution_arn = :exec", true)
	if awserr.IsConflict(err) {
		cur, rerr := l.CurrentEvacuation(ctx, e.Subject)
		if rerr != nil {
			return nil, fmt.Errorf("an evacuation of %s runs: %w", e.Subject, rerr)
		}
		return nil, &EvacuationActiveError{Evacuation: *cur}
	}
	if err != nil {
		return nil, fmt.Errorf("beginning the evacuation of %s: %w", e.Zone, err)
	}
	return &e, nil
}

// SaveEvacuation records what the evacuation's execution changed since;
// ending it is saving it with EndedAt set. Only the execution that began
// it may.
func (l *Ledger) SaveEvacuation(ctx context.Context, e Evacuation) error {
	e.UpdatedAt = l.now().UTC()
	err := l.putEvacuation(ctx, e, "execution_arn = :exec AND ended = :ended", false)
	if awserr.IsConflict(err) {
		return fmt.Errorf("saving the evacuation of %s by %s: %w", e.Zone, e.ExecutionARN, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("saving the evacuation of %s: %w", e.Zone, err)
	}
	return nil
}

// putEvacuation writes e if condition holds, where :exec is e's execution
// and :ended is ended.
func (l *Ledger) putEvacuation(ctx context.Context, e Evacuation, condition string, ended bool) error {
	item, err := attributevalue.MarshalMap(evacuationItem{PK: subjectPK(e.Subject), SK: evacuationSK, Type: "evacuation", Ended: !e.EndedAt.IsZero(), Evacuation: e})
	if err != nil {
		return fmt.Errorf("marshalling the evacuation of %s: %w", e.Zone, err)
	}
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.table), Item: item, ConditionExpression: aws.String(condition),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":exec":  &types.AttributeValueMemberS{Value: e.ExecutionARN},
			":ended": &types.AttributeValueMemberBOOL{Value: ended},
		},
	})
	return err
}

// CurrentEvacuation returns the subject's last evacuation, ended or not, or
// ErrNotFound when it never had one.
func (l *Ledger) CurrentEvacuation(ctx context.Context, subject string) (*Evacuation, error) {
	var it evacuationItem
	if err := l.get(ctx, subjectPK(subject), evacuationSK, &it); err != nil {
		return nil, fmt.Errorf("evacuation of %s: %w", subject, err)
	}
	return &it.Evacuation, nil
}

// get reads one item, consistently, into out; ErrNotFound when it does not
// exist.
func (l *Ledger) get(ctx context.Context, pk, sk string, out any) error {
	res, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", pk, sk, err)
	}
	if res.Item == nil {
		return ErrNotFound
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return fmt.Errorf("unmarshalling %s %s: %w", pk, sk, err)
	}
	return nil
}
