package summary

import (
	"cmp"
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// restrictive returns the selector, or nil when it selects everything.
func restrictive(s labels.Selector) labels.Selector {
	if s == nil || s.Empty() {
		return nil
	}
	return s
}

// groupAcc accumulates one GroupTotals.
type groupAcc struct {
	nodes NodeCounts
	pods  PodCounts
	vec   []ResourceTotals
}

// Cluster summarises the part of the cluster sel covers. See the package
// documentation for its cost.
func (e *Engine) Cluster(sel Selection) ClusterTotals {
	e.mu.RLock()
	defer e.mu.RUnlock()

	nodeSel := restrictive(sel.NodeSelector)
	nsSel := restrictive(sel.NamespaceSelector)
	out := ClusterTotals{Revision: e.changes.rev}
	vec := make([]ResourceTotals, len(e.res.names))

	var groups map[string]*groupAcc
	var groupOf []*groupAcc // indexed by nodeID
	if sel.GroupByNodeLabel != "" {
		groups = make(map[string]*groupAcc)
		groupOf = make([]*groupAcc, len(e.nodes))
	}

	// nodeOn and nsOn are the selected ids; nil when everything is selected.
	var nodeOn, nsOn []bool
	if nodeSel != nil {
		nodeOn = make([]bool, len(e.nodes))
	}

	// Nodes: O(nodes) unless every node is selected and nothing is grouped.
	if nodeSel == nil && groups == nil {
		out.Nodes = e.nodeAgg.counts
		for id := range e.nodeAgg.capacity {
			vec[id].Capacity += e.nodeAgg.capacity[id]
			vec[id].Allocatable += e.nodeAgg.allocatable[id]
		}
	} else {
		for _, n := range e.nodes {
			if n == nil || (nodeSel != nil && !nodeSel.Matches(labels.Set(n.labels))) {
				continue
			}
			if nodeOn != nil {
				nodeOn[n.id] = true
			}
			var g *groupAcc
			if groups != nil {
				value, ok := n.labels[sel.GroupByNodeLabel]
				if !ok {
					value = NoGroupValue
				}
				if g = groups[value]; g == nil {
					g = &groupAcc{vec: make([]ResourceTotals, len(e.res.names))}
					groups[value] = g
				}
				groupOf[n.id] = g
			}
			if n.known {
				addNode(&out.Nodes, vec, n)
				if g != nil {
					addNode(&g.nodes, g.vec, n)
				}
			}
			// Without a namespace filter the node's own tally is the answer.
			if nsSel == nil {
				if nodeSel != nil {
					n.pods.addTo(&out.Pods, vec)
				}
				if g != nil {
					n.pods.addTo(&g.pods, g.vec)
				}
			}
		}
	}

	if nsSel != nil {
		nsOn = make([]bool, len(e.nss))
		for _, ns := range e.nss {
			if ns != nil && nsSel.Matches(labels.Set(ns.labels)) {
				nsOn[ns.id] = true
			}
		}
	}

	// Pods bound to a node.
	switch {
	case nsSel == nil && nodeSel == nil:
		e.bound.addTo(&out.Pods, vec)
	case nsSel == nil:
		// Added per node above.
	case nodeSel == nil && groups == nil:
		for _, ns := range e.nss {
			if ns != nil && nsOn[ns.id] {
				ns.bound.addTo(&out.Pods, vec)
			}
		}
	default:
		e.addCells(&out, vec, nodeOn, nsOn, groupOf)
	}

	// Pods bound to no node count whatever the node selector, for their
	// namespace only: their requests are no node's.
	if nsSel == nil {
		e.unbound.counts.addTo(&out.Pods)
		out.Namespaces = e.knownNamespaces
		out.Workloads = workloadCounts(&e.workloadCounts)
	} else {
		var w [numWorkloadKinds]ReadyCount
		for _, ns := range e.nss {
			if ns == nil || !nsOn[ns.id] {
				continue
			}
			ns.unbound.counts.addTo(&out.Pods)
			if ns.known {
				out.Namespaces++
			}
			for k := range w {
				w[k].Total += ns.workloads[k].Total
				w[k].Ready += ns.workloads[k].Ready
			}
		}
		out.Workloads = workloadCounts(&w)
	}

	out.Resources = e.rows(vec, sel.Resources)
	var folded []string
	if groups != nil {
		out.Groups, folded = e.groupRows(groups, sel.MaxGroups, sel.Resources)
		out.FoldedGroups = len(folded)
	}
	var groupHeadroom map[string][]Headroom
	out.Headroom, groupHeadroom = e.headroom(sel.Headroom, nodeSel, sel.GroupByNodeLabel)
	for i := range out.Groups {
		if v := out.Groups[i].Value; v == OtherGroupValue && len(folded) > 0 {
			out.Groups[i].Headroom = foldHeadroom(groupHeadroom, folded)
		} else {
			out.Groups[i].Headroom = groupHeadroom[v]
		}
	}

	maxNames := sel.MaxNames
	if maxNames == 0 {
		maxNames = DefaultMaxNames
	}
	if maxNames > 0 {
		out.NotReadyNodes = e.notReadyNames(nodeOn, maxNames)
		out.CrashLoopingPods = e.crashLoopingNames(nodeOn, nsOn, maxNames)
	}
	return out
}

// addCells adds the bound pods of selected (node, namespace) cells, walking
// from whichever side has fewer cells to visit. nodeOn nil selects all nodes.
func (e *Engine) addCells(out *ClusterTotals, vec []ResourceTotals, nodeOn, nsOn []bool, groupOf []*groupAcc) {
	viaNS := 0
	for _, ns := range e.nss {
		if ns != nil && nsOn[ns.id] {
			viaNS += len(ns.cells)
		}
	}
	useNodes := false
	if nodeOn != nil {
		viaNodes := 0
		for _, n := range e.nodes {
			if n != nil && nodeOn[n.id] {
				viaNodes += len(n.cells)
			}
		}
		useNodes = viaNodes < viaNS
	}
	add := func(c *cell) {
		c.pods.addTo(&out.Pods, vec)
		if groupOf != nil {
			if g := groupOf[c.node]; g != nil {
				c.pods.addTo(&g.pods, g.vec)
			}
		}
	}
	if useNodes {
		for _, n := range e.nodes {
			if n == nil || !nodeOn[n.id] {
				continue
			}
			for _, c := range n.cells {
				if nsOn[c.ns] {
					add(c)
				}
			}
		}
		return
	}
	for _, ns := range e.nss {
		if ns == nil || !nsOn[ns.id] {
			continue
		}
		for _, c := range ns.cells {
			if nodeOn == nil || nodeOn[c.node] {
				add(c)
			}
		}
	}
}

func addNode(c *NodeCounts, vec []ResourceTotals, n *nodeEntry) {
	c.Total++
	if n.flags&nodeReady != 0 {
		c.Ready++
	} else {
		c.NotReady++
	}
	if n.flags&nodeUnschedulable != 0 {
		c.Unschedulable++
	}
	if n.flags&nodeMemoryPressure != 0 {
		c.MemoryPressure++
	}
	if n.flags&nodeDiskPressure != 0 {
		c.DiskPressure++
	}
	if n.flags&nodePIDPressure != 0 {
		c.PIDPressure++
	}
	for _, r := range n.resources {
		vec[r.id].Capacity += r.capacity
		vec[r.id].Allocatable += r.allocatable
	}
}

func workloadCounts(w *[numWorkloadKinds]ReadyCount) WorkloadCounts {
	return WorkloadCounts{Deployments: w[kindDeployment], StatefulSets: w[kindStatefulSet], DaemonSets: w[kindDaemonSet]}
}

// rows turns a vector indexed by resID into the reported rows: the wanted
// resources in order, or every non-zero one sorted by name.
func (e *Engine) rows(vec []ResourceTotals, want []v1.ResourceName) []ResourceTotals {
	if want != nil {
		out := make([]ResourceTotals, len(want))
		for i, name := range want {
			if id, ok := e.res.ids[name]; ok && int(id) < len(vec) {
				out[i] = vec[id]
			}
			out[i].Name = name
		}
		return out
	}
	var out []ResourceTotals
	for id, r := range vec {
		if r != (ResourceTotals{}) {
			r.Name = e.res.names[id]
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b ResourceTotals) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func (e *Engine) notReadyNames(nodeOn []bool, limit int) []string {
	var names []string
	for id := range e.notReady {
		if nodeOn == nil || nodeOn[id] {
			names = append(names, e.nodes[id].name)
		}
	}
	slices.Sort(names)
	return names[:min(len(names), limit)]
}

func (e *Engine) crashLoopingNames(nodeOn, nsOn []bool, limit int) []string {
	var names []string
	for key := range e.crashing {
		if nsOn != nil && !nsOn[key.ns] {
			continue
		}
		if c := e.pods[key].cell; c != nil && nodeOn != nil && !nodeOn[c.node] {
			continue
		}
		names = append(names, e.nss[key.ns].name+"/"+key.name)
	}
	slices.Sort(names)
	return names[:min(len(names), limit)]
}

// Node returns the summary of a known node.
func (e *Engine) Node(name string) (NodeTotals, bool) {
	n, _, ok := e.NodeAt(name)
	return n, ok
}

// NodeAt is Node that also returns the revision it read the engine at,
// under the same lock: the summary is the node's state at that revision.
func (e *Engine) NodeAt(name string) (NodeTotals, uint64, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	id, ok := e.nodeIDs[name]
	if !ok || !e.nodes[id].known {
		return NodeTotals{}, e.changes.rev, false
	}
	return e.nodeTotals(e.nodes[id]), e.changes.rev, true
}

// ListNodes returns the known nodes whose labels match selector (nil: all),
// sorted by name. It costs O(nodes).
func (e *Engine) ListNodes(selector labels.Selector) []NodeTotals {
	out, _ := e.ListNodesAt(selector)
	return out
}

// ListNodesAt is ListNodes that also returns the revision it read the
// engine at, under the same lock: the list is exactly the state at that
// revision.
func (e *Engine) ListNodesAt(selector labels.Selector) ([]NodeTotals, uint64) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	selector = restrictive(selector)
	var out []NodeTotals
	for _, n := range e.nodes {
		if n != nil && n.known && (selector == nil || selector.Matches(labels.Set(n.labels))) {
			out = append(out, e.nodeTotals(n))
		}
	}
	slices.SortFunc(out, func(a, b NodeTotals) int { return cmp.Compare(a.Name, b.Name) })
	return out, e.changes.rev
}

func (e *Engine) nodeTotals(n *nodeEntry) NodeTotals {
	t := NodeTotals{
		Name:              n.name,
		Labels:            maps.Clone(n.labels),
		CreationTimestamp: n.created,
		Ready:             n.flags&nodeReady != 0,
		MemoryPressure:    n.flags&nodeMemoryPressure != 0,
		DiskPressure:      n.flags&nodeDiskPressure != 0,
		PIDPressure:       n.flags&nodePIDPressure != 0,
		Unschedulable:     n.flags&nodeUnschedulable != 0,
		PodCapacity:       n.podCapacity(),
		Revision:          n.rev,
	}
	n.pods.counts.addTo(&t.Pods)
	vec := make([]ResourceTotals, len(e.res.names))
	for _, r := range n.resources {
		vec[r.id].Capacity = r.capacity
		vec[r.id].Allocatable = r.allocatable
	}
	n.pods.addResTo(vec)
	t.Resources = e.rows(vec, nil)
	return t
}

// Namespace returns the summary of a known namespace.
func (e *Engine) Namespace(name string) (NamespaceTotals, bool) {
	ns, _, ok := e.NamespaceAt(name)
	return ns, ok
}

// NamespaceAt is Namespace that also returns the revision it read the
// engine at, under the same lock.
func (e *Engine) NamespaceAt(name string) (NamespaceTotals, uint64, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ns := e.lookupNS(name)
	if ns == nil || !ns.known {
		return NamespaceTotals{}, e.changes.rev, false
	}
	return e.namespaceTotals(ns), e.changes.rev, true
}

// ListNamespaces returns the known namespaces whose labels match selector
// (nil: all), sorted by name. It costs O(namespaces).
func (e *Engine) ListNamespaces(selector labels.Selector) []NamespaceTotals {
	out, _ := e.ListNamespacesAt(selector)
	return out
}

// ListNamespacesAt is ListNamespaces that also returns the revision it
// read the engine at, under the same lock.
func (e *Engine) ListNamespacesAt(selector labels.Selector) ([]NamespaceTotals, uint64) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	selector = restrictive(selector)
	var out []NamespaceTotals
	for _, ns := range e.nss {
		if ns != nil && ns.known && (selector == nil || selector.Matches(labels.Set(ns.labels))) {
			out = append(out, e.namespaceTotals(ns))
		}
	}
	slices.SortFunc(out, func(a, b NamespaceTotals) int { return cmp.Compare(a.Name, b.Name) })
	return out, e.changes.rev
}

func (e *Engine) namespaceTotals(ns *nsEntry) NamespaceTotals {
	t := NamespaceTotals{
		Name:              ns.name,
		Labels:            maps.Clone(ns.labels),
		CreationTimestamp: ns.created,
		Workloads:         workloadCounts(&ns.workloads),
		Revision:          ns.rev,
	}
	vec := make([]ResourceTotals, len(e.res.names))
	ns.bound.addTo(&t.Pods, vec)
	ns.unbound.addTo(&t.Pods, vec)
	t.Resources = e.rows(vec, nil)
	for name, q := range ns.quotas {
		t.Quotas = append(t.Quotas, QuotaTotals{Name: name, Hard: q.hard.DeepCopy(), Used: q.used.DeepCopy()})
	}
	slices.SortFunc(t.Quotas, func(a, b QuotaTotals) int { return cmp.Compare(a.Name, b.Name) })
	return t
}

// clone returns a copy that shares nothing with t.
func (t *NodeTotals) clone() NodeTotals {
	c := *t
	c.Labels = maps.Clone(t.Labels)
	c.Resources = slices.Clone(t.Resources)
	return c
}

// clone returns a copy that shares nothing with t.
func (t *NamespaceTotals) clone() NamespaceTotals {
	c := *t
	c.Labels = maps.Clone(t.Labels)
	c.Resources = slices.Clone(t.Resources)
	c.Quotas = slices.Clone(t.Quotas)
	for i := range c.Quotas {
		c.Quotas[i].Hard = c.Quotas[i].Hard.DeepCopy()
		c.Quotas[i].Used = c.Quotas[i].Used.DeepCopy()
	}
	return c
}
