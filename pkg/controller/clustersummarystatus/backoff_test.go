package clustersummarystatus

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/generated/clientset/versioned/fake"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions"
	"github.com/clusterview/clusterview/pkg/summary"
)

// TestControllerBacksOffFailingWrites runs one worker over four summaries
// and one, "bad", whose full status the server refuses (as etcd refuses an
// oversized request). The engine changes twenty times; after each change
// the test waits until the four show it. It checks that:
//   - the four show every change, so "bad" does not hold the worker;
//   - "bad" is attempted a logarithmic number of times over the run, not
//     once per change: its retries follow its own exponential backoff,
//     which engine changes do not bring forward;
//   - its Ready condition and /metrics say the writes fail;
//   - once its writes go through, the condition and the series clear.
//
// The attempt bound grows with the time the run took, so a slow machine
// only loosens it; a controller that retried on every engine change would
// make at least twenty attempts.
func TestControllerBacksOffFailingWrites(t *testing.T) {
	RegisterMetrics()
	ctx := t.Context()
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n00", true))
	good := []string{"good0", "good1", "good2", "good3"}
	objs := []runtime.Object{newSummary("bad", 1)}
	for _, name := range good {
		objs = append(objs, newSummary(name, 1))
	}
	client := fake.NewClientset(objs...)
	var refuse atomic.Bool
	var attempts atomic.Int64
	refuse.Store(true)
	client.PrependReactor("update", "clustersummaries", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.UpdateAction)
		cs := u.GetObject().(*v1beta1.ClusterSummary)
		if u.GetSubresource() != "status" || cs.Name != "bad" || cs.Status.Nodes == nil {
			return false, nil, nil
		}
		attempts.Add(1)
		if refuse.Load() {
			return true, nil, apierrors.NewRequestEntityTooLargeError("limit is 1572864")
		}
		return false, nil, nil
	})
	const base = 50 * time.Millisecond
	factory := cvinformers.NewSharedInformerFactory(client, 0)
	c, err := New(e, func() bool { return true }, client, factory.Clusterview().V1beta1().ClusterSummaries(),
		Options{Interval: 20 * time.Millisecond, RetryBase: base, RetryMax: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	get := func(ctx context.Context, name string) (*v1beta1.ClusterSummary, error) {
		return client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
	}
	waitAll := func(names []string, ok func(*v1beta1.ClusterSummary) bool, what string) {
		t.Helper()
		for _, name := range names {
			err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
				cs, err := get(ctx, name)
				return err == nil && ok(cs), err
			})
			if err != nil {
				t.Fatalf("%s never %s: %v", name, what, err)
			}
		}
	}
	showsNodes := func(n int64) func(*v1beta1.ClusterSummary) bool {
		return func(cs *v1beta1.ClusterSummary) bool { return cs.Status.Nodes != nil && cs.Status.Nodes.Total == n }
	}
	const changes = 20
	var slowest time.Duration
	for i := 1; i <= changes; i++ {
		changed := time.Now()
		e.UpsertNode(node(fmt.Sprintf("n%02d", i), true))
		waitAll(good, showsNodes(int64(i+1)), fmt.Sprintf("showed change %d", i))
		slowest = max(slowest, time.Since(changed))
	}
	elapsed := time.Since(start)
	// One attempt at start, then one per backoff step: delays base, 2 base,
	// 4 base... sum to base*(2^k - 1) after k retries.
	bound := 2 + int64(math.Ceil(math.Log2(float64(elapsed)/float64(base)+1)))
	if n := attempts.Load(); n > bound || n < 2 {
		t.Errorf("bad was attempted %d times in %v, want 2..%d (exponential backoff from %v)", n, elapsed, bound, base)
	}
	t.Logf("%d changes in %v, each shown by all good summaries within %v; bad attempted %d times", changes, elapsed, slowest, attempts.Load())

	bad, err := get(ctx, "bad")
	if err != nil {
		t.Fatal(err)
	}
	ready := apimeta.FindStatusCondition(bad.Status.Conditions, v1beta1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != ReasonStatusWriteFailed ||
		!strings.Contains(ready.Message, "limit is 1572864") || !strings.Contains(ready.Message, "in a row, next attempt in") {
		t.Errorf("bad's Ready = %+v, want False/%s quoting the error and the backoff", ready, ReasonStatusWriteFailed)
	}
	if bad.Status.Nodes != nil {
		t.Errorf("bad's status carries figures %+v that were never written", bad.Status.Nodes)
	}
	if n, err := testutil.GetGaugeMetricValue(writeFailures.WithLabelValues("bad")); err != nil || n < 1 {
		t.Errorf("write failures gauge of bad = %v (%v), want >= 1", n, err)
	}
	if n := seriesOf(t, "clusterview_status_write_failures", "good0"); n != 0 {
		t.Errorf("good0 has %d write-failure series", n)
	}

	// The server takes it again: the next attempt (within RetryMax) writes
	// the full status and the failure series go away.
	refuse.Store(false)
	e.UpsertNode(node("n99", true))
	waitAll([]string{"bad"}, func(cs *v1beta1.ClusterSummary) bool {
		r := apimeta.FindStatusCondition(cs.Status.Conditions, v1beta1.ConditionReady)
		return showsNodes(changes+2)(cs) && r != nil && r.Status == metav1.ConditionTrue
	}, "recovered")
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return seriesOf(t, "clusterview_status_write_failures", "bad")+seriesOf(t, "clusterview_status_write_retry_delay_seconds", "bad") == 0, nil
	}); err != nil {
		t.Errorf("bad's failure series stayed after a successful write")
	}
}

// seriesOf counts the series of a registered metric that belong to summary.
func seriesOf(t *testing.T, metric, summary string) int {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "summary" && l.GetValue() == summary {
					n++
				}
			}
		}
	}
	return n
}
