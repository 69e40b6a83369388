package ha

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/pkg/historyclient"
)

// TestHistoryAcrossALeaderKill: the leader records history; SIGKILL it at a
// sample time, while it is recording. The survivor takes over the recording:
// the samples stored before the kill are all still there, none is stored
// twice, at most one sample time is missing (handover is shorter than the
// resolution), the missing time has no point at all (a gap, not an
// interpolation), and the new leader's samples show a change made after the
// kill.
func TestHistoryAcrossALeaderKill(t *testing.T) {
	ctx := t.Context()
	const name, figureName = "ha-history", "nodes.total"
	deleteSummaries(t, name)
	healAfter(t)
	lead, identity, survivor := leader(ctx, t)
	client, err := clientset.NewForConfig(survivor.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ClusterviewV1beta1().ClusterSummaries().Create(ctx, selectingSummary(name, "history"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(ctx, t, "ha-history-1", "history")
	waitNodeCount(ctx, t, client.ClusterviewV1beta1(), name, 1, 30*time.Second)

	// read returns the raw samples of the last ten minutes, from the
	// survivor, which keeps serving whoever leads.
	read := func(ctx context.Context) ([]v1beta1.HistoryPoint, error) {
		h, err := historyclient.Get(ctx, client, name, &v1beta1.ClusterSummaryHistoryOptions{
			Since: "10m", Step: historyResolution.String(), Fields: []string{figureName}})
		if err != nil {
			return nil, err
		}
		if h.Tier != v1beta1.HistoryTierRaw || h.Step.Duration != historyResolution {
			return nil, fmt.Errorf("read the %s tier at step %s, want Raw at %s", h.Tier, h.Step.Duration, historyResolution)
		}
		for _, s := range h.Series {
			if s.Group == "" && s.Figure == figureName {
				return s.Points, nil
			}
		}
		return nil, nil
	}
	// waitPoints polls until at least n samples from after from are stored.
	waitPoints := func(n int, from time.Time, timeout time.Duration) []v1beta1.HistoryPoint {
		t.Helper()
		var points []v1beta1.HistoryPoint
		var last error
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			points, last = read(ctx)
			after := 0
			for _, p := range points {
				if p.Time.After(from) {
					after++
				}
			}
			return last == nil && after >= n, nil
		})
		if err != nil {
			t.Fatalf("waiting for %d samples after %s: %v (have %d points, last error: %v)", n, from.Format(time.RFC3339), err, len(points), last)
		}
		return points
	}

	// Two samples of the counted node before the kill.
	before := waitPoints(2, time.Now(), 3*historyResolution+30*time.Second)

	// Kill at the next sample time: the leader's recorder is then taking
	// and writing that sample. Whether the write lands or not, the
	// contract must hold. The kill is scheduled on the recording grid, not
	// a wait for a condition.
	at := time.Now().Truncate(historyResolution).Add(historyResolution)
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(time.Until(at) + 20*time.Millisecond):
	}
	killed := time.Now()
	if err := lead.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILLed replica %s (the leader, %s) at %s, %v after the sample time %s", lead.Name, identity,
		killed.Format(time.RFC3339Nano), killed.Sub(at).Round(time.Millisecond), at.Format(time.RFC3339))

	// A change only the new leader can record.
	createNode(ctx, t, "ha-history-2", "history")
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		h, err := holder(ctx)
		return err == nil && h != "" && h != identity, nil
	})
	if err != nil {
		t.Fatalf("no replica took the Lease over within 30 s of the kill")
	}
	handover := time.Since(killed)
	figure(t, "handover after SIGKILL of the recording leader (Lease holder changes)", handover)
	waitNodeCount(ctx, t, client.ClusterviewV1beta1(), name, 2, 30*time.Second)

	// Two samples by the new leader that count the second node.
	var after []v1beta1.HistoryPoint
	var last error
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*historyResolution+30*time.Second, true, func(ctx context.Context) (bool, error) {
		after, last = read(ctx)
		two := 0
		for _, p := range after {
			if p.Time.After(killed) && p.Mean.Value() == 2 {
				two++
			}
		}
		return last == nil && two >= 2, nil
	})
	if err != nil {
		t.Fatalf("the new leader recorded fewer than two samples of 2 nodes: %v (last error: %v); points %s", err, last, describePoints(after))
	}

	// Every sample on the grid, one sample each, none stored twice.
	for i, p := range after {
		if !p.Time.Truncate(historyResolution).Equal(p.Time.Time) || p.Samples != 1 {
			t.Errorf("point %d at %s holds %d samples; want 1 on the %s grid", i, p.Time.Format(time.RFC3339Nano), p.Samples, historyResolution)
		}
		if i > 0 && !p.Time.After(after[i-1].Time.Time) {
			t.Errorf("point %d at %s is not after point %d at %s: a duplicate", i, p.Time.Format(time.RFC3339), i-1, after[i-1].Time.Format(time.RFC3339))
		}
	}
	// Nothing recorded before the kill was lost or changed.
	for _, p := range before {
		found := false
		for _, q := range after {
			found = found || q.Time.Equal(&p.Time) && q.Mean.Cmp(p.Mean) == 0
		}
		if !found {
			t.Errorf("the sample at %s (%s nodes) was lost or changed in the handover", p.Time.Format(time.RFC3339), &p.Mean)
		}
	}
	// Count the sample times with no point between the first and the last.
	var missing []string
	for i := 1; i < len(after); i++ {
		for g := after[i-1].Time.Add(historyResolution); g.Before(after[i].Time.Time); g = g.Add(historyResolution) {
			missing = append(missing, g.Format(time.RFC3339))
		}
	}
	figure(t, "sample times missing across the leader kill", len(missing))
	t.Logf("points: %s", describePoints(after))
	if len(missing) > 1 {
		t.Errorf("%d sample times have no point (%v); at most one may be missed per handover (handover took %v, resolution %v)",
			len(missing), missing, handover.Round(time.Millisecond), historyResolution)
	}
}

func describePoints(points []v1beta1.HistoryPoint) string {
	s := ""
	for _, p := range points {
		s += fmt.Sprintf(" %s=%s", p.Time.Format("15:04:05"), &p.Mean)
	}
	return s
}
