package clustersummarystatus

import (
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

	summaryNodes = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: "summary", Name: "nodes",
		Help:           "Selected nodes of a ClusterSummary by state.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"summary", "state"})

	summaryPods = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: "summary", Name: "pods",
		Help:           "Selected pods of a ClusterSummary by phase.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"summary", "phase"})

	summaryRequests = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: "summary", Name: "resource_requests",
		Help:           "Requests of the pods bound to a ClusterSummary's nodes, in base units (cores, bytes, counts).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"summary", "resource"})

	summaryAllocatable = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: "summary", Name: "resource_allocatable",
		Help:           "Allocatable resources of a ClusterSummary's nodes, in base units (cores, bytes, counts).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"summary", "resource"})

	summaryHeadroom = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace: namespace, Subsystem: "summary", Name: "headroom_fits",
		Help:           "How many more pods of a ClusterSummary's spec.headroom shape fit on its nodes, overall (group \"\") and per group.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"summary", "shape", "group"})

	registerOnce sync.Once
)

// RegisterMetrics adds the controller's metrics to the server's /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		for _, c := range []metrics.Registerable{statusWrites, freshness, budgetWait, summaryNodes, summaryPods, summaryRequests, summaryAllocatable, summaryHeadroom} {
			legacyregistry.MustRegister(c)
		}
	})
}

func recordSummaryMetrics(name string, st *v1beta1.ClusterSummaryStatus) {
	if n := st.Nodes; n != nil {
		for state, v := range map[string]int64{"total": n.Total, "ready": n.Ready, "not_ready": n.NotReady, "unschedulable": n.Unschedulable,
			"memory_pressure": n.MemoryPressure, "disk_pressure": n.DiskPressure, "pid_pressure": n.PIDPressure} {
			summaryNodes.WithLabelValues(name, state).Set(float64(v))
		}
	}
	if p := st.Pods; p != nil {
		for phase, v := range map[string]int64{"pending": p.Pending, "running": p.Running, "succeeded": p.Succeeded, "failed": p.Failed,
			"unknown": p.Unknown, "unscheduled": p.Unscheduled, "crash_looping": p.CrashLooping} {
			summaryPods.WithLabelValues(name, phase).Set(float64(v))
		}
	}
	recordHeadroomMetrics(name, st)
	for _, r := range st.Resources {
		summaryRequests.WithLabelValues(name, string(r.Name)).Set(r.Requests.AsApproximateFloat64())
		if r.Allocatable != nil {
			summaryAllocatable.WithLabelValues(name, string(r.Name)).Set(r.Allocatable.AsApproximateFloat64())
		}
	}
}

// headroomSeries remembers, per summary, the (shape, group) series last
// set, so that series of shapes and groups that went away are deleted
// without ever removing, even briefly, one that is still current.
var headroomSeries = struct {
	sync.Mutex
	bySummary map[string]map[[2]string]bool
}{bySummary: map[string]map[[2]string]bool{}}

func recordHeadroomMetrics(name string, st *v1beta1.ClusterSummaryStatus) {
	current := map[[2]string]bool{}
	set := func(shape, group string, fits int64) {
		summaryHeadroom.WithLabelValues(name, shape, group).Set(float64(fits))
		current[[2]string{shape, group}] = true
	}
	for _, h := range st.Headroom {
		set(h.Name, "", h.Fits)
	}
	for _, g := range st.Groups {
		for _, h := range g.Headroom {
			set(h.Name, g.Name, h.Fits)
		}
	}
	headroomSeries.Lock()
	defer headroomSeries.Unlock()
	for s := range headroomSeries.bySummary[name] {
		if !current[s] {
			summaryHeadroom.DeleteLabelValues(name, s[0], s[1])
		}
	}
	headroomSeries.bySummary[name] = current
}

func deleteSummaryMetrics(name string) {
	headroomSeries.Lock()
	delete(headroomSeries.bySummary, name)
	headroomSeries.Unlock()
	for _, g := range []*metrics.GaugeVec{summaryNodes, summaryPods, summaryRequests, summaryAllocatable, summaryHeadroom} {
		g.DeletePartialMatch(map[string]string{"summary": name})
	}
}
