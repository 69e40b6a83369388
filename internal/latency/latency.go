// Package latency summarises measured durations for the benchmark and the
// load tests, so that both report percentiles computed the same way.
package latency

import (
	"slices"
	"time"
)

// Percentile returns the p-th percentile of ds by nearest rank: the
// smallest sample that at least p percent of the samples do not exceed.
// It returns 0 for no samples and leaves ds unchanged.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}
