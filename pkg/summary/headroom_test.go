package summary

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

func tainted(taints ...v1.Taint) nodeOpt {
	return func(n *v1.Node) { n.Spec.Taints = append(n.Spec.Taints, taints...) }
}

func taint(key, value string, effect v1.TaintEffect) v1.Taint {
	return v1.Taint{Key: key, Value: value, Effect: effect}
}

// headroomFixture is a small cluster with one node per case the headroom
// rules distinguish. Every node is in zone a or b.
func headroomFixture() *Engine {
	e := New(Options{})
	for _, n := range []*v1.Node{
		// 4 cpu, 8Gi, 10 pods; one pod requests 1 cpu and 1Gi.
		mkNode("roomy", nodeLabels("zone", "a"), allocatable("cpu", "4", "memory", "8Gi", "pods", "10")),
		// Plenty of cpu and memory but 3 pod slots, two taken.
		mkNode("slots", nodeLabels("zone", "a"), allocatable("cpu", "8", "memory", "16Gi", "pods", "3")),
		mkNode("cordoned", nodeLabels("zone", "a"), cordoned(), allocatable("cpu", "8", "memory", "16Gi", "pods", "10")),
		mkNode("down", nodeLabels("zone", "b"), notReady(), allocatable("cpu", "8", "memory", "16Gi", "pods", "10")),
		// GPUs behind a NoSchedule taint.
		mkNode("gpu", nodeLabels("zone", "b", "accel", "gpu"), tainted(taint("dedicated", "gpu", v1.TaintEffectNoSchedule)),
			allocatable("cpu", "2", "memory", "16Gi", "pods", "10", "example.com/gpu", "4")),
		// PreferNoSchedule does not keep pods off.
		mkNode("soft", nodeLabels("zone", "b"), tainted(taint("spot", "", v1.TaintEffectPreferNoSchedule)),
			allocatable("cpu", "1", "memory", "1Gi", "pods", "10")),
		// Its pods request more cpu than it has.
		mkNode("over", nodeLabels("zone", "b"), allocatable("cpu", "1", "memory", "4Gi", "pods", "10")),
		// NoExecute taint.
		mkNode("draining", nodeLabels("zone", "b"), tainted(taint("maintenance", "", v1.TaintEffectNoExecute)),
			allocatable("cpu", "8", "memory", "16Gi", "pods", "10")),
	} {
		e.UpsertNode(n)
	}
	req := func(cpu, mem string) podOpt { return withContainers(ctr("c", rl("cpu", cpu, "memory", mem), nil)) }
	e.UpsertPod(mkPod("ns", "r1", onNode("roomy"), req("1", "1Gi")))
	e.UpsertPod(mkPod("ns", "s1", onNode("slots")))
	e.UpsertPod(mkPod("ns", "s2", onNode("slots"), inPhase(v1.PodPending)))
	e.UpsertPod(mkPod("ns", "s3", onNode("slots"), inPhase(v1.PodSucceeded), req("7", "15Gi"))) // finished: holds nothing
	e.UpsertPod(mkPod("ns", "o1", onNode("over"), req("2", "1Gi")))
	e.UpsertPod(mkPod("ns", "unbound", inPhase(v1.PodPending), req("1", "1Gi"))) // counts for no node
	e.UpsertPod(mkPod("ns", "g1", onNode("gpu"), withContainers(ctr("c", rl("cpu", "500m", "example.com/gpu", "1"), nil))))
	return e
}

func TestHeadroomExact(t *testing.T) {
	e := headroomFixture()
	small := Shape{Name: "small", Requests: rl("cpu", "500m", "memory", "1Gi")}
	gpu := Shape{Name: "gpu", Requests: rl("cpu", "500m", "example.com/gpu", "1"),
		Tolerations: []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "gpu", Effect: v1.TaintEffectNoSchedule}}}
	anywhere := Shape{Name: "anywhere", Requests: rl("memory", "2Gi"),
		Tolerations: []v1.Toleration{{Operator: v1.TolerationOpExists}}}
	pinned := Shape{Name: "pinned", Requests: rl("cpu", "100m"), NodeSelector: sel("zone=a")}
	unknownRes := Shape{Name: "fpga", Requests: rl("example.com/fpga", "1", "cpu", "0")}

	got := e.Cluster(Selection{Headroom: []Shape{small, gpu, anywhere, pinned, unknownRes}, GroupByNodeLabel: "zone"})

	// small: roomy min(3000/500, 7Gi/1Gi, 9) = 6 (cpu); slots min(16, 16, 1) = 1 (pods);
	// soft min(2, 1, 10) = 1 (memory); over: cpu free 0 -> 0 (cpu). cordoned, down, gpu,
	// draining: 0 and not counted for limitedBy. cpu limits roomy and over: 2 nodes.
	wantSmall := Headroom{Name: "small", Fits: 8, LimitedBy: "cpu",
		LargestFit: []ResourceFigure{{"cpu", 8000}, {"memory", 16 * gi}}}
	// gpu: only the gpu node has any: min(1500/500, 3, 9) = 3 (cpu and gpu);
	// the untainted nodes admit the shape but have no gpu (0, gpu; "over"
	// also cpu): gpu limits 5 nodes, cpu 2. Only other nodes where cpu fits
	// offer their free gpus (0) as a largest fit.
	wantGPU := Headroom{Name: "gpu", Fits: 3, LimitedBy: "example.com/gpu",
		LargestFit: []ResourceFigure{{"cpu", 1500}, {"example.com/gpu", 3}}}
	// anywhere tolerates every taint, including the cordon taint, but not
	// a node that is not Ready: roomy 3 (7Gi/2Gi), slots 1 (pods),
	// cordoned 8, gpu 8, soft 0 (1Gi/2Gi), over 1 (3Gi/2Gi), draining 8.
	wantAnywhere := Headroom{Name: "anywhere", Fits: 29, LimitedBy: "memory",
		LargestFit: []ResourceFigure{{"memory", 16 * gi}}}
	// pinned: zone a only: roomy min(30, 9) = 9 (pods), slots 1 (pods).
	wantPinned := Headroom{Name: "pinned", Fits: 10, LimitedBy: "pods",
		LargestFit: []ResourceFigure{{"cpu", 8000}}}
	// fpga: no node has any; the zero cpu request is ignored.
	wantFPGA := Headroom{Name: "fpga", Fits: 0, LimitedBy: "example.com/fpga",
		LargestFit: []ResourceFigure{{"example.com/fpga", 0}}}
	if diff := cmp.Diff([]Headroom{wantSmall, wantGPU, wantAnywhere, wantPinned, wantFPGA}, got.Headroom); diff != "" {
		t.Errorf("cluster headroom (-want +got):\n%s", diff)
	}

	if len(got.Groups) != 2 {
		t.Fatalf("groups = %+v, want a and b", got.Groups)
	}
	wantA := []Headroom{
		{Name: "small", Fits: 7, LimitedBy: "cpu", LargestFit: []ResourceFigure{{"cpu", 8000}, {"memory", 16 * gi}}}, // roomy cpu, slots pods: tie, cpu sorts first
		{Name: "gpu", LimitedBy: "example.com/gpu", LargestFit: []ResourceFigure{{"cpu", 0}, {"example.com/gpu", 0}}},
		{Name: "anywhere", Fits: 12, LimitedBy: "memory", LargestFit: []ResourceFigure{{"memory", 16 * gi}}},
		{Name: "pinned", Fits: 10, LimitedBy: "pods", LargestFit: []ResourceFigure{{"cpu", 8000}}},
		{Name: "fpga", LimitedBy: "example.com/fpga", LargestFit: []ResourceFigure{{"example.com/fpga", 0}}},
	}
	wantB := []Headroom{
		// soft memory, over cpu: a tie. over has no cpu free, so its memory is no fit.
		{Name: "small", Fits: 1, LimitedBy: "cpu", LargestFit: []ResourceFigure{{"cpu", 1000}, {"memory", gi}}},
		wantGPU,
		{Name: "anywhere", Fits: 17, LimitedBy: "memory", LargestFit: []ResourceFigure{{"memory", 16 * gi}}},
		{Name: "pinned", LargestFit: []ResourceFigure{{"cpu", 0}}},
		{Name: "fpga", LimitedBy: "example.com/fpga", LargestFit: []ResourceFigure{{"example.com/fpga", 0}}},
	}
	if diff := cmp.Diff(wantA, got.Groups[0].Headroom); diff != "" {
		t.Errorf("zone a headroom (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantB, got.Groups[1].Headroom); diff != "" {
		t.Errorf("zone b headroom (-want +got):\n%s", diff)
	}

	// A namespace selector does not change headroom: the scheduler counts
	// every pod on a node.
	onlyOther := e.Cluster(Selection{Headroom: []Shape{small}, NamespaceSelector: sel("team=none")})
	if diff := cmp.Diff([]Headroom{wantSmall}, onlyOther.Headroom); diff != "" {
		t.Errorf("headroom with a namespace selector (-want +got):\n%s", diff)
	}
	// A node selector does.
	zoneB := e.Cluster(Selection{Headroom: []Shape{small}, NodeSelector: sel("zone=b")})
	if diff := cmp.Diff(wantB[:1], zoneB.Headroom); diff != "" {
		t.Errorf("headroom of zone b (-want +got):\n%s", diff)
	}
}

func TestHeadroomFollowsChanges(t *testing.T) {
	e := headroomFixture()
	small := Shape{Name: "small", Requests: rl("cpu", "500m", "memory", "1Gi")}
	fits := func() int64 { return e.Cluster(Selection{Headroom: []Shape{small}}).Headroom[0].Fits }
	if got := fits(); got != 8 {
		t.Fatalf("fits = %d, want 8", got)
	}
	// Uncordoning adds min(16, 16, 10) = 10.
	e.UpsertNode(mkNode("cordoned", nodeLabels("zone", "a"), allocatable("cpu", "8", "memory", "16Gi", "pods", "10")))
	if got := fits(); got != 18 {
		t.Errorf("after uncordon fits = %d, want 18", got)
	}
	// Lifting the NoExecute taint adds 10 more; its revision moves so the
	// status controller recomputes.
	rev := e.Revision()
	e.UpsertNode(mkNode("draining", nodeLabels("zone", "b"), allocatable("cpu", "8", "memory", "16Gi", "pods", "10")))
	if got := fits(); got != 28 {
		t.Errorf("after untaint fits = %d, want 28", got)
	}
	if e.Revision() == rev {
		t.Error("a taint change did not move the revision")
	}
	// Filling the last pod slot of "slots" takes its 1; a finished pod
	// frees it again.
	e.UpsertPod(mkPod("ns", "s4", onNode("slots")))
	if got := fits(); got != 27 {
		t.Errorf("after filling slots fits = %d, want 27", got)
	}
	e.UpsertPod(mkPod("ns", "s4", onNode("slots"), inPhase(v1.PodFailed)))
	if got := fits(); got != 28 {
		t.Errorf("after s4 failed fits = %d, want 28", got)
	}
	// Deleting the node takes its share away.
	e.DeleteNode("roomy")
	if got := fits(); got != 22 {
		t.Errorf("after deleting roomy fits = %d, want 22", got)
	}
}

// TestHeadroomAgainstPlacement compares Cluster's headroom with placing pods
// of the shape one at a time on random clusters, node by node, with plain
// ResourceList arithmetic and the scheduler's rules written out again.
func TestHeadroomAgainstPlacement(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 15))
			nodes, pods := randomHeadroomCluster(rng)
			e := New(Options{})
			for _, n := range nodes {
				e.UpsertNode(n)
			}
			for _, p := range pods {
				e.UpsertPod(p)
			}
			shapes := make([]Shape, 1+rng.IntN(8))
			for i := range shapes {
				shapes[i] = randomShape(rng, i)
			}
			var nodeSel labels.Selector
			if rng.IntN(3) == 0 {
				nodeSel = sel("pool=p0")
			}
			got := e.Cluster(Selection{Headroom: shapes, NodeSelector: nodeSel, GroupByNodeLabel: "zone"})
			for i, s := range shapes {
				want, wantLargest := placeAll(nodes, pods, s, func(n *v1.Node) bool { return nodeSel == nil || nodeSel.Matches(labels.Set(n.Labels)) })
				if got.Headroom[i].Fits != want {
					t.Errorf("shape %d %v: fits %d, placement placed %d", i, s.Requests, got.Headroom[i].Fits, want)
				}
				if diff := cmp.Diff(wantLargest, got.Headroom[i].LargestFit); diff != "" {
					t.Errorf("shape %d largestFit (-placement +engine):\n%s", i, diff)
				}
				for _, g := range got.Groups {
					want, _ := placeAll(nodes, pods, s, func(n *v1.Node) bool {
						zone, ok := n.Labels["zone"]
						if !ok {
							zone = NoGroupValue
						}
						return (nodeSel == nil || nodeSel.Matches(labels.Set(n.Labels))) && zone == g.Value
					})
					if g.Headroom[i].Fits != want {
						t.Errorf("group %s shape %d: fits %d, placement placed %d", g.Value, i, g.Headroom[i].Fits, want)
					}
				}
			}
		})
	}
}

var headroomTaints = []v1.Taint{
	{Key: "dedicated", Value: "gpu", Effect: v1.TaintEffectNoSchedule},
	{Key: "dedicated", Value: "db", Effect: v1.TaintEffectNoSchedule},
	{Key: "maintenance", Effect: v1.TaintEffectNoExecute},
	{Key: "spot", Effect: v1.TaintEffectPreferNoSchedule},
}

func randomHeadroomCluster(rng *rand.Rand) ([]*v1.Node, []*v1.Pod) {
	var nodes []*v1.Node
	var pods []*v1.Pod
	for i := range 1 + rng.IntN(12) {
		name := fmt.Sprintf("n%d", i)
		opts := []nodeOpt{
			nodeLabels("zone", fmt.Sprintf("z%d", rng.IntN(3)), "pool", fmt.Sprintf("p%d", rng.IntN(2))),
			allocatable("cpu", fmt.Sprintf("%dm", rng.IntN(8000)), "memory", fmt.Sprintf("%dMi", rng.IntN(16384)),
				"pods", fmt.Sprint(rng.IntN(12)), "example.com/gpu", fmt.Sprint(rng.IntN(3))),
		}
		if rng.IntN(2) == 0 {
			opts[0] = nodeLabels("pool", "p0") // no zone: the <none> group
		}
		if rng.IntN(6) == 0 {
			opts = append(opts, notReady())
		}
		if rng.IntN(6) == 0 {
			opts = append(opts, cordoned())
		}
		for _, t := range headroomTaints {
			if rng.IntN(5) == 0 {
				opts = append(opts, tainted(t))
			}
		}
		nodes = append(nodes, mkNode(name, opts...))
		for j := range rng.IntN(8) {
			phases := []v1.PodPhase{v1.PodRunning, v1.PodPending, v1.PodSucceeded, v1.PodFailed, v1.PodUnknown}
			req := rl("cpu", fmt.Sprintf("%dm", rng.IntN(3000)), "memory", fmt.Sprintf("%dMi", rng.IntN(4096)))
			if rng.IntN(4) == 0 {
				req["example.com/gpu"] = resource.MustParse("1")
			}
			pods = append(pods, mkPod("ns", fmt.Sprintf("%s-p%d", name, j), onNode(name),
				inPhase(phases[rng.IntN(len(phases))]), withContainers(ctr("c", req, nil))))
		}
	}
	return nodes, pods
}

func randomShape(rng *rand.Rand, i int) Shape {
	s := Shape{Name: fmt.Sprintf("s%d", i), Requests: v1.ResourceList{}}
	for len(s.Requests) == 0 {
		if rng.IntN(3) != 0 {
			s.Requests["cpu"] = resource.MustParse(fmt.Sprintf("%dm", 1+rng.IntN(2000)))
		}
		if rng.IntN(3) != 0 {
			s.Requests["memory"] = resource.MustParse(fmt.Sprintf("%dMi", 1+rng.IntN(3000)))
		}
		if rng.IntN(4) == 0 {
			s.Requests["example.com/gpu"] = resource.MustParse("1")
		}
	}
	for _, tol := range []v1.Toleration{
		{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "gpu"},
		{Key: "dedicated", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule},
		{Key: "maintenance", Operator: v1.TolerationOpExists},
		{Key: v1.TaintNodeUnschedulable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule},
	} {
		if rng.IntN(4) == 0 {
			s.Tolerations = append(s.Tolerations, tol)
		}
	}
	if rng.IntN(4) == 0 {
		s.NodeSelector = sel("zone=z1")
	}
	return s
}

// placeAll places pods of the shape one at a time on every node keep and
// the shape's selector admit, while the scheduler would still admit one, and
// returns how many it placed and, per requested resource, the most free on
// one such node with a free pod slot and room for the other requests.
func placeAll(nodes []*v1.Node, pods []*v1.Pod, s Shape, keep func(*v1.Node) bool) (int64, []ResourceFigure) {
	var placed int64
	largest := map[v1.ResourceName]resource.Quantity{}
	for name, q := range s.Requests {
		if !q.IsZero() {
			largest[name] = resource.Quantity{}
		}
	}
	for _, n := range nodes {
		if !keep(n) || !admits(n, s) {
			continue
		}
		free := n.Status.Allocatable.DeepCopy()
		slots := free.Pods().Value()
		for _, p := range pods {
			if p.Spec.NodeName != n.Name || p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
				continue
			}
			slots--
			for name, q := range p.Spec.Containers[0].Resources.Requests {
				f := free[name]
				f.Sub(q)
				free[name] = f
			}
		}
		if slots > 0 {
			for name, best := range largest {
				others := s.Requests.DeepCopy()
				delete(others, name)
				if f := free[name]; fitsOnce(free, others) && f.Cmp(best) > 0 {
					largest[name] = f
				}
			}
		}
		for slots > 0 && fitsOnce(free, s.Requests) {
			for name, q := range s.Requests {
				f := free[name]
				f.Sub(q)
				free[name] = f
			}
			slots--
			placed++
		}
	}
	var out []ResourceFigure
	for name, q := range largest {
		out = append(out, ResourceFigure{Name: name, Value: amount(name, &q)})
	}
	sortFigures(out)
	return placed, out
}

func sortFigures(f []ResourceFigure) {
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j].Name < f[j-1].Name; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
}

func fitsOnce(free, req v1.ResourceList) bool {
	for name, q := range req {
		if f := free[name]; !q.IsZero() && f.Cmp(q) < 0 {
			return false
		}
	}
	return true
}

// admits writes out the scheduler's non-resource filters headroom models:
// Ready, NodeUnschedulable, TaintToleration (NoSchedule and NoExecute), and
// the shape's node selector.
func admits(n *v1.Node, s Shape) bool {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return false
	}
	matches := func(t v1.Taint) bool {
		for _, tol := range s.Tolerations {
			if (tol.Effect == "" || tol.Effect == t.Effect) &&
				(tol.Key == "" || tol.Key == t.Key) &&
				(tol.Operator == v1.TolerationOpExists || tol.Value == t.Value) {
				return true
			}
		}
		return false
	}
	if n.Spec.Unschedulable && !matches(v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}) {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect != v1.TaintEffectPreferNoSchedule && !matches(t) {
			return false
		}
	}
	return s.NodeSelector == nil || s.NodeSelector.Matches(labels.Set(n.Labels))
}
