package summary

import (
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DefaultMaxNames is how many not-ready node names and crash-looping pod keys
// Cluster lists when Selection.MaxNames is zero.
const DefaultMaxNames = 10

// NoGroupValue is the group of nodes that lack the Selection.GroupByNodeLabel
// label, and of pods bound to a node whose Node object is not known.
const NoGroupValue = "<none>"

// Selection says which part of the cluster a ClusterTotals covers.
//
// A node is selected when NodeSelector matches its labels; a namespace when
// NamespaceSelector matches its labels. A nil selector, or one that is
// Empty() such as labels.Everything(), selects everything. Nodes and
// namespaces whose objects are not (yet) known are matched as if they had no
// labels, so the pods on or in them are counted exactly when a selector
// matches the empty label set.
//
// Pods count when their namespace is selected and they are either bound to a
// selected node or bound to no node at all (unscheduled pods have no node to
// filter on). Workloads and namespaces count when their namespace is selected.
type Selection struct {
	NodeSelector      labels.Selector
	NamespaceSelector labels.Selector
	// GroupByNodeLabel, when set, splits the node and pod figures of the
	// selected nodes by the value of this node label; see NoGroupValue.
	GroupByNodeLabel string
	// Resources lists the resources to report, in this order, with zero rows
	// for unknown ones. Nil reports every resource with a non-zero figure,
	// sorted by name.
	Resources []v1.ResourceName
	// MaxGroups, when positive, caps Groups: the groups beyond it are summed
	// into one OtherGroupValue group (see ClusterTotals.FoldedGroups).
	MaxGroups int
	// MaxNames caps NotReadyNodes and CrashLoopingPods: zero means
	// DefaultMaxNames, negative means none.
	MaxNames int
	// Headroom lists the pod shapes whose headroom to compute over the
	// selected nodes, and per group.
	Headroom []Shape
}

// NodeCounts counts known Node objects by condition.
type NodeCounts struct {
	Total          int64
	Ready          int64
	NotReady       int64
	Unschedulable  int64
	MemoryPressure int64
	DiskPressure   int64
	PIDPressure    int64
}

// PodCounts counts pods by phase. Unscheduled pods (phase Pending, no
// spec.nodeName) are also counted as Pending. ContainerRestarts sums the
// restartCount of every init and app container status; CrashLooping counts
// pods with at least one container waiting in CrashLoopBackOff.
type PodCounts struct {
	Total             int64
	Pending           int64
	Running           int64
	Succeeded         int64
	Failed            int64
	Unknown           int64
	Unscheduled       int64
	ContainerRestarts int64
	CrashLooping      int64
}

// ResourceTotals holds the figures of one resource. CPU is in millicores,
// every other resource in its base unit as returned by Quantity.Value()
// (bytes for memory, ephemeral-storage and hugepages; counts otherwise). Use
// Quantity to turn a figure back into a resource.Quantity.
//
// Requests and Limits sum pods that hold resources (not Succeeded or
// Failed). Limits only sums pods whose limit for the resource is bounded;
// PodsWithoutLimit counts the others (see the package documentation).
// Capacity and Allocatable are always zero for namespaces.
//
// Usage and Idle are set, and HasUsage is true, only for cpu and memory and
// only while usage from the resource metrics API is current (see
// Engine.ReplaceUsage): Usage is the node's own usage for a node, the sum of
// the pods' usage for a namespace, and for a cluster read the selected
// nodes' own usage without a namespace selector, the selected pods' usage
// with one. Idle sums, over the pods counted that have usage, max(0,
// request - usage). A node's Idle is zero.
type ResourceTotals struct {
	Name             v1.ResourceName
	Capacity         int64
	Allocatable      int64
	Requests         int64
	Limits           int64
	PodsWithoutLimit int64
	Usage            int64
	Idle             int64
	HasUsage         bool
}

// ReadyCount counts workloads of one kind and how many of them are ready.
type ReadyCount struct {
	Total int64
	Ready int64
}

// WorkloadCounts counts apps/v1 workloads; see the package documentation for
// when each kind counts as ready.
type WorkloadCounts struct {
	Deployments  ReadyCount
	StatefulSets ReadyCount
	DaemonSets   ReadyCount
}

// GroupTotals is the share of a ClusterTotals whose nodes carry one value of
// Selection.GroupByNodeLabel. Unscheduled pods belong to no group.
type GroupTotals struct {
	Value     string
	Nodes     NodeCounts
	Pods      PodCounts
	Resources []ResourceTotals
	// Headroom is in the order of Selection.Headroom.
	Headroom []Headroom
}

// ClusterTotals is the summary of the part of the cluster a Selection covers.
type ClusterTotals struct {
	// Revision is the engine revision this summary reflects.
	Revision   uint64
	Nodes      NodeCounts
	Pods       PodCounts
	Namespaces int64
	// Resources: Capacity and Allocatable of the selected nodes; Requests,
	// Limits and PodsWithoutLimit of the selected pods bound to them.
	// Unscheduled pods' requests are not part of it.
	Resources []ResourceTotals
	Workloads WorkloadCounts
	// Headroom is in the order of Selection.Headroom.
	Headroom []Headroom
	// Groups is sorted by Value; empty unless Selection.GroupByNodeLabel is set.
	Groups []GroupTotals
	// FoldedGroups is how many groups Selection.MaxGroups folded into the
	// OtherGroupValue group; zero when none were.
	FoldedGroups int
	// NotReadyNodes and CrashLoopingPods ("namespace/name") are sorted and
	// capped by Selection.MaxNames, for a short Degraded message.
	NotReadyNodes    []string
	CrashLoopingPods []string
	// UsageAvailable is true while usage from the resource metrics API is
	// current; Resources and Groups carry usage only then.
	UsageAvailable bool
}

// NodeTotals summarises one known node and the pods bound to it.
type NodeTotals struct {
	Name              string
	Labels            map[string]string
	CreationTimestamp metav1.Time
	Ready             bool
	MemoryPressure    bool
	DiskPressure      bool
	PIDPressure       bool
	Unschedulable     bool
	// Resources lists every resource with a non-zero figure, sorted by name.
	Resources []ResourceTotals
	Pods      PodCounts
	// PodCapacity is the node's allocatable "pods".
	PodCapacity int64
	// UsageTimestamp and UsageWindow describe the sample of the node's
	// usage; zero when its Resources carry none.
	UsageTimestamp time.Time
	UsageWindow    time.Duration
	// Revision is the engine revision of the last change to this summary.
	Revision uint64
}

// QuotaTotals is one ResourceQuota of a namespace. Hard is the quota's
// status.hard (spec.hard until the quota controller has filled the status).
type QuotaTotals struct {
	Name string
	Hard v1.ResourceList
	Used v1.ResourceList
}

// NamespaceTotals summarises one known namespace.
type NamespaceTotals struct {
	Name              string
	Labels            map[string]string
	CreationTimestamp metav1.Time
	Pods              PodCounts
	// Resources covers all the namespace's pods that hold resources,
	// including unscheduled ones; every resource with a non-zero figure,
	// sorted by name.
	Resources []ResourceTotals
	// Quotas is sorted by name.
	Quotas    []QuotaTotals
	Workloads WorkloadCounts
	// Revision is the engine revision of the last change to this summary.
	Revision uint64
}

// Quantity turns a figure of this package back into a resource.Quantity:
// millicores for CPU, base units otherwise (binary format for byte-valued
// resources, decimal for counts).
func Quantity(name v1.ResourceName, value int64) resource.Quantity {
	switch {
	case name == v1.ResourceCPU:
		return *resource.NewMilliQuantity(value, resource.DecimalSI)
	case name == v1.ResourceMemory, name == v1.ResourceEphemeralStorage, name == v1.ResourceStorage,
		strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix):
		return *resource.NewQuantity(value, resource.BinarySI)
	default:
		return *resource.NewQuantity(value, resource.DecimalSI)
	}
}
