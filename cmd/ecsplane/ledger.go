package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// tableEnv names the variable holding the ledger table's name (the stack's
// LedgerTableName output).
const tableEnv = "ECSPLANE_TABLE"

type listFlags struct {
	table  string
	limit  int
	all    bool
	asJSON bool
}

func parseList(name string, args []string, stderr io.Writer) (*listFlags, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &listFlags{}
	fs.StringVar(&f.table, "table", os.Getenv(tableEnv), "ledger table name (default $"+tableEnv+")")
	fs.IntVar(&f.limit, "limit", 20, "number of items to show")
	fs.BoolVar(&f.all, "all", false, "show every item, page by page")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON lines instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ecsplane %s [flags] <name>\n", name)
		fs.PrintDefaults()
	}
	// Accept flags before or after the positional name.
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, "", err
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	if len(positional) != 1 || f.table == "" || f.limit <= 0 {
		fs.Usage()
		return nil, "", errUsage
	}
	return f, positional[0], nil
}

func openLedger(ctx context.Context, table string) (*ledger.Ledger, error) {
	cfg, err := loadAWS(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.New(dynamodb.NewFromConfig(cfg), table), nil
}

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, service, err := parseList("history", args, stderr)
	if err != nil {
		return err
	}
	l, err := openLedger(ctx, f.table)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !f.asJSON {
		fmt.Fprintln(tw, "CREATED\tID\tCAUSE\tSTATUS\tIMAGE\tTASK DEFINITION\tTRANSITIONS")
	}
	shown, cursor := 0, ""
	for {
		size := 100
		if !f.all {
			size = min(f.limit-shown, size)
		}
		ds, next, err := l.History(ctx, service, ledger.PageRequest{Limit: int32(size), Cursor: cursor})
		if err != nil {
			return fmt.Errorf("reading history of %s: %w", service, err)
		}
		for _, d := range ds {
			if f.asJSON {
				if err := json.NewEncoder(stdout).Encode(d); err != nil {
					return err
				}
				continue
			}
			var steps []string
			for _, h := range d.History {
				steps = append(steps, string(h.Status))
			}
			image := d.ImageTag
			if image == "" {
				image = d.ImageDigest
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.CreatedAt.Format(time.DateTime), d.ID, dash(d.Cause), d.Status, image, dash(d.NewTaskDef), strings.Join(steps, " → "))
		}
		shown += len(ds)
		if next == "" || (!f.all && shown >= f.limit) {
			break
		}
		cursor = next
	}
	return tw.Flush()
}

func runActions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, subject, err := parseList("actions", args, stderr)
	if err != nil {
		return err
	}
	l, err := openLedger(ctx, f.table)
	if err != nil {
		return err
	}
	as, _, err := l.Actions(ctx, subject, ledger.PageRequest{Limit: int32(min(f.limit, 100))})
	if err != nil {
		return fmt.Errorf("reading actions of %s: %w", subject, err)
	}
	if f.asJSON {
		enc := json.NewEncoder(stdout)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tKIND\tACTION\tOUTCOME\tREASON")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.At.Format(time.DateTime), a.Kind, a.Action, a.Outcome, dash(a.Reason))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
