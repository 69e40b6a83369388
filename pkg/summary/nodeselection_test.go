package summary

import (
	"fmt"
	"testing"
)

// TestNodeSelectionCacheIsBounded: summaries with ever new selectors start
// the cache over instead of growing it, and every resolution stays right.
func TestNodeSelectionCacheIsBounded(t *testing.T) {
	e := New(Options{})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "z7")))
	e.UpsertNode(mkNode("n2", nodeLabels("zone", "z8")))
	for i := range maxNodeSelections + 10 {
		s := e.nodeSelection(sel(fmt.Sprintf("zone=z%d", i)), "zone")
		want := map[int]bool{7: true, 8: true}[i]
		n1 := e.nodes.get("n1")
		n2 := e.nodes.get("n2")
		if got := s.selected(n1.id) || s.selected(n2.id); got != want {
			t.Fatalf("zone=z%d selects a node: %v, want %v", i, got, want)
		}
		if n := len(e.selections.m); n > maxNodeSelections {
			t.Fatalf("after %d selectors the cache holds %d, more than %d", i+1, n, maxNodeSelections)
		}
	}
}
