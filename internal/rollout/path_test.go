package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/rollout"
)

// act is what a scripted step does on one call: return out or err (a
// plain step), or, for a step that waits for a task token, send out as the
// task's success, send the failure fail, or nothing (the wait times out).
type act struct {
	out   any
	err   error
	fail  string
	quiet bool
}

// Scripted errors, whose type names the state machine sees.
type (
	InvalidInputError struct{}
	ScriptedFailure   struct{}
)

func (InvalidInputError) Error() string { return "scripted refusal" }
func (ScriptedFailure) Error() string   { return "scripted failure" }

// The waits' timeouts in the scripted runs: long enough that a scripted
// answer, sent at once, reaches the engine first on a loaded machine, and
// short enough for the paths whose waits time out.
const scriptedWaitSeconds = 5

var (
	deploy  = act{out: map[string]any{"next": "deploy", "service": "web", "deploymentId": "d", "waitSeconds": 0, "ecsWaitSeconds": scriptedWaitSeconds, "bakeSeconds": scriptedWaitSeconds}}
	waitOne = act{out: map[string]any{"next": "wait", "service": "web", "deploymentId": "d", "waitSeconds": 0, "ecsWaitSeconds": scriptedWaitSeconds, "bakeSeconds": scriptedWaitSeconds}}
	ignore  = act{out: map[string]any{"next": "ignore", "duplicate": "of another"}}
	done    = act{out: map[string]any{"status": "SUCCEEDED", "succeeded": true, "service": "web"}}
	failed  = act{out: map[string]any{"status": "FAILED", "reason": "scripted", "succeeded": false, "service": "web"}}
	ok      = act{out: map[string]any{"status": "COMPLETED"}}
	polled  = func(status string) act { return act{out: map[string]any{"status": status, "polls": 1}} }
	boom    = act{err: ScriptedFailure{}}
)

// script answers the rollout function's steps in turn; a step's last act
// repeats.
type script struct {
	mu    sync.Mutex
	acts  map[rollout.Step][]act
	calls map[rollout.Step]int
	sfn   *sfn.Client
}

func (s *script) handle(ctx context.Context, in rollout.Invocation) (any, error) {
	s.mu.Lock()
	acts := s.acts[in.Step]
	i := min(s.calls[in.Step], len(acts)-1)
	s.calls[in.Step]++
	s.mu.Unlock()
	if len(acts) == 0 {
		return nil, fmt.Errorf("the script has nothing for step %s", in.Step)
	}
	a := acts[i]
	if a.err != nil || in.Token == "" {
		return a.out, a.err
	}
	switch {
	case a.quiet:
	case a.fail != "":
		_, err := s.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(in.Token), Error: aws.String(a.fail), Cause: aws.String("scripted")})
		return nil, err
	default:
		out, _ := json.Marshal(a.out)
		_, err := s.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(in.Token), Output: aws.String(string(out))})
		return nil, err
	}
	return nil, nil
}

// catchTaken is one Catch clause a run took: the state it left, the error
// and the state it went to.
type catchTaken struct{ state, err, next string }

// caughtIn lists the Catch clauses an execution's history shows taken.
func caughtIn(history []sfntypes.HistoryEvent) []catchTaken {
	var out []catchTaken
	var state, pending string
	for _, ev := range history {
		switch {
		case ev.StateEnteredEventDetails != nil:
			name := aws.ToString(ev.StateEnteredEventDetails.Name)
			if pending != "" {
				out = append(out, catchTaken{state, pending, name})
				pending = ""
			}
			state = name
		case ev.LambdaFunctionFailedEventDetails != nil:
			pending = aws.ToString(ev.LambdaFunctionFailedEventDetails.Error)
		case ev.TaskFailedEventDetails != nil:
			pending = aws.ToString(ev.TaskFailedEventDetails.Error)
		case ev.TaskTimedOutEventDetails != nil:
			pending = aws.ToString(ev.TaskTimedOutEventDetails.Error)
		case ev.LambdaFunctionTimedOutEventDetails != nil:
			pending = aws.ToString(ev.LambdaFunctionTimedOutEventDetails.Error)
		case ev.StateExitedEventDetails != nil:
			if aws.ToString(ev.StateExitedEventDetails.Name) != state {
				pending = ""
			}
		}
	}
	return out
}

// TestEveryCatchIsTaken runs the real rollout.asl.json in moto's engine
// with the rollout function scripted, one path per case, and checks the
// states each path goes through; together the paths take every Catch
// clause of the definition.
func TestEveryCatchIsTaken(t *testing.T) {
	t.Parallel()
	sf := awstest.NewStepFunctions(t)
	// The engine's own SNS calls act in moto's default account.
	topic, err := sns.NewFromConfig(awstest.NewEnv(sf.Endpoint, local.Account).Config).CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String("outcomes-" + sf.AccountID)})
	if err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(awstest.RepoRoot(t), "statemachine", "rollout.asl.json")
	machine := func(name, topicARN string, s *script) string {
		return sf.CreateStateMachine(t, def, map[string]string{"RolloutFunctionArn": sf.Function("rollout-"+name, s.handle), "TopicArn": topicARN})
	}
	cases := []struct {
		name    string
		acts    map[rollout.Step][]act
		noTopic bool
		path    []string
		status  sfntypes.ExecutionStatus
	}{
		{"succeeds", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {ok}, rollout.StepBake: {{quiet: true}}, rollout.StepFinish: {done}},
			false, []string{"Prepare", "Prepared", "Deploy", "Bake", "Finish", "Notify", "Ended", "Done"}, sfntypes.ExecutionStatusSucceeded},
		{"refused", map[rollout.Step][]act{rollout.StepPrepare: {{err: InvalidInputError{}}}},
			false, []string{"Prepare", "Ignored"}, sfntypes.ExecutionStatusSucceeded},
		{"waits, then a duplicate", map[rollout.Step][]act{rollout.StepPrepare: {waitOne, ignore}},
			false, []string{"Prepare", "Prepared", "WaitToStart", "Prepare", "Prepared", "Ignored"}, sfntypes.ExecutionStatusSucceeded},
		{"prepare fails", map[rollout.Step][]act{rollout.StepPrepare: {boom}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"ECS fails and rolls back", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {{fail: rollout.ErrECSFailed}}, rollout.StepWatchECSRollback: {ok}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "WatchEcsRollback", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"no event, polled until done", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {{quiet: true}, ok}, rollout.StepPoll: {polled("IN_PROGRESS")}, rollout.StepBake: {{quiet: true}}, rollout.StepFinish: {done}},
			false, []string{"Prepare", "Prepared", "Deploy", "PollEcs", "EcsPolled", "Deploy", "Bake", "Finish", "Notify", "Ended", "Done"}, sfntypes.ExecutionStatusSucceeded},
		{"no event, polled failed", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {{quiet: true}}, rollout.StepPoll: {polled("FAILED")}, rollout.StepWatchECSRollback: {{err: boom.err}}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "PollEcs", "EcsPolled", "WatchEcsRollback", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"no event, polled completed", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {{quiet: true}}, rollout.StepPoll: {polled("COMPLETED")}, rollout.StepBake: {{fail: rollout.ErrBakeAlarm}}, rollout.StepRollback: {ok}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "PollEcs", "EcsPolled", "Bake", "Rollback", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"deploy fails", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {boom}, rollout.StepRollback: {{err: boom.err}}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "Rollback", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"the poll fails", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {{quiet: true}}, rollout.StepPoll: {boom}, rollout.StepRollback: {ok}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "PollEcs", "Rollback", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"the bake fails", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {ok}, rollout.StepBake: {boom}, rollout.StepRollback: {{quiet: true}}, rollout.StepPoll: {polled("IN_PROGRESS"), boom}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "Bake", "Rollback", "PollRollback", "RollbackPolled", "Rollback", "PollRollback", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"the rollback is polled to its end", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {ok}, rollout.StepBake: {{fail: rollout.ErrBakeAlarm}}, rollout.StepRollback: {{quiet: true}}, rollout.StepPoll: {polled("COMPLETED")}, rollout.StepFinish: {failed}},
			false, []string{"Prepare", "Prepared", "Deploy", "Bake", "Rollback", "PollRollback", "RollbackPolled", "Finish", "Notify", "Ended", "NotSucceeded"}, sfntypes.ExecutionStatusFailed},
		{"finish fails", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {ok}, rollout.StepBake: {{quiet: true}}, rollout.StepFinish: {boom}},
			false, []string{"Prepare", "Prepared", "Deploy", "Bake", "Finish", "FinishFailed"}, sfntypes.ExecutionStatusFailed},
		{"the outcome cannot be published", map[rollout.Step][]act{rollout.StepPrepare: {deploy}, rollout.StepDeploy: {ok}, rollout.StepBake: {{quiet: true}}, rollout.StepFinish: {done}},
			true, []string{"Prepare", "Prepared", "Deploy", "Bake", "Finish", "Notify", "Ended", "Done"}, sfntypes.ExecutionStatusSucceeded},
	}
	var mu sync.Mutex
	var taken []catchTaken
	t.Run("paths", func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s := &script{acts: tc.acts, calls: map[rollout.Step]int{}, sfn: sf.SFN}
				topicARN := aws.ToString(topic.TopicArn)
				if tc.noTopic {
					topicARN += "-missing"
				}
				arn := machine(fmt.Sprint(i), topicARN, s)
				ex := sf.Wait(t, sf.Start(t, arn, map[string]any{"source": "aws.ecr"}), 2*time.Minute)
				if got := ex.EnteredStates(); !slices.Equal(got, tc.path) || ex.Status != tc.status {
					t.Errorf("%s through %v (%s %s), want %s through %v", ex.Status, got, ex.Error, ex.Cause, tc.status, tc.path)
				}
				mu.Lock()
				taken = append(taken, caughtIn(ex.History)...)
				mu.Unlock()
			})
		}
	})
	for _, ts := range rollout.Machine {
		var earlier []string
		for _, c := range ts.Catch {
			covered := slices.ContainsFunc(taken, func(ct catchTaken) bool {
				if ct.state != ts.Name || ct.next != c.Next {
					return false
				}
				return slices.Contains(c.Errors, ct.err) || (slices.Contains(c.Errors, "States.ALL") && !slices.Contains(earlier, ct.err))
			})
			if !covered {
				t.Errorf("no path takes %s's Catch of %v to %s", ts.Name, c.Errors, c.Next)
			}
			earlier = append(earlier, c.Errors...)
		}
	}
	var seen []string
	for _, ct := range taken {
		seen = append(seen, fmt.Sprintf("%s/%s→%s", ct.state, ct.err, ct.next))
	}
	slices.Sort(seen)
	t.Logf("catches taken: %s", strings.Join(slices.Compact(seen), ", "))
}
