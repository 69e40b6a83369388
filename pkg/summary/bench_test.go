package summary

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
)

// The large engine is built once per test binary so that every benchmark is
// quick with -benchtime=1x. Benchmarks that mutate it leave it as they found
// it.
const (
	benchNodes      = 5000
	benchPods       = 150000
	benchNamespaces = 500
)

var (
	benchOnce    sync.Once
	benchE       *Engine
	bytesPerNode float64
	bytesPerPod  float64
)

func benchNodeName(i int) string { return fmt.Sprintf("node-%05d", i) }

func benchNode(i int) *v1.Node {
	return mkNode(benchNodeName(i),
		nodeLabels("zone", fmt.Sprintf("zone-%d", i%3), "pool", fmt.Sprintf("pool-%d", i%10),
			"kubernetes.io/hostname", benchNodeName(i)),
		capacity("cpu", "16", "memory", "64Gi", "pods", "110", "ephemeral-storage", "100Gi"),
		allocatable("cpu", "15500m", "memory", "62Gi", "pods", "110", "ephemeral-storage", "95Gi"))
}

// benchPod is a typical two-container pod: the second container has no CPU
// limit. Pods spread over nodes and namespaces so most (node, namespace)
// cells hold one pod, the worst case for cell memory.
func benchPod(i int) *v1.Pod {
	return mkPod(fmt.Sprintf("ns-%03d", i%benchNamespaces), fmt.Sprintf("app-%06d-x7k2p", i),
		onNode(benchNodeName((i*7919)%benchNodes)),
		withContainers(
			ctr("app", rl("cpu", "250m", "memory", "256Mi"), rl("cpu", "500m", "memory", "512Mi")),
			ctr("proxy", rl("cpu", "50m", "memory", "64Mi"), rl("memory", "128Mi"))),
		withRestarts(0, 1))
}

// benchEngine builds the 5,000-node 150,000-pod engine, measuring what it
// retains per node and per pod. Objects are made one at a time and dropped,
// so the heap growth is the engine's own memory.
func benchEngine() *Engine {
	benchOnce.Do(func() {
		before := fx.LiveHeap()
		e := benchEngineWithoutPods()
		afterNodes := fx.LiveHeap()
		bytesPerPod = retainedPerPod(e, benchPod)
		bytesPerNode = float64(afterNodes-before) / benchNodes // includes the 500 namespaces, a rounding error
		benchE = e
	})
	return benchE
}

// benchEngineWithoutPods is an engine with the benchmark's namespaces and
// nodes.
func benchEngineWithoutPods() *Engine {
	e := New(Options{})
	for i := range benchNamespaces {
		e.UpsertNamespace(mkNS(fmt.Sprintf("ns-%03d", i), "team", fmt.Sprintf("team-%d", i%20)))
	}
	for i := range benchNodes {
		e.UpsertNode(benchNode(i))
	}
	return e
}

// retainedPerPod adds benchPods pods made by pod to e and returns the heap
// that e retains per pod.
func retainedPerPod(e *Engine, pod func(int) *v1.Pod) float64 {
	before := fx.LiveHeap()
	for i := range benchPods {
		e.UpsertPod(pod(i))
	}
	return float64(fx.LiveHeap()-before) / benchPods
}

// distinctAmountsPerPod is the heap retained per pod when no two pods ask
// for the same amounts (benchPod with a CPU request of its own): the worst
// case for shared shapes (shapes.go), which typical pods, all of one
// shape in benchPod, do not show.
func distinctAmountsPerPod() float64 {
	e := benchEngineWithoutPods()
	perPod := retainedPerPod(e, func(i int) *v1.Pod {
		p := benchPod(i)
		p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = *resource.NewMilliQuantity(int64(100+i), resource.DecimalSI)
		return p
	})
	runtime.KeepAlive(e)
	return perPod
}

// usagePerPod is the heap an engine of benchPods pods retains per pod once
// a round of PodMetrics has given every pod its usage, over what it held
// before: what holding usage costs, measured in one engine rather than as
// the difference of two heap readings of a server doing other work. A
// pod's usage lives in its podRec, which has room for it whether or not
// usage is on, so this is the tallies' share and about zero; it is signed,
// since the heap can come out a little smaller after the round.
func usagePerPod() float64 {
	e := benchEngineWithoutPods()
	retainedPerPod(e, benchPod) // the pods; their own cost is B/pod
	round := make([]PodUse, benchPods)
	for i := range round {
		p := benchPod(i)
		round[i] = PodUse{Namespace: p.Namespace, Name: p.Name, CPU: int64(100 + i%400), Memory: int64(64+i%256) << 20}
	}
	before := fx.LiveHeap()
	e.ReplacePodUsage(round)
	perPod := (float64(fx.LiveHeap()) - float64(before)) / benchPods
	runtime.KeepAlive(round)
	runtime.KeepAlive(e)
	return perPod
}

func BenchmarkRetainedMemory(b *testing.B) {
	benchEngine()
	distinct := distinctAmountsPerPod()
	usage := usagePerPod()
	for b.Loop() {
	}
	b.ReportMetric(bytesPerNode, "B/node")
	b.ReportMetric(bytesPerPod, "B/pod")
	b.ReportMetric(distinct, "distinct-B/pod")
	b.ReportMetric(usage, "usage-B/pod")
}

// usagesOf reduces pods as the informer transform does before the engine
// sees them: the pod update benchmarks time the engine alone, and
// BenchmarkPodUsageOf the reduction.
func usagesOf(pods ...*v1.Pod) []PodUsage {
	out := make([]PodUsage, len(pods))
	for i, p := range pods {
		out[i] = PodUsageOf(p)
	}
	return out
}

// alternatePods feeds e the usage records of first and second by turns for
// as long as b loops, so that every event changes the pod (first and second
// are the same pod in two states).
func alternatePods(b *testing.B, e *Engine, first, second *v1.Pod) {
	pods := usagesOf(first, second)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.UpsertPodUsage(first.Namespace, first.Name, &pods[i&1])
		i++
	}
}

// alternateNodes upserts first and second by turns for as long as b loops
// (the same node in two states).
func alternateNodes(b *testing.B, e *Engine, first, second *v1.Node) {
	nodes := [2]*v1.Node{first, second}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.UpsertNode(nodes[i&1])
		i++
	}
}

// BenchmarkPodUsageOf: reducing a decoded pod to the record an informer
// keeps, once per pod event. It allocates the record's resource slice.
func BenchmarkPodUsageOf(b *testing.B) {
	p := benchPod(12345)
	b.ReportAllocs()
	var u PodUsage
	for b.Loop() {
		u = PodUsageOf(p)
	}
	if len(u.Resources) != 2 || u.Resources[0].Requests == 0 {
		b.Fatalf("PodUsageOf(benchPod) = %+v", u)
	}
}

// BenchmarkPodUpdateSteady: status updates that change nothing the engine
// counts (the bulk of pod events), e.g. a new resourceVersion or condition.
func BenchmarkPodUpdateSteady(b *testing.B) {
	e := benchEngine()
	p1 := benchPod(12345)
	p2 := benchPod(12345)
	p2.ResourceVersion = "2"
	p2.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
	rev := e.Revision()
	alternatePods(b, e, p1, p2)
	if e.Revision() != rev {
		b.Fatalf("steady updates changed the revision")
	}
}

// BenchmarkPodUpdatePhase: the pod flips between Running and Pending, so
// every event moves counts in four tallies, bumps the revision and records
// two changes.
func BenchmarkPodUpdatePhase(b *testing.B) {
	e := benchEngine()
	running := benchPod(23456)
	pending := benchPod(23456)
	pending.Status.Phase = v1.PodPending
	alternatePods(b, e, pending, running)
	e.UpsertPod(running)
}

// BenchmarkPodUpdateRestart: a container restart (restartCount changes) is a
// counted change like a phase change.
func BenchmarkPodUpdateRestart(b *testing.B) {
	e := benchEngine()
	a := benchPod(34567)
	c := benchPod(34567)
	c.Status.ContainerStatuses[1].RestartCount = 2
	alternatePods(b, e, c, a)
	e.UpsertPod(a)
}

// benchPool returns fresh pods, not in the engine, bound to existing nodes.
func benchPool(prefix string, n int) []*v1.Pod {
	pool := make([]*v1.Pod, n)
	for i := range pool {
		p := benchPod(i)
		p.Name = fmt.Sprintf("%s-%06d", prefix, i)
		pool[i] = p
	}
	return pool
}

const benchPoolSize = 4096

func BenchmarkPodAdd(b *testing.B) {
	e := benchEngine()
	pool := benchPool("bench-add", benchPoolSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(pool) == 0 {
			b.StopTimer()
			for _, p := range pool {
				e.DeletePod(p.Namespace, p.Name)
			}
			b.StartTimer()
		}
		e.UpsertPod(pool[i%len(pool)])
	}
	b.StopTimer()
	for _, p := range pool {
		e.DeletePod(p.Namespace, p.Name)
	}
}

func BenchmarkPodDelete(b *testing.B) {
	e := benchEngine()
	pool := benchPool("bench-del", benchPoolSize)
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		if i%len(pool) == 0 {
			for _, p := range pool[:min(len(pool), b.N-i)] {
				e.UpsertPod(p)
			}
			b.StartTimer()
		}
		p := pool[i%len(pool)]
		e.DeletePod(p.Namespace, p.Name)
		if (i+1)%len(pool) == 0 {
			b.StopTimer()
		}
	}
}

// BenchmarkNodeUpdateSteady: a node status update with nothing counted
// changed (heartbeats once the transform has dropped their timestamps).
func BenchmarkNodeUpdateSteady(b *testing.B) {
	e := benchEngine()
	n1 := benchNode(777)
	n2 := benchNode(777)
	n2.ResourceVersion = "2"
	alternateNodes(b, e, n1, n2)
}

// BenchmarkNodeUpdateReady: the node flips Ready/NotReady.
func BenchmarkNodeUpdateReady(b *testing.B) {
	e := benchEngine()
	ready := benchNode(778)
	down := benchNode(778)
	setCondition(down, v1.NodeReady, v1.ConditionFalse)
	alternateNodes(b, e, down, ready)
	e.UpsertNode(ready)
}

// BenchmarkNodeUpdateLabels: a label change, which moves the node's whole
// contribution between selections and groups.
func BenchmarkNodeUpdateLabels(b *testing.B) {
	e := benchEngine()
	a := benchNode(779)
	c := benchNode(779)
	c.Labels["zone"] = "zone-moved"
	alternateNodes(b, e, c, a)
	e.UpsertNode(a)
}

func BenchmarkCluster(b *testing.B) {
	e := benchEngine()
	cases := []struct {
		name string
		sel  Selection
	}{
		{"all", Selection{}},
		{"all-grouped", Selection{GroupByNodeLabel: "zone"}},
		{"nodeSelector", Selection{NodeSelector: sel("zone=zone-1")}},
		{"namespaceSelector", Selection{NamespaceSelector: sel("team=team-3")}},
		{"bothSelectors", Selection{NodeSelector: sel("zone=zone-1"), NamespaceSelector: sel("team=team-3")}},
		{"bothSelectors-grouped", Selection{NodeSelector: sel("zone in (zone-1,zone-2)"), NamespaceSelector: sel("team in (team-3,team-4)"), GroupByNodeLabel: "pool"}},
		// Selectors that leave out a small share, as most of the bench's
		// 100 summaries have: most cells are selected.
		{"broadSelectors", Selection{NodeSelector: sel("zone notin (zone-1)"), NamespaceSelector: sel("team notin (team-3)")}},
		{"broadSelectors-grouped", Selection{NodeSelector: sel("zone notin (zone-1)"), NamespaceSelector: sel("team notin (team-3)"), GroupByNodeLabel: "pool"}},
		{"broadNamespaceSelector-grouped", Selection{NamespaceSelector: sel("team notin (team-3)"), GroupByNodeLabel: "zone"}},
		// What a status write of a summary with the most shapes allowed costs.
		{"headroom-8-shapes", Selection{Headroom: benchShapes()}},
		{"headroom-8-shapes-grouped", Selection{Headroom: benchShapes(), GroupByNodeLabel: "zone"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = e.Cluster(c.sel)
			}
		})
	}
}

// benchShapes are eight pod shapes, as many as a ClusterSummary may list:
// two with a node selector, two with tolerations, one with an extended
// resource no bench node has.
func benchShapes() []Shape {
	tolerate := []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists}, {Key: "spot", Operator: v1.TolerationOpExists}}
	return []Shape{
		{Name: "tiny", Requests: rl("cpu", "10m", "memory", "16Mi")},
		{Name: "small", Requests: rl("cpu", "250m", "memory", "256Mi")},
		{Name: "medium", Requests: rl("cpu", "1", "memory", "2Gi")},
		{Name: "large", Requests: rl("cpu", "4", "memory", "16Gi", "ephemeral-storage", "10Gi")},
		{Name: "zonal", Requests: rl("cpu", "500m", "memory", "1Gi"), NodeSelector: sel("zone=zone-1")},
		{Name: "pooled", Requests: rl("cpu", "2", "memory", "4Gi"), NodeSelector: sel("pool in (pool-1,pool-2)")},
		{Name: "tolerant", Requests: rl("cpu", "500m", "memory", "512Mi"), Tolerations: tolerate},
		{Name: "gpu", Requests: rl("cpu", "1", "memory", "4Gi", "nvidia.com/gpu", "1"), Tolerations: tolerate},
	}
}

func BenchmarkNode(b *testing.B) {
	e := benchEngine()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.Node("node-01234"); !ok {
			b.Fatal("node missing")
		}
	}
}

func BenchmarkNamespace(b *testing.B) {
	e := benchEngine()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.Namespace("ns-123"); !ok {
			b.Fatal("namespace missing")
		}
	}
}

// BenchmarkReplaceUsage is one usage round over the large engine:
// "changed" gives every pod and node a new usage, "same" repeats the
// previous round. Meanwhile a reader gets one node summary after another;
// max-read-wait-ms is the longest of those reads, which is how long a round
// can stall a read holding the write lock.
func BenchmarkReplaceUsage(b *testing.B) {
	e := benchEngine()
	round := func(n int) ([]NodeUse, []PodUse) {
		nodes := make([]NodeUse, benchNodes)
		for i := range nodes {
			nodes[i] = NodeUse{Name: benchNodeName(i), CPU: int64(1000 + n), Memory: 1 << 30}
		}
		pods := make([]PodUse, benchPods)
		for i := range pods {
			pods[i] = PodUse{Namespace: fmt.Sprintf("ns-%03d", i%benchNamespaces), Name: fmt.Sprintf("app-%06d-x7k2p", i), CPU: int64(100 + n), Memory: 1 << 26}
		}
		// As the metrics API lists them: by namespace, then name.
		slices.SortFunc(pods, func(a, b PodUse) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		return nodes, pods
	}
	defer e.ClearUsage()
	run := func(b *testing.B, rounds [][]PodUse, nodes [][]NodeUse) {
		stop := make(chan struct{})
		longest := make(chan time.Duration)
		go func() {
			var worst time.Duration
			for {
				select {
				case <-stop:
					longest <- worst
					return
				default:
				}
				start := time.Now()
				e.NodeAt(benchNodeName(1))
				worst = max(worst, time.Since(start))
			}
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e.ReplaceUsage(nodes[i%len(nodes)], rounds[i%len(rounds)])
		}
		b.StopTimer()
		close(stop)
		b.ReportMetric(float64(<-longest)/float64(time.Millisecond), "max-read-wait-ms")
	}
	n0, p0 := round(0)
	n1, p1 := round(1)
	b.Run("changed", func(b *testing.B) { run(b, [][]PodUse{p0, p1}, [][]NodeUse{n0, n1}) })
	b.Run("same", func(b *testing.B) {
		e.ReplaceUsage(n0, p0)
		run(b, [][]PodUse{p0}, [][]NodeUse{n0})
	})
}
