package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/scenario"
	"github.com/ecsplane/ecsplane/internal/sim"
)

var localCommand = command{
	name: "local",
	about: "Run a scenario end to end on the embedded AWS environment: moto with its Step\n" +
		"Functions engine, the control plane created from the template, AWS behaviour from\n" +
		"the simulator. Each step's outcome is checked; the first that differs from what the\n" +
		"scenario expects ends the run with exit code 1, naming the step. It prints a live\n" +
		"timeline, then the ledger and the figures, and writes the report page (--report).\n" +
		"--keep keeps the environment for other commands.",
	json: "print the whole run's record (steps, figures, timeline, samples, ledger) as one JSON object; the live timeline goes to stderr",
}

// defaultReport is where `make local` writes the report page.
const defaultReport = ".local/report.html"

// localRun is what local and drill share: the environment's settings and
// what to do with a run's record.
type localRun struct {
	template, stack, python, report string
	verbose, keep, asJSON           bool
	speed                           float64
}

// localFlags registers the flags of a local run.
func localFlags(fs *flag.FlagSet, report string) *localRun {
	o := &localRun{}
	fs.StringVar(&o.template, "template", "template.yaml", "SAM template the control plane is created from")
	fs.StringVar(&o.report, "report", report, "where to write the report page; empty for none")
	fs.StringVar(&o.stack, "stack", "web-dev", "name of the stack to build (the control plane's stack name, AWS::StackName)")
	fs.StringVar(&o.python, "python", envOr("ECSPLANE_PYTHON", "python3"), "Python interpreter with moto[server]==5.2.1")
	fs.BoolVar(&o.verbose, "v", false, "show moto's log")
	fs.Float64Var(&o.speed, "speed", 60, "simulated seconds per wall-clock second for the steps whose scenario sets none: how fast the simulator's clock follows wall time, since moto's Step Functions waits are wall-clock")
	return o
}

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := localCommand
	fs := cmd.flags()
	o := localFlags(fs, defaultReport)
	file := fs.String("scenario", "scenarios/default.json", "the scenario to run: steps and the outcomes they must reach")
	fs.BoolVar(&o.keep, "keep", false, "keep the environment running after the scenario, until Ctrl-C, and print the exports that reach it")
	rest, err := cmd.parse(fs, args, stdout)
	switch {
	case err != nil:
		return err
	case len(rest) > 0:
		return usagef(cmd.name, "unexpected argument %q", rest[0])
	case o.speed <= 0:
		return usagef(cmd.name, "--speed must be positive, got %g", o.speed)
	}
	sc, err := scenario.Load(*file)
	if err != nil {
		return usagef(cmd.name, "%v", err)
	}
	o.asJSON = cmd.asJSON(fs)
	_, err = o.run(ctx, sc, *file, stdout, stderr, nil)
	return err
}

// run starts the embedded environment and the template's control plane,
// runs sc, prints the summary, writes the report page and, with --json,
// the record. after runs on the record of a run that passed, before the
// environment is kept or stopped.
func (o *localRun) run(ctx context.Context, sc *scenario.Scenario, source string, stdout, stderr io.Writer, after func(io.Writer, *scenario.Record)) (*scenario.Record, error) {
	out := stdout
	if o.asJSON {
		out = stderr
	}
	start := time.Now()
	var motoLog io.Writer
	if o.verbose {
		motoLog = stderr
	}
	fmt.Fprintf(out, "==> scenario %s (%s): %s\n", sc.Name, source, sc.About)
	fmt.Fprintln(out, "==> starting the embedded AWS environment (moto with Step Functions, Lambda gateway, simulator)")
	env, err := local.Start(ctx, o.python, motoLog)
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	fmt.Fprintf(out, "    AWS_ENDPOINT_URL=%s, up in %s\n", env.Endpoint(), time.Since(start).Round(time.Millisecond))

	s := sim.New(sim.Options{Seed: 1})
	lc, err := startLocalControlPlane(ctx, env, o.template, o.stack, "", s)
	if err != nil {
		return nil, err
	}
	defer lc.Stop()
	fmt.Fprintf(out, "    %s, in %s\n", lc.summary(), time.Since(start).Round(time.Millisecond))
	runCtx, stopClock := context.WithCancel(ctx)
	defer stopClock()
	go s.Run(runCtx, o.speed)
	go lc.HoldForHooks(runCtx, 30*time.Second)

	rec, runErr := scenario.Run(ctx, scenario.Env{Local: env, CP: lc.OnSim, Ledger: lc.session(out).Ledger, Out: out, Speed: o.speed}, sc)
	if rec == nil {
		return nil, runErr
	}
	if err := scenario.PrintSummary(out, rec); err != nil {
		return rec, err
	}
	fmt.Fprintf(out, "    %s\n", lc.eventSummary())
	if o.report != "" {
		if err := writeReport(o.report, rec); err != nil {
			return rec, err
		}
		fmt.Fprintf(out, "==> report page: %s\n", o.report)
	}
	if runErr == nil && after != nil {
		after(out, rec)
	}
	if o.asJSON {
		if err := json.NewEncoder(stdout).Encode(rec); err != nil {
			return rec, err
		}
	}
	if runErr != nil {
		return rec, runErr
	}
	fmt.Fprintf(out, "==> scenario %s passed: %d steps in %s wall (the environment's start included)\n", sc.Name, len(sc.Steps), time.Since(start).Round(time.Millisecond))
	if o.keep {
		s.SetSpeed(o.speed)
		lc.keep(ctx, out)
	}
	return rec, nil
}

// writeReport writes the run's report page, creating its directory.
func writeReport(path string, rec *scenario.Record) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := scenario.RenderReport(f, rec); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
