package summary

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
)

// Reads that only the tests of this package use: the server reads through
// the methods ending in At and the ChangesWithState methods.

// Node returns the summary of a known node.
func (e *Engine) Node(name string) (NodeTotals, bool) {
	n, _, ok := e.NodeAt(name)
	return n, ok
}

// Namespace returns the summary of a known namespace.
func (e *Engine) Namespace(name string) (NamespaceTotals, bool) {
	ns, _, ok := e.NamespaceAt(name)
	return ns, ok
}

// ListNodes is ListNodesAt without the revision.
func (e *Engine) ListNodes(selector labels.Selector) []NodeTotals {
	out, _ := e.ListNodesAt(selector)
	return out
}

// ListNamespaces is ListNamespacesAt without the revision.
func (e *Engine) ListNamespaces(selector labels.Selector) []NamespaceTotals {
	out, _ := e.ListNamespacesAt(selector)
	return out
}

// Changes returns the change records with revisions after afterRev, oldest
// first, and the current revision, which the caller passes next time.
// It fails with ErrRevisionTooOld when records after afterRev were evicted,
// and with ErrRevisionTooNew when afterRev is beyond the current revision.
func (e *Engine) Changes(afterRev uint64) ([]Change, uint64, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	l := &e.changes
	if afterRev > l.rev {
		return nil, l.rev, fmt.Errorf("changes after %d (current %d): %w", afterRev, l.rev, ErrRevisionTooNew)
	}
	if afterRev < l.evictedThrough {
		return nil, l.rev, fmt.Errorf("changes after %d (oldest complete %d): %w", afterRev, l.evictedThrough, ErrRevisionTooOld)
	}
	first := l.firstAfter(afterRev)
	if first == l.n {
		return nil, l.rev, nil
	}
	out := make([]Change, 0, l.n-first)
	for i := first; i < l.n; i++ {
		out = append(out, l.change(l.at(i)))
	}
	return out, l.rev, nil
}
