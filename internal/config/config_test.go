package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Table    string        `env:"TABLE_NAME"`
	Topic    string        `env:"TOPIC_ARN"`
	Bake     time.Duration `env:"BAKE_TIME" default:"5m"`
	Max      int           `env:"MAX_TASKS" default:"10"`
	DryRun   bool          `env:"DRY_RUN" default:"false"`
	Regions  []string      `env:"REGIONS" default:"us-east-1"`
	Untagged string        // no env tag: Load leaves it alone
}

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	var got sample
	err := Load(&got, env(map[string]string{
		"Untagged": "x", "TABLE_NAME": "ledger", "TOPIC_ARN": "arn:t", "BAKE_TIME": "30s", "REGIONS": "a, b,,c",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := sample{Table: "ledger", Topic: "arn:t", Bake: 30 * time.Second, Max: 10, Regions: []string{"a", "b", "c"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestLoadReportsEverythingAtOnce(t *testing.T) {
	var got sample
	err := Load(&got, env(map[string]string{"MAX_TASKS": "ten", "BAKE_TIME": "soon"}))
	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("want *config.Error, got %v", err)
	}
	if !reflect.DeepEqual(cfgErr.Missing, []string{"TABLE_NAME", "TOPIC_ARN"}) {
		t.Errorf("missing = %v", cfgErr.Missing)
	}
	if len(cfgErr.Invalid) != 2 {
		t.Errorf("invalid = %v, want 2 entries", cfgErr.Invalid)
	}
}

func TestLoadRejectsNonPointer(t *testing.T) {
	if err := Load(sample{}, env(nil)); err == nil {
		t.Fatal("want error for non-pointer destination")
	}
}

func TestNamesListsTheVariablesAStructReads(t *testing.T) {
	type inner struct {
		A string `env:"A"`
	}
	type outer struct {
		inner
		B       int `env:"B" default:"1"`
		Ignored string
	}
	if got := Names(&outer{}); strings.Join(got, ",") != "A,B" {
		t.Fatalf("Names = %v, want [A B]", got)
	}
}
