// Package summaryapi converts what the summary engine reads (package
// summary) into the internal clusterview API types, so the REST storages and
// the status controller render engine figures the same way.
//
// The engine counts CPU in millicores and every other resource in its base
// unit; summary.Quantity turns those back into quantities (DecimalSI for CPU
// and counts, BinarySI for byte-valued resources), which is the formatting
// users get in every summary.
package summaryapi

import (
	"cmp"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/summary"
)

// ResourceVersion renders an engine revision as a resourceVersion.
func ResourceVersion(rev uint64) string { return strconv.FormatUint(rev, 10) }

// NodeSummary converts the summary of one node. It mirrors the node's name,
// labels and creation time; its resourceVersion is the engine revision of the
// summary's last change, so it changes exactly when the summary does.
func NodeSummary(n summary.NodeTotals) *clusterview.NodeSummary {
	out := &clusterview.NodeSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name:              n.Name,
			Labels:            n.Labels,
			CreationTimestamp: n.CreationTimestamp,
			ResourceVersion:   ResourceVersion(n.Revision),
		},
		Ready:          n.Ready,
		Unschedulable:  n.Unschedulable,
		MemoryPressure: n.MemoryPressure,
		DiskPressure:   n.DiskPressure,
		PIDPressure:    n.PIDPressure,
		Pods:           PodCounts(n.Pods),
		PodCapacity:    n.PodCapacity,
	}
	// Capacity, allocatable, usage and free of every resource: a list of
	// 5,000 nodes would otherwise allocate them one by one, 20 or more per
	// node. A node's usage is its own (NodeMetrics), not its pods': the
	// idle amount of its pods is no figure of the node.
	qs := newQuantities(4 * len(n.Resources))
	out.Resources = withFree(withPodRequests(resourceUsages(n.Resources, true, false, qs), n.Pods), qs)
	if !n.UsageTimestamp.IsZero() {
		out.UsageTimestamp = &metav1.Time{Time: n.UsageTimestamp}
		out.UsageWindow = &metav1.Duration{Duration: n.UsageWindow}
	}
	return out
}

// NamespaceSummary converts the summary of one namespace. The object lives
// in the namespace it describes and is named after it. Its resources carry
// no capacity or allocatable: a namespace has no nodes of its own.
func NamespaceSummary(ns summary.NamespaceTotals) *clusterview.NamespaceSummary {
	out := &clusterview.NamespaceSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name:              ns.Name,
			Namespace:         ns.Name,
			Labels:            ns.Labels,
			CreationTimestamp: ns.CreationTimestamp,
			ResourceVersion:   ResourceVersion(ns.Revision),
		},
		Pods:      PodCounts(ns.Pods),
		Resources: resourceUsages(ns.Resources, false, true, newQuantities(2*len(ns.Resources))),
		Workloads: WorkloadCounts(ns.Workloads),
	}
	if len(ns.Quotas) > 0 {
		out.Quotas = make([]clusterview.QuotaUsage, len(ns.Quotas))
		for i, q := range ns.Quotas {
			// The engine hands out copies of the quota lists, so they are
			// the caller's to keep.
			out.Quotas[i] = clusterview.QuotaUsage{Name: q.Name, Hard: q.Hard, Used: q.Used}
		}
	}
	return out
}

// ClusterStatus converts a cluster summary into a ClusterSummary status.
// It fills every figure but leaves Conditions, ObservedGeneration and
// LastUpdateTime empty: the status controller owns those, because they
// depend on the object and on when it writes, not on the figures.
//
// Resources keep the order of Selection.Resources; groups are sorted by name,
// with nodes lacking the grouping label under clusterview.NoneGroup.
func ClusterStatus(t summary.ClusterTotals) clusterview.ClusterSummaryStatus {
	nodes := NodeCounts(t.Nodes)
	pods := PodCounts(t.Pods)
	workloads := WorkloadCounts(t.Workloads)
	st := clusterview.ClusterSummaryStatus{
		Nodes:      &nodes,
		Pods:       &pods,
		Namespaces: t.Namespaces,
		Resources:  withPodRequests(ResourceUsages(t.Resources, true), t.Pods),
		Workloads:  &workloads,
		Headroom:   HeadroomStatuses(t.Headroom),
	}
	if len(t.Groups) > 0 {
		st.Groups = make([]clusterview.GroupSummary, len(t.Groups))
		for i, g := range t.Groups {
			st.Groups[i] = clusterview.GroupSummary{
				Name:      g.Value,
				Nodes:     NodeCounts(g.Nodes),
				Pods:      PodCounts(g.Pods),
				Resources: withPodRequests(ResourceUsages(g.Resources, true), g.Pods),
				Headroom:  HeadroomStatuses(g.Headroom),
			}
		}
		// The engine already sorts groups; sorting again keeps the list-map
		// order stable even if that ever changes, and costs nothing here.
		slices.SortFunc(st.Groups, func(a, b clusterview.GroupSummary) int { return cmp.Compare(a.Name, b.Name) })
	}
	return st
}

// Degradation is what makes a cluster summary degraded, with the names the
// engine lists, for the message of the Degraded condition. ClusterStatus
// drops the names because the status has no field for them.
type Degradation struct {
	// NotReadyNodes counts the selected nodes that are not ready;
	// NotReadyNodeNames lists some of them, sorted (see Selection.MaxNames).
	NotReadyNodes     int64
	NotReadyNodeNames []string
	// MemoryPressure, DiskPressure and PIDPressure count the selected nodes
	// under each pressure.
	MemoryPressure int64
	DiskPressure   int64
	PIDPressure    int64
	// CrashLoopingPods counts the selected crash-looping pods;
	// CrashLoopingPodNames lists some of them as "namespace/name", sorted.
	CrashLoopingPods     int64
	CrashLoopingPodNames []string
}

// DegradationOf extracts the degraded facts of a cluster summary.
func DegradationOf(t summary.ClusterTotals) Degradation {
	return Degradation{
		NotReadyNodes:        t.Nodes.NotReady,
		NotReadyNodeNames:    t.NotReadyNodes,
		MemoryPressure:       t.Nodes.MemoryPressure,
		DiskPressure:         t.Nodes.DiskPressure,
		PIDPressure:          t.Nodes.PIDPressure,
		CrashLoopingPods:     t.Pods.CrashLooping,
		CrashLoopingPodNames: t.CrashLoopingPods,
	}
}

// Degraded reports whether any node is not ready or under pressure or any
// pod is crash-looping.
func (d Degradation) Degraded() bool {
	return d.NotReadyNodes+d.MemoryPressure+d.DiskPressure+d.PIDPressure+d.CrashLoopingPods > 0
}

// ResourceUsages converts resource rows, keeping their order. withNodes says
// whether the rows summarise nodes: only then are Capacity and Allocatable
// set (to zero quantities when the nodes have none), because for a namespace
// a zero would read as "no room" rather than "not applicable".
func ResourceUsages(rows []summary.ResourceTotals, withNodes bool) []clusterview.ResourceUsage {
	return resourceUsages(rows, withNodes, true, newQuantities(4*len(rows)))
}

// resourceUsages is ResourceUsages, with Idle only if withIdle and the
// optional quantities taken from qs.
func resourceUsages(rows []summary.ResourceTotals, withNodes, withIdle bool, qs *quantities) []clusterview.ResourceUsage {
	if len(rows) == 0 {
		return nil
	}
	out := make([]clusterview.ResourceUsage, len(rows))
	for i, r := range rows {
		out[i] = resourceUsage(r, withNodes, withIdle, qs)
	}
	return out
}

// ResourceUsage converts one resource row; see ResourceUsages for withNodes.
func ResourceUsage(r summary.ResourceTotals, withNodes bool) clusterview.ResourceUsage {
	return resourceUsage(r, withNodes, true, newQuantities(4))
}

func resourceUsage(r summary.ResourceTotals, withNodes, withIdle bool, qs *quantities) clusterview.ResourceUsage {
	u := clusterview.ResourceUsage{
		Name:             r.Name,
		Requests:         summary.Quantity(r.Name, r.Requests),
		Limits:           summary.Quantity(r.Name, r.Limits),
		PodsWithoutLimit: r.PodsWithoutLimit,
	}
	if withNodes {
		u.Capacity = qs.of(r.Name, r.Capacity)
		u.Allocatable = qs.of(r.Name, r.Allocatable)
	}
	if r.HasUsage {
		u.Usage = qs.of(r.Name, r.Usage)
		if withIdle {
			u.Idle = qs.of(r.Name, r.Idle)
		}
	}
	return u
}

// quantities hands out the optional quantities of one object from a few
// arrays instead of one allocation each. Each pointer is to its own
// element, so they alias nothing, as separately allocated ones would not.
type quantities struct {
	free []resource.Quantity
}

// newQuantities returns quantities with room for n before it allocates
// again.
func newQuantities(n int) *quantities {
	return &quantities{free: make([]resource.Quantity, n)}
}

// of returns a pointer to summary.Quantity(name, value).
func (qs *quantities) of(name corev1.ResourceName, value int64) *resource.Quantity {
	return qs.ptr(summary.Quantity(name, value))
}

// ptr returns a pointer to a copy of q.
func (qs *quantities) ptr(q resource.Quantity) *resource.Quantity {
	if len(qs.free) == 0 {
		qs.free = make([]resource.Quantity, 4)
	}
	p := &qs.free[0]
	*p = q
	qs.free = qs.free[1:]
	return p
}

// withPodRequests fills the requests of the "pods" resource the way the
// scheduler counts it: every pod bound to a node and not finished takes one
// of the node's allocatable pods. Containers never request "pods", so the
// engine's figure for it is always zero.
func withPodRequests(usages []clusterview.ResourceUsage, p summary.PodCounts) []clusterview.ResourceUsage {
	for i := range usages {
		if usages[i].Name == corev1.ResourcePods {
			bound := p.Pending - p.Unscheduled + p.Running + p.Unknown
			usages[i].Requests = *resource.NewQuantity(bound, resource.DecimalSI)
		}
	}
	return usages
}

// withFree sets what is left of each resource of one node: allocatable
// minus requests, never below zero (a node's pods may request more than it
// has, as when allocatable shrinks under running pods).
func withFree(usages []clusterview.ResourceUsage, qs *quantities) []clusterview.ResourceUsage {
	for i := range usages {
		u := &usages[i]
		free := u.Allocatable.DeepCopy()
		free.Sub(u.Requests)
		if free.Sign() < 0 {
			free = summary.Quantity(u.Name, 0)
		}
		u.Free = qs.ptr(free)
	}
	return usages
}

// PodCounts converts pod counts. The engine's struct has the API's fields
// without their JSON tags, so a conversion copies them all; a field added to
// one side and not the other stops this from compiling.
func PodCounts(p summary.PodCounts) clusterview.PodCounts { return clusterview.PodCounts(p) }

// NodeCounts converts node counts, as PodCounts does.
func NodeCounts(n summary.NodeCounts) clusterview.NodeCounts { return clusterview.NodeCounts(n) }

// WorkloadCounts converts workload counts.
func WorkloadCounts(w summary.WorkloadCounts) clusterview.WorkloadCounts {
	return clusterview.WorkloadCounts{
		Deployments:  clusterview.ReadyCount(w.Deployments),
		StatefulSets: clusterview.ReadyCount(w.StatefulSets),
		DaemonSets:   clusterview.ReadyCount(w.DaemonSets),
	}
}

// HeadroomStatuses converts the headroom of each shape, in spec order.
func HeadroomStatuses(hs []summary.Headroom) []clusterview.HeadroomStatus {
	if len(hs) == 0 {
		return nil
	}
	out := make([]clusterview.HeadroomStatus, len(hs))
	for i, h := range hs {
		out[i] = clusterview.HeadroomStatus{Name: h.Name, Fits: h.Fits, LimitedBy: h.LimitedBy}
		if len(h.LargestFit) > 0 {
			out[i].LargestFit = make(corev1.ResourceList, len(h.LargestFit))
			for _, f := range h.LargestFit {
				out[i].LargestFit[f.Name] = summary.Quantity(f.Name, f.Value)
			}
		}
	}
	return out
}
