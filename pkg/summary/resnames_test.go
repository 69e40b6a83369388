package summary

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

// The size issue #12 names: 4,000 fresh resource names in 400 pods on one
// node of a 2,500-node cluster.
const (
	hostileNodes       = 2500
	hostilePods        = 400
	hostileNamesPerPod = 10
)

func hostileCluster() *Engine {
	e := New(Options{})
	for i := range hostileNodes {
		e.UpsertNode(mkNode(fmt.Sprintf("n%04d", i), capacity("cpu", "8", "memory", "32Gi", "pods", "110"), allocatable("cpu", "8", "memory", "32Gi", "pods", "110")))
	}
	return e
}

// hostilePod requests ten names no node advertises, fresh for each pod.
func hostilePod(i int) *v1.Pod {
	req := v1.ResourceList{v1.ResourceCPU: resource.MustParse("10m")}
	for j := range hostileNamesPerPod {
		req[v1.ResourceName(fmt.Sprintf("hostile.example.com/r%d-%d", i, j))] = resource.MustParse("1")
	}
	return mkPod("attacker", fmt.Sprintf("p%03d", i), onNode("n0000"), inPhase(v1.PodRunning), withContainers(ctr("c", req, req)))
}

// TestHostileResourceNamesCostNothingOnceGone feeds the size of
// invented names and checks the engine's own measures of cost: the names
// tracked (the length of every tally vector, walked by every read), the
// rows a node read returns, and the holder index, during the attack and
// after the pods are deleted. Time and memory are in
// BenchmarkHostileResourceNames.
func TestHostileResourceNamesCostNothingOnceGone(t *testing.T) {
	e := hostileCluster()
	before, _ := e.Node("n0000")
	tracked := e.TrackedResources()
	for i := range hostilePods {
		e.UpsertPod(hostilePod(i))
	}
	if got := e.TrackedResources(); got != tracked {
		t.Errorf("tracked names grew from %d to %d: invented names reach every read", tracked, got)
	}
	if got, want := e.UntrackedResources(), (UntrackedResources{Names: hostilePods * hostileNamesPerPod, Pods: hostilePods}); got != want {
		t.Errorf("UntrackedResources = %+v, want %+v", got, want)
	}
	during, _ := e.Node("n0000")
	if len(during.Resources) > int(numStandardRes) {
		t.Errorf("node read has %d rows during the attack (%d before): %+v", len(during.Resources), len(before.Resources), during.Resources)
	}
	if got := during.Pods.Total; got != hostilePods {
		t.Errorf("node counts %d pods, want %d: untracked names must not hide the pods", got, hostilePods)
	}
	if cpu := rowOf(during.Resources, v1.ResourceCPU); cpu.Requests != hostilePods*10 {
		t.Errorf("cpu requests = %d, want %d", cpu.Requests, hostilePods*10)
	}
	if n := len(e.bound.res); n > int(numStandardRes) {
		t.Errorf("cluster tally vector has %d entries, want at most %d", n, numStandardRes)
	}

	for i := range hostilePods {
		e.DeletePod("attacker", fmt.Sprintf("p%03d", i))
	}
	if got := e.UntrackedResources(); got != (UntrackedResources{}) {
		t.Errorf("after deleting the pods UntrackedResources = %+v, want none", got)
	}
	if len(e.holders) != 0 || e.untrackedPods != 0 || len(e.res.ids) != tracked {
		t.Errorf("after deleting the pods: %d holder names, %d untracked pods, %d tracked names (want 0, 0, %d)", len(e.holders), e.untrackedPods, len(e.res.ids), tracked)
	}
	checkShapeRefs(t, e, "after deleting the pods")
	for _, s := range e.shapes.byKey {
		if len(s.untracked) > 0 {
			t.Errorf("after deleting the pods a shape with untracked names is kept: %+v", s.untracked)
		}
	}
}

// TestResourceNamesFollowNodesAndSpecs checks the transitions: a pod's
// amount of a name moves into the tallies when a node starts advertising
// it or a spec names it, and out, with the id released and reused, when
// the last of them stops.
func TestResourceNamesFollowNodesAndSpecs(t *testing.T) {
	e := New(Options{})
	gpu := v1.ResourceName("example.com/gpu")
	e.UpsertNode(mkNode("n1", allocatable("cpu", "4")))
	e.UpsertPod(mkPod("team", "p", onNode("n1"), inPhase(v1.PodRunning), withContainers(ctr("c", rl("cpu", "1", "example.com/gpu", "2"), rl("example.com/gpu", "2")))))
	gpuRow := func() ResourceTotals {
		t.Helper()
		n, _ := e.Node("n1")
		return rowOf(n.Resources, gpu)
	}
	if r := gpuRow(); r.Requests != 0 {
		t.Errorf("untracked gpu counted: %+v", r)
	}
	if u := e.UntrackedResources(); u != (UntrackedResources{Names: 1, Pods: 1}) {
		t.Errorf("UntrackedResources = %+v, want 1 name in 1 pod", u)
	}

	// A node advertises it: the pod's 2 count, on n1 and in the cluster.
	e.UpsertNode(mkNode("n2", allocatable("cpu", "4", "example.com/gpu", "8")))
	if r := gpuRow(); r.Requests != 2 || r.Limits != 2 {
		t.Errorf("advertised gpu: node row %+v, want requests and limits 2", r)
	}
	if c := e.Cluster(Selection{Resources: []v1.ResourceName{gpu}}); c.Resources[0].Requests != 2 || c.Resources[0].Allocatable != 8 {
		t.Errorf("cluster gpu = %+v, want requests 2 of 8", c.Resources[0])
	}
	if u := e.UntrackedResources(); u != (UntrackedResources{}) {
		t.Errorf("UntrackedResources = %+v once advertised", u)
	}

	// A spec names it too; the node stops advertising: still counted.
	e.SetSummaryResources("gpus", []v1.ResourceName{gpu, v1.ResourceCPU})
	e.UpsertNode(mkNode("n2", allocatable("cpu", "4")))
	if r := gpuRow(); r.Requests != 2 {
		t.Errorf("named by a spec: gpu row %+v, want requests 2", r)
	}
	// The spec stops naming it: untracked again, id released.
	e.SetSummaryResources("gpus", nil)
	if r := gpuRow(); r != (ResourceTotals{Name: gpu}) {
		t.Errorf("neither advertised nor named: gpu row %+v, want none", r)
	}
	if _, ok := e.res.ids[gpu]; ok || e.TrackedResources() != int(numStandardRes) {
		t.Errorf("gpu still tracked (%d names)", e.TrackedResources())
	}
	// A new name reuses the released id, and starts from zero.
	e.UpsertNode(mkNode("n3", allocatable("example.com/fpga", "1")))
	if c := e.Cluster(Selection{Resources: []v1.ResourceName{"example.com/fpga"}}); c.Resources[0].Requests != 0 || c.Resources[0].Allocatable != 1 {
		t.Errorf("fpga on a reused id = %+v, want allocatable 1 and nothing requested", c.Resources[0])
	}
	if len(e.res.names) != int(numStandardRes)+1 {
		t.Errorf("resource table has %d slots, want %d: released ids are reused", len(e.res.names), numStandardRes+1)
	}
	e.DeletePod("team", "p")
	if len(e.holders) != 0 || e.untrackedPods != 0 {
		t.Errorf("after the pod is gone: %d holder names, %d untracked pods", len(e.holders), e.untrackedPods)
	}
}

func rowOf(rows []ResourceTotals, name v1.ResourceName) ResourceTotals {
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	return ResourceTotals{Name: name}
}

// BenchmarkHostileResourceNames measures what issue #12 asks at its size:
// the time to list every node summary and the process RSS, before 4,000
// invented names arrive in 400 pods on one node of 2,500 and after those
// pods are deleted. It reports list-before-ns, list-after-ns, their ratio
// and the RSS growth in MiB; the answer checks are in
// TestHostileResourceNamesCostNothingOnceGone.
func BenchmarkHostileResourceNames(b *testing.B) {
	e := hostileCluster()
	list := func() time.Duration {
		const rounds = 20
		start := time.Now()
		for range rounds {
			_ = e.ListNodes(labels.Everything())
		}
		return time.Since(start) / rounds
	}
	runtime.GC()
	rssBefore := rssBytes(b)
	listBefore := list()
	b.ResetTimer()
	for range b.N {
		for i := range hostilePods {
			e.UpsertPod(hostilePod(i))
		}
		for i := range hostilePods {
			e.DeletePod("attacker", fmt.Sprintf("p%03d", i))
		}
	}
	b.StopTimer()
	runtime.GC()
	listAfter := list()
	b.ReportMetric(float64(listBefore.Nanoseconds()), "list-before-ns")
	b.ReportMetric(float64(listAfter.Nanoseconds()), "list-after-ns")
	b.ReportMetric(float64(listAfter)/float64(listBefore), "list-ratio")
	b.ReportMetric(float64(rssBytes(b)-rssBefore)/(1<<20), "rss-growth-MiB")
}

// rssBytes reads the process's resident set size from /proc.
func rssBytes(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	fields := strings.Fields(string(raw))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}
