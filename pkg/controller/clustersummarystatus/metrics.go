package clustersummarystatus

import (
	"strings"
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

const namespace = "clusterview"

var (
	statusWrites = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: namespace, Subsystem: "status", Name: "writes_total",
		Help:           "ClusterSummary status writes by result.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})

	freshness = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: namespace, Subsystem: "status", Name: "freshness_seconds",
		Help:           "Time from an engine change to the ClusterSummary status reflecting it.",
		Buckets:        []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10},
		StabilityLevel: metrics.ALPHA,
	})

	budgetWait = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: namespace, Subsystem: "status", Name: "write_budget_wait_seconds",
		Help:           "Time a status write waited for the write budget shared by all ClusterSummaries (--status-writes-per-second); writes that did not wait are not observed.",
		Buckets:        []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5},
		StabilityLevel: metrics.ALPHA,
	})

	writeFailures = gaugeVec("status", "write_failures",
		"Consecutive failed status writes of a ClusterSummary, retried with per-summary exponential backoff; the series goes away once a write succeeds.",
		"summary")

	retryDelay = gaugeVec("status", "write_retry_delay_seconds",
		"Backoff before the next status write attempt of a ClusterSummary whose last write failed.",
		"summary")

	summaryNodes = gaugeVec("summary", "nodes",
		"Selected nodes of a ClusterSummary by state.",
		"summary", "state")

	summaryPods = gaugeVec("summary", "pods",
		"Selected pods of a ClusterSummary by phase.",
		"summary", "phase")

	summaryRequests = gaugeVec("summary", "resource_requests",
		"Requests of the pods bound to a ClusterSummary's nodes, in base units (cores, bytes, counts).",
		"summary", "resource")

	summaryAllocatable = gaugeVec("summary", "resource_allocatable",
		"Allocatable resources of a ClusterSummary's nodes, in base units (cores, bytes, counts).",
		"summary", "resource")

	summaryHeadroom = gaugeVec("summary", "headroom_fits",
		"How many more pods of a ClusterSummary's spec.headroom shape fit on its nodes, overall (group \"\") and per group.",
		"summary", "shape", "group")

	registerOnce sync.Once
)

// gaugeVec returns an alpha gauge clusterview_<subsystem>_<name> with the
// given label names.
func gaugeVec(subsystem, name, help string, labels ...string) *metrics.GaugeVec {
	return metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: subsystem, Name: name,
		Help:           help,
		StabilityLevel: metrics.ALPHA,
	}, labels)
}

// RegisterMetrics adds the controller's metrics to the server's /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		for _, c := range []metrics.Registerable{statusWrites, freshness, budgetWait, writeFailures, retryDelay, summaryNodes, summaryPods, summaryRequests, summaryAllocatable, summaryHeadroom} {
			legacyregistry.MustRegister(c)
		}
	})
}

// recordSummaryMetrics sets the series of one summary to what st says and
// deletes the series st no longer has: a resource its spec stopped naming,
// a shape or group that went away, every figure while the status carries
// none. A series still current is never removed, even briefly.
func recordSummaryMetrics(name string, st *v1beta1.ClusterSummaryStatus) {
	var set seriesSet
	if n := st.Nodes; n != nil {
		for state, v := range map[string]int64{"total": n.Total, "ready": n.Ready, "not_ready": n.NotReady, "unschedulable": n.Unschedulable,
			"memory_pressure": n.MemoryPressure, "disk_pressure": n.DiskPressure, "pid_pressure": n.PIDPressure} {
			set.add(summaryNodes, float64(v), name, state)
		}
	}
	if p := st.Pods; p != nil {
		for phase, v := range map[string]int64{"pending": p.Pending, "running": p.Running, "succeeded": p.Succeeded, "failed": p.Failed,
			"unknown": p.Unknown, "unscheduled": p.Unscheduled, "crash_looping": p.CrashLooping} {
			set.add(summaryPods, float64(v), name, phase)
		}
	}
	for _, r := range st.Resources {
		set.add(summaryRequests, r.Requests.AsApproximateFloat64(), name, string(r.Name))
		if r.Allocatable != nil {
			set.add(summaryAllocatable, r.Allocatable.AsApproximateFloat64(), name, string(r.Name))
		}
	}
	for _, h := range st.Headroom {
		set.add(summaryHeadroom, float64(h.Fits), name, h.Name, "")
	}
	for _, g := range st.Groups {
		for _, h := range g.Headroom {
			set.add(summaryHeadroom, float64(h.Fits), name, h.Name, g.Name)
		}
	}
	summarySeries.replace(name, set)
}

// deleteSummaryMetrics removes every series of a summary that is gone.
func deleteSummaryMetrics(name string) {
	summarySeries.replace(name, nil)
}

// series is one time series of a per-summary gauge: the gauge and its
// label values.
type series struct {
	gauge  *metrics.GaugeVec
	labels string // label values joined by seriesSep
}

const seriesSep = "\x00"

// seriesSet is the series one summary has now.
type seriesSet map[series]float64

func (s *seriesSet) add(g *metrics.GaugeVec, v float64, labels ...string) {
	if *s == nil {
		*s = seriesSet{}
	}
	(*s)[series{g, strings.Join(labels, seriesSep)}] = v
}

// seriesTracker remembers the series each summary set last, so that the
// ones it no longer has are deleted by their exact labels. Deleting by
// label values works whether or not the gauges were registered, unlike a
// partial match, so unit tests need not call RegisterMetrics.
type seriesTracker struct {
	mu        sync.Mutex
	bySummary map[string]seriesSet
}

var summarySeries = &seriesTracker{bySummary: map[string]seriesSet{}}

// replace sets the series of name to now and deletes the others it had.
func (t *seriesTracker) replace(name string, now seriesSet) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s, v := range now {
		s.gauge.WithLabelValues(strings.Split(s.labels, seriesSep)...).Set(v)
	}
	for s := range t.bySummary[name] {
		if _, ok := now[s]; !ok {
			s.gauge.DeleteLabelValues(strings.Split(s.labels, seriesSep)...)
		}
	}
	if len(now) == 0 {
		delete(t.bySummary, name)
	} else {
		t.bySummary[name] = now
	}
}
