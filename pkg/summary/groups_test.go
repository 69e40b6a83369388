package summary

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

// groupsFixture has zone a with 3 nodes, zone b with 2, zones c and d with
// one each, and one node without a zone; every node has 1 cpu and runs one
// pod requesting 100m.
func groupsFixture() *Engine {
	e := New(Options{})
	zones := []string{"a", "a", "a", "b", "b", "c", "d", ""}
	for i, z := range zones {
		name := fmt.Sprintf("n%d", i)
		opts := []nodeOpt{capacity("cpu", "1"), allocatable("cpu", "1")}
		if z != "" {
			opts = append(opts, nodeLabels("zone", z))
		}
		e.UpsertNode(mkNode(name, opts...))
		e.UpsertPod(cpuPod("ns", "p"+name, "100m", onNode(name)))
	}
	return e
}

func TestMaxGroupsFoldsTheSmallestGroupsIntoOther(t *testing.T) {
	e := groupsFixture()
	group := func(value string, nodes int64) GroupTotals {
		return GroupTotals{Value: value, Nodes: NodeCounts{Total: nodes, Ready: nodes}, Pods: PodCounts{Total: nodes, Running: nodes},
			Resources: []ResourceTotals{{Name: "cpu", Capacity: 1000 * nodes, Allocatable: 1000 * nodes, Requests: 100 * nodes, Limits: 100 * nodes}}}
	}
	cases := []struct {
		max        int
		wantGroups []GroupTotals
		wantFolded int
	}{
		// No cap, or a cap the groups fit in: every group, sorted by value.
		{0, []GroupTotals{group(NoGroupValue, 1), group("a", 3), group("b", 2), group("c", 1), group("d", 1)}, 0},
		{5, []GroupTotals{group(NoGroupValue, 1), group("a", 3), group("b", 2), group("c", 1), group("d", 1)}, 0},
		// Keep the largest, ties by value ("<none>" sorts before "c"), and
		// sum the rest.
		{4, []GroupTotals{group(NoGroupValue, 1), group(OtherGroupValue, 2), group("a", 3), group("b", 2)}, 2},
		{3, []GroupTotals{group(OtherGroupValue, 3), group("a", 3), group("b", 2)}, 3},
		{1, []GroupTotals{group(OtherGroupValue, 8)}, 5},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("max=%d", c.max), func(t *testing.T) {
			got := e.Cluster(Selection{GroupByNodeLabel: "zone", Resources: cpuOnly, MaxGroups: c.max})
			if diff := cmp.Diff(c.wantGroups, got.Groups); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
			if got.FoldedGroups != c.wantFolded {
				t.Errorf("FoldedGroups = %d, want %d", got.FoldedGroups, c.wantFolded)
			}
			// Folding never changes the totals.
			if got.Nodes.Total != 8 || got.Pods.Total != 8 || got.Resources[0].Requests != 800 {
				t.Errorf("totals changed: nodes %d, pods %d, cpu requests %d", got.Nodes.Total, got.Pods.Total, got.Resources[0].Requests)
			}
		})
	}
}

func TestMaxGroupsWithEveryResource(t *testing.T) {
	// Without Selection.Resources each group lists its non-zero rows; the
	// folded group sums every resource of the groups it holds.
	e := New(Options{})
	e.UpsertNode(mkNode("gpu", nodeLabels("zone", "a"), capacity("cpu", "1", "nvidia.com/gpu", "2"), allocatable("cpu", "1", "nvidia.com/gpu", "2")))
	e.UpsertNode(mkNode("plain", nodeLabels("zone", "b"), capacity("cpu", "2"), allocatable("cpu", "2")))
	e.UpsertNode(mkNode("big1", nodeLabels("zone", "c"), capacity("memory", "1Gi"), allocatable("memory", "1Gi")))
	e.UpsertNode(mkNode("big2", nodeLabels("zone", "c"), capacity("memory", "1Gi"), allocatable("memory", "1Gi")))
	got := e.Cluster(Selection{GroupByNodeLabel: "zone", MaxGroups: 2})
	want := []GroupTotals{
		{Value: OtherGroupValue, Nodes: NodeCounts{Total: 2, Ready: 2}, Resources: []ResourceTotals{
			{Name: "cpu", Capacity: 3000, Allocatable: 3000},
			{Name: "nvidia.com/gpu", Capacity: 2, Allocatable: 2},
		}},
		{Value: "c", Nodes: NodeCounts{Total: 2, Ready: 2}, Resources: []ResourceTotals{
			{Name: v1.ResourceMemory, Capacity: 2 << 30, Allocatable: 2 << 30},
		}},
	}
	if diff := cmp.Diff(want, got.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestFoldHeadroomSumsFitsAndKeepsTheLargestFit(t *testing.T) {
	byGroup := map[string][]Headroom{
		"a": {{Name: "small", Fits: 3, LimitedBy: "cpu", LargestFit: []ResourceFigure{{"cpu", 500}, {"memory", 100}}}},
		"b": {{Name: "small", Fits: 5, LimitedBy: "memory", LargestFit: []ResourceFigure{{"cpu", 200}, {"memory", 400}}}},
		"c": {{Name: "small", Fits: 0, LargestFit: []ResourceFigure{{"cpu", 0}, {"memory", 0}}}},
		"d": {{Name: "small", Fits: 100, LimitedBy: "pods"}},
	}
	got := foldHeadroom(byGroup, []string{"c", "b", "a"})
	want := []Headroom{{Name: "small", Fits: 8, LimitedBy: "memory", LargestFit: []ResourceFigure{{"cpu", 500}, {"memory", 400}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
