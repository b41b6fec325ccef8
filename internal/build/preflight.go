package build

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/preflight"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// Preflight is what a build does before its first change: it dry-runs
// every layer, which lists every change the build would make, and runs the
// preflight checks on what the dry run found (the zones the network layer
// uses, whether the service is yet to be created), with table as the
// ledger the build records to. It returns the dry run and the checks'
// report, and every problem either found as one InvalidInputError. It
// makes no mutating call.
func Preflight(ctx context.Context, c Clients, spec stack.Spec, table, token string, log *slog.Logger) (*stack.Run, preflight.Report, error) {
	run := stack.NewRun(spec, true, token, log)
	o, err := Apply(ctx, c, run)
	var problems []string
	var inv *handlererr.InvalidInputError
	switch {
	case errors.As(err, &inv):
		problems = inv.Problems
	case err != nil:
		return run, preflight.Report{}, err
	}
	in := preflight.Input{Spec: spec, Zones: spec.Network.AZs, CreatesService: true, Table: table}
	if o != nil && o.Network != nil {
		in.Zones = o.Network.AZs
	}
	if o != nil && o.Service != nil {
		in.CreatesService = stack.Pending(o.Service.ServiceARN)
	}
	report, err := preflight.Check(ctx, c.Preflight, in)
	switch {
	case errors.As(err, &inv):
		problems = append(problems, inv.Problems...)
	case err != nil:
		return run, report, err
	}
	if len(problems) > 0 {
		return run, report, handlererr.Invalid(problems...)
	}
	return run, report, nil
}
