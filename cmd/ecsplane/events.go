package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/ecsplane/ecsplane/internal/local"
)

// runEvents runs `ecsplane events put FILE...`.
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events put", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bus := fs.String("bus", "", "event bus name (default: the default bus)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: ecsplane events put [--bus NAME] FILE...\n\nputs each file's EventBridge event on the bus; an event of a kind the control plane reads must be well formed\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "put" {
		fs.Usage()
		return errUsage
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	b := &local.Bus{API: eventbridge.NewFromConfig(cfg), Name: *bus}
	for _, path := range fs.Args() {
		ev, err := local.ReadEventFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ids, err := b.Put(ctx, ev)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(stdout, "%s: put %q from %s as event %s\n", path, ev.DetailType, ev.Source, ids[0])
	}
	return nil
}
