// Package rollout is the rollout workflow: an image pushed to the
// service's repository (or asked for with ecsplane deploy and rollback)
// rolls out through statemachine/rollout.asl.json, whose Task states run
// the steps here.
//
// A rollout is accepted (the push parsed strictly, deduplicated on
// (service, digest), recorded PENDING and marked the service's newest
// push), waits in bounded Wait/Choice loops for the service's revision
// lease and for its deployment alarms to be out of ALARM, registers a
// revision from the template of the revision the service runs with the
// image pinned by digest, and updates the service. It then waits for ECS's
// own verdict by event: the step stores its task token under the ECS
// deployment ID, and the resume function, which the "ECS Deployment State
// Change" rule invokes, sends the task's result; the step looks at ECS
// once more after storing the token, for a verdict given before. A wait
// that no event ends falls back to reading ECS's service deployments. The
// bake is another task-token wait whose timeout is the bake time: an alarm
// of its set going to ALARM resumes it with failure at once, and the
// timeout means it passed. A failed bake, or a step failed after the
// service changed, rolls the service back to its previous revision with
// the same event-driven wait. Finish decides the outcome from everything
// (service.Decide), records it, releases the lease, and the state machine
// publishes it to SNS.
//
// An execution stopped from outside, failed or timed out is cleaned up by
// the cleanup function, which the execution's own status change invokes:
// the service returns to its previous revision when the rollout changed it
// and reached no verdict, the record ends, the lease is released.
package rollout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/service"
)

// Config is what the rollout function reads from its environment.
type Config struct {
	// TableName is the ledger table.
	TableName string `env:"TABLE_NAME"`
	// ImageRepository is the app's repository URI,
	// <account>.dkr.ecr.<region>.amazonaws.com/<name>: pushes to it roll
	// out, pinned by digest.
	ImageRepository string `env:"IMAGE_REPOSITORY"`
	// TagPrefix is what a pushed tag must start with; ExcludedTags are
	// tags that never roll out.
	TagPrefix    string   `env:"IMAGE_TAG_PREFIX" default:""`
	ExcludedTags []string `env:"EXCLUDED_IMAGE_TAGS" default:"latest"`
	// BakeSeconds is how long a new revision bakes.
	BakeSeconds int `env:"BAKE_SECONDS"`
	// ECSWaitSeconds is how long a step waits for an ECS event before it
	// reads ECS's service deployments itself.
	ECSWaitSeconds int `env:"ECS_WAIT_SECONDS"`
	// PollSeconds is the length of one round of the waits for the lease
	// and for the gate.
	PollSeconds int `env:"POLL_SECONDS"`
	// GateTimeoutSeconds is how long a rollout waits for the alarms to
	// leave ALARM before it ends BLOCKED.
	GateTimeoutSeconds int `env:"GATE_TIMEOUT_SECONDS"`
	// BakeAlarms are the alarms that fail the bake, by name.
	BakeAlarms []string `env:"BAKE_ALARMS"`
}

// Validate reports every unusable setting at once.
func (c Config) Validate() error {
	var problems []string
	if _, _, ok := strings.Cut(c.ImageRepository, "/"); !ok {
		problems = append(problems, fmt.Sprintf("IMAGE_REPOSITORY %q is not <registry>/<repository>", c.ImageRepository))
	}
	for name, v := range map[string]int{"BAKE_SECONDS": c.BakeSeconds, "ECS_WAIT_SECONDS": c.ECSWaitSeconds, "POLL_SECONDS": c.PollSeconds, "GATE_TIMEOUT_SECONDS": c.GateTimeoutSeconds} {
		if v <= 0 {
			problems = append(problems, fmt.Sprintf("%s must be positive, got %d", name, v))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("rollout configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Repository is the name of the app's repository, as ECR's events name it.
func (c Config) Repository() string {
	_, name, _ := strings.Cut(c.ImageRepository, "/")
	return name
}

// LeaseTTL is how long a rollout's lease lasts from its latest renewal;
// every step renews it, and the longest stretch without a step is one ECS
// wait or the bake, followed by a rollback's wait. A lease left by a
// rollout that died runs out by itself.
func (c Config) LeaseTTL() time.Duration {
	return time.Duration(max(c.ECSWaitSeconds, c.BakeSeconds)+c.ECSWaitSeconds)*time.Second + 15*time.Minute
}

// leaseWaitLimit bounds the wait for the lease: longer than any holder
// keeps it without renewing it.
func (c Config) leaseWaitLimit() time.Duration { return 2 * c.LeaseTTL() }

// maxECSPolls bounds the rounds of a wait for ECS's verdict: each round is
// one event wait of ECSWaitSeconds and one read of ECS.
const maxECSPolls = 8

// ECSAPI is what the rollout steps call on ECS.
type ECSAPI interface {
	service.DescribeAPI
	service.RegisterAPI
	service.UpdateAPI
	service.ServiceDeploymentsAPI
}

// CloudWatchAPI reads the alarms the gate and the bake watch.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// TaskAPI resumes a step waiting for a task token.
type TaskAPI interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// StopAPI stops an ECS deployment in progress.
type StopAPI interface {
	StopServiceDeployment(ctx context.Context, in *ecs.StopServiceDeploymentInput, optFns ...func(*ecs.Options)) (*ecs.StopServiceDeploymentOutput, error)
}

var (
	_ ECSAPI        = (*ecs.Client)(nil)
	_ StopAPI       = (*ecs.Client)(nil)
	_ CloudWatchAPI = (*cloudwatch.Client)(nil)
	_ TaskAPI       = (*sfn.Client)(nil)
)

// Clients are the rollout function's clients.
type Clients struct {
	ECS        ECSAPI
	CloudWatch CloudWatchAPI
	SFN        TaskAPI
	Ledger     *ledger.Ledger
}

// Error names the rollout state machine matches, besides handlererr's.
const (
	// ErrECSFailed: ECS failed (or stopped) the deployment a step waits
	// for.
	ErrECSFailed = "EcsDeploymentFailed"
	// ErrBakeAlarm: an alarm of the bake's set went to ALARM.
	ErrBakeAlarm = "BakeAlarm"
	// ErrTimeout is Step Functions' error of a task that ran out of time:
	// for the bake, the bake passed.
	ErrTimeout = "States.Timeout"
)

// Step is a step the rollout function runs, as the state machine's
// Parameters name it.
type Step string

// The rollout function's steps.
const (
	StepPrepare          Step = "prepare"
	StepDeploy           Step = "deploy"
	StepPoll             Step = "poll"
	StepWatchECSRollback Step = "watch-ecs-rollback"
	StepBake             Step = "bake"
	StepRollback         Step = "rollback"
	StepFinish           Step = "finish"
)

// Catch is one Catch clause of a Task state: the errors it matches, where
// its result goes, and the state it leads to.
type Catch struct {
	Errors     []string
	ResultPath string
	Next       string
}

// TaskState is one Task state of the rollout state machine.
type TaskState struct {
	// Name is the state's name; Step the step its function runs, empty
	// for a direct service integration.
	Name string
	Step Step
	// Token is set for a step that waits for a task token; Timeout is the
	// path of its TimeoutSecondsPath.
	Token   bool
	Timeout string
	// ResultPath is where the state's result goes, Next where it leads.
	ResultPath string
	Next       string
	Catch      []Catch
}

// Machine is the rollout state machine's Task states, in the order a
// rollout can reach them; statemachine/rollout.asl.json follows it, which
// a test checks.
var Machine = []TaskState{
	{Name: "Prepare", Step: StepPrepare, ResultPath: "$.rollout", Next: "Prepared", Catch: []Catch{
		{[]string{"InvalidInputError"}, "$", "Ignored"},
		{[]string{"States.ALL"}, "$.prepareFailure", "Finish"},
	}},
	{Name: "Deploy", Step: StepDeploy, Token: true, Timeout: "$.rollout.ecsWaitSeconds", ResultPath: "$.ecs", Next: "Bake", Catch: []Catch{
		{[]string{ErrECSFailed}, "$.ecs", "WatchEcsRollback"},
		{[]string{ErrTimeout}, "$.ecsTimeout", "PollEcs"},
		{[]string{"States.ALL"}, "$.deployFailure", "Rollback"},
	}},
	{Name: "PollEcs", Step: StepPoll, ResultPath: "$.ecsPoll", Next: "EcsPolled", Catch: []Catch{
		{[]string{"States.ALL"}, "$.deployFailure", "Rollback"},
	}},
	{Name: "WatchEcsRollback", Step: StepWatchECSRollback, Token: true, Timeout: "$.rollout.ecsWaitSeconds", ResultPath: "$.ecsRollback", Next: "Finish", Catch: []Catch{
		{[]string{"States.ALL"}, "$.ecsRollback", "Finish"},
	}},
	{Name: "Bake", Step: StepBake, Token: true, Timeout: "$.rollout.bakeSeconds", ResultPath: "$.bake", Next: "Finish", Catch: []Catch{
		{[]string{ErrTimeout}, "$.bake", "Finish"},
		{[]string{ErrBakeAlarm}, "$.bake", "Rollback"},
		{[]string{"States.ALL"}, "$.bakeFailure", "Rollback"},
	}},
	{Name: "Rollback", Step: StepRollback, Token: true, Timeout: "$.rollout.ecsWaitSeconds", ResultPath: "$.rollback", Next: "Finish", Catch: []Catch{
		{[]string{ErrTimeout}, "$.rollbackTimeout", "PollRollback"},
		{[]string{"States.ALL"}, "$.rollback", "Finish"},
	}},
	{Name: "PollRollback", Step: StepPoll, ResultPath: "$.ecsPoll", Next: "RollbackPolled", Catch: []Catch{
		{[]string{"States.ALL"}, "$.rollback", "Finish"},
	}},
	{Name: "Finish", Step: StepFinish, ResultPath: "$.outcome", Next: "Notify", Catch: []Catch{
		{[]string{"States.ALL"}, "$.finishError", "FinishFailed"},
	}},
	{Name: "Notify", ResultPath: "$.notified", Next: "Ended", Catch: []Catch{
		{[]string{"States.ALL"}, "$.notifyError", "Ended"},
	}},
}
