package local

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Names are the physical names and ARNs that a template's resources have in
// the local environment, which Ref and Fn::GetAtt resolve to. A resource's
// name is its explicit name property when the template sets one, otherwise
// Prefix followed by its logical ID: CloudFormation would generate one, and
// a prefix keeps tests that share a moto account apart.
type Names struct {
	tmpl   *Template
	pseudo Pseudo
	// Prefix starts every generated name.
	Prefix string
	// Override gives some resources a name of the caller's choosing, by
	// logical ID.
	Override map[string]string
	// resolver resolves explicit name properties, which may use intrinsics.
	resolver *Resolver
}

// NewNames returns the local names of tmpl's resources.
func NewNames(tmpl *Template, pseudo Pseudo, params map[string]string, prefix string, override map[string]string) *Names {
	n := &Names{tmpl: tmpl, pseudo: pseudo, Prefix: prefix, Override: override}
	n.resolver = NewResolver(tmpl, pseudo, params, n)
	return n
}

// Resolver returns a resolver that resolves references to these names.
func (n *Names) Resolver() *Resolver { return n.resolver }

// naming says how one resource type is named and what its Ref and
// attributes return, from CloudFormation's "Return values" section of each
// type's page.
type naming struct {
	// nameProp is the property that sets the physical name, if any.
	nameProp string
	// ref is what Ref returns: "name" or "arn".
	ref string
	// arn formats the ARN from region, account and name.
	arn func(region, account, name string) string
}

var namings = map[string]naming{
	"AWS::Serverless::Function": {"FunctionName", "name", func(r, a, n string) string { return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r, a, n) }},
	"AWS::Lambda::Function":     {"FunctionName", "name", func(r, a, n string) string { return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r, a, n) }},
	// Ref of a state machine is its ARN.
	"AWS::Serverless::StateMachine":    {"Name", "arn", stateMachineARN},
	"AWS::StepFunctions::StateMachine": {"StateMachineName", "arn", stateMachineARN},
	"AWS::DynamoDB::Table":             {"TableName", "name", func(r, a, n string) string { return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", r, a, n) }},
	// Ref of a topic is its ARN.
	"AWS::SNS::Topic":   {"TopicName", "arn", func(r, a, n string) string { return fmt.Sprintf("arn:aws:sns:%s:%s:%s", r, a, n) }},
	"AWS::SQS::Queue":   {"QueueName", "", func(r, a, n string) string { return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", r, a, n) }},
	"AWS::Events::Rule": {"Name", "name", func(r, a, n string) string { return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", r, a, n) }},
	"AWS::IAM::Role":    {"RoleName", "name", func(_, a, n string) string { return fmt.Sprintf("arn:aws:iam::%s:role/%s", a, n) }},
	"AWS::IAM::InstanceProfile": {"InstanceProfileName", "name", func(_, a, n string) string {
		return fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", a, n)
	}},
	// Ref of a managed policy is its ARN.
	"AWS::IAM::ManagedPolicy": {"ManagedPolicyName", "arn", func(_, a, n string) string { return fmt.Sprintf("arn:aws:iam::%s:policy/%s", a, n) }},
	"AWS::Logs::LogGroup":     {"LogGroupName", "name", func(r, a, n string) string { return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", r, a, n) }},
	"AWS::SSM::Parameter": {"Name", "name", func(r, a, n string) string {
		return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", r, a, strings.TrimPrefix(n, "/"))
	}},
}

func stateMachineARN(region, account, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, account, name)
}

// resourceType returns a resource's type and whether it exists. Resources
// SAM generates (a rule's dead-letter queue) are known by the events that
// declare them.
func (n *Names) resourceType(id string) (string, *yaml.Node, bool) {
	typ, props, err := n.tmpl.Resource(id)
	if err == nil {
		return typ, props, true
	}
	if n.tmpl.generatedQueue(id) {
		return "AWS::SQS::Queue", nil, true
	}
	return "", nil, false
}

// Name returns a resource's local physical name.
func (n *Names) Name(id string) (string, error) {
	typ, props, ok := n.resourceType(id)
	if !ok {
		return "", fmt.Errorf("template has no resource %s", id)
	}
	if v, ok := n.Override[id]; ok {
		return v, nil
	}
	if nm, ok := namings[typ]; ok && nm.nameProp != "" {
		if p := child(props, nm.nameProp); p != nil {
			return n.resolver.String(p)
		}
	}
	return n.Prefix + id, nil
}

// ARN returns a resource's local ARN.
func (n *Names) ARN(id string) (string, error) {
	typ, _, ok := n.resourceType(id)
	if !ok {
		return "", fmt.Errorf("template has no resource %s", id)
	}
	nm, ok := namings[typ]
	if !ok {
		return "", fmt.Errorf("resource %s: the local environment has no ARN for a %s", id, typ)
	}
	name, err := n.Name(id)
	if err != nil {
		return "", err
	}
	return nm.arn(n.pseudo.Region, n.pseudo.AccountID, name), nil
}

// Identity returns a resource's local name and ARN.
func (n *Names) Identity(id string) (name, arn string, err error) {
	if name, err = n.Name(id); err != nil {
		return "", "", err
	}
	arn, err = n.ARN(id)
	return name, arn, err
}

// Ref returns what Ref of a resource returns locally.
func (n *Names) Ref(id string) (any, error) {
	typ, _, ok := n.resourceType(id)
	if !ok {
		return nil, fmt.Errorf("!Ref %s: no such parameter or resource", id)
	}
	switch namings[typ].ref {
	case "arn":
		return n.ARN(id)
	case "name":
		return n.Name(id)
	}
	return nil, fmt.Errorf("!Ref %s: the local environment does not resolve Ref of a %s", id, typ)
}

// Attr returns what Fn::GetAtt of a resource's attribute returns locally:
// its Arn, or its Name (state machines, topics' TopicName, queues'
// QueueName).
func (n *Names) Attr(id, attr string) (any, error) {
	typ, _, ok := n.resourceType(id)
	if !ok {
		return nil, fmt.Errorf("!GetAtt %s.%s: no such resource", id, attr)
	}
	switch attr {
	case "Arn":
		return n.ARN(id)
	case "Name", "TopicName", "QueueName":
		return n.Name(id)
	}
	return nil, fmt.Errorf("!GetAtt %s.%s: the local environment does not resolve that attribute of a %s", id, attr, typ)
}
