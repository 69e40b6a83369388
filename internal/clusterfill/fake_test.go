package clusterfill_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/internal/clusterfill/clusterfilltest"
)

// TestDescribeDemo pins the demo's figures: other packages assert on them,
// so a change here must be deliberate.
func TestDescribeDemo(t *testing.T) {
	c := clusterfill.DescribeDemo()
	check := func(what string, got, want any) {
		t.Helper()
		if !equalish(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("nodes", c.Nodes, 9)
	check("ready nodes", c.ReadyNodes, 7)
	check("not ready nodes", c.NotReadyNodeNames, []string{"demo-b-3", "demo-c-3"})
	check("cordoned", c.UnschedulableNodes, 1)
	check("memory pressure", c.MemoryPressureNodes, 1)
	check("gpu nodes", c.GPUNodes, 2)
	check("nodes by zone", c.NodesByZone, map[string]int{"zone-a": 3, "zone-b": 3, "zone-c": 3})
	check("namespaces", c.Namespaces, []string{"team-a", "team-b", "monitoring", "batch"})
	check("pods", c.Pods, 29)
	check("pods by phase", c.PodsByPhase, map[corev1.PodPhase]int{
		corev1.PodRunning: 19, corev1.PodPending: 4, corev1.PodSucceeded: 2, corev1.PodFailed: 2, corev1.PodUnknown: 2,
	})
	check("unscheduled", c.UnscheduledPods, 2)
	check("pods by node", c.PodsByNode, map[string]int{
		"demo-a-1": 1, "demo-a-2": 5, "demo-a-3": 2, "demo-b-1": 6, "demo-b-2": 3, "demo-b-3": 1,
		"demo-c-1": 3, "demo-c-2": 4, "demo-c-3": 2,
	})
	check("pods by namespace", c.PodsByNamespace, map[string]int{"team-a": 6, "team-b": 5, "monitoring": 11, "batch": 7})
	check("restarts", c.ContainerRestarts, 14)
	check("crash looping", c.CrashLoopingPods, []string{"team-a/api-5c8d7b9f4-b7nqs"})
	check("deployments", []int{c.Deployments, c.ReadyDeployments}, []int{4, 1})
	check("statefulsets", []int{c.StatefulSets, c.ReadyStatefulSets}, []int{2, 1})
	check("daemonsets", []int{c.DaemonSets, c.ReadyDaemonSets}, []int{1, 0})
	check("team-a quota", c.QuotaUsed["team-a/compute"], corev1.ResourceList{
		"pods": q("6"), "requests.cpu": q("2550m"), "requests.memory": q("4800Mi"),
	})
	check("team-b quota", c.QuotaUsed["team-b/compute"], corev1.ResourceList{
		"pods": q("5"), "requests.cpu": q("1600m"), "requests.memory": q("2208Mi"),
		"limits.cpu": q("2700m"), "limits.memory": q("4096Mi"),
	})
	check("batch quota", c.QuotaUsed["batch/gpu"], corev1.ResourceList{
		"pods": q("3"), "requests.cpu": q("12"), "requests.memory": q("48Gi"), "requests.nvidia.com/gpu": q("7"),
	})
}

func newFake(t *testing.T) (*fake.Clientset, context.Context) {
	_, ctx := ktesting.NewTestContext(t)
	return fake.NewClientset(), ctx
}

func TestDemoFake(t *testing.T) {
	client, ctx := newFake(t)
	want := clusterfill.DescribeDemo()
	r, err := clusterfill.Demo(ctx, client)
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	for kind, got := range map[string][2]int{
		"namespaces":      {r.Namespaces.Created, 4},
		"serviceaccounts": {r.ServiceAccounts.Created, 4},
		"runtimeclasses":  {r.RuntimeClasses.Created, 1},
		"nodes":           {r.Nodes.Created, 9},
		"deployments":     {r.Deployments.Created, 4},
		"statefulsets":    {r.StatefulSets.Created, 2},
		"daemonsets":      {r.DaemonSets.Created, 1},
		"pods":            {r.Pods.Created, 29},
		"resourcequotas":  {r.ResourceQuotas.Created, 3},
	} {
		if got[0] != got[1] {
			t.Errorf("created %d %s, want %d", got[0], kind, got[1])
		}
	}
	if !equalish(r.Contents, want) {
		t.Errorf("report contents differ from DescribeDemo")
	}
	if s := r.String(); !strings.Contains(s, "pods             29 (29 created") || !strings.Contains(s, "Unknown=2") {
		t.Errorf("report text:\n%s", s)
	}
	clusterfilltest.CheckDemo(ctx, t, client, want, false)

	// Every pod phase is present, and every bound pod got a full status.
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phases := map[corev1.PodPhase]bool{}
	sawSidecar, sawOverhead := false, false
	for _, p := range pods.Items {
		phases[p.Status.Phase] = true
		if p.Spec.NodeName != "" && (p.Status.StartTime == nil || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) ||
			len(p.Status.InitContainerStatuses) != len(p.Spec.InitContainers)) {
			t.Errorf("pod %s/%s status incomplete: %+v", p.Namespace, p.Name, p.Status)
		}
		for _, c := range p.Spec.InitContainers {
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				sawSidecar = true
			}
		}
		if p.Spec.Overhead != nil {
			sawOverhead = true
		}
	}
	for _, ph := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown} {
		if !phases[ph] {
			t.Errorf("no pod in phase %s", ph)
		}
	}
	if !sawSidecar || !sawOverhead {
		t.Errorf("sidecar init container seen: %v, pod overhead seen: %v", sawSidecar, sawOverhead)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "demo-c-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gpu := node.Status.Capacity[clusterfill.ResourceGPU]; gpu.Value() != 4 || node.Labels["topology.kubernetes.io/zone"] != "zone-c" {
		t.Errorf("node demo-c-1: gpus %v, labels %v", gpu.String(), node.Labels)
	}
}

func TestDemoIdempotentFake(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Demo(ctx, client); err != nil {
		t.Fatalf("Demo: %v", err)
	}
	client.ClearActions()
	r, err := clusterfill.Demo(ctx, client)
	if err != nil {
		t.Fatalf("second Demo: %v", err)
	}
	clusterfilltest.AssertNoWrites(t, r)
	for _, a := range client.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("second run made a %s of %s %s", v, a.GetResource().Resource, a.GetSubresource())
		}
	}
	clusterfilltest.CheckDemo(ctx, t, client, clusterfill.DescribeDemo(), false)
}

func TestDemoRepairsDriftFake(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Demo(ctx, client); err != nil {
		t.Fatalf("Demo: %v", err)
	}
	pods := client.CoreV1().Pods("team-b")
	if err := pods.Delete(ctx, "cache-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A pod whose spec differs (bound elsewhere) must be recreated.
	moved, err := pods.Get(ctx, "cache-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	moved.Spec.NodeName = "demo-c-1"
	if _, err := pods.Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "demo-a-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Spec.Unschedulable = false
	node.Status.Conditions = nil
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "demo-old", Labels: map[string]string{clusterfill.DemoLabel: "true"}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, stale, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	r, err := clusterfill.Demo(ctx, client)
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	if r.Pods.Created != 1 || r.Pods.Updated != 1 || r.Nodes.Updated != 1 || r.Nodes.Deleted != 1 {
		t.Errorf("pods %v, nodes %v; want 1 pod created, 1 recreated, 1 node updated, 1 deleted", r.Pods, r.Nodes)
	}
	clusterfilltest.CheckDemo(ctx, t, client, clusterfill.DescribeDemo(), false)
}

func TestSyntheticFake(t *testing.T) {
	client, ctx := newFake(t)
	var progress syncBuffer
	opts := clusterfill.SyntheticOptions{
		Nodes: 15, Pods: 300, Namespaces: 7, Concurrency: 4, Seed: 42,
		Progress: &progress, ProgressInterval: 10 * time.Millisecond,
	}
	r, err := clusterfill.Synthetic(ctx, client, opts)
	if err != nil {
		t.Fatalf("Synthetic: %v", err)
	}
	t.Log(r)
	if r.Nodes != 15 || r.Pods != 300 || r.Namespaces != 7 || r.Existing != 0 {
		t.Errorf("report %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "synthetic: 322/322 objects (100.0%), done,") {
		t.Errorf("last progress line %q", last)
	}

	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byPhase := map[corev1.PodPhase]int{}
	namespaces := map[string]int{}
	nodes := map[string]bool{}
	unscheduled, podLevel, sandboxed, sidecarRestarts := 0, 0, 0, 0
	for _, p := range pods.Items {
		byPhase[p.Status.Phase]++
		if p.Spec.Resources != nil && !p.Spec.Resources.Requests.Cpu().IsZero() {
			podLevel++
		}
		if p.Spec.RuntimeClassName != nil && *p.Spec.RuntimeClassName == clusterfill.SyntheticRuntimeClass {
			sandboxed++
		}
		for _, cs := range p.Status.InitContainerStatuses {
			if cs.RestartCount > 0 {
				sidecarRestarts++
			}
		}
		namespaces[p.Namespace]++
		if p.Spec.NodeName == "" {
			unscheduled++
			if p.Status.Phase != corev1.PodPending {
				t.Errorf("unscheduled pod %s in phase %s", p.Name, p.Status.Phase)
			}
		} else {
			nodes[p.Spec.NodeName] = true
		}
		if len(p.Spec.Containers) == 0 || p.Spec.Containers[0].Resources.Requests.Cpu().IsZero() {
			t.Errorf("pod %s has no cpu request", p.Name)
		}
	}
	if !equalish(byPhase, r.PodsByPhase) || unscheduled != r.UnscheduledPods {
		t.Errorf("stored phases %v (%d unscheduled), report %v (%d)", byPhase, unscheduled, r.PodsByPhase, r.UnscheduledPods)
	}
	for _, ph := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed} {
		if byPhase[ph] == 0 {
			t.Errorf("no synthetic pod in phase %s", ph)
		}
	}
	if byPhase[corev1.PodRunning] < 240 || unscheduled == 0 {
		t.Errorf("phases %v, %d unscheduled: want mostly Running and a few unscheduled", byPhase, unscheduled)
	}
	if len(namespaces) != 7 || len(nodes) != 15 {
		t.Errorf("pods spread over %d namespaces and %d nodes", len(namespaces), len(nodes))
	}
	// About 5% with pod-level resources, 3% with an overhead class, and
	// some restarted sidecars: the shapes the bench's recount must handle.
	if podLevel < 5 || podLevel > 30 || sandboxed < 2 || sandboxed > 20 || sidecarRestarts == 0 {
		t.Errorf("%d pods with pod-level resources, %d in %s, %d with restarted sidecars; want about 15, 9 and some",
			podLevel, sandboxed, clusterfill.SyntheticRuntimeClass, sidecarRestarts)
	}
	if _, err := client.NodeV1().RuntimeClasses().Get(ctx, clusterfill.SyntheticRuntimeClass, metav1.GetOptions{}); err != nil {
		t.Errorf("RuntimeClass %s: %v", clusterfill.SyntheticRuntimeClass, err)
	}
	for ns, n := range namespaces {
		if n < 300/7 || n > 300/7+1 {
			t.Errorf("namespace %s has %d pods, want round-robin", ns, n)
		}
	}

	// The same seed gives the same cluster.
	again := fake.NewClientset()
	if _, err := clusterfill.Synthetic(ctx, again, clusterfill.SyntheticOptions{Nodes: 15, Pods: 300, Namespaces: 7, Concurrency: 3, Seed: 42}); err != nil {
		t.Fatal(err)
	}
	pods2, err := again.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	placement := func(l *corev1.PodList) map[string]string {
		m := map[string]string{}
		for _, p := range l.Items {
			m[p.Namespace+"/"+p.Name] = p.Spec.NodeName + " " + string(p.Status.Phase)
		}
		return m
	}
	if !maps.Equal(placement(pods), placement(pods2)) {
		t.Errorf("same seed, different clusters")
	}

	// Running it again finds everything in place.
	r, err = clusterfill.Synthetic(ctx, client, opts)
	if err != nil {
		t.Fatalf("second Synthetic: %v", err)
	}
	// 322 plus the RuntimeClass.
	if r.Existing != 323 || r.Writes != 0 {
		t.Errorf("second run: %d existing, %d writes; want 323 and 0", r.Existing, r.Writes)
	}
}

func TestSyntheticNodesFake(t *testing.T) {
	client, ctx := newFake(t)
	r, err := clusterfill.Synthetic(ctx, client, clusterfill.SyntheticOptions{Nodes: 400, Pods: 1, Namespaces: 1})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	notReady, cordoned, zones := 0, 0, map[string]int{}
	for _, n := range nodes.Items {
		if !clusterfilltest.NodeReady(&n) {
			notReady++
		}
		if n.Spec.Unschedulable {
			cordoned++
		}
		zones[n.Labels["topology.kubernetes.io/zone"]]++
		if n.Status.Allocatable.Memory().Cmp(*n.Status.Capacity.Memory()) >= 0 {
			t.Errorf("node %s: allocatable memory not below capacity", n.Name)
		}
	}
	// i%100==99 and i%200==50: 4 + 2.
	if notReady != 6 || r.NotReadyNodes != 6 || cordoned != 1 || len(zones) != 3 {
		t.Errorf("%d not ready (report %d), %d cordoned, zones %v", notReady, r.NotReadyNodes, cordoned, zones)
	}
}

func TestSyntheticOptions(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Synthetic(ctx, client, clusterfill.SyntheticOptions{Pods: -1}); err == nil {
		t.Error("negative Pods accepted")
	}
	// A canceled context stops the load with its error.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := clusterfill.Synthetic(canceled, client, clusterfill.SyntheticOptions{Nodes: 10, Pods: 10, Namespaces: 1}); err == nil {
		t.Error("Synthetic succeeded with a canceled context")
	}
}

// gate counts the requests in flight through it. Each request waits until
// limit requests are in flight together (or a short timeout at the tail of
// a run), so a pool that honours the bound is seen saturated, and one that
// does not is seen exceeding it.
type gate struct {
	limit         int
	mu            sync.Mutex
	inFlight, max int
	full          chan struct{}
}

func newGate(limit int) *gate { return &gate{limit: limit, full: make(chan struct{})} }

func (g *gate) enter() (exit func()) {
	g.mu.Lock()
	g.inFlight++
	g.max = max(g.max, g.inFlight)
	full := g.full
	if g.inFlight >= g.limit {
		close(g.full)
		g.full = make(chan struct{})
	}
	g.mu.Unlock()
	select {
	case <-full:
	case <-time.After(100 * time.Millisecond):
	}
	return func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}
}

type gatedClient struct {
	kubernetes.Interface
	g *gate
}

func (c gatedClient) CoreV1() corev1client.CoreV1Interface {
	return gatedCore{c.Interface.CoreV1(), c.g}
}

type gatedCore struct {
	corev1client.CoreV1Interface
	g *gate
}

func (c gatedCore) Pods(ns string) corev1client.PodInterface {
	return gatedPods{c.CoreV1Interface.Pods(ns), c.g}
}
func (c gatedCore) Nodes() corev1client.NodeInterface {
	return gatedNodes{c.CoreV1Interface.Nodes(), c.g}
}

type gatedPods struct {
	corev1client.PodInterface
	g *gate
}

func (p gatedPods) Create(ctx context.Context, pod *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error) {
	defer p.g.enter()()
	return p.PodInterface.Create(ctx, pod, opts)
}

func (p gatedPods) UpdateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error) {
	defer p.g.enter()()
	return p.PodInterface.UpdateStatus(ctx, pod, opts)
}

type gatedNodes struct {
	corev1client.NodeInterface
	g *gate
}

func (n gatedNodes) Create(ctx context.Context, node *corev1.Node, opts metav1.CreateOptions) (*corev1.Node, error) {
	defer n.g.enter()()
	return n.NodeInterface.Create(ctx, node, opts)
}

func TestSyntheticBoundedConcurrency(t *testing.T) {
	for _, limit := range []int{1, 5} {
		client, ctx := newFake(t)
		g := newGate(limit)
		_, err := clusterfill.Synthetic(ctx, gatedClient{client, g}, clusterfill.SyntheticOptions{
			Nodes: 20, Pods: 200, Namespaces: 2, Concurrency: limit,
		})
		if err != nil {
			t.Fatal(err)
		}
		if g.max != limit {
			t.Errorf("Concurrency %d: at most %d requests were in flight", limit, g.max)
		}
	}
}

func TestChurnFake(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Demo(ctx, client); err != nil {
		t.Fatal(err)
	}
	r, err := clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{Rate: 2000, Duration: 10 * time.Second, MaxChanges: 60, Seed: 5})
	if err != nil {
		t.Fatalf("Churn: %v", err)
	}
	if len(r.Changes) != 60 {
		t.Fatalf("%d changes, want MaxChanges=60", len(r.Changes))
	}
	kinds := map[clusterfill.ChangeKind]int{}
	for i, ch := range r.Changes {
		kinds[ch.Change]++
		if i > 0 && ch.Sent.Before(r.Changes[i-1].Acked) {
			t.Errorf("change %d started before change %d was acknowledged", i, i-1)
		}
		if ch.From == ch.To {
			t.Errorf("change %d changed nothing: %+v", i, ch)
		}
	}
	for _, k := range []clusterfill.ChangeKind{clusterfill.ChangeRestart, clusterfill.ChangePhase, clusterfill.ChangeCrashLoop, clusterfill.ChangeNodeReady} {
		if kinds[k] == 0 {
			t.Errorf("no %s change among %v", k, kinds)
		}
	}
	clusterfilltest.CheckChurn(ctx, t, client, r, false)

	// Duration bounds the run: at 20/s, 150ms leave room for 3 changes.
	start := time.Now()
	r, err = clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{Rate: 20, Duration: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Changes); n != 3 || time.Since(start) > 5*time.Second {
		t.Errorf("%d changes in %v, want 3", n, time.Since(start))
	}

	// Demo puts everything back.
	if _, err := clusterfill.Demo(ctx, client); err != nil {
		t.Fatal(err)
	}
	clusterfilltest.CheckDemo(ctx, t, client, clusterfill.DescribeDemo(), false)
}

func TestChurnNothingToChange(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{}); err == nil {
		t.Error("Churn of an empty cluster succeeded")
	}
}

func TestChurnStopsOnCancel(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Demo(ctx, client); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	r, err := clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{Rate: 10, Duration: time.Minute})
	if err == nil || len(r.Changes) == 0 || len(r.Changes) > 2 {
		t.Errorf("err %v after %d changes; want the context's error after 1 or 2", err, len(r.Changes))
	}
}

func TestChurnWriteError(t *testing.T) {
	client, ctx := newFake(t)
	if _, err := clusterfill.Demo(ctx, client); err != nil {
		t.Fatal(err)
	}
	client.PrependReactor("update", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, context.DeadlineExceeded
	})
	r, err := clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{Rate: 100, Duration: time.Second})
	if err == nil || len(r.Changes) != 0 {
		t.Errorf("err %v, %d changes", err, len(r.Changes))
	}
}

func TestTuneConfig(t *testing.T) {
	in := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 5, Burst: 10}
	out := clusterfill.TuneConfig(in)
	if out.QPS != clusterfill.TunedQPS || out.Burst != clusterfill.TunedBurst ||
		out.ContentType != runtime.ContentTypeProtobuf || !strings.HasPrefix(out.AcceptContentTypes, runtime.ContentTypeProtobuf) {
		t.Errorf("tuned config %+v", out)
	}
	if in.QPS != 5 || in.ContentType != "" {
		t.Errorf("TuneConfig modified its argument: %+v", in)
	}
	if _, err := kubernetes.NewForConfig(out); err != nil {
		t.Errorf("tuned config unusable: %v", err)
	}
}

// syncBuffer is a strings.Builder safe for the progress goroutine and the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
