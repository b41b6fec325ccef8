package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/ecsplane/ecsplane/internal/local"
)

var eventsCommand = command{
	name: "events put", args: "FILE...",
	about: "Put each file's EventBridge event on the bus; an event of a kind the control\n" +
		"plane reads must be well formed.",
	json: "print each event put as a JSON object, one per line: the file, its detail type, its source and the event's ID",
}

// runEvents runs `ecsplane events put FILE...`.
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := eventsCommand
	fs := cmd.flags()
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "-help" || args[0] == "help") {
		cmd.usage(stdout, fs)
		return errHelp
	}
	if len(args) == 0 || args[0] != "put" {
		return usagef("events", "want the subcommand put: ecsplane events put FILE...")
	}
	bus := fs.String("bus", "", "event bus name (default: the default bus)")
	region := cmd.setting(fs, regionSetting)
	files, err := cmd.parse(fs, args[1:], stdout)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef(cmd.name, "want at least one FILE")
	}
	cfg, err := cmd.loadAWS(ctx, region)
	if err != nil {
		return err
	}
	b := &local.Bus{API: eventbridge.NewFromConfig(cfg), Name: *bus}
	enc := json.NewEncoder(stdout)
	for _, path := range files {
		ev, err := local.ReadEventFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ids, err := b.Put(ctx, ev)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if cmd.asJSON(fs) {
			if err := enc.Encode(map[string]string{"file": path, "detailType": ev.DetailType, "source": ev.Source, "id": ids[0]}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: put %q from %s as event %s\n", path, ev.DetailType, ev.Source, ids[0])
	}
	return nil
}
