package build

import (
	"testing"

	"github.com/ecsplane/ecsplane/internal/awsclient"
	"github.com/ecsplane/ecsplane/internal/stack"
)

// BenchmarkBuildOnSimulator measures a fresh build to a steady service on
// the simulator, and reports its AWS calls and simulated duration.
func BenchmarkBuildOnSimulator(b *testing.B) {
	for b.Loop() {
		s, c, calls, spec := simFixture(b, 1)
		start := s.Now()
		converge(b, s, c, stack.NewRun(spec, false, "bench", nil))
		b.ReportMetric(float64(buildMutations(calls)), "mutations/op")
		b.ReportMetric(float64(awsclient.Total(calls.Reads())), "reads/op")
		b.ReportMetric(s.Now().Sub(start).Seconds(), "sim-s/op")
	}
}
