package clustersummaryhistory

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/embeddedetcd"
	"github.com/clusterview/clusterview/pkg/generated/clientset/versioned/fake"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions"
	"github.com/clusterview/clusterview/pkg/history"
)

// summary returns a ClusterSummary; ready < 0 leaves its status uncomputed.
func summary(name string, uid types.UID, ready int64, disable bool) *v1beta1.ClusterSummary {
	cs := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: name, UID: uid}}
	cs.Spec.DisableHistory = disable
	if ready >= 0 {
		cs.Status.Nodes = &v1beta1.NodeCounts{Total: 3, Ready: ready}
		cs.Status.Pods = &v1beta1.PodCounts{Total: 10}
	}
	return cs
}

func TestRecorderSamplesRollsUpAndSkips(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	etcd, err := embeddedetcd.Start(ctx, embeddedetcd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)
	client, err := history.NewEtcdClient(storagebackend.TransportConfig{ServerList: etcd.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	store := history.NewStore(client, "/test/history/")

	recorded, optedOut, uncomputed := summary("recorded", "u1", 3, false), summary("opted-out", "u2", 3, true), summary("uncomputed", "u3", -1, false)
	cs := fake.NewSimpleClientset(recorded, optedOut, uncomputed)
	factory := cvinformers.NewSharedInformerFactory(cs, 0)
	informer := factory.Clusterview().V1beta1().ClusterSummaries()
	raw, rollup := history.RawTier(time.Second, time.Minute), history.RollupTier(4*time.Second, time.Hour)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	r, err := New(store, informer, raw, rollup, clk)
	if err != nil {
		t.Fatal(err)
	}
	informerCtx, stopInformers := context.WithCancel(ctx)
	factory.Start(informerCtx.Done())
	// Shutdown waits for the informers, which stop only once told to.
	t.Cleanup(func() { stopInformers(); factory.Shutdown() })
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		t.Fatal("informer did not sync")
	}

	// 10 s of samples, with the ready count changing; a tick repeated
	// (a restart or a second replica) stores nothing twice. Second 6 is
	// missed, as by a handover.
	indexer := informer.Informer().GetIndexer()
	for i := range 10 {
		if i == 6 {
			continue
		}
		at := start.Add(time.Duration(i) * time.Second)
		if err := indexer.Update(summary("recorded", "u1", int64(i%3), false)); err != nil {
			t.Fatal(err)
		}
		r.tick(ctx, at)
		r.tick(ctx, at)
	}
	s := history.Summary{Name: "recorded", UID: "u1"}
	rows, err := store.Read(ctx, s, raw, start, start.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Fatalf("recorded %d samples, want 9", len(rows))
	}
	for _, row := range rows {
		if at := time.UnixMilli(row.Time); at.Sub(start) == 6*time.Second {
			t.Errorf("a sample at 6 s was made up: %+v", row)
		}
		if got, want := row.Values["nodes.ready"], history.Of((row.Time-start.UnixMilli())/1000%3); got != want {
			t.Errorf("nodes.ready at %d = %+v, want %+v", row.Time, got, want)
		}
	}
	// Intervals [0, 4 s) and [4 s, 8 s) ended by the tick at 9 s.
	rolled, err := store.Read(ctx, s, rollup, start, start.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []history.Agg{{Count: 4, Min: 0, Max: 2, Sum: 0 + 1 + 2 + 0}, {Count: 3, Min: 1, Max: 2, Sum: 1 + 2 + 1}}
	if len(rolled) != 2 || rolled[0].Values["nodes.ready"] != want[0] || rolled[1].Values["nodes.ready"] != want[1] {
		t.Errorf("rollups = %+v, want nodes.ready %+v", rolled, want)
	}
	for _, other := range []history.Summary{{Name: "opted-out", UID: "u2"}, {Name: "uncomputed", UID: "u3"}} {
		if n, err := store.Size(ctx, other); err != nil || n != 0 {
			t.Errorf("%s has %d bytes of history (%v), want none", other.Name, n, err)
		}
	}

	// A successor with no memory of what was rolled up catches up from etcd.
	successor, err := New(store, informer, raw, rollup, clk)
	if err != nil {
		t.Fatal(err)
	}
	successor.tick(ctx, start.Add(13*time.Second))
	if rolled, _ = store.Read(ctx, s, rollup, start, start.Add(time.Minute)); len(rolled) != 3 {
		t.Errorf("after the successor's tick at 13 s: %d rollups, want 3", len(rolled))
	}

	// The sweep deletes the history of summaries that are gone.
	if err := indexer.Delete(recorded); err != nil {
		t.Fatal(err)
	}
	successor.sweep(ctx)
	if n, err := store.Size(ctx, s); err != nil || n != 0 {
		t.Errorf("a deleted summary keeps %d bytes of history (%v)", n, err)
	}
}
