package summary

import (
	"cmp"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
)

// Shape is a pod shape whose headroom Cluster computes: how many more pods
// with these requests the scheduler's resource fit would still admit.
type Shape struct {
	Name string
	// Requests are the pod's effective requests. Zero entries are ignored,
	// as the scheduler ignores them.
	Requests v1.ResourceList
	// Tolerations let the shape use nodes with matching NoSchedule and
	// NoExecute taints, and cordoned nodes when they tolerate the
	// node.kubernetes.io/unschedulable:NoSchedule taint.
	Tolerations []v1.Toleration
	// NodeSelector narrows the nodes the shape may use within the
	// Selection's nodes; nil or empty selects them all.
	NodeSelector labels.Selector
}

// Headroom is how many more pods of one Shape fit on a set of nodes now.
type Headroom struct {
	Name string
	// Fits sums, over the nodes the shape may use, how many pods of the
	// shape each node still admits.
	Fits int64
	// LimitedBy is the constraint that bounds Fits on the most usable nodes:
	// one of the shape's resources, or "pods" for the node's pod slots.
	// Empty when the shape may use no node. Ties go to the resource that
	// sorts first, pods last.
	LimitedBy v1.ResourceName
	// LargestFit is, for each resource of the shape (sorted by name), the
	// largest request of it that one pod with the shape's other requests
	// could still be granted: the most of it free on a usable node that has
	// a free pod slot and room for the other requests. Zero when no node has.
	LargestFit []ResourceFigure
}

// ResourceFigure is an amount of one resource, in the units of
// ResourceTotals.
type ResourceFigure struct {
	Name  v1.ResourceName
	Value int64
}

// Unschedulable nodes carry this taint (the node lifecycle controller adds
// it on cordon), and the scheduler's NodeUnschedulable filter admits exactly
// the pods that tolerate it.
var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// SchedulingTaints keeps what a toleration is matched against (key, value,
// effect) of the taints that keep pods off a node; PreferNoSchedule taints
// do not. Nil for an untainted node, which is nearly every node.
func SchedulingTaints(taints []v1.Taint) []v1.Taint {
	var out []v1.Taint
	for _, t := range taints {
		if t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute {
			out = append(out, v1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
		}
	}
	return out
}

// shapeReq is one positive request of a shape, resolved to a resource id.
// known is false for a resource no node or pod has ever carried: no node
// has any of it.
type shapeReq struct {
	name   v1.ResourceName
	id     resID
	known  bool
	amount int64
}

// shapePlan is a Shape resolved against the engine's resource table once
// per read.
type shapePlan struct {
	name        string
	reqs        []shapeReq // sorted by name
	tolerations []v1.Toleration
	nodeSel     labels.Selector
	// tolerantOfCordon says whether cordoned nodes are usable.
	tolerantOfCordon bool
}

// headroomAcc accumulates one Headroom.
type headroomAcc struct {
	fits int64
	// limiting counts usable nodes per constraint: reqs by index, then pods.
	limiting []int64
	// largest is the most free of each request, by index; -1 until a usable
	// node with a free pod slot is seen.
	largest []int64
}

func (e *Engine) shapePlans(shapes []Shape) []shapePlan {
	plans := make([]shapePlan, len(shapes))
	for i, s := range shapes {
		p := shapePlan{name: s.Name, tolerations: s.Tolerations, nodeSel: restrictive(s.NodeSelector)}
		for name, q := range s.Requests {
			a := amount(name, &q)
			if a <= 0 {
				continue
			}
			id, known := e.res.ids[name]
			p.reqs = append(p.reqs, shapeReq{name: name, id: id, known: known, amount: a})
		}
		slices.SortFunc(p.reqs, func(a, b shapeReq) int { return cmp.Compare(a.name, b.name) })
		p.tolerantOfCordon = tolerated(&unschedulableTaint, s.Tolerations)
		plans[i] = p
	}
	return plans
}

func newHeadroomAccs(plans []shapePlan) []headroomAcc {
	accs := make([]headroomAcc, len(plans))
	for i, p := range plans {
		accs[i] = headroomAcc{limiting: make([]int64, len(p.reqs)+1), largest: make([]int64, len(p.reqs))}
		for j := range accs[i].largest {
			accs[i].largest[j] = -1
		}
	}
	return accs
}

// tolerated reports whether any toleration tolerates the taint, using the
// core API's own matcher. Numeric (Gt, Lt) tolerations are matched as the
// API server admits them; the logger only hears of unparsable values.
func tolerated(taint *v1.Taint, tolerations []v1.Toleration) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Background(), taint, true) {
			return true
		}
	}
	return false
}

// usable reports whether the scheduler could place a pod of the plan on the
// node at all, resources aside.
func (p *shapePlan) usable(n *nodeEntry) bool {
	if !n.known || n.flags&nodeReady == 0 {
		return false
	}
	if n.flags&nodeUnschedulable != 0 && !p.tolerantOfCordon {
		return false
	}
	for i := range n.taints {
		if !tolerated(&n.taints[i], p.tolerations) {
			return false
		}
	}
	return p.nodeSel == nil || p.nodeSel.Matches(labels.Set(n.labels))
}

// boundActivePods counts the node's pods that hold a pod slot: every pod
// bound to it that has not finished, as the scheduler counts them.
func (n *nodeEntry) boundActivePods() int64 {
	return int64(n.pods.phases[phasePending] + n.pods.phases[phaseRunning] + n.pods.phases[phaseUnknown])
}

// allocatableOf returns the node's allocatable amount of a resource.
func (n *nodeEntry) allocatableOf(id resID) int64 {
	for _, r := range n.resources {
		if r.id == id {
			return r.allocatable
		}
	}
	return 0
}

// requestedOf returns what the node's pods request of a resource.
func (n *nodeEntry) requestedOf(id resID) int64 {
	if int(id) < len(n.pods.res) {
		return n.pods.res[id].requests
	}
	return 0
}

// nodeFit is how many pods of the plan's shape a node still admits: for
// each request floor((allocatable - requested) / request), and the free pod
// slots, whichever is smallest. It leaves each request's free amount in
// free. ok is false when the shape may not use the node at all.
func (p *shapePlan) nodeFit(n *nodeEntry, free []int64) (fits, slots int64, ok bool) {
	if !p.usable(n) {
		return 0, 0, false
	}
	slots = max(n.podCapacity()-n.boundActivePods(), 0)
	fits = slots
	for j, r := range p.reqs {
		free[j] = 0
		if r.known {
			free[j] = max(n.allocatableOf(r.id)-n.requestedOf(r.id), 0)
		}
		fits = min(fits, free[j]/r.amount)
	}
	return fits, slots, true
}

// add adds one usable node's fit, as nodeFit returned it. A node with a free
// pod slot offers each request's free amount as a largest fit when every
// other request of the shape fits on it.
func (a *headroomAcc) add(p *shapePlan, fits, slots int64, free []int64) {
	a.fits += fits
	short := -1 // the one request that does not fit; -2 for several
	for j, r := range p.reqs {
		if free[j]/r.amount == fits {
			a.limiting[j]++
		}
		if free[j] < r.amount {
			if short == -1 {
				short = j
			} else {
				short = -2
			}
		}
	}
	if slots == fits {
		a.limiting[len(p.reqs)]++
	}
	if slots == 0 || short == -2 {
		return
	}
	for j := range p.reqs {
		if short == -1 || short == j {
			a.largest[j] = max(a.largest[j], free[j])
		}
	}
}

func (a *headroomAcc) result(p *shapePlan) Headroom {
	h := Headroom{Name: p.name, Fits: a.fits}
	best := int64(0)
	for j, c := range a.limiting {
		if c > best {
			best = c
			if j < len(p.reqs) {
				h.LimitedBy = p.reqs[j].name
			} else {
				h.LimitedBy = v1.ResourcePods
			}
		}
	}
	for j, r := range p.reqs {
		h.LargestFit = append(h.LargestFit, ResourceFigure{Name: r.name, Value: max(a.largest[j], 0)})
	}
	return h
}

// headroom computes every shape over the nodes sel selects (nil: all,
// ungrouped) and per group of sel: the same groups Cluster reports. A
// node's headroom depends on all its pods, whatever namespace selector the
// read has: the scheduler counts them all. It costs O(nodes x shapes x
// requests per shape).
func (e *Engine) headroom(shapes []Shape, sel *nodeSelection) ([]Headroom, map[string][]Headroom) {
	if len(shapes) == 0 {
		return nil, nil
	}
	plans := e.shapePlans(shapes)
	total := newHeadroomAccs(plans)
	// Every group has a selected node, so every group gets accumulators.
	var groups [][]headroomAcc
	if sel != nil && sel.group != nil {
		groups = make([][]headroomAcc, len(sel.values))
		for i := range groups {
			groups[i] = newHeadroomAccs(plans)
		}
	}
	maxReqs := 0
	for _, p := range plans {
		maxReqs = max(maxReqs, len(p.reqs))
	}
	free := make([]int64, maxReqs)
	for _, n := range e.nodes.byID {
		if n == nil || (sel != nil && !sel.selected(n.id)) {
			continue
		}
		var g []headroomAcc
		if groups != nil {
			g = groups[sel.group[n.id]]
		}
		for i := range plans {
			fits, slots, ok := plans[i].nodeFit(n, free)
			if !ok {
				continue
			}
			total[i].add(&plans[i], fits, slots, free)
			if g != nil {
				g[i].add(&plans[i], fits, slots, free)
			}
		}
	}
	results := func(accs []headroomAcc) []Headroom {
		out := make([]Headroom, len(plans))
		for i := range plans {
			out[i] = accs[i].result(&plans[i])
		}
		return out
	}
	var byGroup map[string][]Headroom
	if groups != nil {
		byGroup = make(map[string][]Headroom, len(groups))
		for i, accs := range groups {
			byGroup[sel.values[i]] = results(accs)
		}
	}
	return results(total), byGroup
}
