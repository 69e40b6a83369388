package clustersummarystatus

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/utils/ptr"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/summary"
)

func TestComputeStatusHeadroom(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n1", true, "pool", "a"))
	e.UpsertNode(node("n2", false, "pool", "b"))
	e.UpsertPod(pod("team", "web", "n1", corev1.PodRunning, "500m", false))
	e.UpsertPod(pod("team", "api", "n1", corev1.PodRunning, "1", false))

	cs := newSummary("shapes", 4)
	cs.Spec.GroupByNodeLabel = "pool"
	cpu := func(q string) corev1.ResourceList { return fx.Resources("cpu", q) }
	cs.Spec.Headroom = []v1beta1.HeadroomShape{
		// n1 has 2500m left: 5 of these; n2 is not Ready.
		{Name: "web", Requests: cpu("500m"), MinFits: ptr.To[int64](6)},
		{Name: "tiny", Requests: cpu("100m"), NodeSelector: map[string]string{"pool": "a"}, MinFits: ptr.To[int64](25)},
		{Name: "on-b", Requests: cpu("100m"), NodeSelector: map[string]string{"pool": "b"}, MinFits: ptr.To[int64](1)},
		{Name: "unwatched", Requests: cpu("3")},
	}
	st, err := ComputeStatus(cs, e, true, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	fits := map[string]int64{}
	for _, h := range st.Headroom {
		fits[h.Name] = h.Fits
	}
	want := map[string]int64{"web": 5, "tiny": 25, "on-b": 0, "unwatched": 0}
	for name, w := range want {
		if fits[name] != w {
			t.Errorf("fits of %s = %d, want %d (status.headroom %+v)", name, fits[name], w, st.Headroom)
		}
	}
	low := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionHeadroomLow)
	wantMsg := "web fits 5, below minFits 6; on-b fits 0, below minFits 1"
	if low == nil || low.Status != metav1.ConditionTrue || low.Reason != ReasonHeadroomBelowMinimum || low.Message != wantMsg || low.ObservedGeneration != 4 {
		t.Errorf("HeadroomLow = %+v, want True/%s %q", low, ReasonHeadroomBelowMinimum, wantMsg)
	}

	// The gauges carry the same figures, overall and per group.
	RegisterMetrics()
	recordSummaryMetrics("shapes", &st)
	for _, c := range []struct {
		shape, group string
		want         float64
	}{{"web", "", 5}, {"web", "a", 5}, {"web", "b", 0}, {"tiny", "a", 25}, {"on-b", "b", 0}} {
		got, err := testutil.GetGaugeMetricValue(summaryHeadroom.WithLabelValues("shapes", c.shape, c.group))
		if err != nil || got != c.want {
			t.Errorf("headroom gauge %s/%q = %v (%v), want %v", c.shape, c.group, got, err, c.want)
		}
	}

	// Lowering the minimums clears the condition; dropping them removes it.
	cs.Spec.Headroom[0].MinFits = ptr.To[int64](5)
	cs.Spec.Headroom[2].MinFits = ptr.To[int64](0)
	st, err = ComputeStatus(cs, e, true, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	if low := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionHeadroomLow); low == nil || low.Status != metav1.ConditionFalse || low.Reason != ReasonHeadroomSufficient {
		t.Errorf("HeadroomLow = %+v, want False/%s", low, ReasonHeadroomSufficient)
	}
	for i := range cs.Spec.Headroom {
		cs.Spec.Headroom[i].MinFits = nil
	}
	st, err = ComputeStatus(cs, e, true, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	if low := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionHeadroomLow); low != nil {
		t.Errorf("HeadroomLow = %+v without any minFits, want none", low)
	}
	// A shape removed from the spec leaves no gauge behind.
	st.Headroom, st.Groups = st.Headroom[:1], nil
	recordSummaryMetrics("shapes", &st)
	if n, err := testutil.GetGaugeMetricValue(summaryHeadroom.WithLabelValues("shapes", "web", "")); err != nil || n != 5 {
		t.Errorf("web gauge = %v (%v), want 5", n, err)
	}
	want1 := `
# HELP clusterview_summary_headroom_fits [ALPHA] How many more pods of a ClusterSummary's spec.headroom shape fit on its nodes, overall (group "") and per group.
# TYPE clusterview_summary_headroom_fits gauge
clusterview_summary_headroom_fits{group="",shape="web",summary="shapes"} 5
`
	if err := testutil.CollectAndCompare(summaryHeadroom, strings.NewReader(want1), "clusterview_summary_headroom_fits"); err != nil {
		t.Errorf("after dropping shapes and groups: %v", err)
	}
}
