package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/local"
)

// sample is an event for a rule's pattern: a file in events/, with some
// fields replaced. Set's keys are dotted paths ("detail.repository-name");
// a value of the form ${LogicalId} is that resource's local ARN.
type sample struct {
	File string
	Set  map[string]any
	// Why says how a near miss differs from what the rule wants.
	Why string
}

// ruleSamples are the events a rule must match and its near misses, which
// it must not.
type ruleSamples struct {
	Match []sample
	Miss  []sample
}

// templateRuleSamples has an entry for every rule of template.yaml. A rule
// without one fails TestTemplateRulePatterns. The rules are created for a
// stack called "patterns" with the template's default parameters: the
// repository "web", the tag prefix "v", the service's deployment alarms as
// the bake's.
var templateRuleSamples = map[string]ruleSamples{
	"RolloutStateMachineOnPush": {
		Match: []sample{
			{File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "v1.2.0"}},
			{File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "v2"}},
		},
		Miss: []sample{
			{Why: "another repository", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "api", "detail.image-tag": "v1.2.0"}},
			{Why: "a delete", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "v1.2.0", "detail.action-type": "DELETE"}},
			{Why: "a failed push", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "v1.2.0", "detail.result": "FAILURE"}},
			{Why: "a filtered tag: latest", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "latest"}},
			{Why: "a filtered tag: without the prefix", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "1.2.0"}},
			{Why: "a push by digest alone", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": nil}},
			{Why: "another detail-type", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.image-tag": "v1.2.0", "detail-type": "ECR Image Scan"}},
		},
	},
	"RolloutResumeFunctionOnEcsVerdict": {
		Match: []sample{
			{File: "ecs-deployment-state-change-completed.json", Set: map[string]any{"resources": []any{"arn:aws:ecs:${AWS::Region}:${AWS::AccountId}:service/patterns/patterns"}}},
			{File: "ecs-deployment-state-change-failed.json", Set: map[string]any{"resources": []any{"arn:aws:ecs:${AWS::Region}:${AWS::AccountId}:service/patterns/patterns"}}},
		},
		Miss: []sample{
			{Why: "an IN_PROGRESS deployment event", File: "ecs-deployment-state-change-in-progress.json", Set: map[string]any{"resources": []any{"arn:aws:ecs:${AWS::Region}:${AWS::AccountId}:service/patterns/patterns"}}},
			{Why: "a rollback starting", File: "ecs-deployment-state-change-rollback-in-progress.json", Set: map[string]any{"resources": []any{"arn:aws:ecs:${AWS::Region}:${AWS::AccountId}:service/patterns/patterns"}}},
			{Why: "another service's deployment", File: "ecs-deployment-state-change-completed.json", Set: map[string]any{"resources": []any{"arn:aws:ecs:${AWS::Region}:${AWS::AccountId}:service/patterns/other"}}},
			{Why: "another cluster's service", File: "ecs-deployment-state-change-completed.json"},
		},
	},
	"RolloutResumeFunctionOnBakeAlarm": {
		Match: []sample{
			{File: "cloudwatch-alarm-state-change-alarm.json", Set: map[string]any{"detail.alarmName": "patterns-target-5xx"}},
			{File: "cloudwatch-alarm-state-change-alarm.json", Set: map[string]any{"detail.alarmName": "patterns-elb-5xx"}},
		},
		Miss: []sample{
			{Why: "back to OK", File: "cloudwatch-alarm-state-change-ok.json", Set: map[string]any{"detail.alarmName": "patterns-target-5xx"}},
			{Why: "an alarm outside the bake's set", File: "cloudwatch-alarm-state-change-alarm.json", Set: map[string]any{"detail.alarmName": "patterns-cpu-high"}},
			{Why: "another stack's alarm", File: "cloudwatch-alarm-state-change-alarm.json", Set: map[string]any{"detail.alarmName": "other-target-5xx"}},
		},
	},
	"RolloutCleanupFunctionOnRolloutStopped": {
		Match: []sample{
			{File: "states-execution-status-change-aborted.json", Set: map[string]any{"detail.stateMachineArn": "${RolloutStateMachine}"}},
			{File: "states-execution-status-change-failed.json", Set: map[string]any{"detail.stateMachineArn": "${RolloutStateMachine}"}},
			{File: "states-execution-status-change-failed.json", Set: map[string]any{"detail.stateMachineArn": "${RolloutStateMachine}", "detail.status": "TIMED_OUT"}},
		},
		Miss: []sample{
			{Why: "a rollout that succeeded", File: "states-execution-status-change-succeeded.json", Set: map[string]any{"detail.stateMachineArn": "${RolloutStateMachine}"}},
			{Why: "another state machine's status change", File: "states-execution-status-change-aborted.json", Set: map[string]any{"detail.stateMachineArn": "${BuildStateMachine}"}},
		},
	},
}

// testdataRuleSamples covers the rules of the dispatcher's test template.
var testdataRuleSamples = map[string]ruleSamples{
	"RolloutStateMachineOnPush": {
		Match: []sample{{File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web"}}},
		Miss: []sample{
			{Why: "another repository", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "api"}},
			{Why: "another detail-type", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail-type": "ECR Image Scan"}},
			{Why: "a failed push", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.result": "FAILURE"}},
			{Why: "a delete", File: "ecr-image-action-push.json", Set: map[string]any{"detail.repository-name": "web", "detail.action-type": "DELETE"}},
		},
	},
	"EchoFunctionOnAlarm": {
		Match: []sample{{File: "cloudwatch-alarm-state-change-alarm.json"}},
		Miss: []sample{
			{Why: "another state", File: "cloudwatch-alarm-state-change-ok.json"},
			{Why: "another source", File: "cloudwatch-alarm-state-change-alarm.json", Set: map[string]any{"source": "custom.cloudwatch"}},
		},
	},
	"FailingFunctionOnTerminate": {
		Match: []sample{{File: "ec2-instance-terminate-lifecycle-action.json"}},
		Miss:  []sample{{Why: "another detail-type", File: "ec2-instance-launch-lifecycle-action.json"}},
	},
	"RolloutSucceededRule": {
		Match: []sample{{File: "states-execution-status-change-succeeded.json", Set: map[string]any{"detail.stateMachineArn": "${RolloutStateMachine}"}}},
		Miss: []sample{
			{Why: "another state", File: "states-execution-status-change-failed.json", Set: map[string]any{"detail.stateMachineArn": "${RolloutStateMachine}"}},
			{Why: "another state machine", File: "states-execution-status-change-succeeded.json"},
		},
	},
}

// TestTemplateRulePatterns runs every rule of template.yaml through moto's
// matcher with its samples and near misses.
func TestTemplateRulePatterns(t *testing.T) {
	if problems := rulePatternProblems(t, "../../template.yaml", templateRuleSamples); len(problems) > 0 {
		t.Error(strings.Join(problems, "\n"))
	}
}

// TestTestdataRulePatterns runs the test template's rules through moto's
// matcher, which shows the check itself at work.
func TestTestdataRulePatterns(t *testing.T) {
	if problems := rulePatternProblems(t, testTemplate, testdataRuleSamples); len(problems) > 0 {
		t.Error(strings.Join(problems, "\n"))
	}
}

// TestRulePatternCheckFailsItsGaps checks that the pattern check reports a
// rule without samples, a sample that does not match and a near miss that
// does.
func TestRulePatternCheckFailsItsGaps(t *testing.T) {
	table := map[string]ruleSamples{}
	for k, v := range testdataRuleSamples {
		table[k] = v
	}
	delete(table, "FailingFunctionOnTerminate")
	table["EchoFunctionOnAlarm"] = ruleSamples{
		Match: []sample{{File: "cloudwatch-alarm-state-change-ok.json"}},
		Miss:  []sample{{Why: "the same event", File: "cloudwatch-alarm-state-change-alarm.json"}},
	}
	problems := strings.Join(rulePatternProblems(t, testTemplate, table), "\n")
	for _, want := range []string{
		"rule FailingFunctionOnTerminate has no sample events",
		"rule EchoFunctionOnAlarm did not match cloudwatch-alarm-state-change-ok.json",
		"rule EchoFunctionOnAlarm matched its near miss cloudwatch-alarm-state-change-alarm.json (the same event)",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

// rulePatternProblems creates the template's rules in an account of their
// own and puts each sample on the bus: a match must reach the rule's
// queue, a near miss must not. moto delivers during PutEvents, so the
// queue is read at once.
func rulePatternProblems(t *testing.T, templatePath string, table map[string]ruleSamples) []string {
	t.Helper()
	env := awstest.Moto(t)
	ctx := context.Background()
	tmpl, err := local.LoadTemplate(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	pseudo := local.Pseudo{AccountID: env.AccountID, Region: env.Region, StackName: "patterns"}
	names := local.NewNames(tmpl, pseudo, nil, "p-", nil)
	rules, err := tmpl.Rules(names)
	if err != nil {
		t.Fatal(err)
	}
	queues, err := local.CreateRules(ctx, env.Config, pseudo, rules)
	if err != nil {
		t.Fatal(err)
	}
	bus := &local.Bus{API: eventbridge.NewFromConfig(env.Config)}
	q := sqs.NewFromConfig(env.Config)
	var problems []string
	for _, r := range rules {
		s, ok := table[r.LogicalID]
		if !ok || len(s.Match) == 0 || len(s.Miss) == 0 {
			problems = append(problems, fmt.Sprintf("rule %s has no sample events to match and near misses to refuse", r.LogicalID))
			continue
		}
		url := queues[local.RouteKey(r.LogicalID, r.Targets[0].ID)]
		check := func(sm sample, want bool) {
			ev := sampleEvent(t, names, pseudo, sm)
			if _, err := bus.Put(ctx, ev); err != nil {
				t.Fatal(err)
			}
			// Every rule's queue is emptied, so that what another rule
			// matched is not counted for it later.
			delivered := 0
			for _, u := range queues {
				out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), MaxNumberOfMessages: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range out.Messages {
					if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: m.ReceiptHandle}); err != nil {
						t.Fatal(err)
					}
				}
				if u == url {
					delivered = len(out.Messages)
				}
			}
			switch got := delivered == 1; {
			case want && !got:
				problems = append(problems, fmt.Sprintf("rule %s did not match %s %v", r.LogicalID, sm.File, sm.Set))
			case !want && got:
				problems = append(problems, fmt.Sprintf("rule %s matched its near miss %s (%s)", r.LogicalID, sm.File, sm.Why))
			}
		}
		for _, sm := range s.Match {
			check(sm, true)
		}
		for _, sm := range s.Miss {
			check(sm, false)
		}
	}
	for id := range table {
		if !slices.ContainsFunc(rules, func(r local.Rule) bool { return r.LogicalID == id }) {
			problems = append(problems, fmt.Sprintf("samples are declared for %s, which the template does not declare", id))
		}
	}
	return problems
}

var arnRef = regexp.MustCompile(`^\$\{([A-Za-z0-9]+)\}$`)

// sampleEvent reads a sample's file and sets its fields. ${AWS::AccountId},
// ${AWS::Region} and ${AWS::StackName} in a string value are the
// environment's pseudo parameters; a nil value removes the field.
func sampleEvent(t *testing.T, names *local.Names, pseudo local.Pseudo, sm sample) events.Envelope {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + sm.File)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	pseudoVars := strings.NewReplacer("${AWS::AccountId}", pseudo.AccountID, "${AWS::Region}", pseudo.Region, "${AWS::StackName}", pseudo.StackName)
	resolve := func(v any) any {
		s, ok := v.(string)
		if !ok {
			return v
		}
		if ref := arnRef.FindStringSubmatch(s); ref != nil {
			arn, err := names.ARN(ref[1])
			if err != nil {
				t.Fatal(err)
			}
			return arn
		}
		return pseudoVars.Replace(s)
	}
	for path, v := range sm.Set {
		if list, ok := v.([]any); ok {
			resolved := make([]any, len(list))
			for i, x := range list {
				resolved[i] = resolve(x)
			}
			v = resolved
		} else {
			v = resolve(v)
		}
		keys := strings.Split(path, ".")
		at := m
		for _, k := range keys[:len(keys)-1] {
			at = at[k].(map[string]any)
		}
		if v == nil {
			delete(at, keys[len(keys)-1])
			continue
		}
		at[keys[len(keys)-1]] = v
	}
	raw, _ = json.Marshal(m)
	var ev events.Envelope
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestTestdataAppIsComplete deploys the test template and verifies, from
// moto and the gateway, that everything it declares exists.
func TestTestdataAppIsComplete(t *testing.T) {
	ta := deployTestApp(t)
	if err := ta.Verify(context.Background(), ta.cfg, ta.sf.Gateway); err != nil {
		t.Fatal(err)
	}
	if len(ta.Rules) != 4 || len(ta.Functions) != 2 || len(ta.StateMachines) != 1 || len(ta.Queues) != 4 {
		t.Errorf("deployed %d rules, %d functions, %d state machines, %d queues; the template declares 4, 2, 1 and 4",
			len(ta.Rules), len(ta.Functions), len(ta.StateMachines), len(ta.Queues))
	}

	// Take a rule's target, the state machine and a queue away: Verify
	// names each.
	ctx := context.Background()
	eb := eventbridge.NewFromConfig(ta.cfg)
	alarm := ta.rule("EchoFunctionOnAlarm")
	if _, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(alarm.Name), Ids: []string{alarm.Targets[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sfn.NewFromConfig(ta.cfg).DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(ta.stateMachine("RolloutStateMachine").ARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.NewFromConfig(ta.cfg).DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(ta.Queues["PushDeadLetters"])}); err != nil {
		t.Fatal(err)
	}
	err := ta.Verify(ctx, ta.cfg, ta.sf.Gateway)
	for _, want := range []string{"rule EchoFunctionOnAlarm has no target EchoFunctionOnAlarmLambdaTarget", "state machine RolloutStateMachine", "queue PushDeadLetters"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify: %v, want it to name %q", err, want)
		}
	}
}

// waitLike is a substitution name that looks like a wait length.
var waitLike = regexp.MustCompile(`(?i)(wait|seconds|timeout|bake|delay|interval)`)

// TestWaitSubstitutionsDeclared fails for a substitution of template.yaml
// that looks like a wait but is not in local.WaitSubstitutions, which a
// local run shortens.
func TestWaitSubstitutionsDeclared(t *testing.T) {
	tmpl := loadTemplate(t)
	sms, err := tmpl.StateMachines(local.NewNames(tmpl, local.Pseudo{AccountID: local.Account, Region: local.Region, StackName: "s"}, nil, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	waits := 0
	for _, sm := range sms {
		for k := range sm.Substitutions {
			if waitLike.MatchString(k) && !slices.Contains(local.WaitSubstitutions, k) {
				t.Errorf("%s: substitution %s looks like a wait; declare it in local.WaitSubstitutions", sm.LogicalID, k)
			}
			if slices.Contains(local.WaitSubstitutions, k) {
				waits++
			}
		}
	}
	if waits == 0 {
		t.Error("no state machine of template.yaml uses a declared wait substitution")
	}
}
