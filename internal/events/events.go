// Package events holds typed EventBridge events for everything the control
// plane consumes, and the simulator emits the same types, so the two cannot
// drift apart. The envelope is aws-lambda-go's CloudWatchEvent; details reuse
// aws-lambda-go's types where they exist (ECR image actions, ECS container
// instance state changes) and this package adds the rest, each shaped like
// the example on the AWS documentation page its doc comment cites. The
// fixtures in the repository's events/ directory are those examples.
//
// Each detail type has a strict parser: ParseLifecycleAction and the like
// return a *handlererr.InvalidInputError listing every problem when the input
// is not JSON, comes from another source or detail type, or lacks a field the
// control plane needs. Fields AWS may add later are ignored, as the ECS
// documentation asks of consumers.
package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/ecsplane/ecsplane/internal/handlererr"
)

// Sources of the events this package types.
const (
	SourceAutoScaling = "aws.autoscaling"
	SourceCloudWatch  = "aws.cloudwatch"
	SourceEC2         = "aws.ec2"
	SourceECR         = "aws.ecr"
	SourceECS         = "aws.ecs"
	SourceStates      = "aws.states"
)

// Envelope is an EventBridge event with its detail undecoded: aws-lambda-go's
// CloudWatchEvent.
type Envelope = lambdaevents.CloudWatchEvent

// Detail is the detail of one kind of EventBridge event. It names the source
// and detail type the event carries. Only this package's types implement it.
type Detail interface {
	// EventSource is the envelope's source, such as "aws.ecs".
	EventSource() string
	// EventDetailType is the envelope's detail-type, such as "ECS Deployment
	// State Change".
	EventDetailType() string
	// problems lists what is wrong with the detail, given the envelope's
	// resources; nil when it is well formed.
	problems(resources []string) []string
}

// Event is an EventBridge event with a typed detail. The embedded envelope's
// raw Detail is left empty: the typed Detail field stands in for it, in JSON
// too.
type Event[D Detail] struct {
	Envelope
	Detail D `json:"detail"`
}

// Parse decodes an EventBridge event whose detail is a D, and checks the
// envelope and the detail strictly. Problems are returned together as a
// *handlererr.InvalidInputError.
func Parse[D Detail](raw []byte) (Event[D], error) {
	var ev Event[D]
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return ev, handlererr.Invalid("event is not an EventBridge event: " + err.Error())
	}
	var zero D
	var problems []string
	if env.Source != zero.EventSource() {
		problems = append(problems, fmt.Sprintf("source is %q, want %q", env.Source, zero.EventSource()))
	}
	if env.ID == "" {
		problems = append(problems, "id is missing")
	}
	if env.AccountID == "" || env.Region == "" {
		problems = append(problems, "account or region is missing")
	}
	if env.Time.IsZero() {
		problems = append(problems, "time is missing")
	}
	var d D
	switch {
	case len(env.Detail) == 0 || string(env.Detail) == "null":
		problems = append(problems, "detail is missing")
	default:
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			problems = append(problems, "detail: "+err.Error())
		} else {
			problems = append(problems, d.problems(env.Resources)...)
			if env.DetailType != d.EventDetailType() {
				problems = append(problems, fmt.Sprintf("detail-type is %q, want %q", env.DetailType, d.EventDetailType()))
			}
		}
	}
	if len(problems) > 0 {
		return ev, handlererr.Invalid(problems...)
	}
	env.Detail = nil
	ev.Envelope, ev.Detail = env, d
	return ev, nil
}

// New builds the event for a detail with the given envelope fields. It is
// how the simulator emits events.
func New[D Detail](id, account, region string, at time.Time, resources []string, detail D) Event[D] {
	if resources == nil {
		resources = []string{}
	}
	return Event[D]{
		Envelope: Envelope{
			Version: "0", ID: id, DetailType: detail.EventDetailType(), Source: detail.EventSource(),
			AccountID: account, Time: at.UTC(), Region: region, Resources: resources,
		},
		Detail: detail,
	}
}

// checker collects the problems of one detail.
type checker []string

// required notes each named field whose value is empty.
func (c *checker) required(fields ...string) {
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.TrimSpace(fields[i+1]) == "" {
			*c = append(*c, fields[i]+" is missing")
		}
	}
}

// oneOf notes a field whose value is not one of allowed.
func (c *checker) oneOf(field, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		*c = append(*c, fmt.Sprintf("%s is %q, want one of %s", field, value, strings.Join(allowed, ", ")))
	}
}

// matches notes a field whose value does not match re.
func (c *checker) matches(field, value string, re *regexp.Regexp) {
	if !re.MatchString(value) {
		*c = append(*c, fmt.Sprintf("%s %q is not of the form %s", field, value, re))
	}
}

// timestamp notes a field that is not an RFC 3339 time.
func (c *checker) timestamp(field, value string) {
	if _, err := time.Parse(time.RFC3339Nano, value); err != nil {
		*c = append(*c, fmt.Sprintf("%s %q is not an RFC 3339 time", field, value))
	}
}

// resource notes when no resource has the prefix.
func (c *checker) resource(resources []string, prefix string) {
	for _, r := range resources {
		if strings.HasPrefix(r, prefix) {
			return
		}
	}
	*c = append(*c, fmt.Sprintf("resources %v name no %s…", resources, prefix))
}

var (
	arnRe    = regexp.MustCompile(`^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$`)
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)
