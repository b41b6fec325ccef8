package local

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pseudo are the values of CloudFormation's pseudo parameters in the local
// environment.
type Pseudo struct {
	AccountID string
	Region    string
	StackName string
}

// noValue is what Ref AWS::NoValue resolves to: the enclosing property is
// dropped, as CloudFormation does.
type noValue struct{}

// Resolver evaluates the intrinsic functions of a template's nodes for the
// local environment: Ref (of a CommaDelimitedList parameter, its list),
// Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::If with the conditions it
// names (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition), in their short
// (!Ref) and long ({"Ref": …}) forms.
// References to resources resolve to the names and ARNs the resources have
// locally (Names). Anything else is an error that names it, never a guess.
//
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
type Resolver struct {
	tmpl   *Template
	pseudo Pseudo
	params map[string]string
	names  *Names
}

// NewResolver returns a resolver for tmpl with the given pseudo parameters,
// parameter values (a parameter not given takes its Default) and local
// resource names.
func NewResolver(tmpl *Template, pseudo Pseudo, params map[string]string, names *Names) *Resolver {
	return &Resolver{tmpl: tmpl, pseudo: pseudo, params: params, names: names}
}

// Value resolves n into plain values: strings, numbers, booleans, []any and
// map[string]any.
func (r *Resolver) Value(n *yaml.Node) (any, error) {
	v, err := r.value(n)
	if _, drop := v.(noValue); drop {
		return nil, nil
	}
	return v, err
}

// String resolves n and requires a string; numbers and booleans are given
// in their YAML spelling, as CloudFormation passes them.
func (r *Resolver) String(n *yaml.Node) (string, error) {
	v, err := r.Value(n)
	if err != nil {
		return "", err
	}
	return scalarString(v, n)
}

// JSON resolves n and encodes it as JSON, the way CloudFormation passes an
// object-valued property (an event pattern, an input) to an API that takes
// JSON text. A string node is taken to be JSON text already.
func (r *Resolver) JSON(n *yaml.Node) (string, error) {
	v, err := r.Value(n)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		if !json.Valid([]byte(s)) {
			return "", fmt.Errorf("line %d: %q is not JSON", n.Line, s)
		}
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("line %d: %w", n.Line, err)
	}
	return string(b), nil
}

func scalarString(v any, n *yaml.Node) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	default:
		return "", fmt.Errorf("line %d: want a string, got %T", n.Line, v)
	}
}

var shortForms = map[string]string{
	"!Ref": "Ref", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!Condition": "Condition",
}

func (r *Resolver) value(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	if fn, ok := shortForms[n.Tag]; ok {
		return r.call(fn, n)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: %s is not supported in the local environment", n.Line, n.Tag)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return r.value(n.Alias)
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := r.value(c)
			if err != nil {
				return nil, err
			}
			if _, drop := v.(noValue); !drop {
				out = append(out, v)
			}
		}
		return out, nil
	case yaml.MappingNode:
		if len(n.Content) == 2 {
			if k := n.Content[0].Value; k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
				return r.call(k, n.Content[1])
			}
		}
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := r.value(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			if _, drop := v.(noValue); !drop {
				out[n.Content[i].Value] = v
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// args resolves an intrinsic's argument list.
func (r *Resolver) args(fn string, n *yaml.Node, want int) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode || (want > 0 && len(n.Content) != want) {
		return nil, fmt.Errorf("line %d: %s takes a list of %d arguments", n.Line, fn, want)
	}
	return n.Content, nil
}

func (r *Resolver) call(fn string, n *yaml.Node) (any, error) {
	switch fn {
	case "Ref":
		return r.ref(n.Value, n.Line)
	case "Fn::GetAtt":
		var id, attr string
		if n.Kind == yaml.ScalarNode {
			var ok bool
			if id, attr, ok = strings.Cut(n.Value, "."); !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
			}
		} else {
			a, err := r.args(fn, n, 2)
			if err != nil {
				return nil, err
			}
			id, attr = a[0].Value, a[1].Value
		}
		return r.getAtt(id, attr, n.Line)
	case "Fn::Sub":
		return r.sub(n)
	case "Fn::Join":
		a, err := r.args(fn, n, 2)
		if err != nil {
			return nil, err
		}
		items, err := r.value(a[1])
		if err != nil {
			return nil, err
		}
		list, ok := items.([]any)
		if !ok {
			return nil, fmt.Errorf("line %d: Fn::Join takes a list to join", n.Line)
		}
		parts := make([]string, len(list))
		for i, it := range list {
			if parts[i], err = scalarString(it, n); err != nil {
				return nil, err
			}
		}
		return strings.Join(parts, a[0].Value), nil
	case "Fn::Select":
		a, err := r.args(fn, n, 2)
		if err != nil {
			return nil, err
		}
		idx, err := r.String(a[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, fmt.Errorf("line %d: Fn::Select index %q: %w", n.Line, idx, err)
		}
		items, err := r.value(a[1])
		if err != nil {
			return nil, err
		}
		list, ok := items.([]any)
		if !ok || i < 0 || i >= len(list) {
			return nil, fmt.Errorf("line %d: Fn::Select index %d is out of range", n.Line, i)
		}
		return list[i], nil
	case "Fn::If":
		a, err := r.args(fn, n, 3)
		if err != nil {
			return nil, err
		}
		ok, err := r.Condition(a[0].Value)
		if err != nil {
			return nil, err
		}
		if ok {
			return r.value(a[1])
		}
		return r.value(a[2])
	case "Fn::Equals":
		a, err := r.args(fn, n, 2)
		if err != nil {
			return nil, err
		}
		x, err := r.String(a[0])
		if err != nil {
			return nil, err
		}
		y, err := r.String(a[1])
		return x == y, err
	case "Fn::Not", "Fn::And", "Fn::Or":
		a, err := r.args(fn, n, 0)
		if err != nil {
			return nil, err
		}
		var vals []bool
		for _, c := range a {
			v, err := r.value(c)
			if err != nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("line %d: %s takes conditions", c.Line, fn)
			}
			vals = append(vals, b)
		}
		switch {
		case fn == "Fn::Not" && len(vals) == 1:
			return !vals[0], nil
		case fn == "Fn::And":
			for _, b := range vals {
				if !b {
					return false, nil
				}
			}
			return true, nil
		case fn == "Fn::Or":
			for _, b := range vals {
				if b {
					return true, nil
				}
			}
			return false, nil
		}
		return nil, fmt.Errorf("line %d: Fn::Not takes one condition", n.Line)
	case "Condition":
		return r.Condition(n.Value)
	}
	return nil, fmt.Errorf("line %d: %s is not supported in the local environment", n.Line, fn)
}

// Condition evaluates one of the template's Conditions.
func (r *Resolver) Condition(name string) (bool, error) {
	c := child(child(r.tmpl.root, "Conditions"), name)
	if c == nil {
		return false, fmt.Errorf("template has no condition %s", name)
	}
	v, err := r.value(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a condition function", name)
	}
	return b, nil
}

func (r *Resolver) ref(name string, line int) (any, error) {
	switch name {
	case "AWS::AccountId":
		return r.pseudo.AccountID, nil
	case "AWS::Region":
		return r.pseudo.Region, nil
	case "AWS::StackName":
		return r.pseudo.StackName, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return noValue{}, nil
	}
	if p := child(child(r.tmpl.root, "Parameters"), name); p != nil {
		v, ok := r.params[name]
		if !ok {
			d := child(p, "Default")
			if d == nil {
				return nil, fmt.Errorf("line %d: parameter %s has no default and no local value", line, name)
			}
			v = d.Value
		}
		// Ref of a CommaDelimitedList parameter is the list of its values.
		if typ := child(p, "Type"); typ != nil && typ.Value == "CommaDelimitedList" {
			list := []any{}
			for _, item := range strings.Split(v, ",") {
				list = append(list, item)
			}
			return list, nil
		}
		return v, nil
	}
	if r.names == nil {
		return nil, fmt.Errorf("line %d: !Ref %s: no local resource names", line, name)
	}
	return r.names.Ref(name)
}

func (r *Resolver) getAtt(id, attr string, line int) (any, error) {
	if r.names == nil {
		return nil, fmt.Errorf("line %d: !GetAtt %s.%s: no local resource names", line, id, attr)
	}
	return r.names.Attr(id, attr)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (r *Resolver) sub(n *yaml.Node) (any, error) {
	text := n
	vars := map[string]string{}
	if n.Kind == yaml.SequenceNode {
		a, err := r.args("Fn::Sub", n, 2)
		if err != nil {
			return nil, err
		}
		text = a[0]
		for i := 0; i+1 < len(a[1].Content); i += 2 {
			v, err := r.String(a[1].Content[i+1])
			if err != nil {
				return nil, err
			}
			vars[a[1].Content[i].Value] = v
		}
	}
	if text.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("line %d: Fn::Sub takes a string", n.Line)
	}
	var err error
	out := subVar.ReplaceAllStringFunc(text.Value, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			return v
		}
		var v any
		var e error
		if id, attr, ok := strings.Cut(name, "."); ok {
			v, e = r.getAtt(id, attr, n.Line)
		} else {
			v, e = r.ref(name, n.Line)
		}
		if e == nil {
			var s string
			s, e = scalarString(v, n)
			if e == nil {
				return s
			}
		}
		if err == nil {
			err = fmt.Errorf("line %d: ${%s}: %w", n.Line, name, e)
		}
		return m
	})
	return out, err
}
