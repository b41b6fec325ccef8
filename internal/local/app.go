package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// Account is moto's default account. Requests without an account header
// act in it, and so do the Step Functions engine's own service calls (SNS,
// DynamoDB), so the local environment lives there.
const Account = "123456789012"

// WaitSubstitutions are the DefinitionSubstitutions keys whose values are
// wait lengths in seconds. moto's Step Functions engine waits in wall-clock
// time, so a local run replaces them with AppOptions.WaitSeconds. A new
// wait in a state machine adds its key here; TestWaitSubstitutionsDeclared
// fails for a substitution that looks like a wait and is not listed.
var WaitSubstitutions = []string{"ReadyWaitSeconds", "LifecyclePollSeconds", "RemediatePollSeconds"}

// AppOptions configures DeployApp.
type AppOptions struct {
	// TemplatePath is template.yaml; DefinitionUri is relative to it.
	TemplatePath string
	// Pseudo are the pseudo parameters: the account requests act in, the
	// region and the stack name.
	Pseudo Pseudo
	// Parameters override the template's parameter defaults.
	Parameters map[string]string
	// Prefix starts every generated resource name.
	Prefix string
	// Names gives resources names of the caller's choosing, by logical ID.
	Names map[string]string
	// WaitSeconds replaces every WaitSubstitutions value.
	WaitSeconds int
	// Handlers are the functions' handlers, by logical ID, in any form
	// lambda.NewHandler accepts. Every function of the template needs one.
	Handlers map[string]any
}

// App is the template's application created in the local environment.
type App struct {
	Template      *Template
	Names         *Names
	Functions     []Function
	StateMachines []StateMachine
	Rules         []Rule
	// Tables are the tables' names, by logical ID.
	Tables map[string]string
	// Queues are the queues' URLs, by logical ID.
	Queues map[string]string
	// Topics are the topics' ARNs, by logical ID.
	Topics map[string]string
	// Parameters are the SSM parameters' names, by logical ID.
	Parameters map[string]string
	// TopicQueues are the URLs of the queues subscribed to each topic, by
	// the topic's logical ID, so that tests and users can read what was
	// published.
	TopicQueues map[string]string
	// RuleQueues are the URLs of the queues moto delivers each rule
	// target's events to, by RouteKey.
	RuleQueues map[string]string
}

// RouteKey names one target of one rule.
func RouteKey(ruleID, targetID string) string { return ruleID + "/" + targetID }

// DeployApp creates tmpl's application in the local environment reached
// through cfg, and registers the functions' handlers on gw: the tables,
// the roles and instance profiles, queues, topics (each with an SQS subscriber), state machines with their
// substitutions resolved and their waits shortened, and every rule on
// moto's bus with its real pattern and an SQS queue as each target's
// stand-in. A function without a handler, or anything the local
// environment cannot create, is an error.
func DeployApp(ctx context.Context, cfg aws.Config, gw *Gateway, tmpl *Template, opts AppOptions) (*App, error) {
	names := NewNames(tmpl, opts.Pseudo, opts.Parameters, opts.Prefix, opts.Names)
	app := &App{
		Template: tmpl, Names: names,
		Tables: map[string]string{}, Queues: map[string]string{}, Topics: map[string]string{}, Parameters: map[string]string{},
		TopicQueues: map[string]string{}, RuleQueues: map[string]string{},
	}
	var err error
	if app.Functions, err = tmpl.Functions(names); err != nil {
		return nil, err
	}
	if app.StateMachines, err = tmpl.StateMachines(names); err != nil {
		return nil, err
	}
	if app.Rules, err = tmpl.Rules(names); err != nil {
		return nil, err
	}
	if bad := tmpl.UnsupportedEvents(); len(bad) > 0 {
		return nil, fmt.Errorf("the local environment cannot create these events: %v", bad)
	}
	for _, f := range app.Functions {
		h, ok := opts.Handlers[f.LogicalID]
		if !ok {
			return nil, fmt.Errorf("function %s has no local handler", f.LogicalID)
		}
		gw.Register(f.Name, h)
	}
	for id := range opts.Handlers {
		if !slices.ContainsFunc(app.Functions, func(f Function) bool { return f.LogicalID == id }) {
			return nil, fmt.Errorf("a handler is given for %s, which the template does not declare", id)
		}
	}

	db := dynamodb.NewFromConfig(cfg)
	for _, id := range tmpl.ResourcesOfType(TypeTable) {
		name, err := names.Name(id)
		if err != nil {
			return nil, err
		}
		if err := CreateTable(ctx, db, tmpl, id, name); err != nil {
			return nil, err
		}
		app.Tables[id] = name
	}

	// The roles the plan function passes by ARN and the preflight checks
	// read.
	if err := CreateRoles(ctx, iam.NewFromConfig(cfg), tmpl, names); err != nil {
		return nil, err
	}

	params := ssm.NewFromConfig(cfg)
	for _, id := range tmpl.ResourcesOfType(TypeParameter) {
		in, err := parameterInput(tmpl, names, id)
		if err != nil {
			return nil, err
		}
		if _, err := params.PutParameter(ctx, in); err != nil {
			return nil, fmt.Errorf("creating parameter %s: %w", id, err)
		}
		app.Parameters[id] = aws.ToString(in.Name)
	}

	q := sqs.NewFromConfig(cfg)
	for _, id := range tmpl.Queues() {
		name, err := names.Name(id)
		if err != nil {
			return nil, err
		}
		if app.Queues[id], err = createQueue(ctx, q, name); err != nil {
			return nil, err
		}
	}

	topics := sns.NewFromConfig(cfg)
	for _, id := range tmpl.ResourcesOfType(TypeTopic) {
		name, err := names.Name(id)
		if err != nil {
			return nil, err
		}
		t, err := topics.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("creating topic %s: %w", name, err)
		}
		app.Topics[id] = aws.ToString(t.TopicArn)
		url, err := createQueue(ctx, q, name+"-subscriber")
		if err != nil {
			return nil, err
		}
		if _, err := topics.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: t.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN(opts.Pseudo, name+"-subscriber")),
			Attributes: map[string]string{"RawMessageDelivery": "true"},
		}); err != nil {
			return nil, fmt.Errorf("subscribing a queue to topic %s: %w", name, err)
		}
		app.TopicQueues[id] = url
	}

	states := sfn.NewFromConfig(cfg)
	for _, sm := range app.StateMachines {
		subs := maps.Clone(sm.Substitutions)
		for _, k := range WaitSubstitutions {
			if _, ok := subs[k]; ok {
				subs[k] = fmt.Sprint(opts.WaitSeconds)
			}
		}
		def, err := Definition(filepath.Join(filepath.Dir(opts.TemplatePath), sm.DefinitionURI), subs)
		if err != nil {
			return nil, fmt.Errorf("state machine %s: %w", sm.LogicalID, err)
		}
		out, err := states.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String(sm.Name), Definition: aws.String(def),
			RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s", opts.Pseudo.AccountID, sm.Name)),
		})
		if err != nil {
			return nil, fmt.Errorf("creating state machine %s: %w", sm.LogicalID, err)
		}
		if got := aws.ToString(out.StateMachineArn); got != sm.ARN {
			return nil, fmt.Errorf("state machine %s was created as %s, but the template's references resolve to %s", sm.LogicalID, got, sm.ARN)
		}
	}

	if app.RuleQueues, err = CreateRules(ctx, cfg, opts.Pseudo, app.Rules); err != nil {
		return nil, err
	}
	return app, nil
}

// parameterInput is the PutParameter call that creates the template's
// AWS::SSM::Parameter id, with its initial value.
func parameterInput(tmpl *Template, names *Names, id string) (*ssm.PutParameterInput, error) {
	_, props, _ := tmpl.Resource(id)
	name, err := names.Name(id)
	if err != nil {
		return nil, err
	}
	r := names.Resolver()
	typ, err := r.String(child(props, "Type"))
	if err != nil {
		return nil, fmt.Errorf("parameter %s: Type: %w", id, err)
	}
	value, err := r.String(child(props, "Value"))
	if err != nil {
		return nil, fmt.Errorf("parameter %s: Value: %w", id, err)
	}
	return &ssm.PutParameterInput{Name: aws.String(name), Type: ssmtypes.ParameterType(typ), Value: aws.String(value), Overwrite: aws.Bool(true)}, nil
}

// CreateRules creates rules on moto's buses with their real patterns, and
// for each target an SQS queue as its stand-in, since moto delivers to
// SQS but not to Step Functions or Lambda. It returns the queues' URLs by
// RouteKey.
func CreateRules(ctx context.Context, cfg aws.Config, pseudo Pseudo, rules []Rule) (map[string]string, error) {
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	queues := map[string]string{}
	buses := map[string]bool{defaultEventBusName: true}
	for _, r := range rules {
		if !buses[r.EventBusName] {
			if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(r.EventBusName)}); err != nil && !awserr.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating event bus %s: %w", r.EventBusName, err)
			}
			buses[r.EventBusName] = true
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
			Name: aws.String(r.Name), EventPattern: aws.String(r.Pattern), EventBusName: aws.String(r.EventBusName),
			State: ebtypes.RuleState(r.State),
		}); err != nil {
			return nil, fmt.Errorf("creating rule %s: %w", r.LogicalID, err)
		}
		var targets []ebtypes.Target
		for _, t := range r.Targets {
			name := ruleQueueName(r, t)
			url, err := createQueue(ctx, q, name)
			if err != nil {
				return nil, err
			}
			queues[RouteKey(r.LogicalID, t.ID)] = url
			targets = append(targets, ebtypes.Target{
				Id: aws.String(t.ID), Arn: aws.String(queueARN(pseudo, name)),
				InputTransformer: motoTransformer(t.InputTransformer),
			})
		}
		out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.EventBusName), Targets: targets})
		if err != nil {
			return nil, fmt.Errorf("adding the targets of rule %s: %w", r.LogicalID, err)
		}
		if out.FailedEntryCount > 0 {
			return nil, fmt.Errorf("adding the targets of rule %s: %d failed: %s", r.LogicalID, out.FailedEntryCount, aws.ToString(out.FailedEntries[0].ErrorMessage))
		}
	}
	return queues, nil
}

// motoTransformer is the input transformer of a rule's stand-in SQS
// target. moto applies a target's InputTransformer when it delivers to
// SQS, so the target's real transformer runs there; the template wraps it
// so that the message also carries the whole event, which the dispatcher
// needs for the event's ID, InputPath, a constant Input and the
// dead-letter queue. <aws.events.event.json> is EventBridge's predefined
// variable for the whole event. Without a transformer moto would send its
// default template, which leaves out the event's account.
//
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
func motoTransformer(real *InputTransformer) *ebtypes.InputTransformer {
	if real == nil {
		return &ebtypes.InputTransformer{InputTemplate: aws.String(`{"event": <aws.events.event.json>}`)}
	}
	return &ebtypes.InputTransformer{
		InputPathsMap: real.InputPathsMap,
		InputTemplate: aws.String(`{"event": <aws.events.event.json>, "input": ` + real.InputTemplate + `}`),
	}
}

var queueNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// ruleQueueName is the name of the queue that stands in for a rule's
// target: readable, within SQS's 80 characters, and unique by a hash of
// the rule and target.
func ruleQueueName(r Rule, t Target) string {
	sum := sha256.Sum256([]byte(r.ARN + "\x00" + t.ID))
	name := queueNameUnsafe.ReplaceAllString(r.Name+"-"+t.ID, "_")
	if len(name) > 70 {
		name = name[:70]
	}
	return name + "-" + hex.EncodeToString(sum[:4])
}

func queueARN(p Pseudo, name string) string {
	return namings[TypeQueue].arn(p.Region, p.AccountID, name)
}

func createQueue(ctx context.Context, q *sqs.Client, name string) (string, error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("creating queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// Verify checks, against moto and the gateway rather than against what
// DeployApp reported, that every function, state machine, rule (with its
// pattern and each of its targets), table, queue and topic the template
// declares exists in the local environment. It returns every problem at
// once.
func (a *App) Verify(ctx context.Context, cfg aws.Config, gw *Gateway) error {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	t, n := a.Template, a.Names
	for _, id := range t.ResourcesOfType(TypeFunction) {
		if name, err := n.Name(id); err != nil || !gw.Registered(name) {
			fail("function %s is not served by the gateway (%v)", id, err)
		}
	}
	states, db, q, topics, roles := sfn.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg), sns.NewFromConfig(cfg), iam.NewFromConfig(cfg)
	params := ssm.NewFromConfig(cfg)
	// Each kind's IDs, whether its lookup takes the name or the ARN, and
	// the lookup.
	kinds := []struct {
		kind   string
		ids    []string
		byARN  bool
		lookup func(string) error
	}{
		{"state machine", t.ResourcesOfType(TypeStateMachine), true, func(arn string) error {
			_, err := states.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
			return err
		}},
		{"table", t.ResourcesOfType(TypeTable), false, func(name string) error {
			_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			return err
		}},
		{"queue", t.Queues(), false, func(name string) error {
			_, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			return err
		}},
		{"parameter", t.ResourcesOfType(TypeParameter), false, func(name string) error {
			_, err := params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
			return err
		}},
		{"role", t.ResourcesOfType(TypeRole), false, func(name string) error {
			_, err := roles.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
			return err
		}},
		{"instance profile", t.ResourcesOfType(TypeInstanceProfile), false, func(name string) error {
			_, err := roles.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
			return err
		}},
		{"topic", t.ResourcesOfType(TypeTopic), true, func(arn string) error {
			_, err := topics.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
			return err
		}},
	}
	for _, k := range kinds {
		for _, id := range k.ids {
			name, arn, err := n.Identity(id)
			if err == nil && k.byARN {
				err = k.lookup(arn)
			} else if err == nil {
				err = k.lookup(name)
			}
			if err != nil {
				fail("%s %s: %v", k.kind, id, err)
			}
		}
	}
	declared := t.ResourcesOfType(TypeRule)
	for _, ev := range t.samEvents() {
		declared = append(declared, ev.ruleID)
	}
	eb := eventbridge.NewFromConfig(cfg)
	for _, id := range declared {
		i := slices.IndexFunc(a.Rules, func(r Rule) bool { return r.LogicalID == id })
		if i < 0 {
			fail("rule %s was not created", id)
			continue
		}
		r := a.Rules[i]
		got, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(r.Name), EventBusName: aws.String(r.EventBusName)})
		if err != nil {
			fail("rule %s: %v", id, err)
			continue
		}
		if !sameJSON(aws.ToString(got.EventPattern), r.Pattern) {
			fail("rule %s has the pattern %s in moto, want %s", id, aws.ToString(got.EventPattern), r.Pattern)
		}
		targets, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.EventBusName)})
		if err != nil {
			fail("rule %s: %v", id, err)
			continue
		}
		for _, want := range r.Targets {
			if !slices.ContainsFunc(targets.Targets, func(tg ebtypes.Target) bool { return aws.ToString(tg.Id) == want.ID }) {
				fail("rule %s has no target %s in moto", id, want.ID)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the local environment lacks what the template declares:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
