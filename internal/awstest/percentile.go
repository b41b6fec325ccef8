package awstest

import (
	"slices"
	"time"
)

// Percentile is the nearest-rank percentile p of v, for the benchmarks'
// latency figures; zero when v is empty.
func Percentile(v []time.Duration, p int) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	i := (p*len(s) + 99) / 100
	return s[max(i, 1)-1]
}
