package clustersummarystatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"

	"github.com/clusterview/clusterview/pkg/summary"
)

// TestSummaryMetricsFollowTheSpec checks that a resource the spec stops
// naming loses its series at the next sync, while those still named keep
// theirs, and that deleting the summary removes the rest.
func TestSummaryMetricsFollowTheSpec(t *testing.T) {
	RegisterMetrics()
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n1", true))
	e.UpsertPod(pod("team", "web", "n1", corev1.PodRunning, "500m", false))
	cs := newSummary("follows-spec", 1)
	cs.Spec.Resources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourcePods}
	record := func() {
		t.Helper()
		st, err := ComputeStatus(cs, e, true, DefaultMaxGroups)
		if err != nil {
			t.Fatal(err)
		}
		recordSummaryMetrics(cs.Name, &st)
	}
	record()
	compare := func(resources ...string) {
		t.Helper()
		// Only this summary's series: other tests' summaries share the gauge.
		got, err := testutil.GetGaugeMetricValue(summaryAllocatable.WithLabelValues("follows-spec", "cpu"))
		if err != nil || got != 4 {
			t.Errorf("cpu allocatable = %v (%v), want 4", got, err)
		}
		if n := seriesOf(t, "clusterview_summary_resource_allocatable", "follows-spec"); n != len(resources) {
			t.Errorf("%d allocatable series, want %d (%v)", n, len(resources), resources)
		}
	}
	compare("cpu", "pods")

	cs.Spec.Resources = []corev1.ResourceName{corev1.ResourceCPU}
	record()
	compare("cpu")
	if n := seriesOf(t, "clusterview_summary_resource_requests", "follows-spec"); n != 1 {
		t.Errorf("%d requests series after dropping pods from the spec, want 1 (cpu)", n)
	}

	deleteSummaryMetrics(cs.Name)
	for _, m := range []string{"clusterview_summary_resource_allocatable", "clusterview_summary_resource_requests", "clusterview_summary_nodes", "clusterview_summary_pods"} {
		if n := seriesOf(t, m, "follows-spec"); n != 0 {
			t.Errorf("%s: %d series left after the summary was deleted", m, n)
		}
	}
}

// TestSeriesTrackerWithoutRegistration exercises the tracker on a gauge no
// registry holds, as unit tests of other packages see the controller's
// gauges: setting and deleting series must not panic.
func TestSeriesTrackerWithoutRegistration(t *testing.T) {
	g := metrics.NewGaugeVec(&metrics.GaugeOpts{Name: "unregistered_test_gauge", Help: "test"}, []string{"summary", "resource"})
	tr := &seriesTracker{bySummary: map[string]seriesSet{}}
	var set seriesSet
	set.add(g, 1, "s", "cpu")
	tr.replace("s", set)
	tr.replace("s", nil)
	if len(tr.bySummary) != 0 {
		t.Errorf("tracker still holds %v after the summary's series were dropped", tr.bySummary)
	}
}
