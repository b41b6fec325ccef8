package local

import (
	"fmt"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Resource types the local environment creates.
const (
	TypeFunction          = "AWS::Serverless::Function"
	TypeStateMachine      = "AWS::Serverless::StateMachine"
	TypeRule              = "AWS::Events::Rule"
	TypeTopic             = "AWS::SNS::Topic"
	TypeQueue             = "AWS::SQS::Queue"
	TypeTable             = "AWS::DynamoDB::Table"
	TypeParameter         = "AWS::SSM::Parameter"
	eventTypeEventBridge  = "EventBridgeRule"
	eventTypeCloudWatch   = "CloudWatchEvent"
	defaultAsyncRetries   = 2
	lambdaTargetSuffix    = "LambdaTarget"
	statesTargetSuffix    = "StepFunctionsTarget"
	generatedQueueSuffix  = "Queue"
	defaultEventBusName   = "default"
	ruleStateEnabled      = "ENABLED"
	ruleStateDisabled     = "DISABLED"
	maxRetryAttemptsLimit = 185
)

// Function is an AWS::Serverless::Function as the local environment runs
// it.
type Function struct {
	LogicalID string
	// Name and ARN are the function's local name and ARN.
	Name, ARN string
	// Environment is the function's environment, Globals included, with
	// its intrinsics resolved.
	Environment map[string]string
	// AsyncRetries is how often Lambda retries an asynchronous invocation
	// that returned an error: EventInvokeConfig's MaximumRetryAttempts, 2
	// when unset.
	//
	// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
	AsyncRetries int
	// OnFailure is the ARN of the queue or topic that receives an
	// asynchronous invocation that failed every attempt: the function's
	// DeadLetterQueue, or EventInvokeConfig's OnFailure destination. Empty
	// when the template sets neither, and Lambda drops such an event.
	OnFailure string
	// OnFailureRecord is true when OnFailure is an EventInvokeConfig
	// destination, which receives an invocation record rather than the
	// event.
	OnFailureRecord bool
}

// StateMachine is an AWS::Serverless::StateMachine.
type StateMachine struct {
	LogicalID string
	Name, ARN string
	// DefinitionURI is the ASL file, relative to the template.
	DefinitionURI string
	// Substitutions are the DefinitionSubstitutions, resolved.
	Substitutions map[string]string
}

// Rule is an EventBridge rule: an AWS::Events::Rule resource, or the rule
// SAM generates for an EventBridgeRule or CloudWatchEvent event of a
// function or state machine, whose logical ID is the resource's followed by
// the event's name.
//
// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-eventbridgerule.html
type Rule struct {
	LogicalID string
	Name, ARN string
	// EventBusName is the bus the rule is on.
	EventBusName string
	// Pattern is the event pattern, as JSON.
	Pattern string
	// State is ENABLED or DISABLED.
	State   string
	Targets []Target
}

// Target is one of a rule's targets.
type Target struct {
	ID string
	// ARN is the real target: a function or a state machine.
	ARN string
	// Input is a constant JSON input that replaces the event.
	Input string
	// InputPath selects the part of the event the target receives.
	InputPath string
	// InputTransformer builds the target's input from the event.
	InputTransformer *InputTransformer
	// MaximumRetryAttempts and MaximumEventAge bound the retries of a
	// failed delivery: 185 attempts and 24 hours unless the template's
	// RetryPolicy says otherwise.
	MaximumRetryAttempts int
	MaximumEventAgeSec   int
	// DeadLetterARN is the queue that receives an event whose delivery
	// failed; empty when the target has no DeadLetterConfig.
	DeadLetterARN string
}

// InputTransformer is a target's InputTransformer.
type InputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

// Retry policy defaults of a rule's target.
//
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
const (
	DefaultMaximumRetryAttempts = 185
	DefaultMaximumEventAgeSec   = 24 * 60 * 60
)

// Functions returns the template's functions, in template order.
func (t *Template) Functions(n *Names) ([]Function, error) {
	r := n.Resolver()
	var out []Function
	for _, id := range t.ResourcesOfType(TypeFunction) {
		_, props, _ := t.Resource(id)
		name, arn, err := n.Identity(id)
		if err != nil {
			return nil, err
		}
		f := Function{LogicalID: id, Name: name, ARN: arn, Environment: map[string]string{}, AsyncRetries: defaultAsyncRetries}
		for _, vars := range []*yaml.Node{
			child(child(child(child(t.root, "Globals"), "Function"), "Environment"), "Variables"),
			child(child(props, "Environment"), "Variables"),
		} {
			for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
				v, err := r.String(vars.Content[i+1])
				if err != nil {
					return nil, fmt.Errorf("%s: environment variable %s: %w", id, vars.Content[i].Value, err)
				}
				f.Environment[vars.Content[i].Value] = v
			}
		}
		if dlq := child(child(props, "DeadLetterQueue"), "TargetArn"); dlq != nil {
			if f.OnFailure, err = r.String(dlq); err != nil {
				return nil, fmt.Errorf("%s: DeadLetterQueue: %w", id, err)
			}
		}
		cfg := child(props, "EventInvokeConfig")
		if m := child(cfg, "MaximumRetryAttempts"); m != nil {
			if f.AsyncRetries, err = strconv.Atoi(m.Value); err != nil {
				return nil, fmt.Errorf("%s: EventInvokeConfig.MaximumRetryAttempts: %w", id, err)
			}
		}
		if d := child(child(child(cfg, "DestinationConfig"), "OnFailure"), "Destination"); d != nil {
			if f.OnFailure, err = r.String(d); err != nil {
				return nil, fmt.Errorf("%s: EventInvokeConfig OnFailure: %w", id, err)
			}
			f.OnFailureRecord = true
		}
		out = append(out, f)
	}
	return out, nil
}

// StateMachines returns the template's state machines, in template order.
func (t *Template) StateMachines(n *Names) ([]StateMachine, error) {
	r := n.Resolver()
	var out []StateMachine
	for _, id := range t.ResourcesOfType(TypeStateMachine) {
		_, props, _ := t.Resource(id)
		name, arn, err := n.Identity(id)
		if err != nil {
			return nil, err
		}
		uri := child(props, "DefinitionUri")
		if uri == nil || uri.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: the local environment needs a DefinitionUri that names a file", id)
		}
		sm := StateMachine{LogicalID: id, Name: name, ARN: arn, DefinitionURI: uri.Value, Substitutions: map[string]string{}}
		subs := child(props, "DefinitionSubstitutions")
		for i := 0; subs != nil && i+1 < len(subs.Content); i += 2 {
			v, err := r.String(subs.Content[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s: substitution %s: %w", id, subs.Content[i].Value, err)
			}
			sm.Substitutions[subs.Content[i].Value] = v
		}
		out = append(out, sm)
	}
	return out, nil
}

// Rules returns every EventBridge rule of the template: its
// AWS::Events::Rule resources, then the rules of its functions' and state
// machines' events, in template order.
func (t *Template) Rules(n *Names) ([]Rule, error) {
	var out []Rule
	for _, id := range t.ResourcesOfType(TypeRule) {
		_, props, _ := t.Resource(id)
		rule, err := t.rule(n, id, props, child(props, "EventPattern"))
		if err != nil {
			return nil, err
		}
		targets := child(props, "Targets")
		if targets == nil || len(targets.Content) == 0 {
			return nil, fmt.Errorf("rule %s has no targets", id)
		}
		for _, tn := range targets.Content {
			tg, err := t.target(n, tn, "", id)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", id, err)
			}
			tg.ARN, err = n.Resolver().String(child(tn, "Arn"))
			if err != nil {
				return nil, fmt.Errorf("rule %s: target %s: %w", id, tg.ID, err)
			}
			rule.Targets = append(rule.Targets, tg)
		}
		out = append(out, rule)
	}
	for _, ev := range t.samEvents() {
		props := child(ev.node, "Properties")
		rule, err := t.rule(n, ev.ruleID, props, child(props, "Pattern"))
		if err != nil {
			return nil, err
		}
		if rn := child(props, "RuleName"); rn != nil {
			if rule.Name, err = n.Resolver().String(rn); err != nil {
				return nil, fmt.Errorf("rule %s: RuleName: %w", ev.ruleID, err)
			}
			rule.ARN = namings[TypeRule].arn(n.pseudo.Region, n.pseudo.AccountID, rule.Name)
		}
		suffix := lambdaTargetSuffix
		if ev.resourceType == TypeStateMachine {
			suffix = statesTargetSuffix
		}
		tg, err := t.target(n, props, ev.ruleID+suffix, ev.ruleID)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", ev.ruleID, err)
		}
		if id := child(child(props, "Target"), "Id"); id != nil {
			tg.ID = id.Value
		}
		if tg.ARN, err = n.ARN(ev.resourceID); err != nil {
			return nil, err
		}
		rule.Targets = []Target{tg}
		out = append(out, rule)
	}
	return out, nil
}

func (t *Template) rule(n *Names, id string, props, pattern *yaml.Node) (Rule, error) {
	r := n.Resolver()
	rule := Rule{LogicalID: id, EventBusName: defaultEventBusName, State: ruleStateEnabled}
	var err error
	if pattern == nil {
		return rule, fmt.Errorf("rule %s has no event pattern; the local environment supports pattern rules only", id)
	}
	if rule.Pattern, err = r.JSON(pattern); err != nil {
		return rule, fmt.Errorf("rule %s: pattern: %w", id, err)
	}
	if bus := child(props, "EventBusName"); bus != nil {
		if rule.EventBusName, err = r.String(bus); err != nil {
			return rule, fmt.Errorf("rule %s: EventBusName: %w", id, err)
		}
	}
	if st := child(props, "State"); st != nil {
		if rule.State, err = r.String(st); err != nil {
			return rule, fmt.Errorf("rule %s: State: %w", id, err)
		}
	}
	if en := child(props, "Enabled"); en != nil && en.Value == "false" {
		rule.State = ruleStateDisabled
	}
	if _, _, err := t.Resource(id); err == nil {
		if rule.Name, err = n.Name(id); err != nil {
			return rule, err
		}
	} else {
		rule.Name = n.Prefix + id
	}
	rule.ARN = namings[TypeRule].arn(n.pseudo.Region, n.pseudo.AccountID, rule.Name)
	return rule, nil
}

// target reads a target's input, retry and dead-letter settings from tn:
// an AWS::Events::Rule target, or a SAM event's properties.
func (t *Template) target(n *Names, tn *yaml.Node, id, ruleID string) (Target, error) {
	r := n.Resolver()
	tg := Target{ID: id, MaximumRetryAttempts: DefaultMaximumRetryAttempts, MaximumEventAgeSec: DefaultMaximumEventAgeSec}
	var err error
	if v := child(tn, "Id"); v != nil {
		tg.ID = v.Value
	}
	if tg.ID == "" {
		return tg, fmt.Errorf("a target has no Id")
	}
	if v := child(tn, "Input"); v != nil {
		if tg.Input, err = r.JSON(v); err != nil {
			return tg, fmt.Errorf("target %s: Input: %w", tg.ID, err)
		}
	}
	if v := child(tn, "InputPath"); v != nil {
		if tg.InputPath, err = r.String(v); err != nil {
			return tg, fmt.Errorf("target %s: InputPath: %w", tg.ID, err)
		}
		if _, err := parseJSONPath(tg.InputPath); err != nil {
			return tg, fmt.Errorf("target %s: InputPath: %w", tg.ID, err)
		}
	}
	if v := child(tn, "InputTransformer"); v != nil {
		it := &InputTransformer{InputPathsMap: map[string]string{}}
		paths := child(v, "InputPathsMap")
		for i := 0; paths != nil && i+1 < len(paths.Content); i += 2 {
			if it.InputPathsMap[paths.Content[i].Value], err = r.String(paths.Content[i+1]); err != nil {
				return tg, fmt.Errorf("target %s: InputPathsMap: %w", tg.ID, err)
			}
		}
		if it.InputTemplate, err = r.String(child(v, "InputTemplate")); err != nil {
			return tg, fmt.Errorf("target %s: InputTemplate: %w", tg.ID, err)
		}
		tg.InputTransformer = it
	}
	if n := boolCount(tg.Input != "", tg.InputPath != "", tg.InputTransformer != nil); n > 1 {
		return tg, fmt.Errorf("target %s: Input, InputPath and InputTransformer are mutually exclusive", tg.ID)
	}
	if rp := child(tn, "RetryPolicy"); rp != nil {
		for key, dst := range map[string]*int{"MaximumRetryAttempts": &tg.MaximumRetryAttempts, "MaximumEventAgeInSeconds": &tg.MaximumEventAgeSec} {
			if v := child(rp, key); v != nil {
				s, err := r.String(v)
				if err == nil {
					*dst, err = strconv.Atoi(s)
				}
				if err != nil {
					return tg, fmt.Errorf("target %s: RetryPolicy.%s: %w", tg.ID, key, err)
				}
			}
		}
		if tg.MaximumRetryAttempts < 0 || tg.MaximumRetryAttempts > maxRetryAttemptsLimit || tg.MaximumEventAgeSec < 60 || tg.MaximumEventAgeSec > DefaultMaximumEventAgeSec {
			return tg, fmt.Errorf("target %s: RetryPolicy out of range (0-185 attempts, 60-86400 seconds)", tg.ID)
		}
	}
	if dlq := child(tn, "DeadLetterConfig"); dlq != nil {
		switch {
		case child(dlq, "Arn") != nil:
			if tg.DeadLetterARN, err = r.String(child(dlq, "Arn")); err != nil {
				return tg, fmt.Errorf("target %s: DeadLetterConfig: %w", tg.ID, err)
			}
		case child(dlq, "Type") != nil:
			// SAM creates the queue; its logical ID is QueueLogicalId or the
			// event's followed by "Queue".
			if tg.DeadLetterARN, err = n.ARN(t.generatedQueueID(dlq, ruleID)); err != nil {
				return tg, err
			}
		default:
			return tg, fmt.Errorf("target %s: DeadLetterConfig needs an Arn or a Type", tg.ID)
		}
	}
	return tg, nil
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// samEvent is an EventBridgeRule or CloudWatchEvent event of a function or
// state machine.
type samEvent struct {
	resourceID, resourceType, name, ruleID string
	node                                   *yaml.Node
}

func (t *Template) samEvents() []samEvent {
	var out []samEvent
	for _, typ := range []string{TypeFunction, TypeStateMachine} {
		for _, id := range t.ResourcesOfType(typ) {
			_, props, _ := t.Resource(id)
			evs := child(props, "Events")
			for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
				ev := evs.Content[i+1]
				if et := child(ev, "Type"); et != nil && (et.Value == eventTypeEventBridge || et.Value == eventTypeCloudWatch) {
					name := evs.Content[i].Value
					out = append(out, samEvent{resourceID: id, resourceType: typ, name: name, ruleID: id + name, node: ev})
				}
			}
		}
	}
	return out
}

// UnsupportedEvents lists the events of the template's functions and state
// machines that the local environment does not create (a schedule, an API),
// as "Resource.Event (Type)".
func (t *Template) UnsupportedEvents() []string {
	var out []string
	for _, typ := range []string{TypeFunction, TypeStateMachine} {
		for _, id := range t.ResourcesOfType(typ) {
			_, props, _ := t.Resource(id)
			evs := child(props, "Events")
			for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
				et := child(evs.Content[i+1], "Type")
				if et == nil || (et.Value != eventTypeEventBridge && et.Value != eventTypeCloudWatch) {
					kind := "no type"
					if et != nil {
						kind = et.Value
					}
					out = append(out, fmt.Sprintf("%s.%s (%s)", id, evs.Content[i].Value, kind))
				}
			}
		}
	}
	return out
}

func (t *Template) generatedQueueID(dlq *yaml.Node, eventRuleID string) string {
	if q := child(dlq, "QueueLogicalId"); q != nil {
		return q.Value
	}
	return eventRuleID + generatedQueueSuffix
}

// generatedQueue reports whether id is a dead-letter queue SAM generates
// for an event.
func (t *Template) generatedQueue(id string) bool {
	return slices.Contains(t.generatedQueues(), id)
}

func (t *Template) generatedQueues() []string {
	var ids []string
	for _, ev := range t.samEvents() {
		dlq := child(child(ev.node, "Properties"), "DeadLetterConfig")
		if child(dlq, "Type") != nil {
			ids = append(ids, t.generatedQueueID(dlq, ev.ruleID))
		}
	}
	return ids
}

// Queues returns the logical IDs of the template's SQS queues: its
// AWS::SQS::Queue resources and the dead-letter queues SAM generates.
func (t *Template) Queues() []string {
	return append(t.ResourcesOfType(TypeQueue), t.generatedQueues()...)
}
