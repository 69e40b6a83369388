package main

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/clusterview/clusterview/pkg/history"
)

func TestFitChunks(t *testing.T) {
	// 40 + 7·k bytes for k = 1..5.
	rows, size := []int{1, 2, 3, 4, 5}, []int{47, 54, 61, 68, 75}
	m, ok := fitChunks(rows, size)
	if !ok || math.Abs(m.Header-40) > 1e-9 || math.Abs(m.PerRow-7) > 1e-9 || m.Points != 5 {
		t.Errorf("fitChunks = %+v, %v; want header 40, 7 per row, 5 points", m, ok)
	}
	if _, ok := fitChunks([]int{3, 3}, []int{10, 11}); ok {
		t.Error("fitChunks fitted a line through one row count")
	}
	if _, ok := fitChunks([]int{1}, []int{10}); ok {
		t.Error("fitChunks fitted a line through one point")
	}
}

func TestRetime(t *testing.T) {
	m := chunkModel{Header: 100, PerRow: 10}
	// 1000 ms zig-zags to 2000: two varint bytes; 60000 ms to 120000: three.
	if got := m.retime(time.Second, time.Minute).PerRow; got != 11 {
		t.Errorf("retime 1s→1m per row = %v, want 11", got)
	}
	// 10 s and 15 min both take three bytes.
	if got := m.retime(10*time.Second, 15*time.Minute).PerRow; got != 10 {
		t.Errorf("retime 10s→15m per row = %v, want 10", got)
	}
}

func TestTierCost(t *testing.T) {
	// The defaults: 1m samples in 60-row (1h) chunks kept 24h, 15m rollups
	// in 96-row (1 day) chunks kept 30 days.
	raw := newTierCost(chunkModel{Header: 200, PerRow: 10}, history.RawTier(time.Minute, 24*time.Hour))
	if raw.rowsPerChunk != 60 || raw.chunkSpan != time.Hour {
		t.Fatalf("raw tier: %d rows per %v chunk, want 60 per 1h", raw.rowsPerChunk, raw.chunkSpan)
	}
	// 24 full chunks plus the one being filled, each 200 + 600 bytes.
	if got := raw.stored(); got != 25*800 {
		t.Errorf("raw stored = %v, want %v", got, 25*800)
	}
	// 24 chunks a day, each written at 1..60 rows: 60·200 + 10·1830.
	if got, want := raw.writtenPerDay(), 24*(60*200+10*1830.0); got != want {
		t.Errorf("raw written per day = %v, want %v", got, want)
	}
	rollup := newTierCost(chunkModel{Header: 300, PerRow: 40}, history.RollupTier(15*time.Minute, 30*24*time.Hour))
	if rollup.rowsPerChunk != 96 {
		t.Fatalf("rollup tier: %d rows per chunk, want 96", rollup.rowsPerChunk)
	}
	if got, want := rollup.stored(), 31*(300+40*96.0); got != want {
		t.Errorf("rollup stored = %v, want %v", got, want)
	}
	if got, want := rollup.writtenPerDay(), 96*300+40*96*97/2.0; got != want {
		t.Errorf("rollup written per day = %v, want %v", got, want)
	}
}

func TestHistoryKey(t *testing.T) {
	const prefix = "/registry/clusterview.io/history/"
	name, tier, ok := historyKey(prefix, prefix+"cluster/0b3c-uid/raw/0001733390000000")
	if !ok || name != "cluster" || tier != "raw" {
		t.Errorf("historyKey = %q, %q, %v", name, tier, ok)
	}
	for _, key := range []string{"/registry/clusterview.io/clustersummaries/cluster", prefix + "cluster/uid/raw"} {
		if _, _, ok := historyKey(prefix, key); ok {
			t.Errorf("historyKey accepted %q", key)
		}
	}
}

func TestEtcdEndpointFromLog(t *testing.T) {
	log := []byte(`I1205 07:40:01.000000   123 embeddedetcd.go:77] "Embedded etcd is serving" dataDir="/tmp/x" endpoints=["http://127.0.0.1:40123"]` + "\n")
	if got, ok := etcdEndpointFromLog(log); !ok || got != "http://127.0.0.1:40123" {
		t.Errorf("etcdEndpointFromLog = %q, %v", got, ok)
	}
	if _, ok := etcdEndpointFromLog([]byte("nothing here\n")); ok {
		t.Error("found an endpoint in a log without one")
	}
}

func TestMetricsReads(t *testing.T) {
	log := `{"kind":"Event","level":"Metadata","stage":"ResponseComplete","verb":"list","user":{"username":"clusterview-apiserver"},"objectRef":{"resource":"pods","apiGroup":"metrics.k8s.io","apiVersion":"v1beta1"},"requestReceivedTimestamp":"2026-12-05T07:40:02.500000Z","stageTimestamp":"2026-12-05T07:40:04.000000Z"}
{"kind":"Event","level":"Metadata","stage":"ResponseComplete","verb":"list","user":{"username":"clusterview-apiserver"},"objectRef":{"resource":"nodes","apiGroup":"metrics.k8s.io","apiVersion":"v1beta1"},"requestReceivedTimestamp":"2026-12-05T07:40:02.400000Z"}
{"kind":"Event","level":"Metadata","stage":"ResponseComplete","verb":"list","user":{"username":"clusterview-apiserver"},"objectRef":{"resource":"nodes","apiGroup":"metrics.k8s.io","apiVersion":"v1beta1"},"requestReceivedTimestamp":"2026-12-05T07:40:01.000000Z"}
{"kind":"Event","level":"Metadata","stage":"ResponseComplete","verb":"list","user":{"username":"admin"},"objectRef":{"resource":"nodes","apiGroup":"metrics.k8s.io","apiVersion":"v1beta1"},"requestReceivedTimestamp":"2026-12-05T07:40:03.000000Z"}
{"kind":"Event","level":"Metadata","stage":"Panic","verb":"list","user":{"username":"clusterview-apiserver"},"objectRef":{"resource":"nodes","apiGroup":"metrics.k8s.io","apiVersion":"v1beta1"},"requestReceivedTimestamp":"2026-12-05T07:40:04.000000Z"}
`
	reads, err := metricsReads([]byte(log), "clusterview-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	if n := reads["nodes"]; len(n) != 2 || !n[0].received.Equal(at("2026-12-05T07:40:01Z")) || !n[1].received.Equal(at("2026-12-05T07:40:02.4Z")) {
		t.Errorf("node reads = %v", n)
	}
	if p := reads["pods"]; len(p) != 1 || !p[0].completed.Equal(at("2026-12-05T07:40:04Z")) {
		t.Errorf("pod reads = %v, want one completed at 07:40:04", p)
	}
	if got, ok := latestAtOrBefore(reads["nodes"], at("2026-12-05T07:40:02.4Z")); !ok || !got.received.Equal(at("2026-12-05T07:40:02.4Z")) {
		t.Errorf("latestAtOrBefore(exact) = %v, %v", got, ok)
	}
	if got, ok := latestAtOrBefore(reads["nodes"], at("2026-12-05T07:40:02Z")); !ok || !got.received.Equal(at("2026-12-05T07:40:01Z")) {
		t.Errorf("latestAtOrBefore(between) = %v, %v", got, ok)
	}
	if _, ok := latestAtOrBefore(reads["nodes"], at("2026-12-05T07:40:00Z")); ok {
		t.Error("latestAtOrBefore found a read before the first")
	}
	if _, err := metricsReads([]byte("not json\n"), "x"); err == nil {
		t.Error("metricsReads accepted a line that is not JSON")
	}
}

func TestHeapAlloc(t *testing.T) {
	profile := "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 123\n# TotalAlloc = 999\n# Sys = 5\n# HeapAlloc = 123456\n# HeapSys = 7\n"
	if got, err := heapAlloc([]byte(profile)); err != nil || got != 123456 {
		t.Errorf("heapAlloc = %d, %v; want 123456", got, err)
	}
	if _, err := heapAlloc([]byte("heap profile\n")); err == nil {
		t.Error("heapAlloc found a figure in a profile without one")
	}
}

func TestParseSkip(t *testing.T) {
	skip, err := parseSkip(" usage, freshness ,")
	if err != nil {
		t.Fatal(err)
	}
	if !skip[phaseUsage] || !skip[phaseFreshness] || !skip[phaseMany] || skip[phaseHistory] {
		t.Errorf("parseSkip = %v; want usage, freshness and (implied) many", skip)
	}
	if _, err := parseSkip("usage,load"); err == nil {
		t.Error("parseSkip accepted an unknown phase")
	}
}

func TestUsageSteps(t *testing.T) {
	for _, c := range []struct {
		total, requested int
		want             []int
	}{
		{100, 0, []int{100}},
		{5000, 0, []int{625, 1250, 2500, 5000}},
		{5000, 800, []int{800}},
		{5000, 2000, []int{250, 500, 1000, 2000}},
		{100, 500, []int{100}},
	} {
		if got := usageSteps(c.total, c.requested); !slices.Equal(got, c.want) {
			t.Errorf("usageSteps(%d, %d) = %v, want %v", c.total, c.requested, got, c.want)
		}
	}
}

func TestPhaseFileName(t *testing.T) {
	for phase, want := range map[string]string{
		"freshness, churn, 100 ClusterSummaries": "freshness-churn-100-ClusterSummaries",
		"peers, at rest":                         "peers-at-rest",
		"usage":                                  "usage",
	} {
		if got := phaseFileName(phase); got != want {
			t.Errorf("phaseFileName(%q) = %q, want %q", phase, got, want)
		}
	}
}
