package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ecsplane/ecsplane/internal/drill"
	"github.com/ecsplane/ecsplane/internal/scenario"
)

var drillCommand = command{
	name: "drill", args: "bad-image|instance-loss|az-outage|gray-failure",
	about: "Run a chaos drill. Against the local environment (the default): build the stack,\n" +
		"send steady traffic, inject the failure, wait for the control plane and the data\n" +
		"plane to recover, then check for five simulated minutes that every zone serves from\n" +
		"healthy targets only. gray-failure degrades the zone: remediation evacuates it\n" +
		"(ARC zonal shift) and restores it once it has recovered. az-outage fails the zone:\n" +
		"it leaves traffic through remediation or the data plane's own replacement.\n" +
		"With --target aws and --confirm <stack>, against a real stack, with reversible,\n" +
		"documented mechanisms only: az-outage starts an ARC zonal shift of the stack's load\n" +
		"balancer away from the zone, with an expiry, watches the targets for --hold, and\n" +
		"cancels the shift (also on an error or Ctrl-C); instance-loss terminates an\n" +
		"instance of the group in the zone without decrementing its desired capacity, and\n" +
		"watches its replacement. gray-failure and bad-image are refused against AWS, saying\n" +
		"why. Either way it prints what it will do first, then what it sees, then the\n" +
		"recovery figures.",
	json: "print the whole run's record as one JSON object (local target only); the live timeline goes to stderr",
}

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := drillCommand
	fs := cmd.flags()
	o := localFlags(fs, ".local/drill.html")
	zone := fs.String("zone", "us-east-1a", "the Availability Zone the failure hits")
	target := fs.String("target", "local", "where to run the drill: local (the embedded environment) or aws (the stack named by --stack, with --confirm)")
	confirm := fs.String("confirm", "", "with --target aws: the stack's name again, to confirm the drill may act on it")
	hold := fs.Duration("hold", 5*time.Minute, "with --target aws: how long az-outage keeps the zone shifted away")
	wait := fs.Duration("wait", 15*time.Minute, "with --target aws: how long to wait for each recovery")
	interval := fs.Duration("interval", 15*time.Second, "with --target aws: the time between two looks at the targets")
	region := cmd.setting(fs, regionSetting)
	rest, err := cmd.parse(fs, args, stdout)
	switch {
	case err != nil:
		return err
	case len(rest) != 1:
		return usagef(cmd.name, "want one drill: %s", strings.Join(scenario.DrillNames(), ", "))
	case o.speed <= 0:
		return usagef(cmd.name, "--speed must be positive, got %g", o.speed)
	}
	name := rest[0]
	if _, ok := scenario.Drills[name]; !ok {
		return usagef(cmd.name, "unknown drill %q: want one of %s", name, strings.Join(scenario.DrillNames(), ", "))
	}
	switch *target {
	case "aws":
		return drillAWS(ctx, cmd, name, *confirm, region, drill.Options{Stack: o.stack, Zone: *zone, Hold: *hold, Wait: *wait, Interval: *interval, Out: stdout}, cmd.asJSON(fs))
	case "local":
	default:
		return usagef(cmd.name, "--target %q: want local or aws", *target)
	}
	sc, err := scenario.DrillScenario(name, *zone)
	if err != nil {
		return usagef(cmd.name, "%v", err)
	}
	o.asJSON = cmd.asJSON(fs)
	out := stdout
	if o.asJSON {
		out = stderr
	}
	fmt.Fprintf(out, "==> drill %s in %s, against the local environment: %s\n", name, *zone, scenario.Drills[name].About)
	for i, st := range sc.Steps {
		fmt.Fprintf(out, "    %d. %s (%s)\n", i+1, st.Name, st.Do)
	}
	_, err = o.run(ctx, sc, "drill "+name, stdout, stderr, func(w io.Writer, rec *scenario.Record) {
		fmt.Fprintf(w, "==> drill %s: recovery figures, simulated\n", name)
		figures := scenario.DrillFigures(name, rec)
		for _, f := range scenario.Drills[name].Figures {
			v := "not measured"
			if s, ok := figures[f]; ok {
				v = fmt.Sprintf("%ds", s)
			}
			fmt.Fprintf(w, "    %-26s %-13s %s\n", f, v, scenario.FigureAbout[f])
		}
	})
	return err
}

// drillAWS runs a drill against a real stack. It is refused, before any
// AWS call, without --confirm naming the stack, with --json, and for the
// drills with no reversible mechanism.
func drillAWS(ctx context.Context, cmd command, name, confirm string, region setting, o drill.Options, asJSON bool) error {
	switch {
	case asJSON:
		return usagef(cmd.name, "--json is for the local target; against AWS the drill prints what it does and sees")
	case drill.Refusals[name] != "":
		return usagef(cmd.name, "%v", &drill.RefusedError{Drill: name, Why: drill.Refusals[name]})
	case confirm == "":
		return usagef(cmd.name, "--target aws acts on a real stack: add --confirm %s to confirm the drill %s may act on it", o.Stack, name)
	case confirm != o.Stack:
		return usagef(cmd.name, "--confirm %s does not name the stack %s", confirm, o.Stack)
	case o.Interval <= 0 || o.Hold <= 0 || o.Wait <= 0:
		return usagef(cmd.name, "--interval, --hold and --wait must be positive")
	}
	cfg, err := cmd.loadAWS(ctx, region)
	if err != nil {
		return err
	}
	p, err := drill.Prepare(ctx, drill.NewClients(cfg), name, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "==> drill %s in %s, against stack %s in %s; it will:\n", name, o.Zone, o.Stack, cfg.Region)
	for i, st := range p.Steps {
		fmt.Fprintf(o.Out, "    %d. %s\n", i+1, st)
	}
	res, err := p.Run(ctx)
	fmt.Fprintf(o.Out, "==> drill %s: figures, wall time\n", name)
	for _, f := range slices.Sorted(maps.Keys(res.Figures)) {
		fmt.Fprintf(o.Out, "    %-26s %.1fs\n", f, res.Figures[f])
	}
	fmt.Fprintf(o.Out, "    %d looks at the targets: %d with an unhealthy target serving traffic, %d with no healthy one\n", len(res.Samples), res.UnhealthyServing, res.NoHealthy)
	if err == nil && res.NoHealthy > 0 {
		err = fmt.Errorf("drill %s: at %d looks no healthy target served traffic", name, res.NoHealthy)
	}
	return err
}
