package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awserr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

// tableEnv names the variable holding the ledger table's name (the stack's
// LedgerTableName output).
const tableEnv = "ECSPLANE_TABLE"

// listCommand is history's or actions' command line, parsed: the ledger,
// the subject and how much to show.
type listCommand struct {
	cmd     command
	subject string
	limit   int
	all     bool
	asJSON  bool
	ledger  *ledger.Ledger
	table   string
	region  string
}

func parseList(ctx context.Context, cmd command, args []string, stdout io.Writer) (*listCommand, error) {
	fs := cmd.flags()
	table := cmd.setting(fs, tableSetting)
	region := cmd.setting(fs, regionSetting)
	l := &listCommand{cmd: cmd}
	fs.IntVar(&l.limit, "limit", 20, "number of items to show")
	fs.BoolVar(&l.all, "all", false, "show every item, page by page")
	positional, err := cmd.parse(fs, args, stdout)
	if err != nil {
		return nil, err
	}
	if len(positional) != 1 {
		return nil, usagef(cmd.name, "want one %s, got %d arguments", cmd.args, len(positional))
	}
	if l.limit <= 0 {
		return nil, usagef(cmd.name, "--limit must be positive, got %d", l.limit)
	}
	if err := cmd.require(table); err != nil {
		return nil, err
	}
	cfg, err := cmd.loadAWS(ctx, region)
	if err != nil {
		return nil, err
	}
	l.subject, l.asJSON, l.table, l.region = positional[0], cmd.asJSON(fs), *table.value, cfg.Region
	l.ledger = ledger.New(dynamodb.NewFromConfig(cfg), l.table)
	return l, nil
}

// readErr names the table a read could not find, and where it looked.
func (l *listCommand) readErr(what string, err error) error {
	if awserr.IsNotFound(err) {
		return fmt.Errorf("reading %s of %s: ledger table %q does not exist in %s (--table or $%s)", what, l.subject, l.table, l.region, tableEnv)
	}
	return fmt.Errorf("reading %s of %s from ledger table %s: %w", what, l.subject, l.table, err)
}

var historyCommand = command{
	name: "history", args: "<service>",
	about: "List a service's deployments, newest first: when, why (create, template, image\n" +
		"push, deploy, rollback), the outcome, the image's tag and digest, how long it took,\n" +
		"the task definition and the outcome's reason. --json gives each record whole, with\n" +
		"its statuses and the timeline of its phases.",
	json: "print each deployment as a JSON object, one per line",
}

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	l, err := parseList(ctx, historyCommand, args, stdout)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !l.asJSON {
		fmt.Fprintln(tw, "CREATED\tID\tCAUSE\tSTATUS\tTAG\tDIGEST\tDURATION\tTASK DEFINITION\tREASON")
	}
	enc := json.NewEncoder(stdout)
	shown, cursor := 0, ""
	for {
		size := 100
		if !l.all {
			size = min(l.limit-shown, size)
		}
		ds, next, err := l.ledger.History(ctx, l.subject, ledger.PageRequest{Limit: int32(size), Cursor: cursor})
		if err != nil {
			return l.readErr("the history", err)
		}
		for _, d := range ds {
			if l.asJSON {
				if err := enc.Encode(d); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.CreatedAt.Format(time.DateTime), d.ID, dash(d.Cause), d.Status,
				dash(d.ImageTag), dash(shortDigest(d.ImageDigest)), duration(d), dash(lastSegment(d.NewTaskDef)), dash(d.Reason))
		}
		shown += len(ds)
		if next == "" || (!l.all && shown >= l.limit) {
			break
		}
		cursor = next
	}
	return tw.Flush()
}

// shortDigest is a digest's first 12 hex digits, as images list them.
func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

// lastSegment is what follows an ARN's last slash: a task definition's
// family and revision.
func lastSegment(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// duration is how long a deployment took to end, or has run so far.
func duration(d ledger.Deployment) string {
	end, ok := d.At(ledger.PhaseFinished)
	if !ok {
		if !d.Status.Terminal() {
			return "running"
		}
		end = d.UpdatedAt
	}
	return end.Sub(d.CreatedAt).Round(time.Second).String()
}

var actionsCommand = command{
	name: "actions", args: "<subject>",
	about: "List the audit actions recorded for a service or a stack, newest first:\n" +
		"builds, teardowns, remediation and lifecycle actions, with their outcomes; a lifecycle\n" +
		"action's detail is its instance and zone, the tasks drained and how long it held the instance.",
	json: "print each action as a JSON object, one per line",
}

func runActions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	l, err := parseList(ctx, actionsCommand, args, stdout)
	if err != nil {
		return err
	}
	as, _, err := l.ledger.Actions(ctx, l.subject, ledger.PageRequest{Limit: int32(min(l.limit, 100))})
	if err != nil {
		return l.readErr("the actions", err)
	}
	if l.asJSON {
		enc := json.NewEncoder(stdout)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tKIND\tACTION\tOUTCOME\tDETAIL\tREASON")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.At.Format(time.DateTime), a.Kind, a.Action, a.Outcome, actionDetail(a), dash(a.Reason))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
