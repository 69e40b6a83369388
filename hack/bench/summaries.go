package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
)

// The many-summaries phase: ClusterSummary "cluster" plus manySummaries-1
// more, each with its own selectors and grouping, all under the same churn
// as the churn phase. Every one of them covers the probe node and the probe
// namespace (they carry none of the labels the selectors exclude), so every
// probe change must show in every summary.
const (
	manySummaries = 100
	// manyLabel marks the phase's summaries, for their watch.
	manyLabel = "bench.clusterview.io/many"
	// manyTarget is issue 13's freshness target for 100 summaries.
	manyTarget = 2 * time.Second
	// perSummaryWriteBudget is the status write budget of one summary:
	// one write per --status-update-interval (default 250 ms).
	perSummaryWriteBudget = float64(time.Second / clustersummarystatus.DefaultInterval)
)

// manySummarySpec is summary i (1 ≤ i < manySummaries): selectors that
// each leave out a different share of the synthetic cluster, groupings by
// zone, instance type, pool and (every tenth) hostname, which the
// --max-status-groups cap folds into "<other>", and headroom shapes; one
// summary asks for the most shapes validation allows (8).
func manySummarySpec(i int) v1beta1.ClusterSummarySpec {
	var spec v1beta1.ClusterSummarySpec
	switch i % 3 {
	case 0:
		spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{fmt.Sprintf("team-%02d", i%10)}}}}
	case 1:
		spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{[]string{"prod", "staging", "batch"}[i%3]}}}}
	}
	if i%2 == 0 {
		spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "topology.kubernetes.io/zone", Operator: metav1.LabelSelectorOpNotIn, Values: []string{[]string{"zone-a", "zone-b", "zone-c"}[i%3]}}}}
	}
	spec.GroupByNodeLabel = []string{"", "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type", "clusterview.io/node-pool"}[i%4]
	if i%10 == 0 {
		spec.GroupByNodeLabel = "kubernetes.io/hostname"
	}
	shapes := 0
	switch {
	case i == 1:
		shapes = 8
	case i%5 == 0:
		shapes = 2
	}
	for s := range shapes {
		spec.Headroom = append(spec.Headroom, v1beta1.HeadroomShape{
			Name: fmt.Sprintf("shape-%d", s),
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(250*(s+1)), resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(int64(512<<20)*int64(s+1), resource.BinarySI),
			},
		})
	}
	spec.Resources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}
	return spec
}

func manySummaryName(i int) string { return fmt.Sprintf("bench-many-%02d", i) }

// manyView is the freshness view of one of the phase's summaries.
func manyView(name string) view { return view(string(viewClusterSummary) + " " + name) }

// manyPhase creates the summaries, waits until each has a status that
// counts the probes so far, and runs the churn phase's protocol again with
// every summary as a view.
func (b *bench) manyPhase(ctx context.Context) error {
	f := b.fresh
	b.rep.phase = "freshness, churn, 100 ClusterSummaries"
	b.step("creating %d more ClusterSummaries with different selectors, groupings and headroom shapes", manySummaries-1)
	cs := b.cvc.ClusterviewV1beta1().ClusterSummaries()
	for i := 1; i < manySummaries; i++ {
		obj := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: manySummaryName(i), Labels: map[string]string{manyLabel: "true"}}, Spec: manySummarySpec(i)}
		if _, err := cs.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating ClusterSummary %s: %w", obj.Name, err)
		}
	}
	// Baselines: each summary's counts once its status reflects every
	// probe made so far (none is in flight between phases).
	bases := map[string][2]int64{}
	deadline := time.Now().Add(5 * time.Minute)
	for len(bases) < manySummaries-1 {
		list, err := cs.List(ctx, metav1.ListOptions{LabelSelector: manyLabel + "=true"})
		if err != nil {
			return err
		}
		for _, s := range list.Items {
			if s.Status.Pods == nil || s.Status.ObservedGeneration != s.Generation {
				continue
			}
			// The probe node's allocatable so far is in every summary.
			bases[s.Name] = [2]int64{s.Status.Pods.Succeeded - int64(f.nextPod), cpuMilli(s.Status.Resources) - int64(f.nextNode)}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d ClusterSummaries have a status after 5m", len(bases), manySummaries-1)
		}
		if len(bases) < manySummaries-1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	saved := f.views
	defer func() { f.views = saved }()
	// writes counts each summary's watch events while countWrites is set.
	var mu sync.Mutex
	writes := map[string]int{}
	countWrites := false
	for name := range bases {
		v := manyView(name)
		f.recorders[v] = &recorder{byPod: map[int]time.Time{}}
		f.views = append(f.views, v)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchAll(wctx, func(ctx context.Context) (watch.Interface, error) {
		timeout := int64(3600)
		return cs.Watch(ctx, metav1.ListOptions{LabelSelector: manyLabel + "=true", TimeoutSeconds: &timeout})
	}, func(obj runtime.Object, at time.Time) {
		s, ok := obj.(*v1beta1.ClusterSummary)
		if !ok || s.Status.Pods == nil {
			return
		}
		base, ok := bases[s.Name]
		if !ok {
			return
		}
		mu.Lock()
		if countWrites {
			writes[s.Name]++
		}
		mu.Unlock()
		f.recorders[manyView(s.Name)].add(mark{at: at, pod: s.Status.Pods.Succeeded - base[0], node: cpuMilli(s.Status.Resources) - base[1]})
	})

	b.step("freshness under churn with %d ClusterSummaries: %.0f changes/s in the background", manySummaries, b.o.churnRate)
	c, profiled, err := b.runUnderChurn(ctx, f, "churn, 100 summaries", b.o.seed+1, "-many-summaries", func(on bool) {
		mu.Lock()
		countWrites = on
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	res, st := c.res, c.res.ChurnStats

	// One pooled distribution over every summary and change, with
	// ClusterSummary "cluster" among them.
	var fromSent []time.Duration
	missing := 0
	for _, v := range f.views {
		if v == viewClusterSummary || strings.HasPrefix(string(v), string(viewClusterSummary)+" ") {
			fromSent = append(fromSent, res.FromSent[v]...)
			missing += res.Missing[v]
		}
	}
	s := statsOf(fromSent, missing)
	peer := statsOf(res.FromSent[viewKube], res.Missing[viewKube])
	b.rep.Freshness = append(b.rep.Freshness, FreshnessResult{Phase: res.Name, Changes: len(res.Probes), Duration: res.Duration.Seconds(), Churn: st,
		Views:         map[string]Stats{"ClusterSummary (all 100, pooled)": statsOf(pooled(res.Latencies, f.views), missing)},
		ViewsFromSent: map[string]Stats{"ClusterSummary (all 100, pooled)": s, string(viewKube): peer}})
	row := Row{Metric: fmt.Sprintf("freshness churn %.0f/s, %d ClusterSummaries pooled p50/p99 (n=%d), from send", st.Achieved, manySummaries, s.N),
		Value: fmt.Sprintf("%s / %s", fmtMs(s.P50ms), fmtMs(s.P99ms)), ValueNumber: s.P99ms, Unit: "ms (p99)",
		Peer: fmt.Sprintf("kube-apiserver watch %s / %s (from send)", fmtMs(peer.P50ms), fmtMs(peer.P99ms))}
	if s.Missing > 0 {
		row.Value += fmt.Sprintf(", %d never seen", s.Missing)
	}
	row.Ratio, row.RatioValue = ratio(s.P99ms, peer.P99ms)
	missed := fmt.Sprintf("p99 %.0f ms over (%.2f× the target)", s.P99ms-ms(manyTarget), s.P99ms/ms(manyTarget))
	if s.Missing > 0 {
		missed = fmt.Sprintf("%d of %d (summary, change) pairs not seen within %v", s.Missing, s.Missing+s.N, seenTimeout)
	}
	b.rep.target(&row, "p99 ≤ "+fmtMs(ms(manyTarget)), s.Missing == 0 && s.N > 0 && s.P99ms <= ms(manyTarget), missed)
	b.rep.addRow(row)

	// CPU: the churn phase with one summary is the peer; the difference
	// is what 99 more summaries cost (status controller and history).
	perS := c.cpu.Seconds() / c.wall.Seconds()
	row = Row{Metric: fmt.Sprintf("clusterview CPU under churn, %d ClusterSummaries", manySummaries), Value: fmt.Sprintf("%.2f cores", perS), ValueNumber: perS, Unit: "cores"}
	if b.churnCPU > 0 {
		row.Peer = fmt.Sprintf("same churn, 1 ClusterSummary: %.2f cores", b.churnCPU)
		row.Ratio, row.RatioValue = ratio(perS, b.churnCPU)
	}
	b.rep.addRow(row)

	// Status writes: the total from clusterview's own counter, the busiest
	// summary from the watch (one MODIFIED event per write).
	if c.writesErr[0] == nil && c.writesErr[1] == nil {
		// The budget is a token bucket: over a window W it lets through at
		// most rate×W writes plus one burst, which is what the first row
		// judges. The second row keeps the earlier flat judgement (rate
		// only, 5 % slack), which ignores the burst and so can miss on a
		// short window while the server keeps to its budget.
		count, wall := c.writes, c.wall
		total := count / wall.Seconds()
		budget := float64(clustersummarystatus.DefaultWritesPerSecond)
		burst := float64(clustersummarystatus.WriteBurst(budget))
		allowed := budget*wall.Seconds() + burst
		row = Row{Metric: fmt.Sprintf("status writes under churn, %d ClusterSummaries (token bucket)", manySummaries),
			Value:       fmt.Sprintf("%.0f writes in %.1f s (%.1f/s)", count, wall.Seconds(), total),
			ValueNumber: count, Unit: "writes", Peer: "budget --status-writes-per-second"}
		b.rep.target(&row, fmt.Sprintf("≤ %.0f/s × window + burst %.0f = %.0f", budget, burst, allowed), count <= allowed,
			fmt.Sprintf("%.0f writes over the budget", count-allowed))
		b.rep.addRow(row)
		row = Row{Metric: fmt.Sprintf("status writes under churn, %d ClusterSummaries (flat rate, earlier judgement)", manySummaries),
			Value: fmt.Sprintf("%.1f writes/s in all", total), ValueNumber: total, Unit: "writes/s", Peer: "budget --status-writes-per-second"}
		b.rep.target(&row, fmt.Sprintf("≤ %.0f/s in all (+5 %%)", budget), total <= budget*1.05,
			fmt.Sprintf("%.1f writes/s over the budget", total-budget))
		b.rep.addRow(row)
	} else {
		b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("status writes of the 100-summary phase: %v %v", c.writesErr[0], c.writesErr[1]))
	}
	mu.Lock()
	busiest, most := "", 0
	for name, n := range writes {
		if n > most {
			busiest, most = name, n
		}
	}
	mu.Unlock()
	rate := float64(most) / res.Duration.Seconds()
	row = Row{Metric: "status writes of the busiest summary (watch events)", Value: fmt.Sprintf("%.1f writes/s (%s)", rate, busiest), ValueNumber: rate, Unit: "writes/s",
		Peer: "budget --status-update-interval"}
	b.rep.target(&row, fmt.Sprintf("≤ %.0f/s per summary", perSummaryWriteBudget), rate <= perSummaryWriteBudget*1.05,
		fmt.Sprintf("%.1f writes/s over the budget", rate-perSummaryWriteBudget))
	b.rep.addRow(row)
	b.phaseRSS(b.rep.phase)
	profiled()
	return nil
}

// pooled joins the latencies of every ClusterSummary view.
func pooled(lat map[view][]time.Duration, views []view) []time.Duration {
	var out []time.Duration
	for _, v := range views {
		if v == viewClusterSummary || strings.HasPrefix(string(v), string(viewClusterSummary)+" ") {
			out = append(out, lat[v]...)
		}
	}
	return out
}

// watchAll keeps a watch open until ctx ends, re-opening it when the server
// closes it, and records every added or modified object.
func watchAll(ctx context.Context, open func(context.Context) (watch.Interface, error), record func(runtime.Object, time.Time)) {
	for ctx.Err() == nil {
		w, err := open(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				record(ev.Object, time.Now())
			}
		}
		w.Stop()
	}
}

// statusWritesTotal reads clusterview's successful status writes so far
// from its /metrics.
func (b *bench) statusWritesTotal(ctx context.Context) (float64, error) {
	return b.clusterviewMetric(ctx, `clusterview_status_writes_total{result="success"}`)
}

// clusterviewMetric reads one series (name and labels, as exposed) from
// clusterview's /metrics, directly on its loopback port.
func (b *bench) clusterviewMetric(ctx context.Context, series string) (float64, error) {
	resp, err := b.directGet(ctx, "/metrics", 30*time.Second)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	// Not exposed yet, as a counter before its first increment: zero.
	return 0, nil
}
