package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/summary/usagefeed"
)

// The usage phase measures usage next to requests with the real pipeline:
// kwok plays the kubelets of a labelled set of synthetic nodes (serving
// /metrics/resource from usage annotations on their pods), metrics-server
// scrapes them behind metrics.k8s.io, and clusterview reads that API every
// --usage-interval like any client. The pipeline starts only at this phase,
// so the earlier phases run without kwok and metrics-server on the machine.
// Above 1000 nodes kwok gets them in steps (usageSteps); a step that
// metrics-server or clusterview does not cover within usageCoverTimeout is
// undone, and the phase measures at the last step covered and says so.
// The pipeline keeps running after the phase, so the reads phase measures
// clusterview with usage on, its default; the peers phase stops it before
// the peers that need its memory.
//
// Freshness probes change the memory two probe pods use (a gauge, so the
// metrics API shows the new value exactly, from the next scrape on): one in
// the namespace that comes first in the PodMetrics list and one in the
// namespace that comes last, both on the probe node, so the node's usage
// moves by twice a pod's. A ClusterSummary selecting the probe node alone
// shows the node's usage as the default summary's sum does, without the
// other nodes. For each change the
// bench times four moments:
//
//   - visible: the first of its polls of the probes' PodMetrics and
//     NodeMetrics (every usagePoll) that shows the new value;
//   - read: the start of clusterview's read round that delivered it, from
//     kube-apiserver's audit log (only clusterview's lists of metrics.k8s.io
//     are logged): the latest list of NodeMetrics (for the NodeSummary and
//     ClusterSummaries, which take node usage) or PodMetrics (for the
//     NamespaceSummaries) received before the summary showed the value;
//   - read completed: the end of that list's response, from the same log;
//   - shown: the first watch event of the summary that shows it.
//
// Issue 10's target is on shown − read (p99 ≤ 1 s "after the read that can
// see it"); shown − visible adds the wait for clusterview's next read, up to
// one --usage-interval, and shown − read completed leaves out the time
// metrics-server takes to serve the list.
const (
	usageNamespace = "clusterview-bench-usage"
	// usageLastNamespace holds a second probe pod, on the probe node too:
	// metrics-server lists PodMetrics in namespace order and clusterview
	// counts them as the list streams in, so the first namespace's usage
	// is counted early in a round and this one's at its end.
	usageLastNamespace = "zz-clusterview-bench-usage"
	usageNode          = "clusterview-bench-usage-node"
	usagePod           = "usage-probe"
	// usageSummary is the ClusterSummary of the probe node alone.
	usageSummary = "usage-probe"
	// usageBaseMiB is the probe pod's memory use before the first change;
	// change k makes it usageBaseMiB+k MiB.
	usageBaseMiB = 64
	// usagePoll is the interval of the bench's polls of the metrics API.
	usagePoll = 100 * time.Millisecond
	// usageAfterReadTarget is issue 10's freshness target after the read.
	usageAfterReadTarget = time.Second
	// usageCoverTimeout bounds the wait for metrics-server to report the
	// simulated nodes and clusterview to count their usage.
	usageCoverTimeout = 4 * time.Minute
	// usageRSSTarget is issue 10's peak RSS with usage on, at full size.
	usageRSSTarget = 400
)

// usageSourceNode and usageSourcePod name the metrics API kinds a view's
// usage comes from, and the resource of clusterview's list of them in the
// audit log.
const (
	usageSourceNode = "nodes"
	usageSourcePod  = "pods"
	// usageSourcePodLast is the probe pod of usageLastNamespace, also read
	// from clusterview's pods lists.
	usageSourcePodLast = "pods, last namespace"
	// lastNamespaceView is the NamespaceSummary of usageLastNamespace.
	lastNamespaceView = "NamespaceSummary " + usageLastNamespace
	// probeSummaryView is the usage view of ClusterSummary usageSummary.
	probeSummaryView = "ClusterSummary " + usageSummary
)

// UsageResult is the usage phase in the JSON report.
type UsageResult struct {
	// SimulatedNodes are the synthetic nodes whose kubelet kwok played,
	// AnnotatedPods the running pods on them given usage; NodesWithMetrics
	// and PodsWithMetrics what the metrics API reported of them.
	SimulatedNodes   int `json:"simulatedNodes"`
	AnnotatedPods    int `json:"annotatedPods"`
	NodesWithMetrics int `json:"nodesWithMetrics"`
	PodsWithMetrics  int `json:"podsWithMetrics"`
	// Size says which size the phase ran at and why.
	Size             string `json:"size"`
	UsageInterval    string `json:"usageInterval"`
	MetricResolution string `json:"metricResolution"`
	// Covered is how long after the pipeline started clusterview's
	// ClusterSummary counted the usage of every node the metrics API
	// reported.
	CoveredSeconds float64 `json:"coveredSeconds"`
	// HeapBefore and HeapAfter are clusterview's HeapAlloc after a forced GC
	// before the pipeline started and once usage was counted.
	HeapBeforeBytes int64   `json:"heapBeforeBytes"`
	HeapAfterBytes  int64   `json:"heapAfterBytes"`
	HeapPerPodBytes float64 `json:"heapPerPodBytes"`
	PeakRSSMiB      float64 `json:"peakRSSMiB"`
	RSSMiB          float64 `json:"rssMiB"`
	// The pipeline's own processes at the end of the phase.
	MetricsServerRSSMiB float64 `json:"metricsServerRSSMiB"`
	KwokRSSMiB          float64 `json:"kwokRSSMiB"`
	Changes             int     `json:"changes"`
	// Reads are clusterview's read rounds seen in the audit log while the
	// probes ran.
	Reads     int              `json:"reads"`
	AfterRead map[string]Stats `json:"afterRead"`
	// AfterComplete is the same from the end of the read, and ListDuration
	// how long each list took, per metrics resource (nodes, pods).
	AfterComplete map[string]Stats  `json:"afterComplete,omitempty"`
	ListDuration  map[string]Stats  `json:"listDuration,omitempty"`
	FromVisible   map[string]Stats  `json:"fromVisible"`
	Samples       []UsageSample     `json:"samples"`
	Missing       map[string]int    `json:"missing,omitempty"`
	Views         map[string]string `json:"views"`
	Notes         []string          `json:"notes,omitempty"`
}

// UsageSample is one change as one view saw it, in seconds from the start
// of the probes.
type UsageSample struct {
	View          string  `json:"view"`
	K             int     `json:"k"`
	VisibleAtS    float64 `json:"visibleAtS"`
	ReadAtS       float64 `json:"readAtS"`
	ShownAtS      float64 `json:"shownAtS"`
	FromVisibleMs float64 `json:"fromVisibleMs"`
	AfterReadMs   float64 `json:"afterReadMs"`
	// Zero when the audit log had no end for the read.
	ReadCompletedAtS float64 `json:"readCompletedAtS,omitempty"`
	AfterCompleteMs  float64 `json:"afterCompleteMs,omitempty"`
}

// valueLog is the values one source showed, in arrival order.
type valueLog struct {
	mu sync.Mutex
	at []time.Time
	v  []int64
}

func (l *valueLog) add(at time.Time, v int64) {
	l.mu.Lock()
	l.at, l.v = append(l.at, at), append(l.v, v)
	l.mu.Unlock()
}

// last is the latest value shown.
func (l *valueLog) last() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.v) == 0 {
		return 0, false
	}
	return l.v[len(l.v)-1], true
}

// firstAtLeast is when the source first showed a value of at least v.
func (l *valueLog) firstAtLeast(v int64) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.v {
		if x >= v {
			return l.at[i], true
		}
	}
	return time.Time{}, false
}

// auditPolicy logs clusterview's lists of the resource metrics API and
// nothing else, so that the log stays small at any size.
func auditPolicy() []byte {
	policy := map[string]any{
		"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
		"omitStages": []string{"RequestReceived"},
		"rules": []map[string]any{
			{"level": "Metadata", "users": []string{localcluster.ClusterviewUser}, "verbs": []string{"list"},
				"resources": []map[string]any{{"group": "metrics.k8s.io"}}},
			{"level": "None"},
		},
	}
	data, _ := json.Marshal(policy)
	return data
}

// auditArgs writes the audit policy into dir and returns kube-apiserver's
// flags that log by it to the returned path.
func auditArgs(dir string) ([]string, string, error) {
	policy := filepath.Join(dir, "audit-policy.json")
	if err := os.WriteFile(policy, auditPolicy(), 0o600); err != nil {
		return nil, "", err
	}
	log := filepath.Join(dir, "audit.log")
	return []string{"--audit-policy-file=" + policy, "--audit-log-path=" + log, "--audit-log-format=json"}, log, nil
}

// metricsRead is one of clusterview's lists of the metrics API, from the
// audit log: when kube-apiserver received it and when the response was
// complete, that is when clusterview had read all of it. The difference is
// metrics-server's time to serve the list through the aggregator.
type metricsRead struct {
	received, completed time.Time
}

// metricsReads parses an audit log (one JSON event per line) into user's
// lists of metrics.k8s.io resources, per resource, sorted by the time they
// were received.
func metricsReads(data []byte, user string) (map[string][]metricsRead, error) {
	out := map[string][]metricsRead{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		var ev struct {
			Stage string `json:"stage"`
			Verb  string `json:"verb"`
			User  struct {
				Username string `json:"username"`
			} `json:"user"`
			ObjectRef *struct {
				Resource string `json:"resource"`
				APIGroup string `json:"apiGroup"`
			} `json:"objectRef"`
			Received time.Time `json:"requestReceivedTimestamp"`
			// At the ResponseComplete stage, when the response was sent.
			StageAt time.Time `json:"stageTimestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if ev.Stage != "ResponseComplete" || ev.Verb != "list" || ev.User.Username != user || ev.ObjectRef == nil || ev.ObjectRef.APIGroup != "metrics.k8s.io" {
			continue
		}
		out[ev.ObjectRef.Resource] = append(out[ev.ObjectRef.Resource], metricsRead{received: ev.Received, completed: ev.StageAt})
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b metricsRead) int { return a.received.Compare(b.received) })
	}
	return out, sc.Err()
}

// latestAtOrBefore returns the latest of sorted reads received not after at.
func latestAtOrBefore(sorted []metricsRead, at time.Time) (metricsRead, bool) {
	i, _ := slices.BinarySearchFunc(sorted, at, func(r metricsRead, at time.Time) int {
		if r.received.After(at) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return metricsRead{}, false
	}
	return sorted[i-1], true
}

// heapAlloc reads HeapAlloc from a heap profile in its debug=1 text form.
func heapAlloc(profile []byte) (int64, error) {
	for line := range strings.Lines(string(profile)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no HeapAlloc in the heap profile")
}

// heapAfterGC is clusterview's HeapAlloc right after a garbage collection
// (pprof's heap endpoint with gc=1), read past the aggregator.
func (b *bench) heapAfterGC(ctx context.Context) (int64, error) {
	resp, err := b.directGet(ctx, "/debug/pprof/heap?gc=1&debug=1", time.Minute)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return heapAlloc(data)
}

// memoryUsage is the memory usage in resources, if there is one.
func memoryUsage(rs []v1beta1.ResourceUsage) (int64, bool) {
	for _, r := range rs {
		if r.Name == corev1.ResourceMemory && r.Usage != nil {
			return r.Usage.Value(), true
		}
	}
	return 0, false
}

// forEach runs fn on every item with workers in parallel and returns the
// first error.
func forEach[T any](ctx context.Context, items []T, workers int, fn func(context.Context, T) error) error {
	ch := make(chan T)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for it := range ch {
				if err := fn(ctx, it); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for _, it := range items {
		select {
		case ch <- it:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(ch)
	// Workers that stopped on an error left the rest to the others.
	go func() {
		for range ch {
		}
	}()
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// usageSteps are the node counts the usage phase hands to kwok, one after
// the other: all at once up to 1000 nodes (or requested ones), else an
// eighth, a quarter, a half and all of them, so that a size kwok and
// metrics-server cannot carry on the machine leaves the largest one they
// did.
func usageSteps(total, requested int) []int {
	if requested > 0 && requested < total {
		total = requested
	}
	if total <= 1000 {
		return []int{total}
	}
	return []int{total / 8, total / 4, total / 2, total}
}

// podRef names a pod.
type podRef struct{ namespace, name string }

// syntheticFleet lists the synthetic nodes by name and the running pods on
// each.
func (b *bench) syntheticFleet(ctx context.Context) ([]string, map[string][]podRef, error) {
	sel := metav1.ListOptions{LabelSelector: clusterfill.SyntheticLabel + "=true"}
	nodeList, err := b.kube.CoreV1().Nodes().List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	var nodes []string
	for _, n := range nodeList.Items {
		nodes = append(nodes, n.Name)
	}
	slices.Sort(nodes)
	podList, err := b.kube.CoreV1().Pods("").List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	pods := map[string][]podRef{}
	for i := range podList.Items {
		p := &podList.Items[i]
		if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			pods[p.Spec.NodeName] = append(pods[p.Spec.NodeName], podRef{p.Namespace, p.Name})
		}
	}
	return nodes, pods, nil
}

// simulateKubelets hands nodes to kwok and gives every running pod on them
// a usage per container, drawn from r. It returns how many pods it gave
// usage.
func (b *bench) simulateKubelets(ctx context.Context, nodes []string, pods map[string][]podRef, r *rand.Rand) (int, error) {
	err := forEach(ctx, nodes, b.o.concurrency, func(ctx context.Context, name string) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			node, err := b.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			localcluster.SimulateKubelet(node)
			status := node.Status
			if node, err = b.kube.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				return err
			}
			node.Status = status
			_, err = b.kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("handing nodes to kwok: %w", err)
	}
	type target struct {
		pod      podRef
		cpu, mem string
	}
	var targets []target
	for _, n := range nodes {
		for _, p := range pods[n] {
			targets = append(targets, target{p, fmt.Sprintf("%dm", 5+r.IntN(400)), fmt.Sprintf("%dMi", 16+r.IntN(512))})
		}
	}
	err = forEach(ctx, targets, b.o.concurrency, func(ctx context.Context, t target) error {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
			localcluster.UsageCPUAnnotation: t.cpu, localcluster.UsageMemoryAnnotation: t.mem}}})
		_, err := b.kube.CoreV1().Pods(t.pod.namespace).Patch(ctx, t.pod.name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("giving pods usage: %w", err)
	}
	return len(targets), nil
}

// unsimulate takes nodes back from kwok: without the label, kwok stops
// serving them and metrics-server stops scraping them.
func (b *bench) unsimulate(ctx context.Context, nodes []string) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{localcluster.SimulatedKubeletLabel: nil}}})
	return forEach(ctx, nodes, b.o.concurrency, func(ctx context.Context, name string) error {
		_, err := b.kube.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// usageProbe is the probe namespace, node and pod of the usage phase.
func (b *bench) createUsageProbe(ctx context.Context) error {
	for _, ns := range []string{usageNamespace, usageLastNamespace} {
		if _, err := b.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the usage probe namespace %s: %w", ns, err)
		}
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: usageNode, Labels: map[string]string{"kubernetes.io/hostname": usageNode}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}},
		},
	}
	localcluster.SimulateKubelet(node)
	created, err := b.kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the usage probe node: %w", err)
	}
	created.Status = node.Status
	if _, err := b.kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the usage probe node's status: %w", err)
	}
	for _, ns := range []string{usageNamespace, usageLastNamespace} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: usagePod, Namespace: ns, Annotations: map[string]string{
				localcluster.UsageCPUAnnotation: "100m", localcluster.UsageMemoryAnnotation: fmt.Sprintf("%dMi", usageBaseMiB)}},
			Spec: corev1.PodSpec{NodeName: usageNode, Containers: []corev1.Container{{Name: "main", Image: "registry.example/probe:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}},
		}
		got, err := b.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating the usage probe pod in %s: %w", ns, err)
		}
		now := metav1.Now()
		got.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Image: "registry.example/probe:1", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
		if _, err := b.kube.CoreV1().Pods(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing the usage probe pod's status in %s: %w", ns, err)
		}
	}
	// A ClusterSummary of the probe node alone: its usage is the probe
	// node's, where the default summary's is the sum over every node. That
	// sum moved by whole nodes whenever metrics-server failed to scrape some
	// (hundreds a minute at 1,250 simulated nodes in run 20261207T021115Z)
	// until clusterview kept the current samples of nodes a list leaves out.
	cs := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: usageSummary},
		Spec: v1beta1.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/hostname": usageNode}}}}
	if _, err := b.cvc.ClusterviewV1beta1().ClusterSummaries().Create(ctx, cs, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ClusterSummary %s: %w", usageSummary, err)
	}
	return nil
}

// usageCoverage is one read of what the metrics API reports and what
// clusterview counts of it.
type usageCoverage struct {
	nodes, pods int
	// nodeMemory is the sum of the NodeMetrics' memory, clusterMemory the
	// ClusterSummary's usage (-1 while it has none).
	nodeMemory, clusterMemory int64
}

func (b *bench) readCoverage(ctx context.Context, metrics metricsv1beta1.MetricsV1beta1Interface) (usageCoverage, error) {
	c := usageCoverage{clusterMemory: -1}
	nodes, err := metrics.NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return c, err
	}
	for _, n := range nodes.Items {
		c.nodeMemory += n.Usage.Memory().Value()
		if n.Name != usageNode {
			c.nodes++
		}
	}
	pods, err := metrics.PodMetricses("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return c, err
	}
	for _, p := range pods.Items {
		if p.Namespace != usageNamespace && p.Namespace != usageLastNamespace {
			c.pods++
		}
	}
	cs, err := b.cvc.ClusterviewV1beta1().ClusterSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
	if err != nil {
		return c, err
	}
	if m, ok := memoryUsage(cs.Status.Resources); ok {
		c.clusterMemory = m
	}
	return c, nil
}

// waitCoverage waits until the metrics API reports wantNodes simulated
// nodes, its node and pod counts did not change over one metric resolution
// (one more scrape), and the ClusterSummary counts exactly the NodeMetrics'
// memory; or until usageCoverTimeout. It returns the last read.
func (b *bench) waitCoverage(ctx context.Context, metrics metricsv1beta1.MetricsV1beta1Interface, wantNodes, pods int, started time.Time) (usageCoverage, bool, error) {
	var last usageCoverage
	prev := usageCoverage{nodes: -1, pods: -1}
	deadline := time.Now().Add(usageCoverTimeout)
	for {
		c, err := b.readCoverage(ctx, metrics)
		covered := false
		if err == nil {
			last = c
			covered = c.nodes == wantNodes && c.nodes == prev.nodes && c.pods == prev.pods && c.pods > 0 && c.clusterMemory == c.nodeMemory
			prev = c
		}
		fmt.Fprintf(b.out, "  [usage] %v: metrics API %d/%d nodes, %d/%d pods; ClusterSummary memory usage %d of %d bytes (err %v)\n",
			time.Since(started).Round(time.Second), c.nodes, wantNodes, c.pods, pods, c.clusterMemory, c.nodeMemory, err)
		if covered || time.Now().After(deadline) {
			return last, covered, nil
		}
		select {
		case <-ctx.Done():
			return last, false, ctx.Err()
		case <-time.After(localcluster.DefaultMetricResolution):
		}
	}
}

// usagePhase runs the usage phase; see the comment at the top of the file.
func (b *bench) usagePhase(ctx context.Context) error {
	b.rep.phase = "usage"
	res := &UsageResult{UsageInterval: usagefeed.DefaultInterval.String(), MetricResolution: localcluster.DefaultMetricResolution.String(),
		AfterRead: map[string]Stats{}, FromVisible: map[string]Stats{}, AfterComplete: map[string]Stats{}, ListDuration: map[string]Stats{},
		Missing: map[string]int{}, Views: map[string]string{}}
	b.rep.Usage = res
	var err error
	if res.HeapBeforeBytes, err = b.heapAfterGC(ctx); err != nil {
		b.rep.Skipped = append(b.rep.Skipped, "usage: heap before usage: "+err.Error())
	}
	b.step("usage: starting kwok and metrics-server (metric resolution %s); clusterview reads them every %s", res.MetricResolution, res.UsageInterval)
	started := time.Now()
	if err := b.cluster.StartUsage(ctx); err != nil {
		return fmt.Errorf("starting the resource metrics pipeline: %w", err)
	}
	for name, p := range b.pipelineProcesses() {
		if v := stampVersion(filepath.Dir(p.Options().Path), name); v != "" {
			b.rep.Versions.Tools[name] = v
		}
	}
	metrics, err := metricsv1beta1.NewForConfig(unthrottled(b.cluster.AdminConfig()))
	if err != nil {
		return err
	}
	fleet, podsOn, err := b.syntheticFleet(ctx)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(uint64(b.o.seed), 0x05a9e))
	// Grow kwok's share step by step while metrics-server and clusterview
	// keep up; after a step they do not, fall back to the last one they did.
	var last usageCoverage
	covered := false
	done, pods, good, goodPods := 0, 0, 0, 0
	var stopped string
	for i, n := range usageSteps(len(fleet), b.o.usageNodes) {
		added, err := b.simulateKubelets(ctx, fleet[done:n], podsOn, r)
		if err != nil {
			return err
		}
		done, pods = n, pods+added
		if i == 0 {
			if err := b.createUsageProbe(ctx); err != nil {
				return err
			}
		}
		b.step("usage: kwok plays the kubelets of %d synthetic nodes with %d running pods given usage, plus the probe node; waiting for metrics-server and clusterview", done, pods)
		if last, covered, err = b.waitCoverage(ctx, metrics, done, pods, started); err != nil {
			return err
		}
		if covered {
			good, goodPods = done, pods
			continue
		}
		stopped = fmt.Sprintf("at %d nodes, %v after the step the metrics API reported %d nodes and %d pods and the ClusterSummary counted %d of their %d bytes of memory",
			done, usageCoverTimeout, last.nodes, last.pods, last.clusterMemory, last.nodeMemory)
		if good > 0 {
			b.step("usage: not covered %s; going back to %d nodes", stopped, good)
			if err := b.unsimulate(ctx, fleet[good:done]); err != nil {
				return err
			}
			done, pods = good, goodPods
			if last, covered, err = b.waitCoverage(ctx, metrics, done, pods, started); err != nil {
				return err
			}
		}
		break
	}
	res.SimulatedNodes, res.AnnotatedPods = done, pods
	res.CoveredSeconds = time.Since(started).Seconds()
	res.NodesWithMetrics, res.PodsWithMetrics = last.nodes, last.pods
	res.Size = fmt.Sprintf("kwok played %d of %d synthetic nodes", done, len(fleet))
	switch {
	case stopped != "":
		res.Size += " (the largest step metrics-server and clusterview kept up with: " + stopped + ")"
	case b.o.usageNodes > 0 && done < len(fleet):
		res.Size += fmt.Sprintf(" (--usage-nodes=%d)", b.o.usageNodes)
	default:
		res.Size += " (all)"
	}
	res.Size += fmt.Sprintf("; metrics API reported %d nodes and %d pods of them", res.NodesWithMetrics, res.PodsWithMetrics)
	if !covered {
		res.Size += "; still not covered: the figures below are at what the pipeline carried"
	}
	detail := fmt.Sprintf("ClusterSummary %q memory usage %d bytes vs sum of %d NodeMetrics %d bytes", v1beta1.DefaultClusterSummaryName, last.clusterMemory, last.nodes, last.nodeMemory)
	row := Row{Metric: "usage: coverage (kwok + metrics-server)", Value: fmt.Sprintf("%d nodes, %d pods with usage", res.NodesWithMetrics, res.PodsWithMetrics),
		ValueNumber: float64(res.PodsWithMetrics), Unit: "pods", Peer: res.Size}
	b.rep.addRow(row)
	if covered {
		b.answerRow("usage: sum of NodeMetrics", last.clusterMemory == last.nodeMemory, detail)
	} else {
		b.rep.Skipped = append(b.rep.Skipped, "usage: ClusterSummary vs sum of NodeMetrics not compared, the metrics API did not settle: "+detail)
	}
	b.step("usage: %s after %.0fs", res.Size, res.CoveredSeconds)

	if res.HeapAfterBytes, err = b.heapAfterGC(ctx); err != nil {
		b.rep.Skipped = append(b.rep.Skipped, "usage: heap after usage: "+err.Error())
	} else if res.HeapBeforeBytes > 0 && res.PodsWithMetrics > 0 {
		res.HeapPerPodBytes = float64(res.HeapAfterBytes-res.HeapBeforeBytes) / float64(res.PodsWithMetrics)
		b.rep.addRow(Row{Metric: "usage: memory per pod with usage (heap after GC, delta vs before usage, same process)",
			Value:       fmt.Sprintf("%.0f B/pod (%.1f → %.1f MiB over %d pods)", res.HeapPerPodBytes, mib(res.HeapBeforeBytes), mib(res.HeapAfterBytes), res.PodsWithMetrics),
			ValueNumber: res.HeapPerPodBytes, Unit: "B/pod",
			Peer: "delta includes the node usage records and the probe; GC'd HeapAlloc, not RSS, of a server doing other work meanwhile; the engine's own cost is BenchmarkRetainedMemory's usage-B/pod"})
	}

	if err := b.usageFreshness(ctx, res, metrics); err != nil {
		return err
	}

	st, err := readProc(b.cv.PID())
	if err == nil {
		res.PeakRSSMiB, res.RSSMiB = mib(st.HWM), mib(st.RSS)
		b.phaseRSS("usage")
		rss, peers := b.pipelineRSS()
		res.KwokRSSMiB, res.MetricsServerRSSMiB = rss["kwok"], rss["metrics-server"]
		row := Row{Metric: fmt.Sprintf("usage: clusterview peak RSS (VmHWM) with usage on (%d of %d nodes, %d pods with usage)", res.NodesWithMetrics, b.o.nodes, res.PodsWithMetrics), Value: fmt.Sprintf("%.0f MiB (set in phase %q; RSS now %.0f MiB)", res.PeakRSSMiB, b.rep.peakPhase("clusterview-apiserver", st.HWM), res.RSSMiB),
			ValueNumber: res.PeakRSSMiB, Unit: "MiB", Peer: peers}
		// Judged at full size whatever share the pipeline carried; the
		// metric names that share.
		if b.o.pods >= clusterfill.DefaultSyntheticPods && res.PodsWithMetrics > 0 {
			b.rep.target(&row, fmt.Sprintf("≤ %d MiB at full size", usageRSSTarget), res.PeakRSSMiB <= usageRSSTarget, fmt.Sprintf("%.0f MiB over", res.PeakRSSMiB-usageRSSTarget))
		} else {
			row.Target = fmt.Sprintf("≤ %d MiB at full size (not judged at this size)", usageRSSTarget)
		}
		b.rep.addRow(row)
	}
	return nil
}

// pipelineProcesses is the resource metrics pipeline's running processes by
// name: none before the usage phase starts them or after the peers phase
// stops them.
func (b *bench) pipelineProcesses() map[string]*localcluster.Process {
	out := map[string]*localcluster.Process{}
	if p := b.cluster.MetricsServer(); p != nil {
		out["metrics-server"] = p
	}
	if p := b.cluster.Kwok(); p != nil {
		out["kwok"] = p
	}
	return out
}

// pipelineRSS reads the RSS of the pipeline's processes: in MiB by name,
// and as "name N MiB" joined in name order.
func (b *bench) pipelineRSS() (map[string]float64, string) {
	rss := map[string]float64{}
	var shown []string
	for name, p := range b.pipelineProcesses() {
		if st, err := readProc(p.PID()); err == nil {
			rss[name] = mib(st.RSS)
			shown = append(shown, fmt.Sprintf("%s %.0f MiB", name, mib(st.RSS)))
		}
	}
	slices.Sort(shown)
	return rss, strings.Join(shown, ", ")
}

// usageFreshness runs the freshness probes of the usage phase and adds its
// rows.
func (b *bench) usageFreshness(ctx context.Context, res *UsageResult, metrics metricsv1beta1.MetricsV1beta1Interface) error {
	// Sources in the metrics API, and the summary views.
	src := map[string]*valueLog{usageSourcePod: {}, usageSourcePodLast: {}, usageSourceNode: {}}
	// Each change adds a MiB to both probe pods, so two to the probe node.
	step := map[string]int64{usageSourcePod: 1 << 20, usageSourcePodLast: 1 << 20, usageSourceNode: 2 << 20}
	// The audit log's resource of clusterview's lists of each source.
	listOf := map[string]string{usageSourcePod: usageSourcePod, usageSourcePodLast: usageSourcePod, usageSourceNode: usageSourceNode}
	views := []struct {
		name   string
		source string
	}{{string(viewNodeSummary), usageSourceNode}, {string(viewNamespaceSummary), usageSourcePod}, {lastNamespaceView, usageSourcePodLast},
		{probeSummaryView, usageSourceNode}, {string(viewClusterSummary), usageSourceNode}}
	logs := map[string]*valueLog{}
	for _, v := range views {
		logs[v.name] = &valueLog{}
		res.Views[v.name] = map[string]string{usageSourceNode: "NodeMetrics of the probe node", usageSourcePod: "PodMetrics of the probe pod in " + usageNamespace + ", the first namespace of the list",
			usageSourcePodLast: "PodMetrics of the probe pod in " + usageLastNamespace + ", the last namespace of the list"}[v.source]
	}
	res.Views[string(viewClusterSummary)] += ", in ClusterSummary " + v1beta1.DefaultClusterSummaryName + "'s sum over every node (the earlier method)"
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		tick := time.NewTicker(usagePoll)
		defer tick.Stop()
		for {
			for source, ns := range map[string]string{usageSourcePod: usageNamespace, usageSourcePodLast: usageLastNamespace} {
				if pm, err := metrics.PodMetricses(ns).Get(pctx, usagePod, metav1.GetOptions{}); err == nil {
					var m int64
					for _, c := range pm.Containers {
						m += c.Usage.Memory().Value()
					}
					src[source].add(time.Now(), m)
				}
			}
			if nm, err := metrics.NodeMetricses().Get(pctx, usageNode, metav1.GetOptions{}); err == nil {
				src[usageSourceNode].add(time.Now(), nm.Usage.Memory().Value())
			}
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	cvw := b.cvc.ClusterviewV1beta1()
	nameSel := func(name string) string { return fields.OneTermEqualSelector("metadata.name", name).String() }
	timeout := int64(3600)
	go watchAll(pctx, func(ctx context.Context) (watch.Interface, error) {
		return cvw.NodeSummaries().Watch(ctx, metav1.ListOptions{FieldSelector: nameSel(usageNode), TimeoutSeconds: &timeout})
	}, func(obj runtime.Object, at time.Time) {
		if ns, ok := obj.(*v1beta1.NodeSummary); ok {
			if m, ok := memoryUsage(ns.Resources); ok {
				logs[string(viewNodeSummary)].add(at, m)
			}
		}
	})
	for view, ns := range map[string]string{string(viewNamespaceSummary): usageNamespace, lastNamespaceView: usageLastNamespace} {
		go watchAll(pctx, func(ctx context.Context) (watch.Interface, error) {
			return cvw.NamespaceSummaries(ns).Watch(ctx, metav1.ListOptions{TimeoutSeconds: &timeout})
		}, func(obj runtime.Object, at time.Time) {
			if s, ok := obj.(*v1beta1.NamespaceSummary); ok {
				if m, ok := memoryUsage(s.Resources); ok {
					logs[view].add(at, m)
				}
			}
		})
	}
	for view, name := range map[string]string{string(viewClusterSummary): v1beta1.DefaultClusterSummaryName, probeSummaryView: usageSummary} {
		go watchAll(pctx, func(ctx context.Context) (watch.Interface, error) {
			return cvw.ClusterSummaries().Watch(ctx, metav1.ListOptions{FieldSelector: nameSel(name), TimeoutSeconds: &timeout})
		}, func(obj runtime.Object, at time.Time) {
			if cs, ok := obj.(*v1beta1.ClusterSummary); ok {
				if m, ok := memoryUsage(cs.Status.Resources); ok {
					logs[view].add(at, m)
				}
			}
		})
	}

	// Baselines: every source and view shows the probe's usage before the
	// first change.
	base := map[string]int64{}
	deadline := time.Now().Add(3 * usagefeed.DefaultInterval)
	for len(base) < len(src)+len(logs) {
		if time.Now().After(deadline) {
			return fmt.Errorf("usage probe: only %d of %d sources and views showed usage within %v", len(base), len(src)+len(logs), 3*usagefeed.DefaultInterval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		clear(base)
		for name, l := range src {
			if v, ok := l.last(); ok {
				base["metrics API "+name] = v
			}
		}
		for name, l := range logs {
			if v, ok := l.last(); ok {
				base[name] = v
			}
		}
	}
	for _, source := range []string{usageSourcePod, usageSourcePodLast} {
		if base["metrics API "+source] != usageBaseMiB<<20 {
			return fmt.Errorf("usage probe: PodMetrics (%s) shows %d bytes before the first change, want %d", source, base["metrics API "+source], usageBaseMiB<<20)
		}
	}
	// The views of a source step as it does.
	viewStep := map[string]int64{}
	for _, v := range views {
		viewStep[v.name] = step[v.source]
	}

	n := b.o.usageChanges
	b.step("usage freshness: %d changes of the probe pods' memory use, each made once the last is visible in the metrics API (polled every %v)", n, usagePoll)
	r := rand.New(rand.NewPCG(uint64(b.o.seed), 0x05a9f))
	began := time.Now()
	made := 0
	for k := 1; k <= n; k++ {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
			localcluster.UsageMemoryAnnotation: fmt.Sprintf("%dMi", usageBaseMiB+k)}}})
		for _, ns := range []string{usageNamespace, usageLastNamespace} {
			if _, err := b.kube.CoreV1().Pods(ns).Patch(ctx, usagePod, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				return fmt.Errorf("usage probe change %d in %s: %w", k, ns, err)
			}
		}
		made = k
		wait := time.Now().Add(6 * localcluster.DefaultMetricResolution)
		for {
			_, first := src[usageSourcePod].firstAtLeast(base["metrics API "+usageSourcePod] + int64(k)*step[usageSourcePod])
			_, last := src[usageSourcePodLast].firstAtLeast(base["metrics API "+usageSourcePodLast] + int64(k)*step[usageSourcePodLast])
			if first && last {
				break
			}
			if time.Now().After(wait) {
				return fmt.Errorf("usage probe change %d: not in the metrics API after %v", k, 6*localcluster.DefaultMetricResolution)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(usagePoll):
			}
		}
		fmt.Fprintf(b.out, "  [usage freshness] change %d/%d visible in the metrics API after %v\n", k, n, time.Since(began).Round(time.Second))
		// A random pause, so that changes meet clusterview's read rounds
		// at different points of the interval.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(r.Float64() * float64(localcluster.DefaultMetricResolution) / 2)):
		}
	}
	res.Changes = made
	// Wait for every view to show the last change.
	deadline = time.Now().Add(3*usagefeed.DefaultInterval + seenTimeout)
	for time.Now().Before(deadline) {
		all := true
		for name, l := range logs {
			if _, ok := l.firstAtLeast(base[name] + int64(made)*viewStep[name]); !ok {
				all = false
			}
		}
		if all {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(usagePoll):
		}
	}
	stop()

	data, err := os.ReadFile(b.auditLog)
	if err != nil {
		return fmt.Errorf("reading the audit log: %w", err)
	}
	reads, err := metricsReads(data, localcluster.ClusterviewUser)
	if err != nil {
		return err
	}
	for _, r := range reads[usageSourceNode] {
		if !r.received.Before(began) {
			res.Reads++
		}
	}
	// How long metrics-server took to serve each list, which the row after
	// the read's start includes and the row after its end does not.
	for _, source := range []string{usageSourceNode, usageSourcePod} {
		var took []time.Duration
		for _, r := range reads[source] {
			if !r.received.Before(began) && !r.completed.IsZero() {
				took = append(took, r.completed.Sub(r.received))
			}
		}
		st := statsOf(took, 0)
		res.ListDuration[source] = st
		b.rep.addRow(Row{Metric: fmt.Sprintf("usage: clusterview's %s lists of metrics.k8s.io during the probes p50/p99 (n=%d), received to response complete (audit log)", source, st.N),
			Value: fmt.Sprintf("%s / %s", fmtMs(st.P50ms), fmtMs(st.P99ms)), ValueNumber: st.P99ms, Unit: "ms (p99)",
			Peer: "metrics-server serving the list through the aggregator, and clusterview reading it as it streams"})
	}
	for _, v := range views {
		var fromVisible, afterRead, afterComplete []time.Duration
		for k := 1; k <= made; k++ {
			visible, ok1 := src[v.source].firstAtLeast(base["metrics API "+v.source] + int64(k)*step[v.source])
			shown, ok2 := logs[v.name].firstAtLeast(base[v.name] + int64(k)*step[v.source])
			read, ok3 := latestAtOrBefore(reads[listOf[v.source]], shown)
			if !ok1 || !ok2 || !ok3 {
				res.Missing[v.name]++
				continue
			}
			fromVisible = append(fromVisible, shown.Sub(visible))
			afterRead = append(afterRead, shown.Sub(read.received))
			sample := UsageSample{View: v.name, K: k, VisibleAtS: visible.Sub(began).Seconds(), ReadAtS: read.received.Sub(began).Seconds(),
				ShownAtS: shown.Sub(began).Seconds(), FromVisibleMs: ms(shown.Sub(visible)), AfterReadMs: ms(shown.Sub(read.received))}
			if !read.completed.IsZero() {
				afterComplete = append(afterComplete, shown.Sub(read.completed))
				sample.ReadCompletedAtS = read.completed.Sub(began).Seconds()
				sample.AfterCompleteMs = ms(shown.Sub(read.completed))
			}
			res.Samples = append(res.Samples, sample)
		}
		ar, fv := statsOf(afterRead, res.Missing[v.name]), statsOf(fromVisible, res.Missing[v.name])
		res.AfterRead[v.name], res.FromVisible[v.name] = ar, fv
		ac := statsOf(afterComplete, res.Missing[v.name]+len(afterRead)-len(afterComplete))
		res.AfterComplete[v.name] = ac
		// Not judged: the target is set from the read's start. This row
		// leaves out metrics-server's time to serve the list.
		b.rep.addRow(Row{Metric: fmt.Sprintf("usage freshness, %s p50/p99 (n=%d), after clusterview's read completed (audit log)", v.name, ac.N),
			Value: fmt.Sprintf("%s / %s", fmtMs(ac.P50ms), fmtMs(ac.P99ms)), ValueNumber: ac.P99ms, Unit: "ms (p99)",
			Peer: "source: " + res.Views[v.name] + "; the read's end is when the last byte of the list was sent"})
		row := Row{Metric: fmt.Sprintf("usage freshness, %s p50/p99 (n=%d), after clusterview's read (audit log)", v.name, ar.N),
			Value: fmt.Sprintf("%s / %s", fmtMs(ar.P50ms), fmtMs(ar.P99ms)), ValueNumber: ar.P99ms, Unit: "ms (p99)",
			Peer: "source: " + res.Views[v.name]}
		missed := fmt.Sprintf("p99 %.0f ms over (%.2f× the target)", ar.P99ms-ms(usageAfterReadTarget), ar.P99ms/ms(usageAfterReadTarget))
		if ar.Missing > 0 {
			missed = fmt.Sprintf("%d of %d changes not seen", ar.Missing, made)
		}
		b.rep.target(&row, "p99 ≤ "+fmtMs(ms(usageAfterReadTarget)), ar.Missing == 0 && ar.N > 0 && ar.P99ms <= ms(usageAfterReadTarget), missed)
		b.rep.addRow(row)
		// From visible the wait for the next read adds up to one interval.
		bound := usagefeed.DefaultInterval + usageAfterReadTarget
		row = Row{Metric: fmt.Sprintf("usage freshness, %s p50/p99 (n=%d), from visible in metrics.k8s.io", v.name, fv.N),
			Value: fmt.Sprintf("%s / %s", fmtMs(fv.P50ms), fmtMs(fv.P99ms)), ValueNumber: fv.P99ms, Unit: "ms (p99)",
			Peer: fmt.Sprintf("includes the wait for the next read (--usage-interval %s)", res.UsageInterval)}
		b.rep.target(&row, "p99 ≤ --usage-interval + "+fmtMs(ms(usageAfterReadTarget)), fv.Missing == 0 && fv.N > 0 && fv.P99ms <= ms(bound),
			fmt.Sprintf("p99 %.0f ms over", fv.P99ms-ms(bound)))
		b.rep.addRow(row)
	}
	b.step("usage freshness: %d changes, %d clusterview read rounds in the audit log", made, res.Reads)
	if res.Reads == 0 {
		res.Notes = append(res.Notes, "no clusterview read of metrics.k8s.io in the audit log: after-read figures are missing")
	}
	return nil
}
