package local

import (
	"fmt"
	"os"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// Template is a parsed template.yaml. CloudFormation's short-form tags
// (!Ref, !GetAtt, …) are kept as nodes rather than resolved.
type Template struct {
	root *yaml.Node
}

// LoadTemplate parses the SAM template at path.
func LoadTemplate(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parsing template %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("template %s is empty", path)
	}
	return &Template{root: doc.Content[0]}, nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Resource returns a resource's type and its Properties node.
func (t *Template) Resource(logicalID string) (string, *yaml.Node, error) {
	r := child(child(t.root, "Resources"), logicalID)
	if r == nil {
		return "", nil, fmt.Errorf("template has no resource %s", logicalID)
	}
	typ := child(r, "Type")
	if typ == nil {
		return "", nil, fmt.Errorf("resource %s has no Type", logicalID)
	}
	return typ.Value, child(r, "Properties"), nil
}

// ResourcesOfType lists the logical IDs of resources of the given type, in
// template order.
func (t *Template) ResourcesOfType(typ string) []string {
	res := child(t.root, "Resources")
	if res == nil {
		return nil
	}
	var ids []string
	for i := 0; i+1 < len(res.Content); i += 2 {
		if v := child(res.Content[i+1], "Type"); v != nil && v.Value == typ {
			ids = append(ids, res.Content[i].Value)
		}
	}
	return ids
}

// Property decodes one property of a resource into out.
func (t *Template) Property(logicalID, name string, out any) error {
	_, props, err := t.Resource(logicalID)
	if err != nil {
		return err
	}
	n := child(props, name)
	if n == nil {
		return fmt.Errorf("resource %s has no property %s", logicalID, name)
	}
	if err := n.Decode(out); err != nil {
		return fmt.Errorf("decoding %s.%s: %w", logicalID, name, err)
	}
	return nil
}

// CreateTableInput turns the template's AWS::DynamoDB::Table into the
// CreateTable call that makes the same table, under tableName.
func (t *Template) CreateTableInput(logicalID, tableName string) (*dynamodb.CreateTableInput, error) {
	typ, _, err := t.Resource(logicalID)
	if err != nil {
		return nil, err
	}
	if typ != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("resource %s is a %s, not a table", logicalID, typ)
	}
	var attrs []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	}
	var keys []struct {
		AttributeName string `yaml:"AttributeName"`
		KeyType       string `yaml:"KeyType"`
	}
	var billing string
	if err := t.Property(logicalID, "AttributeDefinitions", &attrs); err != nil {
		return nil, err
	}
	if err := t.Property(logicalID, "KeySchema", &keys); err != nil {
		return nil, err
	}
	if err := t.Property(logicalID, "BillingMode", &billing); err != nil {
		return nil, err
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(tableName),
		BillingMode: types.BillingMode(billing),
		SSESpecification: &types.SSESpecification{
			Enabled: aws.Bool(true),
		},
	}
	for _, a := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, k := range keys {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType),
		})
	}
	return in, nil
}

// Metadata decodes one key of a resource's Metadata into out.
func (t *Template) Metadata(logicalID, name string, out any) error {
	r := child(child(t.root, "Resources"), logicalID)
	n := child(child(r, "Metadata"), name)
	if n == nil {
		return fmt.Errorf("resource %s has no Metadata.%s", logicalID, name)
	}
	return n.Decode(out)
}

// Global decodes a value under Globals, for example ("Function", "Runtime").
func (t *Template) Global(section, name string, out any) error {
	n := child(child(child(t.root, "Globals"), section), name)
	if n == nil {
		return fmt.Errorf("template has no Globals.%s.%s", section, name)
	}
	return n.Decode(out)
}

// FunctionEnvironment lists the names of the environment variables a
// function is given: its own and those of Globals, sorted.
func (t *Template) FunctionEnvironment(logicalID string) ([]string, error) {
	typ, props, err := t.Resource(logicalID)
	if err != nil {
		return nil, err
	}
	if typ != "AWS::Serverless::Function" {
		return nil, fmt.Errorf("resource %s is a %s, not a function", logicalID, typ)
	}
	seen := map[string]bool{}
	for _, env := range []*yaml.Node{child(child(child(t.root, "Globals"), "Function"), "Environment"), child(props, "Environment")} {
		vars := child(env, "Variables")
		if vars == nil {
			continue
		}
		for i := 0; i+1 < len(vars.Content); i += 2 {
			seen[vars.Content[i].Value] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
