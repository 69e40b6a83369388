package summary

import (
	"sync"

	"k8s.io/apimachinery/pkg/labels"
)

// nodeSelection is a node selector and a grouping label resolved to node
// ids. Resolving one matches the selector and looks the label up in every
// node's labels: with 100 ClusterSummaries at 5,000 nodes that was a sixth
// of the status controller's CPU (run 20261206T231517Z). Node labels change
// far less often than pods, so the engine keeps the resolutions it made
// until a node's labels, or the set of nodes, change. A resolution is
// shared by every read that asks for it: it is never modified.
type nodeSelection struct {
	// gen is the node table's generation it was resolved at.
	gen uint64
	// on is indexed by node id; nil when every node is selected.
	on []bool
	// group is indexed by node id: the index in values of a selected
	// node's group, -1 for a node not selected; nil without grouping.
	group  []int32
	values []string
}

// selected reports whether the node with id is selected.
func (s *nodeSelection) selected(id nodeID) bool { return s.on == nil || s.on[id] }

type nodeSelectionKey struct{ selector, groupBy string }

// maxNodeSelections bounds the cache: past it the cache starts over, so
// summaries with ever new selectors cannot grow it. An entry takes 5 bytes
// per node (25 KB at 5,000 nodes), so the cache holds at most 6.4 MB there;
// more distinct selections than this only cost resolving again.
const maxNodeSelections = 256

// nodeSelections caches resolutions by selector and grouping label. Reads
// resolve under the engine's read lock, many at once, hence a lock of its
// own.
type nodeSelections struct {
	mu sync.Mutex
	m  map[nodeSelectionKey]*nodeSelection
}

// nodeSelection returns the resolution of sel (nil: every node) and groupBy
// ("" : no grouping) at the current node generation. The caller holds the
// read or the write lock.
func (e *Engine) nodeSelection(sel labels.Selector, groupBy string) *nodeSelection {
	key := nodeSelectionKey{groupBy: groupBy}
	if sel != nil {
		key.selector = sel.String()
	}
	c := &e.selections
	c.mu.Lock()
	s := c.m[key]
	c.mu.Unlock()
	if s != nil && s.gen == e.nodes.gen {
		return s
	}
	s = e.resolveNodes(sel, groupBy)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxNodeSelections {
		c.m = make(map[nodeSelectionKey]*nodeSelection)
	}
	c.m[key] = s
	c.mu.Unlock()
	return s
}

// resolveNodes matches every node against sel and groups the selected ones
// by their value of groupBy, NoGroupValue for nodes without the label.
func (e *Engine) resolveNodes(sel labels.Selector, groupBy string) *nodeSelection {
	s := &nodeSelection{gen: e.nodes.gen}
	if sel != nil {
		s.on = make([]bool, len(e.nodes.byID))
	}
	var index map[string]int32
	if groupBy != "" {
		s.group = make([]int32, len(e.nodes.byID))
		for i := range s.group {
			s.group[i] = -1
		}
		index = make(map[string]int32)
	}
	for _, n := range e.nodes.byID {
		if n == nil || (sel != nil && !sel.Matches(labels.Set(n.labels))) {
			continue
		}
		if s.on != nil {
			s.on[n.id] = true
		}
		if index == nil {
			continue
		}
		value, ok := n.labels[groupBy]
		if !ok {
			value = NoGroupValue
		}
		i, ok := index[value]
		if !ok {
			i = int32(len(s.values))
			index[value] = i
			s.values = append(s.values, value)
		}
		s.group[n.id] = i
	}
	return s
}
