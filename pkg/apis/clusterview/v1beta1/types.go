package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types reported in ClusterSummaryStatus.Conditions.
const (
	// ConditionReady is True when the status was computed from synced
	// informers for the object's current generation.
	ConditionReady = "Ready"
	// ConditionDegraded is True when selected nodes are not ready or under
	// pressure, or selected pods are crash-looping. Its message names them.
	ConditionDegraded = "Degraded"
	// ConditionGroupsTruncated is True when spec.groupByNodeLabel has more
	// values than the server's --max-status-groups: the groups with the
	// fewest nodes are summed in the OtherGroup group. NodeSummary objects
	// keep the per-node figures.
	ConditionGroupsTruncated = "GroupsTruncated"
	// ConditionUsageAvailable is True while usage from the resource metrics
	// API (metrics.k8s.io) is current, so that resources[].usage and idle are
	// set; False, with reason MetricsAPIUnavailable, while they are absent.
	ConditionUsageAvailable = "UsageAvailable"
	// ConditionHeadroomLow is True when fewer pods of a spec.headroom shape
	// fit than its minFits. Its message names the shapes.
	ConditionHeadroomLow = "HeadroomLow"
)

// MaxHeadroomShapes is how many shapes spec.headroom may list.
const MaxHeadroomShapes = 8

// NoneGroup names the group of nodes that lack the spec.groupByNodeLabel label.
const NoneGroup = "<none>"

// OtherGroup names the group that sums the groups beyond the server's
// --max-status-groups (see ConditionGroupsTruncated).
const OtherGroup = "<other>"

// DefaultClusterSummaryName is the ClusterSummary the server creates at its
// first start: the whole cluster, with no selectors.
const DefaultClusterSummaryName = "cluster"

// +genclient
// +genclient:nonNamespaced
// +genclient:method=GetHistory,verb=get,subresource=history,result=github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1.ClusterSummaryHistory
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterSummary answers "how is my cluster doing?" for the nodes and
// namespaces its spec selects. The server computes its status continuously
// from the cluster's nodes, pods, namespaces, quotas and workloads.
type ClusterSummary struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec selects what the summary covers.
	// +optional
	Spec ClusterSummarySpec `json:"spec,omitempty"`
	// Status is the summary, computed by the server. Clients do not write it.
	// +optional
	Status ClusterSummaryStatus `json:"status,omitempty"`
}

// ClusterSummarySpec selects the nodes, namespaces and resources a
// ClusterSummary covers.
type ClusterSummarySpec struct {
	// NodeSelector selects the nodes to summarise. Empty or absent selects all
	// nodes. At most 32 matchLabels and 16 matchExpressions of at most 32 values.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	// NamespaceSelector selects the namespaces whose pods, quotas and workloads
	// are summarised. Empty or absent selects all namespaces. Same limits as
	// nodeSelector.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// GroupByNodeLabel is a node label key, such as topology.kubernetes.io/zone.
	// When set, status.groups carries one entry per value of that label; nodes
	// without the label are grouped under "<none>". Beyond the server's
	// --max-status-groups, the groups with the fewest nodes are summed under
	// "<other>" and the GroupsTruncated condition is True.
	// +optional
	GroupByNodeLabel string `json:"groupByNodeLabel,omitempty"`
	// Resources lists the resources to report, such as cpu, memory, pods or an
	// extended resource like nvidia.com/gpu. Defaults to [cpu, memory, pods].
	// At most 16 entries.
	// +optional
	// +listType=set
	Resources []corev1.ResourceName `json:"resources,omitempty"`
	// Headroom lists pod shapes (at most 8) for which status.headroom reports
	// how many more pods of the shape fit on the selected nodes.
	// +optional
	// +listType=map
	// +listMapKey=name
	Headroom []HeadroomShape `json:"headroom,omitempty"`
	// DisableHistory stops recording this summary's history when true.
	// History already recorded is kept until its retention ends; the
	// summary's history is deleted with the summary. Default: recorded.
	// +optional
	DisableHistory bool `json:"disableHistory,omitempty"`
}

// HeadroomShape is a named pod shape: the requests of one pod, and the
// tolerations and node labels that decide which nodes it may use.
type HeadroomShape struct {
	// Name identifies the shape in status.headroom, such as "web" or "gpu-job".
	Name string `json:"name"`
	// Requests are the pod's requests, as the scheduler counts them for the
	// whole pod (such as cpu: 500m, memory: 1Gi, nvidia.com/gpu: 1). At least
	// one must be positive.
	Requests corev1.ResourceList `json:"requests"`
	// Tolerations, as in a pod spec, let the shape use nodes with matching
	// NoSchedule or NoExecute taints.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// NodeSelector, as in a pod spec, narrows the selected nodes to those
	// with all these labels.
	// +optional
	// +mapType=atomic
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// MinFits sets the HeadroomLow condition True while fewer pods of the
	// shape fit.
	// +optional
	MinFits *int64 `json:"minFits,omitempty"`
}

// ClusterSummaryStatus is the computed summary. Fields are absent until the
// server has computed the status for the first time. Only the server writes
// it, and its lists other than conditions are atomic: each write replaces
// them whole, so managedFields records one entry per list, not one per item.
type ClusterSummaryStatus struct {
	// ObservedGeneration is the metadata.generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are Ready, Degraded, UsageAvailable, HeadroomLow when a
	// shape sets minFits, and GroupsTruncated when spec.groupByNodeLabel is set.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	// Nodes counts the selected nodes by state.
	// +optional
	Nodes *NodeCounts `json:"nodes,omitempty"`
	// Pods counts the selected pods by phase.
	// +optional
	Pods *PodCounts `json:"pods,omitempty"`
	// Namespaces is the number of selected namespaces.
	// +optional
	Namespaces int64 `json:"namespaces,omitempty"`
	// Resources reports capacity, allocatable, requests and limits for each
	// resource in spec.resources, over the selected nodes and the pods bound to them.
	// +optional
	// +listType=atomic
	Resources []ResourceUsage `json:"resources,omitempty"`
	// Workloads counts deployments, statefulsets and daemonsets in the selected
	// namespaces.
	// +optional
	Workloads *WorkloadCounts `json:"workloads,omitempty"`
	// Groups breaks the summary down by the value of spec.groupByNodeLabel.
	// +optional
	// +listType=atomic
	Groups []GroupSummary `json:"groups,omitempty"`
	// Headroom reports, for each spec.headroom shape, how many more pods of
	// it fit on the selected nodes.
	// +optional
	// +listType=atomic
	Headroom []HeadroomStatus `json:"headroom,omitempty"`
	// LastUpdateTime is when the status last changed.
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
}

// NodeCounts counts nodes by state. A node may count in several pressure fields.
type NodeCounts struct {
	// Total is the number of nodes.
	Total int64 `json:"total"`
	// Ready is the number of nodes whose Ready condition is True.
	Ready int64 `json:"ready"`
	// NotReady is the number of nodes whose Ready condition is False or Unknown.
	NotReady int64 `json:"notReady"`
	// Unschedulable is the number of cordoned nodes (spec.unschedulable).
	Unschedulable int64 `json:"unschedulable"`
	// MemoryPressure is the number of nodes whose MemoryPressure condition is True.
	MemoryPressure int64 `json:"memoryPressure"`
	// DiskPressure is the number of nodes whose DiskPressure condition is True.
	DiskPressure int64 `json:"diskPressure"`
	// PIDPressure is the number of nodes whose PIDPressure condition is True.
	PIDPressure int64 `json:"pidPressure"`
}

// PodCounts counts pods by phase, with restarts and crash-looping pods.
type PodCounts struct {
	// Total is the number of pods.
	Total int64 `json:"total"`
	// Pending is the number of pods in phase Pending, scheduled or not.
	Pending int64 `json:"pending"`
	// Running is the number of pods in phase Running.
	Running int64 `json:"running"`
	// Succeeded is the number of pods in phase Succeeded.
	Succeeded int64 `json:"succeeded"`
	// Failed is the number of pods in phase Failed.
	Failed int64 `json:"failed"`
	// Unknown is the number of pods in phase Unknown or with no phase.
	Unknown int64 `json:"unknown"`
	// Unscheduled is the number of pending pods not yet bound to a node.
	// +optional
	Unscheduled int64 `json:"unscheduled,omitempty"`
	// ContainerRestarts is the sum of the restart counts of all containers.
	ContainerRestarts int64 `json:"containerRestarts"`
	// CrashLooping is the number of pods with a container waiting in CrashLoopBackOff.
	CrashLooping int64 `json:"crashLooping"`
}

// ResourceUsage reports one resource. Requests and limits are counted the
// way the scheduler counts them: the larger of the biggest init container and
// the sum of app and sidecar containers, plus pod overhead. Pods that have
// finished hold nothing.
type ResourceUsage struct {
	// Name of the resource, such as cpu or memory.
	Name corev1.ResourceName `json:"name"`
	// Capacity is the sum of the nodes' capacity. Absent where no nodes are
	// summarised, as in a NamespaceSummary.
	// +optional
	Capacity *resource.Quantity `json:"capacity,omitempty"`
	// Allocatable is the sum of the nodes' allocatable amount.
	// +optional
	Allocatable *resource.Quantity `json:"allocatable,omitempty"`
	// Requests is the sum of the pods' requests.
	Requests resource.Quantity `json:"requests"`
	// Limits is the sum of the pods' limits. When podsWithoutLimit is not zero
	// it is a lower bound: those pods may use without limit.
	Limits resource.Quantity `json:"limits"`
	// PodsWithoutLimit is the number of pods with a container that sets no
	// limit for this resource.
	// +optional
	PodsWithoutLimit int64 `json:"podsWithoutLimit,omitempty"`
	// Usage is what is in use, for cpu and memory, from the resource metrics
	// API (metrics.k8s.io): a node's own usage (NodeMetrics, as `kubectl top
	// node` shows); for a namespace the sum of its pods' usage (PodMetrics);
	// for a ClusterSummary and its groups the selected nodes' own usage when
	// spec.namespaceSelector is empty, else the selected pods' usage. Absent
	// while usage is unavailable (see the UsageAvailable condition) and for
	// other resources.
	// +optional
	Usage *resource.Quantity `json:"usage,omitempty"`
	// Idle is what is requested but not used: the sum, over the pods counted
	// that have usage, of max(0, request - usage). Absent where usage is, and
	// in a NodeSummary.
	// +optional
	Idle *resource.Quantity `json:"idle,omitempty"`
	// Free is allocatable minus requests, never below zero. Set only in a
	// NodeSummary.
	// +optional
	Free *resource.Quantity `json:"free,omitempty"`
}

// WorkloadCounts counts workload controllers.
type WorkloadCounts struct {
	// Deployments counts apps/v1 Deployments.
	Deployments ReadyCount `json:"deployments"`
	// StatefulSets counts apps/v1 StatefulSets.
	StatefulSets ReadyCount `json:"statefulSets"`
	// DaemonSets counts apps/v1 DaemonSets.
	DaemonSets ReadyCount `json:"daemonSets"`
}

// ReadyCount is a total and how many of them are ready.
type ReadyCount struct {
	// Total is the number of objects.
	Total int64 `json:"total"`
	// Ready is the number of objects whose replicas are all ready.
	Ready int64 `json:"ready"`
}

// GroupSummary is the part of a summary for the nodes that share one value of
// spec.groupByNodeLabel.
type GroupSummary struct {
	// Name is the label value, "<none>" for nodes without the label, or
	// "<other>" for the sum of the groups beyond the server's --max-status-groups.
	Name string `json:"name"`
	// Nodes counts the group's nodes by state.
	Nodes NodeCounts `json:"nodes"`
	// Pods counts the pods bound to the group's nodes.
	Pods PodCounts `json:"pods"`
	// Resources reports the group's resources, as in status.resources.
	// +optional
	// +listType=atomic
	Resources []ResourceUsage `json:"resources,omitempty"`
	// Headroom reports the group's headroom, as in status.headroom.
	// +optional
	// +listType=atomic
	Headroom []HeadroomStatus `json:"headroom,omitempty"`
}

// HeadroomStatus is how many more pods of one shape fit now: on each node
// the shape may use, the fewest over its requests of
// floor((allocatable - requested) / request), and no more than the node's
// free pod slots. Nodes that are not Ready, cordoned, or carry a NoSchedule
// or NoExecute taint the shape does not tolerate admit none.
type HeadroomStatus struct {
	// Name is the shape's name in spec.headroom.
	Name string `json:"name"`
	// Fits is how many more pods of the shape fit.
	Fits int64 `json:"fits"`
	// LimitedBy is what bounds the fit on the most nodes the shape may use:
	// one of its requests, or "pods" for pod slots. Absent when it may use
	// no node.
	// +optional
	LimitedBy corev1.ResourceName `json:"limitedBy,omitempty"`
	// LargestFit is, per request, the largest amount one pod with the shape's
	// other requests could still be granted on one node.
	// +optional
	LargestFit corev1.ResourceList `json:"largestFit,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterSummaryList is a list of ClusterSummary objects.
type ClusterSummaryList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of ClusterSummary objects.
	Items []ClusterSummary `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +genclient:onlyVerbs=get,list,watch
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodeSummary is a live, read-only view of one node: its state, what its
// pods request and limit against its allocatable resources, and its pods by
// phase. There is one per Node, with the node's name and labels.
type NodeSummary struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata, mirroring the node's name, labels and creation time.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Ready is true when the node's Ready condition is True.
	Ready bool `json:"ready"`
	// Unschedulable is true when the node is cordoned.
	// +optional
	Unschedulable bool `json:"unschedulable,omitempty"`
	// MemoryPressure is true when the node's MemoryPressure condition is True.
	// +optional
	MemoryPressure bool `json:"memoryPressure,omitempty"`
	// DiskPressure is true when the node's DiskPressure condition is True.
	// +optional
	DiskPressure bool `json:"diskPressure,omitempty"`
	// PIDPressure is true when the node's PIDPressure condition is True.
	// +optional
	PIDPressure bool `json:"pidPressure,omitempty"`
	// Pods counts the pods bound to the node.
	Pods PodCounts `json:"pods"`
	// PodCapacity is the number of pods the node can run (allocatable pods).
	// +optional
	PodCapacity int64 `json:"podCapacity,omitempty"`
	// UsageTimestamp is when the node's usage (resources[].usage) was
	// sampled; absent while the node has none.
	// +optional
	UsageTimestamp *metav1.Time `json:"usageTimestamp,omitempty"`
	// UsageWindow is the interval the node's usage is averaged over, ending
	// at usageTimestamp.
	// +optional
	UsageWindow *metav1.Duration `json:"usageWindow,omitempty"`
	// Resources reports capacity, allocatable, requests and limits per resource.
	// +optional
	// +listType=map
	// +listMapKey=name
	Resources []ResourceUsage `json:"resources,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodeSummaryList is a list of NodeSummary objects.
type NodeSummaryList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of NodeSummary objects.
	Items []NodeSummary `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=get,list,watch
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NamespaceSummary is a live, read-only view of one namespace: its pods by
// phase, what they request and limit, its resource quotas and its workloads.
// There is one per Namespace, named after it, living in it, with its labels.
type NamespaceSummary struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata, mirroring the namespace's name, labels and creation time.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Pods counts the namespace's pods, scheduled or not.
	Pods PodCounts `json:"pods"`
	// Resources reports requests and limits per resource, including those of
	// pods not yet scheduled.
	// +optional
	// +listType=map
	// +listMapKey=name
	Resources []ResourceUsage `json:"resources,omitempty"`
	// Quotas reports each ResourceQuota's hard limits and usage.
	// +optional
	// +listType=map
	// +listMapKey=name
	Quotas []QuotaUsage `json:"quotas,omitempty"`
	// Workloads counts the namespace's deployments, statefulsets and daemonsets.
	Workloads WorkloadCounts `json:"workloads"`
}

// QuotaUsage is one ResourceQuota's hard limits and observed usage.
type QuotaUsage struct {
	// Name of the ResourceQuota.
	Name string `json:"name"`
	// Hard is the quota's enforced limit per resource.
	// +optional
	Hard corev1.ResourceList `json:"hard,omitempty"`
	// Used is the quota's observed usage per resource.
	// +optional
	Used corev1.ResourceList `json:"used,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NamespaceSummaryList is a list of NamespaceSummary objects.
type NamespaceSummaryList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items is the list of NamespaceSummary objects.
	Items []NamespaceSummary `json:"items"`
}

// HistoryTier names the stored history a ClusterSummaryHistory was read from.
type HistoryTier string

const (
	// HistoryTierRaw is the tier of samples taken every --history-resolution.
	HistoryTierRaw HistoryTier = "Raw"
	// HistoryTierRollup is the tier of --history-rollup-interval rollups.
	HistoryTierRollup HistoryTier = "Rollup"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterSummaryHistory is the recorded history of a ClusterSummary's status
// figures over a time window: the history subresource. Times without a
// sample (the server was down, the status was not yet computed, recording
// was disabled) have no point: gaps are never filled in.
type ClusterSummaryHistory struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata: the name and UID of the ClusterSummary.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Since is the start of the window, included.
	Since metav1.Time `json:"since"`
	// Until is the end of the window, excluded.
	Until metav1.Time `json:"until"`
	// Step is the time each point covers. Points start at multiples of the
	// step since the Unix epoch.
	Step metav1.Duration `json:"step"`
	// Tier is the stored history the points were computed from: Raw samples
	// or Rollups.
	Tier HistoryTier `json:"tier"`
	// Series holds one series per figure and group, sorted by group then figure.
	// +optional
	// +listType=atomic
	Series []HistorySeries `json:"series,omitempty"`
}

// HistorySeries is the history of one figure.
type HistorySeries struct {
	// Figure names the status figure: nodes.total, nodes.ready,
	// nodes.notReady, nodes.unschedulable, nodes.memoryPressure,
	// nodes.diskPressure, nodes.pidPressure, pods.total, pods.pending,
	// pods.running, pods.succeeded, pods.failed, pods.unknown,
	// pods.unscheduled, pods.containerRestarts, pods.crashLooping, or
	// resources.<resource>.<allocatable|requests|limits|usage|idle>. Usage
	// and idle are recorded for cpu and memory while usage is available
	// (the UsageAvailable condition); a sample taken without them has no
	// point in their series.
	Figure string `json:"figure"`
	// Group is the status.groups entry the figure belongs to; empty for the
	// whole summary.
	// +optional
	Group string `json:"group,omitempty"`
	// Points are the figure's values, oldest first, one per step that holds
	// at least one sample.
	// +listType=atomic
	Points []HistoryPoint `json:"points"`
}

// HistoryPoint summarises the samples of one figure within one step.
type HistoryPoint struct {
	// Time is the start of the step.
	Time metav1.Time `json:"time"`
	// Samples is the number of raw samples the point summarises.
	Samples int64 `json:"samples"`
	// Min is the smallest sample.
	Min resource.Quantity `json:"min"`
	// Mean is the mean of the samples.
	Mean resource.Quantity `json:"mean"`
	// Max is the largest sample.
	Max resource.Quantity `json:"max"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterSummaryHistoryOptions are the query parameters of the history
// subresource.
type ClusterSummaryHistoryOptions struct {
	metav1.TypeMeta `json:",inline"`

	// Since is the start of the window: a duration before now ("6h") or an
	// RFC 3339 time. Default: one hour before until.
	// +optional
	Since string `json:"since,omitempty"`
	// Until is the end of the window: a duration before now or an RFC 3339
	// time. Default: now.
	// +optional
	Until string `json:"until,omitempty"`
	// Step is the time each point covers, such as "5m". The server reads raw
	// samples when the step is shorter than the rollup interval and the
	// window is within the raw retention, rollups otherwise, and rounds the
	// step up to a multiple of what it reads. Default: the window divided
	// into at most 360 points.
	// +optional
	Step string `json:"step,omitempty"`
	// Fields lists the figures to return, such as nodes.ready or
	// resources.cpu.requests. Default: all.
	// +optional
	// +listType=atomic
	Fields []string `json:"fields,omitempty"`
}
