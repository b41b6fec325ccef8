package sim

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

const ec2ID = ec2.ServiceID

func init() {
	registerService(service{id: ec2ID, throttleCode: "RequestLimitExceeded", throttleMessage: "Request limit exceeded."})
	components = append(components, func(s *Sim) { s.ec2 = newEC2State() })
}

// ec2State is the simulated EC2 region.
type ec2State struct {
	seq uint64

	vpcs            map[string]*vpc
	subnets         map[string]*subnet
	igws            map[string]*internetGateway
	addresses       map[string]*address
	nats            map[string]*natGateway
	routeTables     map[string]*routeTable
	securityGroups  map[string]*securityGroup
	launchTemplates map[string]*launchTemplate
	instances       map[string]*instance
	dhcpOptionsID   string
	// withdrawn are the instance types WithdrawOffering took out of a
	// zone, by type and zone name.
	withdrawn map[[2]string]bool
}

func newEC2State() *ec2State {
	return &ec2State{
		vpcs:            map[string]*vpc{},
		subnets:         map[string]*subnet{},
		igws:            map[string]*internetGateway{},
		addresses:       map[string]*address{},
		nats:            map[string]*natGateway{},
		routeTables:     map[string]*routeTable{},
		securityGroups:  map[string]*securityGroup{},
		launchTemplates: map[string]*launchTemplate{},
		instances:       map[string]*instance{},
		withdrawn:       map[[2]string]bool{},
	}
}

// meta is what every simulated resource has: its ID, its creation order and
// time, and its tags.
type meta struct {
	id      string
	seq     uint64
	created time.Time
	tags    tagSet
}

func (m *meta) base() *meta { return m }

// resource is any simulated resource.
type resource interface{ base() *meta }

// newMeta stamps a new resource. The caller holds Sim.mu.
func (s *Sim) newMeta(id string, tags tagSet) meta {
	s.ec2.seq++
	if tags == nil {
		tags = tagSet{}
	}
	return meta{id: id, seq: s.ec2.seq, created: s.clock.now, tags: tags}
}

// byCreation returns a map's values in creation order, so that outputs never
// depend on map iteration order.
func byCreation[T resource](m map[string]T) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(a.base().seq, b.base().seq) })
	return out
}

// visible reports whether an EC2 resource can be seen by API callers yet.
func (s *Sim) visible(r resource) bool { return !s.hidden(ec2ID, r.base().created) }

// lookup finds a resource by ID as an API caller sees it: unknown and
// not-yet-consistent IDs are both not found.
func lookup[T resource](s *Sim, m map[string]T, id string) (T, bool) {
	v, ok := m[id]
	if !ok || !s.visible(v) {
		var zero T
		return zero, false
	}
	return v, true
}

// selectByID returns the resources named by ids (all visible ones when ids is
// empty), or notFound with the missing IDs.
func selectByID[T resource](s *Sim, m map[string]T, ids []string, notFound func(missing ...string) error) ([]T, error) {
	if len(ids) == 0 {
		var out []T
		for _, v := range byCreation(m) {
			if s.visible(v) {
				out = append(out, v)
			}
		}
		return out, nil
	}
	var out []T
	var missing []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		v, ok := lookup(s, m, id)
		if !ok {
			missing = append(missing, id)
			continue
		}
		out = append(out, v)
	}
	if len(missing) > 0 {
		return nil, notFound(missing...)
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(a.base().seq, b.base().seq) })
	return out, nil
}

// tagSet is a resource's tags.
type tagSet map[string]string

func (t tagSet) keys() []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ec2 returns the tags in EC2's shape, sorted by key; nil when there are none,
// as AWS omits the tag set.
func (t tagSet) ec2() []types.Tag {
	if len(t) == 0 {
		return nil
	}
	out := make([]types.Tag, 0, len(t))
	for _, k := range t.keys() {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}

func (t tagSet) clone() tagSet {
	out := make(tagSet, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

const maxTags = 50

// validateTags applies EC2's rules for user tags.
func validateTags(tags []types.Tag) error {
	for _, t := range tags {
		k := aws.ToString(t.Key)
		if k == "" {
			return invalidParam("Tag key cannot be empty")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalidParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
		if len(k) > 128 {
			return invalidParam("Tag key exceeds the maximum length of 128 characters")
		}
		if len(aws.ToString(t.Value)) > 256 {
			return invalidParam("Tag value exceeds the maximum length of 256 characters")
		}
	}
	if len(tags) > maxTags {
		return apiError("TagLimitExceeded", "The maximum number of Tags for a resource is %d.", maxTags)
	}
	return nil
}

// tagsFromSpecs collects the tags a create call asks for on its resource
// type, refusing specifications for types the call does not create.
func tagsFromSpecs(specs []types.TagSpecification, allowed ...types.ResourceType) (map[types.ResourceType]tagSet, error) {
	out := map[types.ResourceType]tagSet{}
	for _, spec := range specs {
		if !slices.Contains(allowed, spec.ResourceType) {
			return nil, invalidParam("'%s' is not a valid taggable resource type for this operation.", spec.ResourceType)
		}
		if err := validateTags(spec.Tags); err != nil {
			return nil, err
		}
		ts := out[spec.ResourceType]
		if ts == nil {
			ts = tagSet{}
			out[spec.ResourceType] = ts
		}
		for _, t := range spec.Tags {
			ts[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return out, nil
}

// filterFields maps the filter names a Describe call accepts to the values a
// resource has for them.
type filterFields[T any] map[string]func(T) []string

// applyFilters keeps the items that match every filter. A filter matches
// when any of its values (with * and ? wildcards) matches any of the item's
// values. tag:KEY, tag-key and tag-value are accepted everywhere.
func applyFilters[T resource](items []T, filters []types.Filter, fields filterFields[T]) ([]T, error) {
	for _, f := range filters {
		name := aws.ToString(f.Name)
		if strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value" {
			continue
		}
		if _, ok := fields[name]; !ok {
			return nil, invalidParam("The filter '%s' is invalid", name)
		}
	}
	var out []T
	for _, it := range items {
		if matchAll(it, filters, fields) {
			out = append(out, it)
		}
	}
	return out, nil
}

func matchAll[T resource](it T, filters []types.Filter, fields filterFields[T]) bool {
	for _, f := range filters {
		name := aws.ToString(f.Name)
		var have []string
		tags := it.base().tags
		switch {
		case strings.HasPrefix(name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(name, "tag:")]; ok {
				have = []string{v}
			}
		case name == "tag-key":
			have = tags.keys()
		case name == "tag-value":
			for _, k := range tags.keys() {
				have = append(have, tags[k])
			}
		default:
			have = fields[name](it)
		}
		if !anyMatch(f.Values, have) {
			return false
		}
	}
	return true
}

func anyMatch(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if globMatch(p, v) {
				return true
			}
		}
	}
	return false
}

// globMatch matches s against an EC2 filter pattern: * is any run of
// characters, ? any one character, and \ escapes either.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == s
	}
	var p []rune
	var literal []bool
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
			p, literal = append(p, rs[i]), append(literal, true)
			continue
		}
		p, literal = append(p, rs[i]), append(literal, false)
	}
	str := []rune(s)
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && !literal[pi] && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && ((!literal[pi] && p[pi] == '?') || p[pi] == str[si]):
			pi++
			si++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && !literal[pi] && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// paginate returns one page of items and the token for the next; the token
// is the offset, which is enough for a simulator whose lists only grow at the
// end between calls.
func paginate[T any](items []T, maxResults *int32, nextToken *string) ([]T, *string, error) {
	start := 0
	if tok := aws.ToString(nextToken); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(items) {
			return nil, nil, invalidParam("Invalid value '%s' for nextToken", tok)
		}
		start = n
	}
	if maxResults == nil || *maxResults <= 0 || start+int(*maxResults) >= len(items) {
		return items[start:], nil, nil
	}
	end := start + int(*maxResults)
	return items[start:end], aws.String(strconv.Itoa(end)), nil
}

// listPage is paginate for the operations whose answer always carries the
// list, empty rather than absent.
func listPage[T any](items []T, maxResults *int32, nextToken *string) ([]T, *string, error) {
	page, next, err := paginate(items, maxResults, nextToken)
	if err == nil && page == nil {
		page = []T{}
	}
	return page, next, err
}

func boolValue(v bool) *types.AttributeBooleanValue {
	return &types.AttributeBooleanValue{Value: aws.Bool(v)}
}

func boolString(b bool) string { return strconv.FormatBool(b) }
