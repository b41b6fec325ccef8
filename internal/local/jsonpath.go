package local

import (
	"fmt"
	"strconv"
	"strings"
)

// jsonPath is a target's InputPath: "$" followed by .name, ['name'] and
// [index] steps, the subset of JSONPath that selects one value. Filters,
// wildcards and slices, which select several, are refused.
//
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html
type jsonPath []any // string keys and int indexes

func parseJSONPath(p string) (jsonPath, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("JSON path %q does not start with $", p)
	}
	var out jsonPath
	rest := p[1:]
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "['"):
			end := strings.Index(rest, "']")
			if end < 0 {
				return nil, fmt.Errorf("JSON path %q: unclosed ['", p)
			}
			out = append(out, rest[2:end])
			rest = rest[end+2:]
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]")
			if end < 0 {
				return nil, fmt.Errorf("JSON path %q: unclosed [", p)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil || i < 0 {
				return nil, fmt.Errorf("JSON path %q: %q selects more than one value", p, rest[:end+1])
			}
			out = append(out, i)
			rest = rest[end+1:]
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key := rest[:end]
			if key == "" || key == "*" || strings.HasPrefix(key, ".") {
				return nil, fmt.Errorf("JSON path %q selects more than one value", p)
			}
			out = append(out, key)
			rest = rest[end:]
		default:
			return nil, fmt.Errorf("JSON path %q: unexpected %q", p, rest)
		}
	}
	return out, nil
}

// apply selects the path's value from v, a decoded JSON document. A path
// that selects nothing is an error.
func (p jsonPath) apply(v any) (any, error) {
	for _, step := range p {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("no field %q", s)
			}
			if v, ok = m[s]; !ok {
				return nil, fmt.Errorf("no field %q", s)
			}
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return nil, fmt.Errorf("no element %d", s)
			}
			v = l[s]
		}
	}
	return v, nil
}
