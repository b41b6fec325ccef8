package build_test

import (
	"testing"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// BenchmarkBuildOnSimulator measures a fresh build to a steady service on
// the simulator, and reports its AWS calls and simulated duration.
func BenchmarkBuildOnSimulator(b *testing.B) {
	for b.Loop() {
		f := simFixture(b, 1)
		start := f.sim.Now()
		converge(b, f, stack.NewRun(f.spec, false, "bench", nil))
		b.ReportMetric(float64(buildMutations(f.calls)), "mutations/op")
		b.ReportMetric(float64(ledgerWrites(f.calls)), "ledger-writes/op")
		b.ReportMetric(float64(awsclient.Total(f.calls.Reads())), "reads/op")
		b.ReportMetric(f.sim.Now().Sub(start).Seconds(), "sim-s/op")
	}
}
