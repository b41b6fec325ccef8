package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Config is what the functions read from their environment: the stack
// they manage and the template's IAM roles, which the control plane passes
// by ARN and never creates.
type Config struct {
	StackName          string `env:"STACK_NAME"`
	ImageRepository    string `env:"IMAGE_REPOSITORY" default:""`
	InstanceProfileARN string `env:"INSTANCE_PROFILE_ARN"`
	ExecutionRoleARN   string `env:"EXECUTION_ROLE_ARN"`
	TaskRoleARN        string `env:"TASK_ROLE_ARN"`
	// LogGroup is the containers' log group; LogGroup(spec) when unset.
	LogGroup string `env:"LOG_GROUP" default:""`
	// DNSNameParameter is the SSM parameter where the build publishes the
	// load balancer's DNS name; unset means do not publish.
	DNSNameParameter string `env:"DNS_NAME_PARAMETER" default:""`
}

// Handler holds the build and teardown functions' dependencies. Each
// exported method is one Lambda function's handler.
type Handler struct {
	Clients Clients
	Config  Config
	// Workload returns the task's containers for a spec.
	Workload func(stack.Spec) (service.Workload, error)
	Log      *slog.Logger
}

// Request is the state-machine state each function receives. Functions
// read the fields they need.
type Request struct {
	// Spec is the stack spec as given to the execution; zero fields take
	// defaults, and the name, image repository and roles come from Config.
	Spec   json.RawMessage `json:"spec,omitempty"`
	Layers Layers          `json:"layers"`
	// Layer names the layer a build or teardown step works on.
	Layer string `json:"layer,omitempty"`
	// Check names the readiness check.
	Check string `json:"check,omitempty"`
	// Previous is the last wait-loop result, to count attempts.
	Previous     *Progress `json:"previous,omitempty"`
	Waits        Waits     `json:"waits"`
	ExecutionARN string    `json:"executionArn,omitempty"`
}

// Waits bound the wait loops. Values may be numbers or strings, since
// DefinitionSubstitutions only substitute strings.
type Waits struct {
	Seconds     Int `json:"seconds"`
	MaxAttempts Int `json:"maxAttempts"`
}

// Int is an integer that also decodes from a JSON string.
type Int int

// UnmarshalJSON accepts 5 and "5".
func (n *Int) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		b = []byte(s)
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("want an integer, got %s", b)
	}
	*n = Int(v)
	return nil
}

// Progress is one round of a wait loop: a readiness check or a teardown
// step that is still waiting for AWS.
type Progress struct {
	Name        string `json:"name"`
	Done        bool   `json:"done"`
	Attempt     int    `json:"attempt"`
	WaitSeconds int    `json:"waitSeconds"`
	Detail      string `json:"detail,omitempty"`
}

// PlanResult is the plan function's output.
type PlanResult struct {
	Stack     string         `json:"stack"`
	NoChanges bool           `json:"noChanges"`
	Summary   string         `json:"summary"`
	Changes   []stack.Change `json:"changes"`
}

// Spec resolves the request's spec: strict decoding, the configured name,
// repository and roles, defaults, then validation of everything at once.
func (h *Handler) Spec(raw json.RawMessage) (stack.Spec, error) {
	s, err := stack.Decode(raw)
	if err != nil {
		return stack.Spec{}, err
	}
	var problems []string
	fill := func(field string, v *string, configured string) {
		switch {
		case *v == "":
			*v = configured
		case configured != "" && *v != configured:
			problems = append(problems, fmt.Sprintf("%s is %q but this control plane manages %q", field, *v, configured))
		}
	}
	fill("name", &s.Name, h.Config.StackName)
	fill("service.imageRepository", &s.Service.ImageRepository, h.Config.ImageRepository)
	fill("roles.instanceProfileArn", &s.Roles.InstanceProfileARN, h.Config.InstanceProfileARN)
	fill("roles.executionRoleArn", &s.Roles.ExecutionRoleARN, h.Config.ExecutionRoleARN)
	fill("roles.taskRoleArn", &s.Roles.TaskRoleARN, h.Config.TaskRoleARN)
	s = s.WithDefaults()
	var inv *handlererr.InvalidInputError
	if errors.As(s.Validate(), &inv) {
		problems = append(problems, inv.Problems...)
	}
	if len(problems) > 0 {
		return stack.Spec{}, handlererr.Invalid(problems...)
	}
	return s, nil
}

func (h *Handler) run(spec stack.Spec, dryRun bool, req Request) *stack.Run {
	return stack.NewRun(spec, dryRun, req.ExecutionARN, h.Log)
}

// Plan is the plan function: it validates the spec and reports every change
// a build would make, without making any.
func (h *Handler) Plan(ctx context.Context, req Request) (*PlanResult, error) {
	spec, err := h.Spec(req.Spec)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	w, err := h.Workload(spec)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	run := h.run(spec, true, req)
	if _, err := Apply(ctx, h.Clients, run, w); err != nil {
		return nil, handlererr.Boundary(err)
	}
	p := run.Plan()
	res := &PlanResult{Stack: spec.Name, NoChanges: len(p.Changes) == 0, Changes: p.Changes,
		Summary: fmt.Sprintf("%d to create, %d to update, %d to delete", p.Count(stack.Create), p.Count(stack.Update), p.Count(stack.Delete))}
	if res.NoChanges {
		res.Summary = stack.NoChanges
	}
	h.Log.InfoContext(ctx, "planned stack", "stack", spec.Name, "summary", res.Summary)
	return res, nil
}

// Build is the build function: it reconciles req.Layer and returns that
// layer's output for the state machine to carry to the next layers.
func (h *Handler) Build(ctx context.Context, req Request) (any, error) {
	spec, err := h.Spec(req.Spec)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	w, err := h.Workload(spec)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	l := req.Layers
	if err := Step(ctx, h.Clients, h.run(spec, false, req), w, req.Layer, &l); err != nil {
		return nil, handlererr.Boundary(err)
	}
	switch req.Layer {
	case "network":
		return l.Network, nil
	case "security":
		return l.Security, nil
	case "compute":
		return l.Compute, nil
	case "ingress":
		if err := h.publishDNSName(ctx, l.Ingress.DNSName); err != nil {
			return nil, handlererr.Boundary(err)
		}
		return l.Ingress, nil
	default:
		return l.Service, nil
	}
}

// progress counts the attempt and fails the loop once it is exhausted.
func progress(name string, req Request, done bool, detail string) (*Progress, error) {
	p := &Progress{Name: name, Done: done, Attempt: 1, WaitSeconds: int(req.Waits.Seconds), Detail: detail}
	if req.Previous != nil && req.Previous.Name == name {
		p.Attempt = req.Previous.Attempt + 1
	}
	if p.WaitSeconds < 0 {
		p.WaitSeconds = 0
	}
	if !done && req.Waits.MaxAttempts > 0 && p.Attempt >= int(req.Waits.MaxAttempts) {
		return nil, &handlererr.NotReadyError{Msg: fmt.Sprintf("%s not done after %d attempts: %s", name, p.Attempt, detail)}
	}
	return p, nil
}

// Ready is the readiness function: one round of a wait loop.
func (h *Handler) Ready(ctx context.Context, req Request) (*Progress, error) {
	st, err := Check(ctx, h.Clients, &req.Layers, req.Check)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	h.Log.InfoContext(ctx, "checked readiness", "check", req.Check, "ready", st.Ready, "detail", st.Detail)
	p, err := progress(req.Check, req, st.Ready, st.Detail)
	return p, handlererr.Boundary(err)
}

// Teardown is the teardown function: one round of deleting req.Layer. It
// reports Done once the layer is gone; a DependencyViolation comes back as
// a RetryableError for the state machine's bounded retry.
func (h *Handler) Teardown(ctx context.Context, req Request) (*Progress, error) {
	spec, err := h.Spec(req.Spec)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	err = Teardown(ctx, h.Clients, h.run(spec, false, req), req.Layer)
	switch {
	case err == nil:
		return progress(req.Layer, req, true, "deleted")
	case IsNotReady(err) || awserr.IsDependencyViolation(err):
		// AWS releases dependants (network interfaces, mappings) minutes
		// after their owners go; the wait loop bounds that wait.
		p, err := progress(req.Layer, req, false, err.Error())
		return p, handlererr.Boundary(err)
	default:
		return nil, handlererr.Boundary(err)
	}
}

// publishDNSName writes the load balancer's DNS name to the configured
// parameter, only when it differs, so a repeated build stays read-only.
func (h *Handler) publishDNSName(ctx context.Context, dns string) error {
	name := h.Config.DNSNameParameter
	if name == "" || dns == "" {
		return nil
	}
	got, err := h.Clients.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil && !awserr.IsNotFound(err) {
		return fmt.Errorf("reading parameter %s: %w", name, err)
	}
	if err == nil && aws.ToString(got.Parameter.Value) == dns {
		return nil
	}
	if _, err := h.Clients.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(dns), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("publishing the DNS name to %s: %w", name, err)
	}
	h.Log.InfoContext(ctx, "published DNS name", "parameter", name, "dns_name", dns)
	return nil
}
