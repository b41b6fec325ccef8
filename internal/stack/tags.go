package stack

import "sort"

// The tag scheme. Every resource the control plane creates carries all three
// keys, and reconcilers find their resources by them, so a re-run adopts what
// an earlier run created instead of duplicating it.
const (
	// TagStack holds the stack name. IAM policies condition mutations on it.
	TagStack = "ecsplane:stack"
	// TagComponent names the resource's role in the stack, such as
	// "public-subnet-1"; with TagStack it identifies one resource.
	TagComponent = "ecsplane:component"
	// TagManagedBy marks resources the control plane owns.
	TagManagedBy = "ecsplane:managed-by"
	// ManagedBy is TagManagedBy's value.
	ManagedBy = "ecsplane"
	// TagName is the console's display name.
	TagName = "Name"
	// TagTemplateHash holds the digest of a task definition revision's
	// template: every field but the app's image, which is blanked before
	// hashing. AWS returns task definitions in a normalised form, so drift
	// is a digest comparison rather than a field-by-field guess, and a
	// revision that only changed the image has the same template.
	TagTemplateHash = "ecsplane:template-hash"
	// TagImageDigest holds the digest of a revision's app image when the
	// image is pinned by digest.
	TagImageDigest = "ecsplane:image-digest"
)

// Tag is one key and value, in a stable order for the SDK's tag lists.
type Tag struct {
	Key   string
	Value string
}

// Tags returns the tags of the component, sorted by key.
func (s Spec) Tags(component string) []Tag {
	return []Tag{
		{TagName, s.ResourceName(component)},
		{TagComponent, component},
		{TagManagedBy, ManagedBy},
		{TagStack, s.Name},
	}
}

// StackTags returns the tags shared by every resource of the stack, for
// resources that are one of a kind and need no component.
func (s Spec) StackTags() []Tag {
	return []Tag{{TagManagedBy, ManagedBy}, {TagStack, s.Name}}
}

// TagMap returns tags as a map.
func TagMap(tags []Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// Owned reports whether tags mark a resource of this stack.
func (s Spec) Owned(tags map[string]string) bool {
	return tags[TagStack] == s.Name && tags[TagManagedBy] == ManagedBy
}

// ResourceName is the AWS name of a component: "<stack>-<component>".
func (s Spec) ResourceName(component string) string { return s.Name + "-" + component }

// SortedKeys returns m's keys in order, for deterministic output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
