package rollout

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

// Reason is why an event or request starts no rollout.
type Reason string

// Reasons for starting no rollout. The rule's pattern filters most of
// these out before they reach the state machine; the handler refuses the
// rest, before any AWS call.
const (
	// ReasonMalformed: not JSON, not an "ECR Image Action" event, or an
	// event its strict parser refuses.
	ReasonMalformed Reason = "malformed"
	// ReasonOtherRepository: a push to another repository.
	ReasonOtherRepository Reason = "other-repository"
	// ReasonNotAPush: an image deleted, not pushed.
	ReasonNotAPush Reason = "not-a-push"
	// ReasonFailedPush: a push that failed.
	ReasonFailedPush Reason = "failed-push"
	// ReasonMissingDigest: a push without the image digest a rollout pins.
	ReasonMissingDigest Reason = "missing-digest"
	// ReasonFilteredTag: a push without a tag, or with a tag the filter
	// refuses (the prefix, the excluded tags).
	ReasonFilteredTag Reason = "filtered-tag"
	// ReasonBadRequest: a request (ecsplane deploy, rollback) the handler
	// cannot run.
	ReasonBadRequest Reason = "bad-request"
)

// RejectedError is an event or request that starts no rollout, with why.
// Nothing was changed.
type RejectedError struct {
	Reason Reason
	Detail string
}

func (e *RejectedError) Error() string { return string(e.Reason) + ": " + e.Detail }

// Invalid is the typed error the state machine catches.
func (e *RejectedError) Invalid() *handlererr.InvalidInputError { return handlererr.Invalid(e.Error()) }

func reject(r Reason, format string, args ...any) *RejectedError {
	return &RejectedError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Trigger is what a rollout rolls out, and why.
type Trigger struct {
	// Digest is the image's digest; Image the image pinned by it.
	Digest string `json:"digest"`
	Image  string `json:"image"`
	// Tag is the tag pushed, empty for a request by digest.
	Tag string `json:"tag,omitempty"`
	// Cause is ledger.CauseImage for a push, CauseDeploy or CauseRollback
	// for a request.
	Cause string `json:"cause"`
	// EventID is the push event's ID, or the request's.
	EventID string `json:"eventId"`
	// At is when the image was pushed, or the request was made: newer
	// pushes win.
	At time.Time `json:"at"`
	// Reason says why, for the record.
	Reason string `json:"reason"`
}

// Request asks for a rollout of an image by digest, as ecsplane deploy and
// rollback start the state machine: {"request": {...}}.
type Request struct {
	Digest string `json:"digest"`
	Tag    string `json:"tag,omitempty"`
	// Cause is ledger.CauseDeploy or CauseRollback.
	Cause  string    `json:"cause"`
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ParseTrigger reads an execution's input: an "ECR Image Action" event
// from the push rule, or a request. A push must be a successful PUSH to
// the configured repository, with a digest and a tag the filter accepts;
// anything else is a *RejectedError saying why.
func ParseTrigger(raw []byte, cfg Config) (Trigger, error) {
	var probe struct {
		Request    *Request `json:"request"`
		Source     string   `json:"source"`
		DetailType string   `json:"detail-type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Trigger{}, reject(ReasonMalformed, "the input is not a JSON object: %v", err)
	}
	if probe.Request != nil {
		return requestTrigger(*probe.Request, cfg)
	}
	if probe.Source != events.SourceECR || probe.DetailType != events.DetailTypeECRImageAction {
		return Trigger{}, reject(ReasonMalformed, "the input is neither a request nor an %q event from %s (source %q, detail-type %q)",
			events.DetailTypeECRImageAction, events.SourceECR, probe.Source, probe.DetailType)
	}
	// Classify a well-formed push that is not for this service before the
	// strict parse, so that it is refused with its own reason.
	var loose struct {
		Detail events.ECRImageAction `json:"detail"`
	}
	if err := json.Unmarshal(raw, &loose); err != nil {
		return Trigger{}, reject(ReasonMalformed, "detail: %v", err)
	}
	d := loose.Detail
	switch {
	case d.RepositoryName != cfg.Repository():
		return Trigger{}, reject(ReasonOtherRepository, "a push to repository %q, not %q", d.RepositoryName, cfg.Repository())
	case d.ActionType != events.ECRActionPush:
		return Trigger{}, reject(ReasonNotAPush, "action-type is %q, not %s", d.ActionType, events.ECRActionPush)
	case d.Result != events.ECRResultSuccess:
		return Trigger{}, reject(ReasonFailedPush, "the push's result is %q", d.Result)
	case d.ImageDigest == "":
		return Trigger{}, reject(ReasonMissingDigest, "the push names no image-digest; a rollout pins the image by digest")
	}
	if err := cfg.acceptTag(d.ImageTag); err != nil {
		return Trigger{}, err
	}
	ev, err := events.ParseECRImageAction(raw)
	if err != nil {
		return Trigger{}, reject(ReasonMalformed, "%v", err)
	}
	return Trigger{
		Digest: d.ImageDigest, Image: cfg.ImageRepository + "@" + d.ImageDigest, Tag: d.ImageTag, Cause: ledger.CauseImage,
		EventID: ev.ID, At: ev.Time, Reason: fmt.Sprintf("pushed %s:%s", d.RepositoryName, d.ImageTag),
	}, nil
}

// acceptTag applies the tag filter the push rule's pattern applies.
func (c Config) acceptTag(tag string) error {
	switch {
	case tag == "":
		return reject(ReasonFilteredTag, "a push by digest alone, without a tag")
	case !strings.HasPrefix(tag, c.TagPrefix):
		return reject(ReasonFilteredTag, "tag %q does not start with %q", tag, c.TagPrefix)
	case slices.Contains(c.ExcludedTags, tag):
		return reject(ReasonFilteredTag, "tag %q never rolls out", tag)
	}
	return nil
}

func requestTrigger(r Request, cfg Config) (Trigger, error) {
	var problems []string
	if !digestRe.MatchString(r.Digest) {
		problems = append(problems, fmt.Sprintf("digest %q is not sha256:<64 hex digits>", r.Digest))
	}
	if r.Cause != ledger.CauseDeploy && r.Cause != ledger.CauseRollback {
		problems = append(problems, fmt.Sprintf("cause %q is not %s or %s", r.Cause, ledger.CauseDeploy, ledger.CauseRollback))
	}
	if r.ID == "" || r.At.IsZero() {
		problems = append(problems, "a request needs an id and a time")
	}
	if len(problems) > 0 {
		return Trigger{}, reject(ReasonBadRequest, "%s", strings.Join(problems, "; "))
	}
	reason := r.Reason
	if reason == "" {
		reason = "requested with ecsplane " + r.Cause
	}
	return Trigger{Digest: r.Digest, Image: cfg.ImageRepository + "@" + r.Digest, Tag: r.Tag, Cause: r.Cause, EventID: r.ID, At: r.At.UTC(), Reason: reason}, nil
}
