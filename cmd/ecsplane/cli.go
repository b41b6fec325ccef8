package main

// The conventions every command follows, implemented once here. A new
// command declares a command value and follows the pattern of runHistory:
//
//	cmd := command{name: "status", args: "<service>", about: "...", json: "..."}
//	fs := cmd.flags()
//	table := cmd.setting(fs, tableSetting)
//	region := cmd.setting(fs, regionSetting)
//	args, err := cmd.parse(fs, args, stdout)   // --help, bad flags, positional arguments
//	if err != nil {
//		return err
//	}
//	if err := cmd.require(table); err != nil { // names the flag and the variable
//		return err
//	}
//	cfg, err := cmd.loadAWS(ctx, region)       // the SDK's chain, with --region
//
// and writes its result to stdout, as JSON when cmd.asJSON(fs) is set.
//
// What the user sees:
//   - --help (or -h) prints the usage, the flags (each with its environment
//     variable) and what --json prints, on stdout, and exits 0;
//   - a bad flag, a bad argument or a missing setting prints what is wrong
//     on stderr, with the way to the usage, and exits 2; a missing setting
//     names its flag and its environment variable;
//   - --json prints machine-readable output on stdout, and a command that
//     has none refuses --json saying why;
//   - a failure prints "ecsplane: <what failed>" on stderr and exits 1.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Exit codes, as `ecsplane --help` and the README list them.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errHelp means the usage was asked for and printed on stdout.
var errHelp = flag.ErrHelp

// usageError means the command line is wrong: msg says how.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// exitCode is the process's exit code for what run returned.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}

// report prints what run returned, as main does, on stderr.
func report(stderr io.Writer, err error) {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp), errors.Is(err, errReported):
	case errors.As(err, &ue) && ue.cmd == "":
		fmt.Fprintf(stderr, "ecsplane: %s\nRun 'ecsplane --help' for the commands.\n", ue.msg)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ecsplane %s: %s\nRun 'ecsplane %s --help' for its usage.\n", ue.cmd, ue.msg, ue.cmd)
	default:
		fmt.Fprintln(stderr, "ecsplane:", err)
	}
}

// errReported wraps a failure whose explanation the command has printed
// itself; main prints nothing more and exits 1.
var errReported = errors.New("reported")

// command is one ecsplane command.
type command struct {
	// name is the command as typed: "history", "stack apply".
	name string
	// args is the usage of its positional arguments: "<service>".
	args string
	// about says what the command does.
	about string
	// json says what --json prints; noJSON, for a command without JSON
	// output, says why.
	json, noJSON string
	// settings are the flags that read an environment variable, by flag.
	settings map[string]setting
}

// setting is a value a command reads from a flag or, by default, from an
// environment variable.
type setting struct {
	flag, env, what string
	value           *string
}

// Settings shared by several commands.
var (
	regionSetting = setting{flag: "region", env: "AWS_REGION", what: "the AWS region"}
	tableSetting  = setting{flag: "table", env: tableEnv, what: "the ledger table (the control plane's LedgerTableName output)"}
)

// flags returns the command's flag set, with --json; parse handles
// --help.
func (c *command) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("json", false, c.jsonUsage())
	return fs
}

func (c *command) jsonUsage() string {
	if c.json == "" {
		return "not supported: " + c.noJSON
	}
	return c.json
}

// setting registers s's flag, whose default is its environment variable,
// and returns it bound to its value.
func (c *command) setting(fs *flag.FlagSet, s setting) setting {
	s.value = fs.String(s.flag, os.Getenv(s.env), fmt.Sprintf("%s ($%s)", s.what, s.env))
	if c.settings == nil {
		c.settings = map[string]setting{}
	}
	c.settings[s.flag] = s
	return s
}

// asJSON reports whether --json was given.
func (c *command) asJSON(fs *flag.FlagSet) bool {
	return fs.Lookup("json").Value.String() == "true"
}

// parse parses args, flags before, between or after the positional
// arguments, which it returns. --help prints the usage on stdout.
func (c *command) parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage(stdout, fs)
				return nil, errHelp
			}
			return nil, usagef(c.name, "%s%s", err.Error(), flagHint(err))
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional, args = append(positional, args[0]), args[1:]
	}
	if c.json == "" && c.asJSON(fs) {
		return nil, usagef(c.name, "--json is not supported: %s", c.noJSON)
	}
	return positional, nil
}

// flagHint completes the flag package's message for an undefined flag.
func flagHint(err error) string {
	if strings.HasPrefix(err.Error(), "flag provided but not defined") {
		return " (see the flags with --help)"
	}
	return ""
}

// usage writes the command's usage line, what it does, its flags and what
// --json prints.
func (c *command) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: ecsplane %s [flags] %s\n\n%s\n\nflags:\n", c.name, c.args, c.about)
	c.printFlags(w, fs)
	fmt.Fprint(w, exitCodes)
}

// printFlags lists the flags, each with its environment variable or its
// default.
func (c *command) printFlags(w io.Writer, fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		kind, _ := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		line += "\n      " + f.Usage
		if f.DefValue != "" && f.DefValue != "false" {
			if _, fromEnv := c.settings[f.Name]; !fromEnv {
				line += " (default " + f.DefValue + ")"
			}
		}
		lines = append(lines, line)
	})
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// exitCodes closes every usage.
const exitCodes = `
exit codes: 0 success, 1 failure, 2 usage (a bad flag or argument, a missing setting)
`

// require returns a usage error naming every setting that is empty, with
// its flag and its environment variable, or nil.
func (c *command) require(settings ...setting) error {
	var missing []string
	for _, s := range settings {
		if s.value == nil || *s.value == "" {
			missing = append(missing, fmt.Sprintf("%s: set --%s or $%s", s.what, s.flag, s.env))
		}
	}
	if len(missing) > 0 {
		return usagef(c.name, "missing %s", strings.Join(missing, "; "))
	}
	return nil
}

// loadAWS is the SDK's configuration through its standard chain, with the
// region from --region when given; a region found nowhere is a missing
// setting.
func (c *command) loadAWS(ctx context.Context, region setting) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if v := *region.value; v != "" {
		opts = append(opts, config.WithRegion(v))
	}
	cfg, err := loadAWS(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	if cfg.Region == "" {
		return cfg, usagef(c.name, "missing %s: set --%s or $%s (or a region in the AWS profile)", region.what, region.flag, region.env)
	}
	return cfg, nil
}
