package summary

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// TestPodsShareShapes checks that pods asking for the same amounts share one
// shape, that a pod whose amounts change moves to another, and that a shape
// goes with its last pod, so that sharing never keeps what no pod holds.
func TestPodsShareShapes(t *testing.T) {
	e := New(Options{})
	small := func(ns, name string) *v1.Pod {
		return mkPod(ns, name, onNode("n1"), withContainers(ctr("a", rl("cpu", "100m", "memory", "64Mi"), nil)))
	}
	for i := range 50 {
		e.UpsertPod(small(fmt.Sprintf("ns-%d", i%5), fmt.Sprintf("p%02d", i)))
	}
	if n := len(e.shapes.byKey); n != 1 {
		t.Fatalf("50 pods of one shape are kept in %d shapes, want 1", n)
	}
	checkShapeRefs(t, e, "50 alike")

	big := mkPod("ns-0", "p00", onNode("n1"), withContainers(ctr("a", rl("cpu", "2", "memory", "64Mi"), nil)))
	e.UpsertPod(big)
	if n := len(e.shapes.byKey); n != 2 {
		t.Errorf("after one pod changed its amounts there are %d shapes, want 2", n)
	}
	checkShapeRefs(t, e, "one resized")
	if cpu := resRow(e.Cluster(Selection{}).Resources, v1.ResourceCPU); cpu.Requests != 49*100+2000 {
		t.Errorf("cluster cpu requests = %d, want %d", cpu.Requests, 49*100+2000)
	}

	e.DeletePod("ns-0", "p00")
	if n := len(e.shapes.byKey); n != 1 {
		t.Errorf("after the only pod of a shape was deleted there are %d shapes, want 1", n)
	}
	for i := 1; i < 50; i++ {
		e.DeletePod(fmt.Sprintf("ns-%d", i%5), fmt.Sprintf("p%02d", i))
	}
	if n := len(e.shapes.byKey); n != 0 {
		t.Errorf("after every pod was deleted there are %d shapes, want 0", n)
	}
}
