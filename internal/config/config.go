// Package config parses process environment into typed structs once, at
// start-up, and reports every missing or malformed variable together.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lookup returns the value of an environment variable and whether it is set.
// os.LookupEnv satisfies it.
type Lookup func(key string) (string, bool)

// Error lists every variable that is missing or could not be parsed.
type Error struct {
	Missing []string
	Invalid []string
}

func (e *Error) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing environment variables: "+strings.Join(e.Missing, ", "))
	}
	if len(e.Invalid) > 0 {
		parts = append(parts, "invalid environment variables: "+strings.Join(e.Invalid, "; "))
	}
	return strings.Join(parts, "; ")
}

// Load fills the struct that dst points to. Each field tagged `env:"NAME"` is
// read from lookup; a `default:"..."` tag supplies a value when the variable
// is unset, and without one the variable is required. Supported field types
// are string, bool, int, int32, int64, time.Duration and []string (comma
// separated).
func Load(dst any, lookup Lookup) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config.Load: dst must be a pointer to a struct")
	}
	v = v.Elem()
	t := v.Type()
	cfgErr := &Error{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		raw, set := lookup(name)
		if !set || raw == "" {
			def, hasDef := f.Tag.Lookup("default")
			if !hasDef {
				cfgErr.Missing = append(cfgErr.Missing, name)
				continue
			}
			raw = def
		}
		if err := setField(v.Field(i), raw); err != nil {
			cfgErr.Invalid = append(cfgErr.Invalid, fmt.Sprintf("%s=%q: %v", name, raw, err))
		}
	}
	if len(cfgErr.Missing)+len(cfgErr.Invalid) > 0 {
		sort.Strings(cfgErr.Missing)
		return cfgErr
	}
	return nil
}

func setField(f reflect.Value, raw string) error {
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported slice type %s", f.Type())
		}
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}

// Names lists the variables a configuration struct reads, in field order.
func Names(v any) []string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, ok := f.Tag.Lookup("env"); ok {
			names = append(names, name)
		} else if f.Anonymous && f.Type.Kind() == reflect.Struct {
			names = append(names, Names(reflect.New(f.Type).Interface())...)
		}
	}
	return names
}
