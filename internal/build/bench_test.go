package build_test

import (
	"testing"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// BenchmarkBuildOnSimulator measures a fresh build to a steady service on
// the simulator, its ledger writes in moto included, and reports its AWS
// calls and simulated duration. Setting up the fixture (a ledger table in
// moto) is not timed.
func BenchmarkBuildOnSimulator(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		f := simFixture(b, 1)
		b.StartTimer()
		start := f.sim.Now()
		converge(b, f, stack.NewRun(f.spec, false, "bench", nil))
		b.ReportMetric(float64(awsclient.Total(f.calls.Mutations())), "mutations/op")
		b.ReportMetric(float64(ledgerWrites(f.calls)), "ledger-writes/op")
		b.ReportMetric(float64(awsclient.Total(f.calls.Reads())), "reads/op")
		b.ReportMetric(f.sim.Now().Sub(start).Seconds(), "sim-s/op")
	}
}
