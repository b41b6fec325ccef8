package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/preflight"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Config is what the plan function reads from its environment besides the
// stack's name: the spec fields the template decides (the image
// repository, the nginx image, the IAM roles it declares and passes by ARN,
// the containers' log group, whose name its permissions are scoped to) and
// the defaults it gives (the log group's retention, whether the stack is
// a production one), and where the DNS name is published.
type Config struct {
	ImageRepository    string `env:"IMAGE_REPOSITORY"`
	NginxImage         string `env:"NGINX_IMAGE"`
	InstanceProfileARN string `env:"INSTANCE_PROFILE_ARN"`
	ExecutionRoleARN   string `env:"EXECUTION_ROLE_ARN"`
	TaskRoleARN        string `env:"TASK_ROLE_ARN"`
	LogGroup           string `env:"LOG_GROUP" default:""`
	// LogRetentionDays is the log group's retention unless the spec sets
	// one; 0 leaves the spec's default.
	LogRetentionDays int32 `env:"LOG_RETENTION_DAYS" default:"0"`
	// Production makes every stack this control plane builds a production
	// one, whatever the spec says.
	Production       bool   `env:"PRODUCTION" default:"false"`
	DNSNameParameter string `env:"DNS_NAME_PARAMETER" default:""`
	// TableName is the ledger the build records to, which the preflight
	// checks; empty checks none.
	TableName string `env:"TABLE_NAME" default:""`
}

// Resolve turns the spec a build was given into the spec every later step
// reads: strict decoding with defaults, the stack's name and the
// configured fields filled in (a given value must agree with them), then
// validation of everything at once, the workload included.
func Resolve(raw json.RawMessage, stackName string, cfg Config) (stack.Spec, error) {
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
	fill("name", &s.Name, stackName)
	fill("service.imageRepository", &s.Service.ImageRepository, cfg.ImageRepository)
	fill("roles.instanceProfileArn", &s.Roles.InstanceProfileARN, cfg.InstanceProfileARN)
	fill("roles.executionRoleArn", &s.Roles.ExecutionRoleARN, cfg.ExecutionRoleARN)
	fill("roles.taskRoleArn", &s.Roles.TaskRoleARN, cfg.TaskRoleARN)
	fill("service.logGroup", &s.Service.LogGroup, cfg.LogGroup)
	// The nginx image and the retention are the template's defaults; a
	// spec may choose others.
	if s.Service.NginxImage == "" {
		s.Service.NginxImage = cfg.NginxImage
	}
	if cfg.LogRetentionDays != 0 && !s.Given("service.logRetentionDays") {
		s.Service.LogRetentionDays = cfg.LogRetentionDays
	}
	s.Production = s.Production || cfg.Production
	s = s.WithDefaults()
	var inv *handlererr.InvalidInputError
	if errors.As(s.Validate(), &inv) {
		problems = append(problems, inv.Problems...)
	}
	if errors.As(service.ValidateWorkload(s), &inv) {
		problems = append(problems, inv.Problems...)
	}
	if len(problems) > 0 {
		return stack.Spec{}, handlererr.Invalid(problems...)
	}
	return s, nil
}

// PlanHandler is the plan function.
type PlanHandler struct {
	Clients Clients
	Stack   string
	Config  Config
	Log     *slog.Logger
}

// PlanRequest is the plan step's input: the spec the execution was given.
type PlanRequest struct {
	Spec         json.RawMessage `json:"spec,omitempty"`
	ExecutionARN string          `json:"executionArn,omitempty"`
}

// PlanResult is the plan function's output. Spec is the resolved spec,
// which the later steps of the build read instead of resolving it again.
type PlanResult struct {
	Stack     string           `json:"stack"`
	NoChanges bool             `json:"noChanges"`
	Summary   string           `json:"summary"`
	Changes   []stack.Change   `json:"changes"`
	Spec      stack.Spec       `json:"spec"`
	Preflight preflight.Report `json:"preflight"`
}

// Plan resolves and validates the spec, reports every change a build
// would make, without making any, and runs the preflight checks, so that a
// build that would fail on something it does not create fails here, before
// its first change.
func (h *PlanHandler) Plan(ctx context.Context, req PlanRequest) (*PlanResult, error) {
	spec, err := Resolve(req.Spec, h.Stack, h.Config)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	run, report, err := Preflight(ctx, h.Clients, spec, h.Config.TableName, req.ExecutionARN, h.Log)
	if err != nil {
		return nil, handlererr.Boundary(err)
	}
	p := run.Plan()
	res := &PlanResult{Stack: spec.Name, NoChanges: len(p.Changes) == 0, Changes: p.Changes, Summary: p.Summary(), Spec: spec, Preflight: report}
	h.Log.InfoContext(ctx, "planned stack", "stack", spec.Name, "summary", res.Summary, "skipped_checks", report.Skipped)
	return res, nil
}
