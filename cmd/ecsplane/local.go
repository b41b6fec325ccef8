package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
)

var localCommand = command{
	name: "local",
	about: "Run the control plane end to end on the embedded AWS environment: moto with its\n" +
		"Step Functions engine, the control plane created from the template, AWS\n" +
		"behaviour from the simulator; --keep keeps it for other commands.",
	noJSON: "it prints the narrative of a local run, step by step",
}

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := localCommand
	fs := cmd.flags()
	tmpl := fs.String("template", "template.yaml", "SAM template the control plane is created from")
	name := fs.String("stack", "web-dev", "name of the stack to build (the control plane's stack name, AWS::StackName)")
	python := fs.String("python", envOr("ECSPLANE_PYTHON", "python3"), "Python interpreter with moto[server]==5.2.1")
	verbose := fs.Bool("v", false, "show moto's log")
	keep := fs.Bool("keep", false, "keep the environment running after the scenario, until Ctrl-C, and print the exports that reach it")
	speed := fs.Float64("speed", 60, "simulated seconds per wall-clock second: how fast the simulator's clock follows wall time, since moto's Step Functions waits are wall-clock")
	rest, err := cmd.parse(fs, args, stdout)
	switch {
	case err != nil:
		return err
	case len(rest) > 0:
		return usagef(cmd.name, "unexpected argument %q", rest[0])
	case *speed <= 0:
		return usagef(cmd.name, "--speed must be positive, got %g", *speed)
	}
	start := time.Now()
	var motoLog io.Writer
	if *verbose {
		motoLog = stderr
	}
	fmt.Fprintln(stdout, "==> starting the embedded AWS environment (moto with Step Functions, Lambda gateway, simulator)")
	env, err := local.Start(ctx, *python, motoLog)
	if err != nil {
		return err
	}
	defer env.Stop()
	fmt.Fprintf(stdout, "    AWS_ENDPOINT_URL=%s\n", env.Endpoint())

	s := sim.New(sim.Options{Seed: 1})
	lc, err := startLocalControlPlane(ctx, env, *tmpl, *name, "", s)
	if err != nil {
		return err
	}
	defer lc.Stop()
	fmt.Fprintf(stdout, "    %s\n", lc.summary())
	runCtx, stopClock := context.WithCancel(ctx)
	defer stopClock()
	go s.Run(runCtx, *speed)

	steps := append(localBuildSteps(lc), localRolloutSteps(lc)...)
	steps = append(steps, local.Step{
		Name: "print the ledger with `ecsplane history` and `ecsplane actions`",
		Run: func(ctx context.Context, ls *local.Session) error {
			// The CLI reaches the environment through the SDK's standard
			// endpoint and credential chain, as it would reach AWS.
			for k, v := range map[string]string{
				"AWS_ENDPOINT_URL": env.Endpoint(), "AWS_REGION": local.Region,
				"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
			} {
				if err := os.Setenv(k, v); err != nil {
					return err
				}
			}
			if err := runHistory(ctx, []string{"--table", ls.Table, *name}, stdout, stderr); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
			return runActions(ctx, []string{"--table", ls.Table, *name}, stdout, stderr)
		},
	})
	if err := local.RunSteps(ctx, lc.session(stdout), steps); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "    %s\n", lc.eventSummary())
	fmt.Fprintf(stdout, "==> local run finished in %s\n", time.Since(start).Round(time.Millisecond))
	if *keep {
		lc.keep(ctx, stdout)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
