package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

// The freshness probes are status changes of objects that nothing else
// touches, each of which leaves a unique, monotonically growing mark in
// every summary that covers it, so the first watch event that reflects a
// change can be told apart even while other changes (churn, earlier probes)
// are in flight:
//
//   - pod change k: probe pod k goes Running -> Succeeded (a pod finishing,
//     the commonest real status change besides restarts). The probe node's
//     NodeSummary and the probe namespace's NamespaceSummary then count k
//     succeeded pods, and the cluster ClusterSummary S0+k, where S0 is its
//     count before the first probe. Churn never makes pods terminal.
//   - node change k: the probe node's allocatable CPU becomes base+k
//     millicores (as a kubelet reports after a reservation change). Its
//     NodeSummary then shows base+k, the ClusterSummary X0+k. Churn changes
//     only conditions and pod status, never allocatable.
//
// The probe objects carry no clusterfill.SyntheticLabel, so Churn, which is
// restricted to that label, never picks them.
const (
	probeNamespace = "clusterview-bench-probe"
	probeNode      = "clusterview-bench-probe-node"
	// probeAllocatableCPU is the probe node's allocatable CPU before the
	// first node change, in millicores.
	probeAllocatableCPU = 32000
	// seenTimeout bounds the wait for the last probe of a phase to show.
	seenTimeout = 30 * time.Second
	// probePhases is how many phases make pod changes (idle, idle spaced,
	// churn, churn with 100 summaries): each uses its own probe pods.
	probePhases = 4
)

func probePodName(k int) string { return fmt.Sprintf("probe-pod-%04d", k) }

// view is one place a change can become visible.
type view string

const (
	viewNodeSummary      view = "NodeSummary"
	viewNamespaceSummary view = "NamespaceSummary"
	viewClusterSummary   view = "ClusterSummary"
	// viewKube is kube-apiserver's own watch of the changed pod or node:
	// the floor any watcher of the API sees, clusterview's peer.
	viewKube view = "kube-apiserver watch"
)

type changeKind string

const (
	podChange  changeKind = "pod"
	nodeChange changeKind = "node"
)

// mark is what one watch event showed: how many pod changes and node
// changes it reflects (-1 when the event says nothing about that kind).
type mark struct {
	at        time.Time
	pod, node int64
}

// recorder collects the marks of one view, in arrival order.
type recorder struct {
	mu    sync.Mutex
	marks []mark
	// byPod is for viewKube: when each probe pod was first seen Succeeded.
	byPod map[int]time.Time
}

func (r *recorder) add(m mark) {
	r.mu.Lock()
	r.marks = append(r.marks, m)
	r.mu.Unlock()
}

// max returns the highest pod and node marks seen so far.
func (r *recorder) max() (pod, node int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pod, node = -1, -1
	for _, m := range r.marks {
		pod, node = max(pod, m.pod), max(node, m.node)
	}
	return pod, node
}

// firstAtLeast returns when a mark of kind first reached k.
func (r *recorder) firstAtLeast(kind changeKind, k int64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.marks {
		v := m.pod
		if kind == nodeChange {
			v = m.node
		}
		if v >= k {
			return m.at, true
		}
	}
	return time.Time{}, false
}

// probe is one change the benchmark made.
type probe struct {
	kind  changeKind
	k     int // 1-based index among changes of this kind, across phases
	sent  time.Time
	acked time.Time
}

// freshness runs the probes and the watches.
type freshness struct {
	kube kubernetes.Interface
	cv   clientset.Interface
	out  io.Writer

	// baselines of the ClusterSummary, read before the first probe.
	s0, x0 int64

	pods      []*corev1.Pod // probe pods, index k-1
	node      *corev1.Node
	nextPod   int
	nextNode  int
	recorders map[view]*recorder
	// views are the summary views measured: those the server serves.
	views []view
}

// setupProbes creates the probe namespace, node and pods (podCount of them,
// Running).
func setupProbes(ctx context.Context, kube kubernetes.Interface, podCount int) (*freshness, error) {
	f := &freshness{kube: kube, recorders: map[view]*recorder{}}
	for _, v := range []view{viewNodeSummary, viewNamespaceSummary, viewClusterSummary, viewKube} {
		f.recorders[v] = &recorder{byPod: map[int]time.Time{}}
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating probe namespace: %w", err)
	}
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: probeNode, Labels: map[string]string{"kubernetes.io/hostname": probeNode}},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"),
				corev1.ResourcePods: *resource.NewQuantity(int64(podCount+10), resource.DecimalSI),
			},
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU: *resource.NewMilliQuantity(probeAllocatableCPU, resource.DecimalSI), corev1.ResourceMemory: resource.MustParse("250Gi"),
				corev1.ResourcePods: *resource.NewQuantity(int64(podCount+10), resource.DecimalSI),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: now, LastTransitionTime: now}},
		},
	}
	var err error
	if f.node, err = kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating probe node: %w", err)
	}
	f.pods = make([]*corev1.Pod, podCount)
	errs := make(chan error, podCount)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range podCount {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := createRunningPod(ctx, kube, probePodName(i+1))
			if err != nil {
				errs <- err
				return
			}
			f.pods[i] = p
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return f, nil
}

func createRunningPod(ctx context.Context, kube kubernetes.Interface, name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: probeNamespace},
		Spec: corev1.PodSpec{
			NodeName:      probeNode,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "registry.example/probe:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
		},
	}
	c := kube.CoreV1().Pods(probeNamespace)
	got, err := c.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating probe pod %s: %w", name, err)
	}
	now := metav1.Now()
	got.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Image: "registry.example/probe:1", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}},
	}
	if got, err = c.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("writing probe pod %s status: %w", name, err)
	}
	return got, nil
}

func cpuMilli(rs []v1beta1.ResourceUsage) int64 {
	for _, r := range rs {
		if r.Name == corev1.ResourceCPU && r.Allocatable != nil {
			return r.Allocatable.MilliValue()
		}
	}
	return -1
}

// startWatches opens the five watches through kube-apiserver. They run
// until ctx ends, re-opening a watch that the server closes.
func (f *freshness) startWatches(ctx context.Context) {
	nameSel := func(name string) string { return fields.OneTermEqualSelector("metadata.name", name).String() }
	cvw := f.cv.ClusterviewV1beta1()
	type source struct {
		v      view
		open   func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
		record func(obj runtime.Object, at time.Time)
	}
	sources := []source{
		{viewNodeSummary, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = nameSel(probeNode)
			return cvw.NodeSummaries().Watch(ctx, o)
		}, func(obj runtime.Object, at time.Time) {
			if ns, ok := obj.(*v1beta1.NodeSummary); ok {
				f.recorders[viewNodeSummary].add(mark{at: at, pod: ns.Pods.Succeeded, node: cpuMilli(ns.Resources) - probeAllocatableCPU})
			}
		}},
		{viewNamespaceSummary, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cvw.NamespaceSummaries(probeNamespace).Watch(ctx, o)
		}, func(obj runtime.Object, at time.Time) {
			if ns, ok := obj.(*v1beta1.NamespaceSummary); ok {
				f.recorders[viewNamespaceSummary].add(mark{at: at, pod: ns.Pods.Succeeded, node: -1})
			}
		}},
		{viewClusterSummary, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = nameSel(v1beta1.DefaultClusterSummaryName)
			return cvw.ClusterSummaries().Watch(ctx, o)
		}, func(obj runtime.Object, at time.Time) {
			cs, ok := obj.(*v1beta1.ClusterSummary)
			if !ok || cs.Status.Pods == nil {
				return
			}
			f.recorders[viewClusterSummary].add(mark{at: at, pod: cs.Status.Pods.Succeeded - f.s0, node: cpuMilli(cs.Status.Resources) - f.x0})
		}},
		{viewKube, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return f.kube.CoreV1().Pods(probeNamespace).Watch(ctx, o)
		}, func(obj runtime.Object, at time.Time) {
			p, ok := obj.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodSucceeded {
				return
			}
			var k int
			if _, err := fmt.Sscanf(p.Name, "probe-pod-%d", &k); err != nil {
				return
			}
			r := f.recorders[viewKube]
			r.mu.Lock()
			if _, seen := r.byPod[k]; !seen {
				r.byPod[k] = at
			}
			r.mu.Unlock()
		}},
		{viewKube, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = nameSel(probeNode)
			return f.kube.CoreV1().Nodes().Watch(ctx, o)
		}, func(obj runtime.Object, at time.Time) {
			if n, ok := obj.(*corev1.Node); ok {
				q := n.Status.Allocatable[corev1.ResourceCPU]
				f.recorders[viewKube].add(mark{at: at, pod: -1, node: q.MilliValue() - probeAllocatableCPU})
			}
		}},
	}
	for _, s := range sources {
		if s.v != viewKube && !slices.Contains(f.views, s.v) {
			continue
		}
		go func() {
			var lastLog time.Time
			for ctx.Err() == nil {
				timeout := int64(3600)
				w, err := s.open(ctx, metav1.ListOptions{TimeoutSeconds: &timeout})
				if err != nil {
					if ctx.Err() == nil {
						if time.Since(lastLog) > 10*time.Second {
							lastLog = time.Now()
							fmt.Fprintf(f.out, "  watch %s: %v (retrying)\n", s.v, err)
						}
						time.Sleep(500 * time.Millisecond)
					}
					continue
				}
				for ev := range w.ResultChan() {
					at := time.Now()
					if ev.Type == watch.Added || ev.Type == watch.Modified {
						s.record(ev.Object, at)
					}
				}
				w.Stop()
			}
		}()
	}
}

// waitForBaseline waits until the ClusterSummary counts every pod and node
// the benchmark created, then fixes the baselines S0 and X0.
func (f *freshness) waitForBaseline(ctx context.Context, wantPods, wantNodes int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		cs, err := f.cv.ClusterviewV1beta1().ClusterSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		switch {
		case err != nil:
			last = err.Error()
		case cs.Status.Pods == nil || cs.Status.Nodes == nil:
			last = "status not computed yet"
		case cs.Status.Pods.Total != wantPods || cs.Status.Nodes.Total != wantNodes:
			last = fmt.Sprintf("status counts %d pods and %d nodes, want %d and %d", cs.Status.Pods.Total, cs.Status.Nodes.Total, wantPods, wantNodes)
		default:
			f.s0, f.x0 = cs.Status.Pods.Succeeded, cpuMilli(cs.Status.Resources)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clustersummary %s not caught up after %v: %s", v1beta1.DefaultClusterSummaryName, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podProbe makes the next pod change.
func (f *freshness) podProbe(ctx context.Context) (probe, error) {
	if f.nextPod >= len(f.pods) {
		return probe{}, fmt.Errorf("out of probe pods")
	}
	p := f.pods[f.nextPod].DeepCopy()
	f.nextPod++
	now := metav1.Now()
	p.Status.Phase = corev1.PodSucceeded
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].Status, p.Status.Conditions[i].Reason = corev1.ConditionFalse, "PodCompleted"
			p.Status.Conditions[i].LastTransitionTime = now
		}
	}
	p.Status.ContainerStatuses[0].Ready = false
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 0, Reason: "Completed", StartedAt: p.Status.StartTime.Rfc3339Copy(), FinishedAt: now}}
	pr := probe{kind: podChange, k: f.nextPod, sent: time.Now()}
	if _, err := f.kube.CoreV1().Pods(probeNamespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return pr, fmt.Errorf("probe pod %s: %w", p.Name, err)
	}
	pr.acked = time.Now()
	return pr, nil
}

// nodeProbe makes the next node change.
func (f *freshness) nodeProbe(ctx context.Context) (probe, error) {
	f.nextNode++
	n := f.node.DeepCopy()
	n.Status.Allocatable[corev1.ResourceCPU] = *resource.NewMilliQuantity(probeAllocatableCPU+int64(f.nextNode), resource.DecimalSI)
	pr := probe{kind: nodeChange, k: f.nextNode, sent: time.Now()}
	got, err := f.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if err != nil {
		return pr, fmt.Errorf("probe node: %w", err)
	}
	pr.acked = time.Now()
	f.node = got
	return pr, nil
}

// phaseResult is one freshness phase: the probes made and, per view, the
// latency of each change it covers (acknowledged to first visible).
type phaseResult struct {
	Name      string
	Probes    []probe
	Latencies map[view][]time.Duration
	// FromSent are the same latencies measured from when the request was
	// sent: kube-apiserver's own watch often delivers a change before the
	// write's response arrives, so only this start point gives it a
	// meaningful figure.
	FromSent map[view][]time.Duration
	Missing  map[view]int
	// Samples are the per-change figures, in the order of the changes.
	Samples    map[view][]Sample
	Duration   time.Duration
	ChurnStats *churnStats
}

// Sample is one change as one view saw it.
type Sample struct {
	Kind string `json:"kind"`
	K    int    `json:"k"`
	// AckedAt is when the change was acknowledged, in seconds from the
	// start of the phase.
	AckedAt    float64 `json:"ackedAtS"`
	FromAckMs  float64 `json:"fromAckMs"`
	FromSentMs float64 `json:"fromSentMs"`
}

type churnStats struct {
	Changes  int
	Late     int
	Achieved float64 // changes per second
	Err      string
}

// pacing says how long to wait before the next change of a phase.
type pacing func() time.Duration

// every spaces changes evenly.
func every(d time.Duration) pacing { return func() time.Duration { return d } }

// poisson spaces changes at random, exponentially distributed around mean
// (a Poisson process), so that they land at any point of the status
// interval, as real changes do, rather than only after it.
func poisson(mean time.Duration, seed int64) pacing {
	r := rand.New(rand.NewPCG(uint64(seed), 0x1d1e))
	return func() time.Duration { return time.Duration(r.ExpFloat64() * float64(mean)) }
}

// runPhase makes podChanges pod changes and nodeChanges node changes, paced
// by next (two pod changes, then a node change, repeated), then waits until
// every view has shown the last of them.
func (f *freshness) runPhase(ctx context.Context, name string, podChanges, nodeChanges int, next pacing) (*phaseResult, error) {
	total := podChanges + nodeChanges
	res := &phaseResult{Name: name, Latencies: map[view][]time.Duration{}, FromSent: map[view][]time.Duration{},
		Missing: map[view]int{}, Samples: map[view][]Sample{}}
	start := time.Now()
	due := start
	lastProgress := time.Now()
	pods, nodes := 0, 0
	for i := 0; i < total; i++ {
		var pr probe
		var err error
		// Spread the node changes evenly between the pod changes.
		if nodes < nodeChanges && (pods >= podChanges || (i+1)*nodeChanges >= (nodes+1)*total) {
			pr, err = f.nodeProbe(ctx)
			nodes++
		} else {
			pr, err = f.podProbe(ctx)
			pods++
		}
		if err != nil {
			return nil, err
		}
		res.Probes = append(res.Probes, pr)
		if time.Since(lastProgress) >= 2*time.Second {
			lastProgress = time.Now()
			f.progress(name, i+1, total)
		}
		// Changes are due on a schedule, not after each other's
		// responses, so a slow write does not slow the pace; one that
		// overran its slot is not made up with a burst.
		if due = due.Add(next()); due.Before(time.Now()) {
			due = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(due)):
		}
	}
	// Wait for the last changes to show everywhere.
	lastPod, lastNode := int64(f.nextPod), int64(f.nextNode)
	deadline := time.Now().Add(seenTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if f.allSeen(lastPod, lastNode) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.progress(name, total, total)
	res.Duration = time.Since(start)
	for _, pr := range res.Probes {
		for _, v := range append(slices.Clone(f.views), viewKube) {
			if v == viewNamespaceSummary && pr.kind == nodeChange {
				continue // a node is in no namespace
			}
			at, ok := f.seenAt(v, pr)
			if !ok {
				res.Missing[v]++
				continue
			}
			res.Latencies[v] = append(res.Latencies[v], max(0, at.Sub(pr.acked)))
			res.FromSent[v] = append(res.FromSent[v], at.Sub(pr.sent))
			res.Samples[v] = append(res.Samples[v], Sample{Kind: string(pr.kind), K: pr.k, AckedAt: pr.acked.Sub(start).Seconds(),
				FromAckMs: ms(max(0, at.Sub(pr.acked))), FromSentMs: ms(at.Sub(pr.sent))})
		}
	}
	return res, ctx.Err()
}

func (f *freshness) seenAt(v view, pr probe) (time.Time, bool) {
	r := f.recorders[v]
	if v == viewKube && pr.kind == podChange {
		r.mu.Lock()
		defer r.mu.Unlock()
		at, ok := r.byPod[pr.k]
		return at, ok
	}
	return r.firstAtLeast(pr.kind, int64(pr.k))
}

func (f *freshness) allSeen(lastPod, lastNode int64) bool {
	for _, v := range f.views {
		pod, node := f.recorders[v].max()
		if pod < lastPod || (v != viewNamespaceSummary && node < lastNode) {
			return false
		}
	}
	return true
}

func (f *freshness) progress(name string, done, total int) {
	var seen []string
	// The 100-summary phase's views are shown as the one furthest behind.
	lagPod, lagNode, many := int64(-1), int64(-1), 0
	for _, v := range f.views {
		if strings.HasPrefix(string(v), string(viewClusterSummary)+" ") {
			pod, node := f.recorders[v].max()
			if many == 0 || pod < lagPod {
				lagPod = pod
			}
			if many == 0 || node < lagNode {
				lagNode = node
			}
			many++
			continue
		}
		pod, node := f.recorders[v].max()
		s := fmt.Sprintf("%s pod %d", v, max(pod, 0))
		if v != viewNamespaceSummary {
			s += fmt.Sprintf(" node %d", max(node, 0))
		}
		seen = append(seen, s)
	}
	if many > 0 {
		seen = append(seen, fmt.Sprintf("slowest of %d more ClusterSummaries pod %d node %d", many, max(lagPod, 0), max(lagNode, 0)))
	}
	fmt.Fprintf(f.out, "  [freshness %s] %d/%d changes made (pod %d, node %d so far); seen: %v\n",
		name, done, total, f.nextPod, f.nextNode, seen)
}

// churnPhase is one freshness phase run under background churn: its
// result (with ChurnStats set), clusterview's CPU time and the wall time
// over the phase, and the status writes clusterview counted in it
// (writesErr holds the errors of reading /metrics before and after; writes
// means nothing unless both are nil).
type churnPhase struct {
	res       *phaseResult
	cpu, wall time.Duration
	writes    float64
	writesErr [2]error
}

// runUnderChurn starts runChurn at --churn-rate with seed and the profile
// named by profileSuffix, lets the churn reach its pace for 2 s, and runs
// f's phase name while it goes on. counting, unless nil, is told when the
// phase starts (true) and ends (false). The caller calls finishProfile once
// it has read what it needs.
func (b *bench) runUnderChurn(ctx context.Context, f *freshness, name string, seed int64, profileSuffix string, counting func(on bool)) (c churnPhase, finishProfile func(), err error) {
	cctx, stopChurn := context.WithCancel(ctx)
	churn := runChurn(cctx, b.kube, b.o.churnRate, seed)
	profiled := b.profilePhase(ctx, profileSuffix)
	select {
	case <-ctx.Done():
		stopChurn()
		return c, nil, ctx.Err()
	case <-time.After(2 * time.Second): // let the churn reach its pace
	}
	writesBefore, werr := b.statusWritesTotal(ctx)
	cpu := beginUsage(b.cv.PID())
	if counting != nil {
		counting(true)
	}
	res, err := f.runPhase(ctx, name, b.o.podChanges, b.o.nodeChanges, every(b.o.probeInterval))
	if counting != nil {
		counting(false)
	}
	c.cpu, _, c.wall = cpu.since(b.cv.PID())
	writesAfter, werr2 := b.statusWritesTotal(ctx)
	stopChurn()
	st := <-churn
	if err != nil {
		return c, nil, err
	}
	res.ChurnStats = st
	c.res, c.writes, c.writesErr = res, writesAfter-writesBefore, [2]error{werr, werr2}
	b.step("churn made %d changes (%.1f/s achieved, %d late)%s", st.Changes, st.Achieved, st.Late, map[bool]string{true: "; error: " + st.Err, false: ""}[st.Err != ""])
	return c, profiled, nil
}

// runChurn runs clusterfill.Churn at rate on the synthetic objects until
// ctx ends.
func runChurn(ctx context.Context, kube kubernetes.Interface, rate float64, seed int64) <-chan *churnStats {
	out := make(chan *churnStats, 1)
	go func() {
		report, err := clusterfill.Churn(ctx, kube, clusterfill.ChurnOptions{
			Rate: rate, Duration: time.Hour, MaxChanges: int(rate * 3600), Seed: seed,
			LabelSelector: clusterfill.SyntheticLabel + "=true",
		})
		st := &churnStats{Changes: len(report.Changes), Late: report.Late}
		if report.Duration > 0 {
			st.Achieved = float64(len(report.Changes)) / report.Duration.Seconds()
		}
		if err != nil && ctx.Err() == nil {
			st.Err = err.Error()
		}
		out <- st
	}()
	return out
}
