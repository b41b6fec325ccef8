package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ecsplane/ecsplane/internal/local"
	"github.com/ecsplane/ecsplane/internal/sim"
)

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tmpl := fs.String("template", "template.yaml", "SAM template whose table is created")
	name := fs.String("stack", "web", "name of the stack to build")
	python := fs.String("python", envOr("ECSPLANE_PYTHON", "python3"), "Python interpreter with moto[server]==5.2.1")
	verbose := fs.Bool("v", false, "show moto's log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	var motoLog io.Writer
	if *verbose {
		motoLog = stderr
	}
	fmt.Fprintln(stdout, "==> starting the embedded AWS environment (moto with Step Functions, Lambda gateway)")
	env, err := local.Start(ctx, *python, motoLog)
	if err != nil {
		return err
	}
	defer env.Stop()
	fmt.Fprintf(stdout, "    AWS_ENDPOINT_URL=%s\n", env.Endpoint())

	const table = "ecsplane-ledger"
	s, err := local.NewSession(ctx, env, *tmpl, table, stdout)
	if err != nil {
		return err
	}
	steps := localBuildSteps(sim.New(sim.Options{Seed: 1}), *name, "statemachine/build.asl.json")
	steps = append(steps, local.Step{
		Name: "print the ledger with `ecsplane history` and `ecsplane actions`",
		Run: func(ctx context.Context, s *local.Session) error {
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
			if err := runHistory(ctx, []string{"--table", table, *name}, stdout, stderr); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
			return runActions(ctx, []string{"--table", table, *name}, stdout, stderr)
		},
	})
	if err := local.RunSteps(ctx, s, steps); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "==> local run finished in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
