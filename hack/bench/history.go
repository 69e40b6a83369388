package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/cmd/server"
	"github.com/clusterview/clusterview/pkg/history"
)

// The history phase restarts clusterview with a short --history-resolution
// and measures what recording ClusterSummary history costs: 10 summaries
// grouped by zone plus ClusterSummary "cluster" (no groups), with a light
// churn so that the figures move between samples.
//
//   - Bytes: a watch on clusterview's etcd (the embedded one, reached at the
//     endpoint its log names) sees every write of every history chunk. The
//     recorder rewrites a chunk on each sample, so each put's key and value
//     size, against the chunk's version (its number of rows), gives the
//     chunk size as a function of its rows: a header plus a cost per row.
//     That model, fitted per tier and summary, scales to the defaults (1m
//     samples in 60-row chunks kept 24h, 15m rollups in 96-row chunks kept
//     30 days): bytes stored for 30 days and bytes written per day. Both are
//     extrapolations and labelled so.
//   - CPU: clusterview's CPU over two windows of the same length and churn,
//     first with every summary's history disabled (spec.disableHistory),
//     then recorded. The embedded etcd runs in clusterview's process, so its
//     work is included.
const (
	historySummaries = 10
	historyLabel     = "bench.clusterview.io/history"
	// The recording settings of the phase: the shortest resolution the
	// server takes, rollups every ten samples.
	historyResolution     = time.Second
	historyRollupInterval = 10 * time.Second
	historyRawRetention   = time.Hour
	// historyTarget is issue 11's bytes per summary for 30 days without
	// groups.
	historyTarget = 2 << 20
)

// HistoryResult is the history phase in the JSON report.
type HistoryResult struct {
	Resolution     string  `json:"resolution"`
	RollupInterval string  `json:"rollupInterval"`
	WindowSeconds  float64 `json:"windowSeconds"`
	ChurnRate      float64 `json:"churnRate"`
	// Summaries are the recorded summaries' figures by name.
	Summaries map[string]*HistorySummary `json:"summaries"`
	// CPU is clusterview's CPU (cores) without and with recording.
	CPUWithout float64 `json:"cpuCoresWithout"`
	CPUWith    float64 `json:"cpuCoresWith"`
	Samples    int     `json:"rawSamplesWritten"`
	// Groups is the most groups a grouped summary had.
	Groups int `json:"groups"`
	// Method says how bytes and CPU were measured.
	Method string `json:"method"`
}

// HistorySummary is one summary's measured chunk models and what they
// extrapolate to at the defaults.
type HistorySummary struct {
	Grouped    bool       `json:"grouped"`
	Raw        chunkModel `json:"raw"`
	Rollup     chunkModel `json:"rollup"`
	RawPuts    int        `json:"rawPuts"`
	RollupPuts int        `json:"rollupPuts"`
	// WrittenBytes are the bytes (keys and values) of every put in the
	// recorded window, both tiers; RawWrittenBytes those of the raw tier.
	WrittenBytes    int64 `json:"writtenBytes"`
	RawWrittenBytes int64 `json:"rawWrittenBytes"`
	// StoredBytes are the summary's history keys and values at the end.
	StoredBytes int64 `json:"storedBytes"`
	// At the defaults (extrapolated): stored for the retentions, written
	// per day.
	Stored30dBytes     float64 `json:"stored30dBytes"`
	WrittenPerDayBytes float64 `json:"writtenPerDayBytes"`
}

// chunkModel is the size of one stored chunk, key included, holding k rows:
// Header + PerRow·k bytes.
type chunkModel struct {
	Header float64 `json:"headerBytes"`
	PerRow float64 `json:"perRowBytes"`
	// Points is how many puts the model was fitted to.
	Points int `json:"points"`
}

// fitChunks fits a chunkModel to (rows, bytes) points by least squares. It
// needs two different row counts.
func fitChunks(rows []int, size []int) (chunkModel, bool) {
	n := float64(len(rows))
	if len(rows) < 2 || len(rows) != len(size) {
		return chunkModel{}, false
	}
	var sx, sy, sxx, sxy float64
	for i := range rows {
		x, y := float64(rows[i]), float64(size[i])
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return chunkModel{}, false
	}
	slope := (n*sxy - sx*sy) / d
	return chunkModel{Header: (sy - slope*sx) / n, PerRow: slope, Points: len(rows)}, true
}

// varintLen is the length of v as a zig-zag varint, as the chunk codec
// stores time deltas.
func varintLen(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}

// retime is m with each row's time delta re-encoded for interval to
// instead of from: the one part of a row that depends on the resolution.
func (m chunkModel) retime(from, to time.Duration) chunkModel {
	m.PerRow += float64(varintLen(to.Milliseconds()) - varintLen(from.Milliseconds()))
	return m
}

// tierCost is a tier's chunk model with its layout at some settings.
type tierCost struct {
	model        chunkModel
	retention    time.Duration
	rowsPerChunk int
	chunkSpan    time.Duration
}

func newTierCost(m chunkModel, t history.Tier) tierCost {
	return tierCost{model: m, retention: t.Retention, chunkSpan: t.ChunkSpan(),
		rowsPerChunk: int(t.ChunkSpan() / t.Interval)}
}

// stored is an upper bound of the bytes the tier keeps at steady state: a
// chunk is trimmed whole once it ends more than the retention ago, so up to
// retention/span full chunks plus the one being filled.
func (c tierCost) stored() float64 {
	chunks := math.Ceil(float64(c.retention)/float64(c.chunkSpan)) + 1
	return chunks * (c.model.Header + c.model.PerRow*float64(c.rowsPerChunk))
}

// writtenPerDay is the bytes of a day of puts: every sample rewrites its
// chunk, so a chunk of r rows costs the sum of its sizes at 1..r rows.
func (c tierCost) writtenPerDay() float64 {
	r := float64(c.rowsPerChunk)
	perChunk := r*c.model.Header + c.model.PerRow*r*(r+1)/2
	return float64(24*time.Hour) / float64(c.chunkSpan) * perChunk
}

// etcdEndpointRE finds the embedded etcd's client URL in clusterview's log.
var etcdEndpointRE = regexp.MustCompile(`Embedded etcd is serving.*?endpoints=\[?"?(http://[0-9.]+:[0-9]+)`)

func etcdEndpointFromLog(log []byte) (string, bool) {
	m := etcdEndpointRE.FindSubmatch(log)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// put is one write of a history chunk seen by the watch.
type put struct {
	key     string
	version int64
	size    int
}

// historyKey splits a history key under prefix into summary name and tier.
func historyKey(prefix, key string) (name, tier string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(key, prefix), "/")
	if !strings.HasPrefix(key, prefix) || len(parts) != 4 {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// restartClusterview stops clusterview and starts it again with args added
// and its log at logPath (the same log when empty), and waits until its
// /readyz passes (which waits for the informers); it returns the time from
// the start to Ready.
func (b *bench) restartClusterview(ctx context.Context, logPath string, args ...string) (time.Duration, error) {
	opts := b.cv.Options()
	if err := b.cv.Stop(20 * time.Second); err != nil {
		return 0, fmt.Errorf("stopping clusterview: %w", err)
	}
	opts.Args = append(slices.Clone(opts.Args), args...)
	if logPath != "" {
		opts.LogPath = logPath
	}
	start := time.Now()
	var err error
	if b.cv, err = localcluster.StartProcess(opts); err != nil {
		return 0, err
	}
	for {
		if resp, err := b.directGet(ctx, "/readyz", 5*time.Second); err == nil {
			_ = resp.Body.Close()
			return time.Since(start), nil
		}
		if !b.cv.Running() {
			return 0, fmt.Errorf("clusterview exited after a restart: %v (log: %s)", b.cv.ExitError(), opts.LogPath)
		}
		if time.Since(start) > 5*time.Minute {
			return 0, fmt.Errorf("clusterview not ready 5 minutes after a restart (log: %s)", opts.LogPath)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// setHistory sets spec.disableHistory of the named summaries.
func (b *bench) setHistory(ctx context.Context, names []string, disable bool) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"disableHistory": disable}})
	for _, name := range names {
		if _, err := b.cvc.ClusterviewV1beta1().ClusterSummaries().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("setting disableHistory=%v on ClusterSummary %s: %w", disable, name, err)
		}
	}
	return nil
}

func historySummaryName(i int) string { return fmt.Sprintf("bench-history-%02d", i) }

// historyPhase runs the history phase; see the comment at the top of the
// file.
func (b *bench) historyPhase(ctx context.Context) error {
	b.rep.phase = "history"
	defaults := server.NewOptions()
	prefix := defaults.RecommendedOptions.Etcd.StorageConfig.Prefix + "/history/"
	res := &HistoryResult{Resolution: historyResolution.String(), RollupInterval: historyRollupInterval.String(), WindowSeconds: b.o.historyWindow.Seconds(),
		ChurnRate: b.o.historyChurnRate, Summaries: map[string]*HistorySummary{},
		Method: "bytes: every put of a history chunk, watched on clusterview's embedded etcd, fitted to header + per-row bytes per tier and extrapolated to the defaults; " +
			"CPU: clusterview's (with its embedded etcd) over two windows with the same churn, history disabled then recorded"}
	b.rep.History = res
	logPath := filepath.Join(b.runDir, "clusterview-history.log")
	b.step("history: restarting clusterview with --history-resolution=%s --history-rollup-interval=%s", historyResolution, historyRollupInterval)
	if _, err := b.restartClusterview(ctx, logPath, "--history-resolution="+historyResolution.String(),
		"--history-rollup-interval="+historyRollupInterval.String(), "--history-raw-retention="+historyRawRetention.String()); err != nil {
		return err
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	endpoint, ok := etcdEndpointFromLog(data)
	if !ok {
		return fmt.Errorf("no embedded etcd endpoint in %s", logPath)
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("connecting to clusterview's etcd %s: %w", endpoint, err)
	}
	defer func() { _ = etcd.Close() }() // a read-only client: nothing is lost

	// The summaries: none but "cluster" and the phase's, all disabled.
	cs := b.cvc.ClusterviewV1beta1().ClusterSummaries()
	if err := cs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: manyLabel + "=true"}); err != nil {
		return fmt.Errorf("deleting the 100-summary phase's summaries: %w", err)
	}
	names := []string{v1beta1.DefaultClusterSummaryName}
	if err := b.setHistory(ctx, names, true); err != nil {
		return err
	}
	for i := range historySummaries {
		spec := manySummarySpec(i + 1)
		spec.GroupByNodeLabel = "topology.kubernetes.io/zone"
		spec.DisableHistory = true
		obj := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: historySummaryName(i), Labels: map[string]string{historyLabel: "true"}}, Spec: spec}
		if _, err := cs.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating ClusterSummary %s: %w", obj.Name, err)
		}
		names = append(names, obj.Name)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		list, err := cs.List(ctx, metav1.ListOptions{LabelSelector: historyLabel + "=true"})
		ready := 0
		if err == nil {
			for _, s := range list.Items {
				if s.Status.Pods != nil && s.Status.ObservedGeneration == s.Generation {
					ready++
					res.Groups = max(res.Groups, len(s.Status.Groups))
				}
			}
		}
		if ready == historySummaries {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d history summaries have a status after 2m (%v)", ready, historySummaries, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}

	cctx, stopChurn := context.WithCancel(ctx)
	defer stopChurn()
	churn := runChurn(cctx, b.kube, b.o.historyChurnRate, b.o.seed+2)
	window := func(what string) (float64, error) {
		b.step("history: %s, %v with %.0f changes/s of churn", what, b.o.historyWindow, b.o.historyChurnRate)
		u := beginUsage(b.cv.PID())
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(b.o.historyWindow):
		}
		cpu, _, wall := u.since(b.cv.PID())
		return cpu.Seconds() / wall.Seconds(), nil
	}
	if res.CPUWithout, err = window("not recording (every summary has disableHistory)"); err != nil {
		return err
	}

	// Watch every history write from now on.
	start, err := etcd.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("reading clusterview's etcd: %w", err)
	}
	var mu sync.Mutex
	var puts []put
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for resp := range etcd.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1)) {
			mu.Lock()
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut {
					puts = append(puts, put{key: string(ev.Kv.Key), version: ev.Kv.Version, size: len(ev.Kv.Key) + len(ev.Kv.Value)})
				}
			}
			mu.Unlock()
		}
	}()
	if err := b.setHistory(ctx, names, false); err != nil {
		return err
	}
	if res.CPUWith, err = window(fmt.Sprintf("recording %d summaries every %s", len(names), historyResolution)); err != nil {
		return err
	}
	if err := b.setHistory(ctx, names, true); err != nil {
		return err
	}
	stopChurn()
	<-churn
	stopWatch()
	<-watchDone
	stored, err := etcd.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("reading clusterview's etcd: %w", err)
	}
	b.phaseRSS("history")
	return b.historyRows(res, prefix, puts, stored.Kvs, defaults.History.Resolution, defaults.History.RollupInterval,
		defaults.History.RawRetention, defaults.History.RollupRetention, len(names))
}

// historyRows turns the phase's puts and stored keys into its figures and
// rows.
func (b *bench) historyRows(res *HistoryResult, prefix string, puts []put, kvs []*mvccpb.KeyValue, resolution, rollupInterval, rawRetention, rollupRetention time.Duration, summaries int) error {
	type points struct{ rows, size []int }
	fits := map[string]map[string]*points{}
	for _, p := range puts {
		name, tier, ok := historyKey(prefix, p.key)
		if !ok {
			continue
		}
		s := res.Summaries[name]
		if s == nil {
			s = &HistorySummary{Grouped: name != v1beta1.DefaultClusterSummaryName}
			res.Summaries[name] = s
			fits[name] = map[string]*points{"raw": {}, "rollup": {}}
		}
		pt := fits[name][tier]
		if pt == nil {
			continue
		}
		pt.rows, pt.size = append(pt.rows, int(p.version)), append(pt.size, p.size)
		s.WrittenBytes += int64(p.size)
		if tier == "raw" {
			s.RawWrittenBytes += int64(p.size)
			s.RawPuts++
			res.Samples++
		} else {
			s.RollupPuts++
		}
	}
	for _, kv := range kvs {
		if name, _, ok := historyKey(prefix, string(kv.Key)); ok && res.Summaries[name] != nil {
			res.Summaries[name].StoredBytes += int64(len(kv.Key) + len(kv.Value))
		}
	}
	var grouped []*HistorySummary
	for name, s := range res.Summaries {
		raw, ok1 := fitChunks(fits[name]["raw"].rows, fits[name]["raw"].size)
		rollup, ok2 := fitChunks(fits[name]["rollup"].rows, fits[name]["rollup"].size)
		if !ok1 || !ok2 {
			b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("history of %s: too few chunk writes to fit (%d raw, %d rollup puts)", name, s.RawPuts, s.RollupPuts))
			delete(res.Summaries, name)
			continue
		}
		s.Raw, s.Rollup = raw, rollup
		rawCost := newTierCost(raw.retime(historyResolution, resolution), history.RawTier(resolution, rawRetention))
		rollupCost := newTierCost(rollup.retime(historyRollupInterval, rollupInterval), history.RollupTier(rollupInterval, rollupRetention))
		s.Stored30dBytes = rawCost.stored() + rollupCost.stored()
		s.WrittenPerDayBytes = rawCost.writtenPerDay() + rollupCost.writtenPerDay()
		if s.Grouped {
			grouped = append(grouped, s)
		}
	}
	cpuDelta := res.CPUWith - res.CPUWithout
	perSample := cpuDelta / (float64(summaries) / historyResolution.Seconds())
	b.rep.addRow(Row{Metric: fmt.Sprintf("history: clusterview CPU recording %d summaries every %s (with vs without, same churn)", summaries, historyResolution),
		Value:       fmt.Sprintf("%+.3f cores (%.3f with, %.3f without)", cpuDelta, res.CPUWith, res.CPUWithout),
		ValueNumber: cpuDelta, Unit: "cores",
		Peer: fmt.Sprintf("extrapolated to 1 sample/min: %.2f CPU-s per summary per day", perSample*float64(24*time.Hour/resolution))})

	dflt := fmt.Sprintf("%s samples kept %s, %s rollups kept %s", resolution, rawRetention, rollupInterval, rollupRetention)
	if s := res.Summaries[v1beta1.DefaultClusterSummaryName]; s != nil {
		b.rep.addRow(Row{Metric: "history, no groups (cluster): measured raw chunk, per row / header",
			Value:       fmt.Sprintf("%.1f B/row + %.0f B/chunk (%d puts, %.0f B written per sample)", s.Raw.PerRow, s.Raw.Header, s.RawPuts, float64(s.RawWrittenBytes)/float64(max(s.RawPuts, 1))),
			ValueNumber: s.Raw.PerRow, Unit: "B/row", Peer: fmt.Sprintf("rollup %.1f B/row + %.0f B/chunk (%d puts)", s.Rollup.PerRow, s.Rollup.Header, s.RollupPuts)})
		row := Row{Metric: "history, no groups (cluster): bytes stored for 30 days (extrapolated from " + fmt.Sprintf("%d samples at %s", s.RawPuts, historyResolution) + ")",
			Value: fmt.Sprintf("%.2f MiB", s.Stored30dBytes/(1<<20)), ValueNumber: s.Stored30dBytes / (1 << 20), Unit: "MiB", Peer: "at the defaults: " + dflt}
		b.rep.target(&row, "≤ 2 MiB per summary", s.Stored30dBytes <= historyTarget, fmt.Sprintf("%.2f MiB over", (s.Stored30dBytes-historyTarget)/(1<<20)))
		b.rep.addRow(row)
		b.rep.addRow(Row{Metric: "history, no groups (cluster): bytes written to etcd per day at 1 sample/min (extrapolated)",
			Value: fmt.Sprintf("%.2f MiB/day", s.WrittenPerDayBytes/(1<<20)), ValueNumber: s.WrittenPerDayBytes / (1 << 20), Unit: "MiB/day",
			Peer: "each sample rewrites its chunk (60 rows per raw chunk)"})
		if len(grouped) > 0 {
			var st, wr float64
			for _, g := range grouped {
				st += g.Stored30dBytes
				wr += g.WrittenPerDayBytes
			}
			st, wr = st/float64(len(grouped)), wr/float64(len(grouped))
			row := Row{Metric: fmt.Sprintf("history, grouped by zone (%d summaries, mean): bytes stored for 30 days (extrapolated)", len(grouped)),
				Value: fmt.Sprintf("%.2f MiB per summary", st/(1<<20)), ValueNumber: st / (1 << 20), Unit: "MiB",
				Peer: fmt.Sprintf("no groups %.2f MiB; a grouped summary records its figures for the whole and again per group (up to %d zones here)", s.Stored30dBytes/(1<<20), res.Groups)}
			row.Ratio, row.RatioValue = ratio(st, s.Stored30dBytes)
			b.rep.addRow(row)
			row = Row{Metric: fmt.Sprintf("history, grouped by zone (%d summaries, mean): bytes written per day at 1 sample/min (extrapolated)", len(grouped)),
				Value: fmt.Sprintf("%.2f MiB/day per summary", wr/(1<<20)), ValueNumber: wr / (1 << 20), Unit: "MiB/day",
				Peer: fmt.Sprintf("no groups %.2f MiB/day", s.WrittenPerDayBytes/(1<<20))}
			row.Ratio, row.RatioValue = ratio(wr, s.WrittenPerDayBytes)
			b.rep.addRow(row)
		}
	} else {
		row := Row{Metric: "history, no groups (cluster): bytes stored for 30 days", Value: "not measured", Unit: "MiB"}
		b.rep.target(&row, "≤ 2 MiB per summary", false, "no history writes of ClusterSummary cluster were seen")
		b.rep.addRow(row)
	}
	return nil
}
