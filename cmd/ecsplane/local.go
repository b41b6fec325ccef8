package main

import (
	"context"
	"encoding/json"
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

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := localCommand
	fs := cmd.flags()
	tmpl := fs.String("template", "template.yaml", "SAM template the control plane is created from")
	file := fs.String("scenario", "scenarios/default.json", "the scenario to run: steps and the outcomes they must reach")
	reportPath := fs.String("report", defaultReport, "where to write the report page; empty for none")
	name := fs.String("stack", "web-dev", "name of the stack to build (the control plane's stack name, AWS::StackName)")
	python := fs.String("python", envOr("ECSPLANE_PYTHON", "python3"), "Python interpreter with moto[server]==5.2.1")
	verbose := fs.Bool("v", false, "show moto's log")
	keep := fs.Bool("keep", false, "keep the environment running after the scenario, until Ctrl-C, and print the exports that reach it")
	speed := fs.Float64("speed", 60, "simulated seconds per wall-clock second for the steps whose scenario sets none: how fast the simulator's clock follows wall time, since moto's Step Functions waits are wall-clock")
	rest, err := cmd.parse(fs, args, stdout)
	switch {
	case err != nil:
		return err
	case len(rest) > 0:
		return usagef(cmd.name, "unexpected argument %q", rest[0])
	case *speed <= 0:
		return usagef(cmd.name, "--speed must be positive, got %g", *speed)
	}
	sc, err := scenario.Load(*file)
	if err != nil {
		return err
	}
	asJSON := cmd.asJSON(fs)
	out := stdout
	if asJSON {
		out = stderr
	}
	start := time.Now()
	var motoLog io.Writer
	if *verbose {
		motoLog = stderr
	}
	fmt.Fprintf(out, "==> scenario %s (%s): %s\n", sc.Name, *file, sc.About)
	fmt.Fprintln(out, "==> starting the embedded AWS environment (moto with Step Functions, Lambda gateway, simulator)")
	env, err := local.Start(ctx, *python, motoLog)
	if err != nil {
		return err
	}
	defer env.Stop()
	fmt.Fprintf(out, "    AWS_ENDPOINT_URL=%s, up in %s\n", env.Endpoint(), time.Since(start).Round(time.Millisecond))

	s := sim.New(sim.Options{Seed: 1})
	lc, err := startLocalControlPlane(ctx, env, *tmpl, *name, "", s)
	if err != nil {
		return err
	}
	defer lc.Stop()
	fmt.Fprintf(out, "    %s, in %s\n", lc.summary(), time.Since(start).Round(time.Millisecond))
	runCtx, stopClock := context.WithCancel(ctx)
	defer stopClock()
	go s.Run(runCtx, *speed)

	rec, runErr := scenario.Run(ctx, scenario.Env{Local: env, CP: lc.OnSim, Ledger: lc.session(out).Ledger, Out: out, Speed: *speed}, sc)
	if rec != nil {
		if err := scenario.PrintSummary(out, rec); err != nil {
			return err
		}
		fmt.Fprintf(out, "    %s\n", lc.eventSummary())
		if *reportPath != "" {
			if err := writeReport(*reportPath, rec); err != nil {
				return err
			}
			fmt.Fprintf(out, "==> report page: %s\n", *reportPath)
		}
		if asJSON {
			if err := json.NewEncoder(stdout).Encode(rec); err != nil {
				return err
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	fmt.Fprintf(out, "==> scenario %s passed: %d steps in %s wall (the environment's start included)\n", sc.Name, len(sc.Steps), time.Since(start).Round(time.Millisecond))
	if *keep {
		s.SetSpeed(*speed)
		lc.keep(ctx, out)
	}
	return nil
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
