package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ecsplane/ecsplane/internal/scenario"
)

var drillCommand = command{
	name: "drill", args: "bad-image|instance-loss|az-outage|gray-failure",
	about: "Run a chaos drill against the local environment: build the stack, send steady\n" +
		"traffic, inject the failure, wait for the control plane and the data plane to\n" +
		"recover, then check for five simulated minutes that every zone serves from healthy\n" +
		"targets only. It prints what it will do first, the timeline as it happens, and the\n" +
		"recovery figures. az-outage and gray-failure act through remediation; their zone\n" +
		"steps are not built yet, and they are refused.",
	json: "print the whole run's record as one JSON object; the live timeline goes to stderr",
}

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := drillCommand
	fs := cmd.flags()
	o := localFlags(fs, ".local/drill.html")
	zone := fs.String("zone", "us-east-1a", "the Availability Zone the failure hits")
	target := fs.String("target", "local", "where to run the drill: local (the embedded environment)")
	rest, err := cmd.parse(fs, args, stdout)
	switch {
	case err != nil:
		return err
	case len(rest) != 1:
		return usagef(cmd.name, "want one drill: %s", strings.Join(scenario.DrillNames(), ", "))
	case *target != "local":
		return usagef(cmd.name, "--target %s: drills run against the local environment only; a drill against AWS is not built", *target)
	case o.speed <= 0:
		return usagef(cmd.name, "--speed must be positive, got %g", o.speed)
	}
	name := rest[0]
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
		fmt.Fprintf(w, "==> drill %s: recovery figures (simulated seconds from the failure)\n", name)
		figures := scenario.DrillFigures(name, rec)
		for _, f := range scenario.Drills[name].Figures {
			if v, ok := figures[f]; ok {
				fmt.Fprintf(w, "    %-26s %ds\n", f, v)
			} else {
				fmt.Fprintf(w, "    %-26s not measured\n", f)
			}
		}
	})
	return err
}
