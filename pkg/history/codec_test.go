package history

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestChunkRoundTrip(t *testing.T) {
	for _, width := range []int{rawWidth, rollupWidth} {
		rows := []Row{
			{Time: 60_000, Values: map[string]Agg{"nodes.ready": {1, 3, 3, 3}, "resources.memory.requests": {1, 1 << 40, 1 << 40, 1 << 40}}},
			// A figure appears, another disappears, a value falls.
			{Time: 120_000, Values: map[string]Agg{"nodes.ready": {1, 2, 2, 2}, "zone-a/pods.running": {1, 7, 7, 7}}},
			{Time: 240_000, Values: map[string]Agg{}},
			{Time: 300_000, Values: map[string]Agg{"nodes.ready": {1, -5, -5, -5}, "resources.memory.requests": {1, 0, 0, 0}}},
		}
		if width == rollupWidth {
			rows[0].Values["nodes.ready"] = Agg{Count: 15, Min: 1, Max: 4, Sum: 40}
		}
		gotWidth, got, err := decodeChunk(encodeChunk(width, rows))
		if err != nil {
			t.Fatalf("width %d: %v", width, err)
		}
		if gotWidth != width || !reflect.DeepEqual(got, rows) {
			t.Errorf("width %d: round trip gave width %d rows\n%+v\nwant\n%+v", width, gotWidth, got, rows)
		}
	}
}

func TestDecodeChunkRejectsDamage(t *testing.T) {
	data := encodeChunk(rawWidth, []Row{{Time: 1000, Values: map[string]Agg{"pods.total": Of(12345)}}})
	for n := range len(data) {
		if _, _, err := decodeChunk(data[:n]); err == nil {
			t.Errorf("decoding the first %d of %d bytes succeeded", n, len(data))
		}
	}
	bad := append([]byte{}, data...)
	bad[0] = 99
	if _, _, err := decodeChunk(bad); err == nil {
		t.Error("decoding an unknown version succeeded")
	}
}

func TestResampleAndRollup(t *testing.T) {
	rows := []Row{
		{Time: 0, Values: map[string]Agg{"a": Of(4), "b": Of(1)}},
		{Time: 10_000, Values: map[string]Agg{"a": Of(2)}},
		// Nothing at 20 s-40 s: a gap.
		{Time: 40_000, Values: map[string]Agg{"a": Of(9), "b": Of(3)}},
	}
	got := Resample(rows, 20*time.Second)
	want := []Row{
		{Time: 0, Values: map[string]Agg{"a": {2, 2, 4, 6}, "b": {1, 1, 1, 1}}},
		{Time: 40_000, Values: map[string]Agg{"a": Of(9), "b": Of(3)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resample = %+v, want %+v", got, want)
	}
	if rows[0].Values["a"] != Of(4) {
		t.Errorf("Resample changed its input: %+v", rows[0])
	}
	r, ok := Rollup(time.UnixMilli(0), rows)
	if !ok || r.Values["a"] != (Agg{3, 2, 9, 15}) || r.Values["b"] != (Agg{2, 1, 3, 4}) {
		t.Errorf("Rollup = %+v, %v", r, ok)
	}
	if _, ok := Rollup(time.UnixMilli(0), nil); ok {
		t.Error("Rollup of no rows made a row")
	}
}

// TestThirtyDaysCostAtMostTwoMiB measures what one summary without groups
// stores at the default settings once both tiers are full: 24 h of
// one-minute samples and 30 days of 15-minute rollups, each tier holding
// one more chunk than its retention (chunks expire whole), keys included.
// The figures move every sample, and the summary reports the usage and idle
// figures of three resources on top of today's, so it is a pessimistic size.
func TestThirtyDaysCostAtMostTwoMiB(t *testing.T) {
	const (
		resolution = time.Minute
		interval   = 15 * time.Minute
	)
	raw, rollup := RawTier(resolution, 24*time.Hour), RollupTier(interval, 30*24*time.Hour)
	store := &Store{prefix: "/registry/clusterview.io/history/"}
	sum := Summary{Name: "cluster", UID: "2f3ac1be-9c43-4d49-9b7b-7d2f8e4b9a61"}

	rng := rand.New(rand.NewPCG(1, 2))
	state := map[string]int64{}
	next := func() Row {
		for _, f := range []string{"nodes.total", "nodes.ready", "nodes.notReady", "nodes.unschedulable", "nodes.memoryPressure", "nodes.diskPressure", "nodes.pidPressure",
			"pods.total", "pods.pending", "pods.running", "pods.succeeded", "pods.failed", "pods.unknown", "pods.unscheduled", "pods.crashLooping"} {
			state[f] = max(0, state[f]+rng.Int64N(5)-2+100*boolInt(state[f] == 0))
		}
		state["pods.containerRestarts"] += rng.Int64N(4)
		for _, r := range []string{"cpu", "memory", "pods"} {
			for _, f := range []string{"allocatable", "requests", "limits", "usage", "idle"} {
				k := "resources." + r + "." + f
				scale := map[string]int64{"cpu": 1000, "memory": 1 << 30, "pods": 1}[r]
				state[k] = max(0, state[k]+(rng.Int64N(21)-10)*scale/100+50*scale*boolInt(state[k] == 0))
			}
		}
		row := Row{Values: map[string]Agg{}}
		for k, v := range state {
			row.Values[k] = Of(v)
		}
		return row
	}

	bytesOf := func(tier Tier, rows []Row) int {
		chunks := map[int64][]Row{}
		for _, r := range rows {
			start := time.UnixMilli(r.Time).Truncate(tier.ChunkSpan())
			chunks[start.UnixMilli()] = append(chunks[start.UnixMilli()], r)
		}
		n := 0
		for start, rows := range chunks {
			n += len(store.chunkKey(sum, tier, time.UnixMilli(start))) + len(encodeChunk(tier.width, rows))
		}
		return n
	}

	// Both tiers are filled whole chunk by whole chunk: the most a tier
	// holds just before its oldest chunk expires.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(rollup.Retention + rollup.ChunkSpan())
	rawStart := end.Add(-raw.Retention - raw.ChunkSpan())
	var rawRows, rollupRows, bucket []Row
	for at := start; at.Before(end); at = at.Add(resolution) {
		row := next()
		row.Time = at.UnixMilli()
		if !at.Before(rawStart) {
			rawRows = append(rawRows, row)
		}
		bucket = append(bucket, row)
		if at.Add(resolution).Equal(at.Add(resolution).Truncate(interval)) {
			r, _ := Rollup(at.Truncate(interval), bucket)
			rollupRows = append(rollupRows, r)
			bucket = nil
		}
	}
	rawBytes, rollupBytes := bytesOf(raw, rawRows), bytesOf(rollup, rollupRows)
	total := rawBytes + rollupBytes
	t.Logf("%d figures: raw %d samples %d B, rollup %d rows %d B, total %d B (%.2f MiB)",
		len(state), len(rawRows), rawBytes, len(rollupRows), rollupBytes, total, float64(total)/(1<<20))
	if total > 2<<20 {
		t.Errorf("30 days of history cost %d B, more than 2 MiB", total)
	}
	if len(rollupRows) != 31*96 || len(rawRows) != 25*60 {
		t.Errorf("simulated %d rollups and %d samples, want %d and %d", len(rollupRows), len(rawRows), 31*96, 25*60)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
