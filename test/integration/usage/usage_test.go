package usage

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// testLabel marks the nodes and namespaces of this package, so its
// ClusterSummaries select them and nothing else.
const testLabel = "clusterview-test/usage"

// metricsTimeout bounds waiting for metrics-server: a value kwok serves
// reaches the metrics API after at most two scrapes (CPU is a rate between
// two), 10s apart, plus kube-apiserver's and metrics-server's informers.
const metricsTimeout = 90 * time.Second

// fixture is the cluster the tests share, created once.
type fixture struct {
	kube    kubernetes.Interface
	metrics metricsv1beta1.MetricsV1beta1Interface
	// nodes and namespaces are the names created, in order.
	nodes, namespaces []string
}

// podSpec is one pod of the fixture: where it runs, what each container
// requests and, when set, what each container uses.
type podSpec struct {
	namespace, name, node  string
	containers             int
	cpuRequest, memRequest string
	cpuUse, memUse         string
}

// The fixture's shapes: a namespace that requests far more than it uses
// (usage-idle, on a cool node), one with a pod over its request (usage-busy,
// on a hot node), a pod that uses nothing (no PodMetrics), and a node whose
// kubelet nobody plays (no NodeMetrics).
var (
	simulatedNodes = []string{"usage-hot", "usage-cool"}
	plainNode      = "usage-plain"
	fixturePods    = []podSpec{
		{"usage-idle", "reserved", "usage-cool", 1, "1", "2Gi", "50m", "200Mi"},
		{"usage-idle", "sidecar", "usage-cool", 2, "500m", "512Mi", "20m", "100Mi"},
		{"usage-busy", "over-request", "usage-hot", 1, "500m", "512Mi", "1500m", "1Gi"},
		{"usage-busy", "under-request", "usage-hot", 1, "250m", "256Mi", "200m", "200Mi"},
		{"usage-busy", "quiet", "usage-hot", 1, "100m", "128Mi", "", ""},
		{"usage-busy", "unscraped", plainNode, 1, "100m", "128Mi", "300m", "300Mi"},
	}
)

var shared *fixture

// setUp creates the fixture once and waits until metrics-server reports every
// pod that has usage on a simulated node.
func setUp(ctx context.Context, t *testing.T) *fixture {
	t.Helper()
	if shared != nil {
		return shared
	}
	f := &fixture{
		kube:    kubernetes.NewForConfigOrDie(env.Admin),
		metrics: metricsv1beta1.NewForConfigOrDie(env.Admin),
	}
	for _, name := range append(slices.Clone(simulatedNodes), plainNode) {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{testLabel: "true"}},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
			},
		}
		if name != plainNode {
			localcluster.SimulateKubelet(node)
		}
		created, err := f.kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating node %s: %v", name, err)
		}
		// Status is not taken from a create; write it as a kubelet would.
		created.Status = node.Status
		if _, err := f.kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("writing the status of node %s: %v", name, err)
		}
		f.nodes = append(f.nodes, name)
	}
	for _, ns := range []string{"usage-idle", "usage-busy"} {
		_, err := f.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{testLabel: "true"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
		f.namespaces = append(f.namespaces, ns)
	}
	for _, p := range fixturePods {
		f.createPod(ctx, t, p)
	}
	shared = f
	// Every pod with usage on a simulated node, and every simulated node,
	// must appear in the metrics API before the tests can compare anything.
	want := 0
	for _, p := range fixturePods {
		if p.cpuUse != "" && p.node != plainNode {
			want++
		}
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, metricsTimeout, true, func(ctx context.Context) (bool, error) {
		m, err := f.readMetrics(ctx)
		return err == nil && len(m.pods) == want && len(m.nodes) == len(simulatedNodes), nil
	})
	if err != nil {
		m, readErr := f.readMetrics(ctx)
		t.Fatalf("metrics-server never reported the fixture (want %d pods and %d nodes): %v; last read %+v (%v); logs: %v",
			want, len(simulatedNodes), err, m, readErr, env.Cluster.LogFiles())
	}
	return f
}

func (f *fixture) createPod(ctx context.Context, t *testing.T, p podSpec) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: p.name},
		Spec:       corev1.PodSpec{NodeName: p.node},
	}
	if p.cpuUse != "" {
		pod.Annotations = map[string]string{localcluster.UsageCPUAnnotation: p.cpuUse, localcluster.UsageMemoryAnnotation: p.memUse}
	}
	for i := range p.containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name: fmt.Sprintf("c%d", i), Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(p.cpuRequest), corev1.ResourceMemory: resource.MustParse(p.memRequest),
			}},
		})
	}
	created, err := f.kube.CoreV1().Pods(p.namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", p.namespace, p.name, err)
	}
	created.Status.Phase = corev1.PodRunning
	if _, err := f.kube.CoreV1().Pods(p.namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("writing the status of pod %s/%s: %v", p.namespace, p.name, err)
	}
}

// use is cpu (millicores) and memory (bytes), counted as clusterview counts
// the metrics API's quantities: each container's CPU rounded up to a
// millicore.
type use struct{ cpu, mem int64 }

// metricsRead is one read of the metrics API through kube-apiserver.
type metricsRead struct {
	nodes map[string]use
	// nodeTimes are the NodeMetrics timestamps.
	nodeTimes map[string]time.Time
	// pods is keyed by namespace/name.
	pods map[string]use
}

func (f *fixture) readMetrics(ctx context.Context) (metricsRead, error) {
	m := metricsRead{nodes: map[string]use{}, nodeTimes: map[string]time.Time{}, pods: map[string]use{}}
	nodes, err := f.metrics.NodeMetricses().List(ctx, metav1.ListOptions{LabelSelector: testLabel})
	if err != nil {
		return m, err
	}
	for _, n := range nodes.Items {
		m.nodes[n.Name] = use{n.Usage.Cpu().MilliValue(), n.Usage.Memory().Value()}
		m.nodeTimes[n.Name] = n.Timestamp.Time
	}
	for _, ns := range f.namespaces {
		pods, err := f.metrics.PodMetricses(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return m, err
		}
		for _, p := range pods.Items {
			var u use
			for _, c := range p.Containers {
				u.cpu += c.Usage.Cpu().MilliValue()
				u.mem += c.Usage.Memory().Value()
			}
			m.pods[p.Namespace+"/"+p.Name] = u
		}
	}
	return m, nil
}

func (m metricsRead) equal(o metricsRead) bool {
	return maps.Equal(m.nodes, o.nodes) && maps.Equal(m.pods, o.pods)
}

// idleOf is the independent recount of idle: over the pods in namespaces
// that have PodMetrics, max(0, request - usage) per resource, requests
// summed over the pod's containers.
func idleOf(m metricsRead, namespaces ...string) use {
	var idle use
	for _, p := range fixturePods {
		if !slices.Contains(namespaces, p.namespace) {
			continue
		}
		u, ok := m.pods[p.namespace+"/"+p.name]
		if !ok {
			continue
		}
		cpuReq := resource.MustParse(p.cpuRequest)
		memReq := resource.MustParse(p.memRequest)
		idle.cpu += max(0, int64(p.containers)*cpuReq.MilliValue()-u.cpu)
		idle.mem += max(0, int64(p.containers)*memReq.Value()-u.mem)
	}
	return idle
}

// usageOf returns a summary row's cpu and memory usage and idle, and
// whether every one of the four that want says should be there is.
func usageOf(resources []v1beta1.ResourceUsage) (usage, idle use, hasUsage, hasIdle bool) {
	hasUsage, hasIdle = true, true
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		i := slices.IndexFunc(resources, func(r v1beta1.ResourceUsage) bool { return r.Name == name })
		if i < 0 {
			hasUsage, hasIdle = false, false
			continue
		}
		r := resources[i]
		// set puts q into the cpu (millicores) or memory (bytes) figure
		// of into, or records that it is missing.
		set := func(q *resource.Quantity, into *use, has *bool) {
			switch {
			case q == nil:
				*has = false
			case name == corev1.ResourceCPU:
				into.cpu = q.MilliValue()
			default:
				into.mem = q.Value()
			}
		}
		set(r.Usage, &usage, &hasUsage)
		set(r.Idle, &idle, &hasIdle)
	}
	return usage, idle, hasUsage, hasIdle
}

// compare reads every summary through the aggregator and returns what
// differs from the metrics read m, or "" when all agree.
func (f *fixture) compare(ctx context.Context, m metricsRead) (string, error) {
	cv := env.Client.ClusterviewV1beta1()
	var diffs []string
	var nodeSum use
	for _, name := range f.nodes {
		ns, err := cv.NodeSummaries().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		got, _, has, _ := usageOf(ns.Resources)
		want, metered := m.nodes[name]
		switch {
		case metered && (!has || got != want):
			diffs = append(diffs, fmt.Sprintf("NodeSummary %s: usage %+v (present %v), NodeMetrics %+v", name, got, has, want))
		case metered && (ns.UsageTimestamp == nil || !ns.UsageTimestamp.Time.Equal(m.nodeTimes[name])):
			diffs = append(diffs, fmt.Sprintf("NodeSummary %s: usageTimestamp %v, NodeMetrics %v", name, ns.UsageTimestamp, m.nodeTimes[name]))
		case !metered && has:
			diffs = append(diffs, fmt.Sprintf("NodeSummary %s: usage %+v without NodeMetrics", name, got))
		}
		nodeSum.cpu += want.cpu
		nodeSum.mem += want.mem
	}
	var podSum use
	for _, namespace := range f.namespaces {
		ns, err := cv.NamespaceSummaries(namespace).Get(ctx, namespace, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		var want use
		for key, u := range m.pods {
			if strings.HasPrefix(key, namespace+"/") {
				want.cpu += u.cpu
				want.mem += u.mem
			}
		}
		podSum.cpu += want.cpu
		podSum.mem += want.mem
		got, idle, hasUsage, hasIdle := usageOf(ns.Resources)
		if !hasUsage || got != want {
			diffs = append(diffs, fmt.Sprintf("NamespaceSummary %s: usage %+v (present %v), PodMetrics sum %+v", namespace, got, hasUsage, want))
		}
		if wantIdle := idleOf(m, namespace); !hasIdle || idle != wantIdle {
			diffs = append(diffs, fmt.Sprintf("NamespaceSummary %s: idle %+v (present %v), recount %+v", namespace, idle, hasIdle, wantIdle))
		}
	}
	for _, c := range []struct {
		name      string
		usage     use
		reference string
	}{
		{"usage-nodes", nodeSum, "NodeMetrics sum"},
		{"usage-namespaces", podSum, "PodMetrics sum"},
	} {
		cs, err := cv.ClusterSummaries().Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		got, idle, hasUsage, hasIdle := usageOf(cs.Status.Resources)
		if !hasUsage || got != c.usage {
			diffs = append(diffs, fmt.Sprintf("ClusterSummary %s: usage %+v (present %v), %s %+v", c.name, got, hasUsage, c.reference, c.usage))
		}
		if wantIdle := idleOf(m, f.namespaces...); !hasIdle || idle != wantIdle {
			diffs = append(diffs, fmt.Sprintf("ClusterSummary %s: idle %+v (present %v), recount %+v", c.name, idle, hasIdle, wantIdle))
		}
		if cond := apimeta.FindStatusCondition(cs.Status.Conditions, v1beta1.ConditionUsageAvailable); cond == nil || cond.Status != metav1.ConditionTrue {
			diffs = append(diffs, fmt.Sprintf("ClusterSummary %s: UsageAvailable %+v", c.name, cond))
		}
	}
	return strings.Join(diffs, "\n"), nil
}

// ensureSummaries creates the two ClusterSummaries of the package: one
// selecting the test's nodes (usage is their NodeMetrics) and one selecting
// its namespaces (usage is their PodMetrics).
func ensureSummaries(ctx context.Context, t *testing.T) {
	t.Helper()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{testLabel: "true"}}
	for _, cs := range []*v1beta1.ClusterSummary{
		{ObjectMeta: metav1.ObjectMeta{Name: "usage-nodes"}, Spec: v1beta1.ClusterSummarySpec{NodeSelector: sel}},
		{ObjectMeta: metav1.ObjectMeta{Name: "usage-namespaces"}, Spec: v1beta1.ClusterSummarySpec{NodeSelector: sel, NamespaceSelector: sel}},
	} {
		_, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Create(ctx, cs, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("creating ClusterSummary %s: %v", cs.Name, err)
		}
	}
}

// agree polls until one read of the summaries sits between two equal reads
// of the metrics API and matches them, and returns that metrics read.
func (f *fixture) agree(ctx context.Context, t *testing.T, timeout time.Duration) metricsRead {
	t.Helper()
	var last string
	var agreed metricsRead
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		before, err := f.readMetrics(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		diff, err := f.compare(ctx, before)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		after, err := f.readMetrics(ctx)
		if err != nil || !before.equal(after) {
			// metrics-server stored a new scrape meanwhile: nothing to judge.
			return false, nil
		}
		last, agreed = diff, before
		return diff == "", nil
	})
	if err != nil {
		t.Fatalf("the summaries never agreed with the metrics API: %v; last differences:\n%s", err, last)
	}
	return agreed
}

func TestUsageEqualsTheMetricsAPI(t *testing.T) {
	ctx := t.Context()
	f := setUp(ctx, t)
	ensureSummaries(ctx, t)
	m := f.agree(ctx, t, metricsTimeout)

	// The shapes the fixture was built for are what the metrics API and the
	// summaries show: the idle namespace uses a fraction of its requests,
	// the busy one has a pod over its request, the pod without usage and the
	// pod on the unscraped node have no PodMetrics.
	if _, ok := m.pods["usage-busy/quiet"]; ok {
		t.Errorf("PodMetrics for a pod that uses nothing: %+v", m.pods)
	}
	if _, ok := m.pods["usage-busy/unscraped"]; ok {
		t.Errorf("PodMetrics for a pod on a node nobody scrapes: %+v", m.pods)
	}
	if _, ok := m.nodes[plainNode]; ok {
		t.Errorf("NodeMetrics for a node nobody scrapes: %+v", m.nodes)
	}
	if over := m.pods["usage-busy/over-request"]; over.cpu <= 500 {
		t.Errorf("the pod over its request uses %dm CPU, want more than its 500m request", over.cpu)
	}
	if idle := idleOf(m, "usage-idle"); idle.cpu < 1000 {
		t.Errorf("usage-idle leaves %dm CPU idle, want most of its 2 cores", idle.cpu)
	}
}

// TestUsageFollowsAChange changes what a pod uses and measures how long the
// summaries take to show a value after the metrics API first serves it: at
// most two usage intervals (one read that can see it, plus slack for the
// read in flight).
func TestUsageFollowsAChange(t *testing.T) {
	ctx := t.Context()
	f := setUp(ctx, t)
	ensureSummaries(ctx, t)
	f.agree(ctx, t, metricsTimeout)

	const namespace, name = "usage-busy", "under-request"
	key := namespace + "/" + name
	setUse := func(ctx context.Context, cpu, mem string) {
		t.Helper()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q,%q:%q}}}`,
			localcluster.UsageCPUAnnotation, cpu, localcluster.UsageMemoryAnnotation, mem)
		if _, err := f.kube.CoreV1().Pods(namespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatalf("changing the usage of %s: %v", key, err)
		}
	}
	setUse(ctx, "900m", "700Mi")
	// Back to the fixture's figures for the tests that follow.
	t.Cleanup(func() { setUse(context.Background(), "200m", "200Mi") })

	// The first read of the metrics API that shows the new memory figure.
	var seen metricsRead
	var seenAt time.Time
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, metricsTimeout, true, func(ctx context.Context) (bool, error) {
		m, err := f.readMetrics(ctx)
		if err != nil || m.pods[key].mem != 700<<20 {
			return false, nil
		}
		seen, seenAt = m, time.Now()
		return true, nil
	})
	if err != nil {
		t.Fatalf("the metrics API never showed the new usage of %s: %v", key, err)
	}
	var want use
	for k, u := range seen.pods {
		if strings.HasPrefix(k, namespace+"/") {
			want.cpu += u.cpu
			want.mem += u.mem
		}
	}
	var got use
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, metricsTimeout, true, func(ctx context.Context) (bool, error) {
		ns, err := env.Client.ClusterviewV1beta1().NamespaceSummaries(namespace).Get(ctx, namespace, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got, _, _, _ = usageOf(ns.Resources)
		return got.mem == want.mem, nil
	})
	lag := time.Since(seenAt)
	if err != nil {
		t.Fatalf("NamespaceSummary %s never showed the new usage: memory %d, want %d", namespace, got.mem, want.mem)
	}
	t.Logf("FIGURE usage lag from the metrics API to NamespaceSummary: %v (interval %v)", lag.Round(time.Millisecond), usageInterval)
	if lag > 2*usageInterval {
		t.Errorf("NamespaceSummary %s showed the new usage %v after the metrics API did, want at most two intervals (%v)", namespace, lag, 2*usageInterval)
	}
	f.agree(ctx, t, metricsTimeout)
}

// withoutUsage is a copy of a summary's resources with usage and idle
// removed: what must not change while usage comes and goes.
func withoutUsage(resources []v1beta1.ResourceUsage) []v1beta1.ResourceUsage {
	out := make([]v1beta1.ResourceUsage, len(resources))
	for i, r := range resources {
		r.Usage, r.Idle = nil, nil
		out[i] = r
	}
	return out
}

// waitUsageUnavailable polls until both ClusterSummaries say
// UsageAvailable=False with reason MetricsAPIUnavailable, then checks that
// no summary carries any usage or idle figure.
func (f *fixture) waitUsageUnavailable(ctx context.Context, t *testing.T, timeout time.Duration) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, name := range []string{"usage-nodes", "usage-namespaces"} {
			cs, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				last = err.Error()
				return false, nil
			}
			cond := apimeta.FindStatusCondition(cs.Status.Conditions, v1beta1.ConditionUsageAvailable)
			if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "MetricsAPIUnavailable" {
				last = fmt.Sprintf("%s: %+v", name, cond)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("UsageAvailable never turned False with reason MetricsAPIUnavailable: %v; last %s", err, last)
	}
	cv := env.Client.ClusterviewV1beta1()
	var leftovers []string
	for _, name := range f.nodes {
		ns, err := cv.NodeSummaries().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, hasUsage, _ := usageOf(ns.Resources); hasUsage || ns.UsageTimestamp != nil || ns.UsageWindow != nil {
			leftovers = append(leftovers, "NodeSummary "+name)
		}
	}
	for _, namespace := range f.namespaces {
		ns, err := cv.NamespaceSummaries(namespace).Get(ctx, namespace, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if anyUsage(ns.Resources) {
			leftovers = append(leftovers, "NamespaceSummary "+namespace)
		}
	}
	for _, name := range []string{"usage-nodes", "usage-namespaces"} {
		cs, err := cv.ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if anyUsage(cs.Status.Resources) {
			leftovers = append(leftovers, "ClusterSummary "+name)
		}
	}
	if len(leftovers) > 0 {
		t.Errorf("usage or idle still reported without a metrics API: %v", leftovers)
	}
}

func anyUsage(resources []v1beta1.ResourceUsage) bool {
	return slices.ContainsFunc(resources, func(r v1beta1.ResourceUsage) bool { return r.Usage != nil || r.Idle != nil })
}

// cpuRequests is a ClusterSummary's cpu requests in millicores.
func cpuRequests(ctx context.Context, t *testing.T, name string) int64 {
	t.Helper()
	cs, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cs.Status.Resources {
		if r.Name == corev1.ResourceCPU {
			return r.Requests.MilliValue()
		}
	}
	return -1
}

// addRequest creates a pod without usage requesting cpuMilli on the node
// nobody scrapes and returns how long ClusterSummary usage-nodes took to
// count it.
func (f *fixture) addRequest(ctx context.Context, t *testing.T, name string, cpuMilli int64) time.Duration {
	t.Helper()
	before := cpuRequests(ctx, t, "usage-nodes")
	start := time.Now()
	f.createPod(ctx, t, podSpec{"usage-busy", name, plainNode, 1, fmt.Sprintf("%dm", cpuMilli), "1Mi", "", ""})
	t.Cleanup(func() {
		zero := int64(0)
		_ = f.kube.CoreV1().Pods("usage-busy").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	var got int64
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got = cpuRequests(ctx, t, "usage-nodes")
		return got == before+cpuMilli, nil
	})
	if err != nil {
		t.Fatalf("ClusterSummary usage-nodes never counted pod %s: cpu requests %dm, want %dm", name, got, before+cpuMilli)
	}
	return time.Since(start)
}

// TestStoppedMetricsPipelineRemovesUsageOnly stops the resource metrics
// pipeline the way the scale benchmark frees its memory (the APIService
// deleted, metrics-server and kwok stopped), then starts it again.
func TestStoppedMetricsPipelineRemovesUsageOnly(t *testing.T) {
	ctx := t.Context()
	f := setUp(ctx, t)
	ensureSummaries(ctx, t)
	f.agree(ctx, t, metricsTimeout)

	before := map[string][]v1beta1.ResourceUsage{}
	for _, name := range []string{"usage-nodes", "usage-namespaces"} {
		cs, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before[name] = withoutUsage(cs.Status.Resources)
	}

	ms, kwok := env.Cluster.MetricsServer(), env.Cluster.Kwok()
	if err := env.Cluster.StopUsage(ctx); err != nil {
		t.Fatalf("stopping the resource metrics pipeline: %v", err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Cluster.StartUsage(context.Background())
		}
	})
	for name, p := range map[string]*localcluster.Process{"metrics-server": ms, "kwok": kwok} {
		if p.Running() {
			t.Errorf("%s still runs after StopUsage", name)
		}
	}
	dyn := dynamic.NewForConfigOrDie(env.Admin)
	apiServices := dyn.Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"})
	if _, err := apiServices.Get(ctx, localcluster.MetricsAPIServiceName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("APIService %s after StopUsage: got err %v, want NotFound", localcluster.MetricsAPIServiceName, err)
	}
	// Stale after 3 intervals without a successful read, plus the round
	// that notices and a status write.
	f.waitUsageUnavailable(ctx, t, 5*usageInterval+10*time.Second)

	// Everything but usage is what it was, and still follows the cluster.
	for name, want := range before {
		cs, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cs.Status.Resources; !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("ClusterSummary %s: resources changed with the metrics API gone:\n got %+v\nwant %+v", name, got, want)
		}
	}
	f.addRequest(ctx, t, "during-outage", 10)

	// Back: usage returns by itself and agrees with the metrics API again.
	if err := env.Cluster.StartUsage(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	f.agree(ctx, t, metricsTimeout)
}

func TestSlowMetricsServerDelaysNothing(t *testing.T) {
	ctx := t.Context()
	f := setUp(ctx, t)
	ensureSummaries(ctx, t)
	f.agree(ctx, t, metricsTimeout)

	// A stopped process still accepts connections (the kernel completes the
	// handshakes) but never answers: the slowest metrics-server there is.
	ms := env.Cluster.MetricsServer()
	if err := ms.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := ms.Signal(syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	// The stop takes effect at once, but a request may already be on its
	// way back: wait until a list goes unanswered.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		probe, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := f.metrics.NodeMetricses().List(probe, metav1.ListOptions{})
		return err != nil, nil
	})
	if err != nil {
		t.Fatalf("the stopped metrics-server still answered: %v", err)
	}

	// Reads through the aggregator answer at once, whatever clusterview's
	// usage read is waiting for.
	cv := env.Client.ClusterviewV1beta1()
	var slowest time.Duration
	for range 10 {
		start := time.Now()
		if _, err := cv.ClusterSummaries().Get(ctx, "usage-nodes", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cv.NodeSummaries().List(ctx, metav1.ListOptions{LabelSelector: testLabel}); err != nil {
			t.Fatal(err)
		}
		if _, err := cv.NamespaceSummaries("usage-busy").Get(ctx, "usage-busy", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	// Status writes follow the cluster as fast as ever: a status waiting
	// for a usage read would wait for most of an interval.
	var slowestWrite time.Duration
	for i := range 3 {
		slowestWrite = max(slowestWrite, f.addRequest(ctx, t, fmt.Sprintf("while-slow-%d", i), 10))
	}
	t.Logf("FIGURE with metrics-server stopped: slowest 3 reads %v, slowest status update %v (usage interval %v)",
		slowest.Round(time.Millisecond), slowestWrite.Round(time.Millisecond), usageInterval)
	if slowest > time.Second {
		t.Errorf("reads took up to %v with metrics-server stopped, want under 1s", slowest)
	}
	if slowestWrite >= usageInterval {
		t.Errorf("a status update took %v with metrics-server stopped, want less than the usage interval %v", slowestWrite, usageInterval)
	}
	// Each read gives up after an interval, so usage goes stale rather than
	// hanging on, and comes back once metrics-server answers again.
	f.waitUsageUnavailable(ctx, t, 5*usageInterval+10*time.Second)
	resume()
	f.agree(ctx, t, metricsTimeout)
}
