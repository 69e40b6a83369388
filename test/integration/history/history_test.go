package history

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/pkg/historyclient"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// createSummary creates a summary and removes it when the test ends.
func createSummary(t *testing.T, name string) *v1beta1.ClusterSummary {
	t.Helper()
	cs, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Create(t.Context(),
		&v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.ClusterviewV1beta1().ClusterSummaries().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return cs
}

// churnPods keeps creating pods so that the figures move, until the test ends.
func churnPods(t *testing.T, prefix string) {
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		_ = kube.CoreV1().Pods("default").DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "churn=" + prefix})
	})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Labels: map[string]string{"churn": prefix}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
			}
			_, _ = kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
			select {
			case <-ctx.Done():
			case <-time.After(700 * time.Millisecond):
			}
		}
	}()
}

func getHistory(t *testing.T, name string, opts v1beta1.ClusterSummaryHistoryOptions) *v1beta1.ClusterSummaryHistory {
	t.Helper()
	h, err := historyclient.Get(t.Context(), env.Client, name, &opts)
	if err != nil {
		t.Fatalf("reading the history of %s with %+v: %v", name, opts, err)
	}
	return h
}

func seriesOf(h *v1beta1.ClusterSummaryHistory, figure string) []v1beta1.HistoryPoint {
	for _, s := range h.Series {
		if s.Group == "" && s.Figure == figure {
			return s.Points
		}
	}
	return nil
}

// waitPoints polls until the summary's raw history of figure holds at least
// n points in the raw tier's window.
func waitPoints(t *testing.T, name, figure string, n int, timeout time.Duration) []v1beta1.HistoryPoint {
	t.Helper()
	var points []v1beta1.HistoryPoint
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		// The raw tier answers only windows it still holds: a window
		// longer than the raw retention is served from rollups. One
		// resolution less than the retention keeps the window's start,
		// rounded down to the step, inside it.
		h, err := historyclient.Get(ctx, env.Client, name, &v1beta1.ClusterSummaryHistoryOptions{
			Since: (rawRetention - resolution).String(), Step: resolution.String(), Fields: []string{figure}})
		if err != nil {
			return false, err
		}
		points = seriesOf(h, figure)
		return len(points) >= n, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d points of %s: %v (have %d)", n, figure, err, len(points))
	}
	return points
}

// checkRawPoints checks that samples sit on the resolution grid, once each.
func checkRawPoints(t *testing.T, points []v1beta1.HistoryPoint) {
	t.Helper()
	for i, p := range points {
		if p.Time.Truncate(resolution) != p.Time.Time || p.Samples != 1 {
			t.Errorf("point %d at %s holds %d samples; want 1 on the %s grid", i, p.Time.Format(time.RFC3339Nano), p.Samples, resolution)
		}
		if i > 0 && !p.Time.After(points[i-1].Time.Time) {
			t.Errorf("point %d at %s is not after point %d at %s: a duplicate", i, p.Time, i-1, points[i-1].Time)
		}
	}
}

func TestSamplesAppearAtTheResolution(t *testing.T) {
	createSummary(t, "history-resolution")
	churnPods(t, "resolution")
	points := waitPoints(t, "history-resolution", "pods.total", 10, 60*time.Second)
	checkRawPoints(t, points)
	// On a loaded machine a tick may be late enough to miss a grid time,
	// but most must be there.
	span := points[len(points)-1].Time.Sub(points[0].Time.Time)/resolution + 1
	if float64(len(points)) < 0.8*float64(span) {
		t.Errorf("%d samples over %d grid times", len(points), span)
	}
}

func TestRollupsMatchTheSamples(t *testing.T) {
	createSummary(t, "history-rollup")
	churnPods(t, "rollup")
	// Wait for three whole rollup intervals of samples.
	waitPoints(t, "history-rollup", "pods.total", int(4*rollupInterval/resolution), 90*time.Second)

	raw := getHistory(t, "history-rollup", v1beta1.ClusterSummaryHistoryOptions{Since: rawRetention.String(), Step: resolution.String()})
	rolled := getHistory(t, "history-rollup", v1beta1.ClusterSummaryHistoryOptions{Since: rawRetention.String(), Step: rollupInterval.String()})
	if raw.Tier != v1beta1.HistoryTierRaw || rolled.Tier != v1beta1.HistoryTierRollup || rolled.Step.Duration != rollupInterval {
		t.Fatalf("tiers %s (step %s) and %s (step %s), want Raw and Rollup at %s", raw.Tier, raw.Step.Duration, rolled.Tier, rolled.Step.Duration, rollupInterval)
	}
	compared := 0
	for _, figure := range []string{"pods.total", "pods.pending", "resources.cpu.requests"} {
		// The independent computation: group the raw samples by interval.
		type acc struct {
			n             int64
			min, max, sum int64
		}
		want := map[time.Time]*acc{}
		for _, p := range seriesOf(raw, figure) {
			v := p.Mean.MilliValue()
			b := p.Time.Truncate(rollupInterval)
			a := want[b]
			if a == nil {
				a = &acc{min: v, max: v}
				want[b] = a
			}
			a.n++
			a.sum += v
			a.min, a.max = min(a.min, v), max(a.max, v)
		}
		points := seriesOf(rolled, figure)
		// The first interval may have started before the raw window.
		for _, p := range points[1:] {
			a := want[p.Time.Time]
			if a == nil {
				t.Errorf("%s: rollup at %s has no raw samples", figure, p.Time)
				continue
			}
			compared++
			if p.Samples != a.n || p.Min.MilliValue() != a.min || p.Max.MilliValue() != a.max || p.Mean.MilliValue() != a.sum/a.n {
				t.Errorf("%s at %s: rollup n=%d min=%s mean=%s max=%s; samples give n=%d min=%dm mean=%dm max=%dm",
					figure, p.Time.Format(time.RFC3339), p.Samples, &p.Min, &p.Mean, &p.Max, a.n, a.min, a.sum/a.n, a.max)
			}
		}
	}
	if compared < 6 {
		t.Errorf("compared only %d rollups", compared)
	}
	// The pods kept coming: the rollups saw the figure move.
	if ps := seriesOf(rolled, "pods.total"); len(ps) < 2 || ps[len(ps)-1].Max.Cmp(ps[0].Min) <= 0 {
		t.Errorf("pods.total did not grow across rollups: %+v", ps)
	}
}

func TestRetentionBoundsWhatIsServed(t *testing.T) {
	createSummary(t, "history-retention")
	h := getHistory(t, "history-retention", v1beta1.ClusterSummaryHistoryOptions{Since: "1h", Step: rollupInterval.String()})
	if horizon := time.Now().Add(-rollupRetention - rollupInterval); h.Since.Time.Before(horizon) {
		t.Errorf("a 1h window starts at %s, before the rollup retention horizon %s", h.Since.Format(time.RFC3339), horizon.Format(time.RFC3339))
	}
	// A window beyond the raw retention is served from rollups.
	if h.Tier != v1beta1.HistoryTierRollup {
		t.Errorf("a 1h window at step %s was read from the %s tier", rollupInterval, h.Tier)
	}
}

func TestBadParametersAreRejectedByName(t *testing.T) {
	createSummary(t, "history-params")
	for _, c := range []struct {
		opts  v1beta1.ClusterSummaryHistoryOptions
		param string
	}{
		{v1beta1.ClusterSummaryHistoryOptions{Since: "yesterday"}, "since"},
		{v1beta1.ClusterSummaryHistoryOptions{Until: "2026-13-01"}, "until"},
		{v1beta1.ClusterSummaryHistoryOptions{Step: "-5m"}, "step"},
		{v1beta1.ClusterSummaryHistoryOptions{Step: "often"}, "step"},
		{v1beta1.ClusterSummaryHistoryOptions{Fields: []string{"pods.running", "pods.sleeping"}}, "fields[1]"},
		{v1beta1.ClusterSummaryHistoryOptions{Since: "1h", Until: "2h"}, "since"},
	} {
		_, err := historyclient.Get(t.Context(), env.Client, "history-params", &c.opts)
		if !apierrors.IsBadRequest(err) || !strings.HasPrefix(err.Error(), c.param) && !strings.Contains(err.Error(), " "+c.param) {
			t.Errorf("%+v: got %v, want 400 naming %s", c.opts, err, c.param)
		}
	}
	if _, err := historyclient.Get(t.Context(), env.Client, "history-none", &v1beta1.ClusterSummaryHistoryOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("history of a missing summary: %v, want 404", err)
	}
	// The generated getter reads the default window.
	h, err := env.Client.ClusterviewV1beta1().ClusterSummaries().GetHistory(t.Context(), "history-params", metav1.GetOptions{})
	if err != nil || h.Name != "history-params" || h.Until.Sub(h.Since.Time) > time.Hour+h.Step.Duration {
		t.Errorf("GetHistory = %+v, %v", h, err)
	}
}

// TestHistoryNeedsItsOwnPermission: the shipped viewer role reads history;
// a role that can get summaries but not clustersummaries/history gets 403.
func TestHistoryNeedsItsOwnPermission(t *testing.T) {
	createSummary(t, "history-authz")
	ctx := t.Context()
	if out, err := env.Cluster.Kubectl(ctx, "apply", "-f", "../../../artifacts/rbac-viewers.yaml").CombinedOutput(); err != nil {
		t.Fatalf("applying artifacts/rbac-viewers.yaml: %v\n%s", err, out)
	}
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	// Only get on clustersummaries, so not clustersummaries/history.
	framework.GrantClusterSummaries(t, kube, "history-test-summaries-only", framework.User("history-summary-only"), "get")
	framework.BindClusterRole(t, kube, "history-test-viewer", "clusterview:viewer", framework.User("history-viewer"))
	userClient := func(user string) clientset.Interface {
		cfg, err := env.Cluster.UserConfig(user)
		if err != nil {
			t.Fatal(err)
		}
		return clientset.NewForConfigOrDie(cfg)
	}
	viewer, other := userClient("history-viewer"), userClient("history-summary-only")
	// RBAC changes reach the authorizer within moments: poll.
	for name, client := range map[string]clientset.Interface{"viewer": viewer, "summary-only": other} {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, "history-authz", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("the %s user cannot get the summary: %v", name, err)
		}
	}
	if _, err := viewer.ClusterviewV1beta1().ClusterSummaries().GetHistory(ctx, "history-authz", metav1.GetOptions{}); err != nil {
		t.Errorf("clusterview:viewer cannot read history: %v", err)
	}
	_, err := other.ClusterviewV1beta1().ClusterSummaries().GetHistory(ctx, "history-authz", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `"clustersummaries/history"`) {
		t.Errorf("history without clustersummaries/history: %v, want 403 naming the subresource", err)
	}
}

// TestDeletedSummaryLosesItsHistory re-creates a summary under the same
// name: the new one starts with no history of the old one's.
func TestDeletedSummaryLosesItsHistory(t *testing.T) {
	createSummary(t, "history-deleted")
	waitPoints(t, "history-deleted", "nodes.total", 3, 60*time.Second)
	if err := env.Client.ClusterviewV1beta1().ClusterSummaries().Delete(t.Context(), "history-deleted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := historyclient.Get(t.Context(), env.Client, "history-deleted", &v1beta1.ClusterSummaryHistoryOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("history of a deleted summary: %v, want 404", err)
	}
	recreated := createSummary(t, "history-deleted")
	h := getHistory(t, "history-deleted", v1beta1.ClusterSummaryHistoryOptions{Since: "1h", Step: "1s"})
	for _, s := range h.Series {
		for _, p := range s.Points {
			if p.Time.Time.Before(recreated.CreationTimestamp.Add(-resolution)) {
				t.Fatalf("the re-created summary shows %s at %s, before it was created at %s", s.Figure, p.Time, recreated.CreationTimestamp)
			}
		}
	}
}

// TestHistorySurvivesARestart restarts clusterview: samples from before
// are still served, new ones follow, and no time is stored twice.
func TestHistorySurvivesARestart(t *testing.T) {
	createSummary(t, "history-restart")
	before := waitPoints(t, "history-restart", "nodes.total", 5, 60*time.Second)
	if err := env.RestartClusterview(t.Context(), dir, historyFlags...); err != nil {
		t.Fatal(err)
	}
	after := waitPoints(t, "history-restart", "nodes.total", len(before)+5, 90*time.Second)
	checkRawPoints(t, after)
	for _, p := range before {
		found := false
		for _, q := range after {
			found = found || q.Time.Equal(&p.Time)
		}
		if !found {
			t.Errorf("the sample at %s was lost in the restart", p.Time.Format(time.RFC3339))
		}
	}
}
