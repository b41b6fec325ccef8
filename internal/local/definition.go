package local

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

var placeholder = regexp.MustCompile(`\$\{[A-Za-z0-9_]+\}`)

// Definition reads an ASL file and applies substitutions the way
// DefinitionSubstitutions does. A placeholder left without a value is an
// error, so a test cannot drift from the template unnoticed.
func Definition(path string, subs map[string]string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading definition: %w", err)
	}
	def := string(raw)
	keys := make([]string, 0, len(subs))
	for k := range subs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		def = strings.ReplaceAll(def, "${"+k+"}", subs[k])
	}
	if left := placeholder.FindAllString(def, -1); len(left) > 0 {
		return "", fmt.Errorf("definition %s: no substitution for %s", path, strings.Join(left, ", "))
	}
	if !json.Valid([]byte(def)) {
		return "", fmt.Errorf("definition %s is not valid JSON after substitution", path)
	}
	return def, nil
}
