package summary

import (
	"cmp"
	"maps"
	"slices"
	"strings"

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
	// use is the usage of the group's selected cells, set by addCells.
	use useTally
}

// clusterRead is a Cluster call under way: the selection resolved to ids,
// and the figures accumulated so far. Its steps run in order under the
// read lock.
type clusterRead struct {
	e   *Engine
	sel Selection
	// nodeSel and nsSel are nil when they select everything.
	nodeSel, nsSel labels.Selector
	out            ClusterTotals
	vec            []ResourceTotals // indexed by resID
	// nodes is the node selection and grouping resolved, nil when every
	// node is selected and nothing is grouped.
	nodes *nodeSelection
	// nodeOn and nsOn are the selected ids; nil when everything is
	// selected. nodeOn is shared with the engine's cache: read-only.
	nodeOn, nsOn []bool
	// groups is nil unless the selection groups by a node label; groupOf
	// is then the group of each selected node, indexed by nodeID.
	groups  map[string]*groupAcc
	groupOf []*groupAcc
	// folded lists the groups Selection.MaxGroups summed into OtherGroupValue.
	folded []string
	// cellUse is the usage of the selected cells, when addCells ran.
	cellUse useTally
}

// Cluster summarises the part of the cluster sel covers. See the package
// documentation for its cost.
func (e *Engine) Cluster(sel Selection) ClusterTotals {
	e.mu.RLock()
	defer e.mu.RUnlock()

	r := clusterRead{
		e:       e,
		sel:     sel,
		nodeSel: restrictive(sel.NodeSelector),
		nsSel:   restrictive(sel.NamespaceSelector),
		out:     ClusterTotals{Revision: e.changes.rev},
		vec:     make([]ResourceTotals, len(e.res.names)),
	}
	r.addNodes()
	r.selectNamespaces()
	r.addBoundPods()
	r.addNamespaceFigures()
	r.addUsage()
	r.addGroups()
	r.addHeadroom()
	r.addNames()
	return r.out
}

// addNodes selects and groups the nodes and adds their figures, and the
// pods bound to them when no namespace selector narrows those. It costs
// O(nodes) unless every node is selected and nothing is grouped; which
// nodes are selected, and their groups, come resolved from the engine's
// cache (nodeselection.go).
func (r *clusterRead) addNodes() {
	e := r.e
	if r.nodeSel == nil && r.sel.GroupByNodeLabel == "" {
		r.out.Nodes = e.nodeAgg.counts
		for id := range e.nodeAgg.capacity {
			r.vec[id].Capacity += e.nodeAgg.capacity[id]
			r.vec[id].Allocatable += e.nodeAgg.allocatable[id]
		}
		return
	}
	r.nodes = e.nodeSelection(r.nodeSel, r.sel.GroupByNodeLabel)
	r.nodeOn = r.nodes.on
	if r.nodes.group != nil {
		accs := make([]groupAcc, len(r.nodes.values))
		r.groups = make(map[string]*groupAcc, len(accs))
		for i, value := range r.nodes.values {
			accs[i].vec = make([]ResourceTotals, len(e.res.names))
			r.groups[value] = &accs[i]
		}
		r.groupOf = make([]*groupAcc, len(e.nodes.byID))
		for id, i := range r.nodes.group {
			if i >= 0 {
				r.groupOf[id] = &accs[i]
			}
		}
	}
	for _, n := range e.nodes.byID {
		if n == nil || !r.nodes.selected(n.id) {
			continue
		}
		var g *groupAcc
		if r.groupOf != nil {
			g = r.groupOf[n.id]
		}
		if n.known {
			addNode(&r.out.Nodes, r.vec, n)
			if g != nil {
				addNode(&g.nodes, g.vec, n)
			}
		}
		// Without a namespace selector the node's own tally is the answer.
		if r.nsSel == nil {
			if r.nodeSel != nil {
				n.pods.addTo(&r.out.Pods, r.vec)
			}
			if g != nil {
				n.pods.addTo(&g.pods, g.vec)
			}
		}
	}
}

// selectNamespaces sets nsOn when a namespace selector is given.
func (r *clusterRead) selectNamespaces() {
	if r.nsSel == nil {
		return
	}
	r.nsOn = make([]bool, len(r.e.nss.byID))
	for _, ns := range r.e.nss.byID {
		if ns != nil && r.nsSel.Matches(labels.Set(ns.labels)) {
			r.nsOn[ns.id] = true
		}
	}
}

// addBoundPods adds the pods bound to a node from the cheapest tallies
// that answer the selection.
func (r *clusterRead) addBoundPods() {
	e := r.e
	switch {
	case r.nsSel == nil && r.nodeSel == nil:
		e.bound.addTo(&r.out.Pods, r.vec)
	case r.nsSel == nil:
		// Added per node by addNodes.
	case r.nodeSel == nil && r.groups == nil:
		for _, ns := range e.nss.byID {
			if ns != nil && r.nsOn[ns.id] {
				ns.bound.addTo(&r.out.Pods, r.vec)
			}
		}
	default:
		r.addCells()
	}
}

// addNamespaceFigures adds what counts per namespace only: pods bound to
// no node (whatever the node selector: their requests are no node's),
// namespaces and workloads.
func (r *clusterRead) addNamespaceFigures() {
	e := r.e
	if r.nsSel == nil {
		e.unbound.counts.addTo(&r.out.Pods)
		r.out.Namespaces = e.knownNamespaces
		r.out.Workloads = workloadCounts(&e.workloadCounts)
		return
	}
	var w [numWorkloadKinds]ReadyCount
	for _, ns := range e.nss.byID {
		if ns == nil || !r.nsOn[ns.id] {
			continue
		}
		ns.unbound.counts.addTo(&r.out.Pods)
		if ns.known {
			r.out.Namespaces++
		}
		for k := range w {
			w[k].Total += ns.workloads[k].Total
			w[k].Ready += ns.workloads[k].Ready
		}
	}
	r.out.Workloads = workloadCounts(&w)
}

// addGroups turns the accumulated vectors into rows, and the groups into
// GroupTotals sorted by value, folding those beyond Selection.MaxGroups.
func (r *clusterRead) addGroups() {
	r.out.Resources = r.e.rows(r.vec, r.sel.Resources)
	if r.groups != nil {
		r.out.Groups, r.folded = r.e.groupRows(r.groups, r.sel.MaxGroups, r.sel.Resources)
		r.out.FoldedGroups = len(r.folded)
	}
}

// addHeadroom computes the headroom of the selection's pod shapes over the
// selected nodes, and per group.
func (r *clusterRead) addHeadroom() {
	var groupHeadroom map[string][]Headroom
	r.out.Headroom, groupHeadroom = r.e.headroom(r.sel.Headroom, r.nodes)
	for i := range r.out.Groups {
		if v := r.out.Groups[i].Value; v == OtherGroupValue && len(r.folded) > 0 {
			r.out.Groups[i].Headroom = foldHeadroom(groupHeadroom, r.folded)
		} else {
			r.out.Groups[i].Headroom = groupHeadroom[v]
		}
	}
}

// addNames lists the not-ready nodes and crash-looping pods selected, up
// to Selection.MaxNames.
func (r *clusterRead) addNames() {
	maxNames := r.sel.MaxNames
	if maxNames == 0 {
		maxNames = DefaultMaxNames
	}
	if maxNames > 0 {
		r.out.NotReadyNodes = r.e.notReadyNames(r.nodeOn, maxNames)
		r.out.CrashLoopingPods = r.e.crashLoopingNames(r.nodeOn, r.nsOn, maxNames)
	}
}

// addCells adds the bound pods of the selected (node, namespace) cells, and
// their usage, visiting as few cells as it can. It walks whichever is
// smaller: the cells of the selected namespaces, the cells of the selected
// nodes, or the cells of the namespaces left out, which it takes away from
// the selected nodes' own tallies (a node's tally is the sum of its cells).
// The last way is what a selector that leaves out a small share costs:
// with most cells selected, walking them was most of a status write's CPU
// at 150,000 pods. nodeOn nil selects all nodes.
func (r *clusterRead) addCells() {
	e, nodeOn, nsOn := r.e, r.nodeOn, r.nsOn
	viaNS, viaLeftOut := 0, len(e.nodes.byID)
	for _, ns := range e.nss.byID {
		switch {
		case ns == nil:
		case nsOn[ns.id]:
			viaNS += len(ns.cells)
		default:
			viaLeftOut += len(ns.cells)
		}
	}
	viaNodes := viaNS + 1
	if nodeOn != nil {
		viaNodes = 0
		for _, n := range e.nodes.byID {
			if n != nil && nodeOn[n.id] {
				viaNodes += len(n.cells)
			}
		}
	}
	add := func(t *tally, use *useTally, node nodeID, k int64) {
		t.addTimes(&r.out.Pods, r.vec, k)
		r.cellUse.addTimes(use, k)
		if r.groupOf != nil {
			if g := r.groupOf[node]; g != nil {
				t.addTimes(&g.pods, g.vec, k)
				g.use.addTimes(use, k)
			}
		}
	}
	switch {
	case viaLeftOut < min(viaNS, viaNodes):
		for _, n := range e.nodes.byID {
			if n != nil && (nodeOn == nil || nodeOn[n.id]) {
				add(&n.pods, &n.podUse, n.id, 1)
			}
		}
		for _, ns := range e.nss.byID {
			if ns == nil || nsOn[ns.id] {
				continue
			}
			for _, c := range ns.cells {
				if nodeOn == nil || nodeOn[c.node] {
					add(&c.pods, &c.use, c.node, -1)
				}
			}
		}
	case viaNodes < viaNS:
		for _, n := range e.nodes.byID {
			if n == nil || !nodeOn[n.id] {
				continue
			}
			for _, c := range n.cells {
				if nsOn[c.ns] {
					add(&c.pods, &c.use, c.node, 1)
				}
			}
		}
	default:
		for _, ns := range e.nss.byID {
			if ns == nil || !nsOn[ns.id] {
				continue
			}
			for _, c := range ns.cells {
				if nodeOn == nil || nodeOn[c.node] {
					add(&c.pods, &c.use, c.node, 1)
				}
			}
		}
	}
}

func addNode(c *NodeCounts, vec []ResourceTotals, n *nodeEntry) {
	c.add(n.flags, 1)
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
	n := 0
	for i := range vec {
		if vec[i] != (ResourceTotals{}) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]ResourceTotals, 0, n)
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
	first := firstNames{limit: limit}
	for id := range e.notReady {
		if nodeOn == nil || nodeOn[id] {
			first.offer(e.nodes.byID[id].name)
		}
	}
	return first.names
}

func (e *Engine) crashLoopingNames(nodeOn, nsOn []bool, limit int) []string {
	first := firstNames{limit: limit}
	for key, c := range e.crashing {
		if nsOn != nil && !nsOn[key.ns] || nodeOn != nil && c != nil && !nodeOn[c.node] {
			continue
		}
		first.offer(e.nss.byID[key.ns].name, "/", key.name)
	}
	return first.names
}

// firstNames keeps the limit first names in sorted order of those it is
// offered. A status lists the first few of what can be thousands of
// crash-looping pods, and every status write lists them again: building,
// and sorting, only the names that can make the list keeps that cost off
// each write.
type firstNames struct {
	limit int
	names []string // sorted, at most limit
}

// offer adds the name the parts join into if it is among the first names
// so far, dropping the last when full. The name is built only then: a
// rejected candidate costs a comparison and no allocation.
func (f *firstNames) offer(parts ...string) {
	if len(f.names) == f.limit {
		if compareJoined(f.names[len(f.names)-1], parts...) <= 0 {
			return
		}
		f.names = f.names[:len(f.names)-1]
	}
	joined := strings.Join(parts, "")
	i, _ := slices.BinarySearch(f.names, joined)
	f.names = slices.Insert(f.names, i, joined)
}

// compareJoined compares s with the string the parts join into, as
// strings.Compare would, without joining them.
func compareJoined(s string, parts ...string) int {
	for _, p := range parts {
		n := min(len(p), len(s))
		if c := strings.Compare(s[:n], p[:n]); c != 0 {
			return c
		}
		if len(p) > len(s) {
			return -1 // s is a proper prefix of the joined string
		}
		s = s[len(p):]
	}
	if len(s) > 0 {
		return 1 // the joined string is a proper prefix of s
	}
	return 0
}

// summaryState is what a live summary's state is: a node's or a
// namespace's.
type summaryState[S any] interface {
	NodeTotals | NamespaceTotals
	clone() S
}

// entry is a pointer to a node or namespace entry.
type entry[E any] interface {
	*E
	obj() *object
}

func (o *object) obj() *object { return o }

// NodeAt returns the summary of a known node, and the revision it read the
// engine at, under the same lock: the summary is the node's state at that
// revision.
func (e *Engine) NodeAt(name string) (NodeTotals, uint64, bool) {
	return knownAt(e, &e.nodes, name, e.nodeTotals)
}

// ListNodesAt returns the known nodes whose labels match selector (nil:
// all), sorted by name, and the revision it read the engine at, under the
// same lock: the list is exactly the state at that revision. It costs
// O(nodes).
func (e *Engine) ListNodesAt(selector labels.Selector) ([]NodeTotals, uint64) {
	return listKnownAt(e, &e.nodes, selector, e.nodeTotalsIn)
}

// NamespaceAt is NodeAt for namespaces.
func (e *Engine) NamespaceAt(name string) (NamespaceTotals, uint64, bool) {
	return knownAt(e, &e.nss, name, e.namespaceTotals)
}

// ListNamespacesAt is ListNodesAt for namespaces. It costs O(namespaces).
func (e *Engine) ListNamespacesAt(selector labels.Selector) ([]NamespaceTotals, uint64) {
	return listKnownAt(e, &e.nss, selector, e.namespaceTotalsIn)
}

// knownAt reads, under the read lock, the summary of the known entry of t
// named name and the revision.
func knownAt[ID ~uint32, E any, P entry[E], S any](e *Engine, t *idTable[ID, E], name string, summarize func(P) S) (S, uint64, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, ok := known(t, name, summarize)
	return s, e.changes.rev, ok
}

// listKnownAt reads, under the read lock, listKnown and the revision.
// Every entry adds up its totals in one scratch vector, sized to the
// resource names under the same lock, instead of one allocation each.
func listKnownAt[ID ~uint32, E any, P entry[E], S any](e *Engine, t *idTable[ID, E], selector labels.Selector, summarizeIn func(P, []ResourceTotals) S) ([]S, uint64) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	vec := make([]ResourceTotals, len(e.res.names))
	return listKnown(t, selector, func(p P) S { return summarizeIn(p, vec) }), e.changes.rev
}

// knownNode returns the summary of a known node. The caller holds the lock.
func (e *Engine) knownNode(name string) (NodeTotals, bool) {
	return known(&e.nodes, name, e.nodeTotals)
}

// knownNamespace is knownNode for namespaces.
func (e *Engine) knownNamespace(name string) (NamespaceTotals, bool) {
	return known(&e.nss, name, e.namespaceTotals)
}

// known returns the summary of the entry of t named name if it is known.
// The caller holds the lock.
func known[ID ~uint32, E any, P entry[E], S any](t *idTable[ID, E], name string, summarize func(P) S) (S, bool) {
	if x := t.get(name); x != nil && P(x).obj().known {
		return summarize(P(x)), true
	}
	var zero S
	return zero, false
}

// listKnown returns the summaries of the known entries of t whose labels
// selector matches (nil: all), sorted by name. The caller holds the lock.
func listKnown[ID ~uint32, E any, P entry[E], S any](t *idTable[ID, E], selector labels.Selector, summarize func(P) S) []S {
	selector = restrictive(selector)
	var picked []P
	for _, x := range t.byID {
		if x == nil {
			continue
		}
		o := P(x).obj()
		if o.known && (selector == nil || selector.Matches(labels.Set(o.labels))) {
			picked = append(picked, P(x))
		}
	}
	slices.SortFunc(picked, func(a, b P) int { return cmp.Compare(a.obj().name, b.obj().name) })
	out := make([]S, 0, len(picked))
	for _, p := range picked {
		out = append(out, summarize(p))
	}
	return out
}

func (e *Engine) nodeTotals(n *nodeEntry) NodeTotals {
	return e.nodeTotalsIn(n, make([]ResourceTotals, len(e.res.names)))
}

// nodeTotalsIn is nodeTotals adding up in vec, a zeroed slice of one
// ResourceTotals per resource name, which it leaves zeroed: a list reuses
// one for every node.
func (e *Engine) nodeTotalsIn(n *nodeEntry, vec []ResourceTotals) NodeTotals {
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
	for _, r := range n.resources {
		vec[r.id].Capacity = r.capacity
		vec[r.id].Allocatable = r.allocatable
	}
	n.pods.addResTo(vec)
	if n.use.has {
		nu := n.nodeUseTally()
		setUsageRows(vec, &nu, &useTally{})
		t.UsageTimestamp, t.UsageWindow = n.use.timestamp, n.use.window
	}
	t.Resources = e.rows(vec, nil)
	clear(vec)
	return t
}

func (e *Engine) namespaceTotals(ns *nsEntry) NamespaceTotals {
	return e.namespaceTotalsIn(ns, make([]ResourceTotals, len(e.res.names)))
}

// namespaceTotalsIn is namespaceTotals adding up in vec, as nodeTotalsIn.
func (e *Engine) namespaceTotalsIn(ns *nsEntry, vec []ResourceTotals) NamespaceTotals {
	t := NamespaceTotals{
		Name:              ns.name,
		Labels:            maps.Clone(ns.labels),
		CreationTimestamp: ns.created,
		Workloads:         workloadCounts(&ns.workloads),
		Revision:          ns.rev,
	}
	ns.bound.addTo(&t.Pods, vec)
	ns.unbound.addTo(&t.Pods, vec)
	if e.usage.available {
		setUsageRows(vec, &ns.use, &ns.use)
	}
	t.Resources = e.rows(vec, nil)
	clear(vec)
	if len(ns.quotas) > 0 {
		t.Quotas = make([]QuotaTotals, 0, len(ns.quotas))
	}
	for name, q := range ns.quotas {
		t.Quotas = append(t.Quotas, QuotaTotals{Name: name, Hard: q.hard.DeepCopy(), Used: q.used.DeepCopy()})
	}
	slices.SortFunc(t.Quotas, func(a, b QuotaTotals) int { return cmp.Compare(a.Name, b.Name) })
	return t
}

// clone returns a copy that shares nothing with t.
func (t NodeTotals) clone() NodeTotals {
	c := t
	c.Labels = maps.Clone(t.Labels)
	c.Resources = slices.Clone(t.Resources)
	return c
}

// clone returns a copy that shares nothing with t.
func (t NamespaceTotals) clone() NamespaceTotals {
	c := t
	c.Labels = maps.Clone(t.Labels)
	c.Resources = slices.Clone(t.Resources)
	c.Quotas = slices.Clone(t.Quotas)
	for i := range c.Quotas {
		c.Quotas[i].Hard = c.Quotas[i].Hard.DeepCopy()
		c.Quotas[i].Used = c.Quotas[i].Used.DeepCopy()
	}
	return c
}
