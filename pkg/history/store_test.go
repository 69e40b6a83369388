package history

import (
	"sync"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/pkg/embeddedetcd"
)

// newTestStore runs an in-process etcd for the test.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	etcd, err := embeddedetcd.Start(ctx, embeddedetcd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)
	client, err := NewEtcdClient(storagebackend.TransportConfig{ServerList: etcd.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return NewStore(client, "/test/history/")
}

func TestStoreWriteIsIdempotentUnderConcurrentWriters(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	s := newTestStore(t)
	sum := Summary{Name: "cluster", UID: "u1"}
	raw := RawTier(time.Second, time.Hour)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Two writers (an old leader and its successor) write the same 90
	// samples, across two chunks, at the same time.
	var wg sync.WaitGroup
	var written [2]int
	for w := range 2 {
		wg.Go(func() {
			for i := range 90 {
				ok, err := s.Write(ctx, sum, raw, Row{Time: base.Add(time.Duration(i) * time.Second).UnixMilli(), Values: map[string]Agg{"pods.total": Of(int64(i))}})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					written[w]++
				}
			}
		})
	}
	wg.Wait()
	if written[0]+written[1] != 90 {
		t.Errorf("writers stored %d and %d samples, want 90 in all", written[0], written[1])
	}
	rows, err := s.Read(ctx, sum, raw, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 90 {
		t.Fatalf("read %d samples, want 90", len(rows))
	}
	for i, r := range rows {
		if r.Time != base.Add(time.Duration(i)*time.Second).UnixMilli() || r.Values["pods.total"] != Of(int64(i)) {
			t.Errorf("sample %d = %+v", i, r)
		}
	}
	// Reads are bounded by [from, until).
	rows, err = s.Read(ctx, sum, raw, base.Add(30*time.Second), base.Add(70*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 40 || rows[0].Time != base.Add(30*time.Second).UnixMilli() {
		t.Errorf("read of [30s, 70s) gave %d rows starting at %d", len(rows), rows[0].Time)
	}
}

func TestStoreTrimDeleteAndDeleteOthers(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	s := newTestStore(t)
	raw := RawTier(time.Second, 2*time.Minute) // chunks of 60 s
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, old := Summary{Name: "a", UID: "1"}, Summary{Name: "b", UID: "2"}, Summary{Name: "a", UID: "0"}
	for _, sum := range []Summary{a, b, old} {
		for i := range 300 {
			if _, err := s.Write(ctx, sum, raw, Row{Time: base.Add(time.Duration(i) * time.Second).UnixMilli(), Values: map[string]Agg{"x": Of(1)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(sum Summary) int {
		rows, err := s.Read(ctx, sum, raw, base.Add(-time.Hour), base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}

	// At 300 s with 120 s retention, rows from 180 s on must stay; the
	// chunk [120 s, 180 s) ends exactly at the horizon and goes.
	if err := s.Trim(ctx, a, raw, base.Add(300*time.Second)); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Read(ctx, a, raw, base.Add(-time.Hour), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 120 || rows[0].Time != base.Add(180*time.Second).UnixMilli() {
		t.Errorf("after trimming, %d rows from %v remain; want 120 from 180 s", len(rows), time.UnixMilli(rows[0].Time).Sub(base))
	}
	if count(b) != 300 {
		t.Errorf("trimming a changed b: %d rows", count(b))
	}

	if err := s.DeleteOthers(ctx, map[Summary]bool{a: true, b: true}); err != nil {
		t.Fatal(err)
	}
	if count(old) != 0 || count(a) != 120 || count(b) != 300 {
		t.Errorf("after DeleteOthers: old %d, a %d, b %d rows; want 0, 120, 300", count(old), count(a), count(b))
	}
	if err := s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Size(ctx, b); err != nil || n != 0 || count(a) != 120 {
		t.Errorf("after Delete(b): b holds %d bytes (%v), a %d rows", n, err, count(a))
	}
}
