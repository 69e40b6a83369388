// Package summary keeps incrementally maintained tallies of a cluster's
// nodes, pods, namespaces, resource quotas and apps/v1 workloads, so that
// cluster-, node- and namespace-level summaries can be read without ever
// scanning pods. It knows nothing of HTTP, storage or API clients: package
// feed turns informer and pod feed events into calls on an Engine, and
// uses the Engine's PodKeys as the pod feed's record of known pods.
//
// # Data layout
//
// The Engine keeps no Kubernetes objects. Each pod is a compact record keyed
// by (interned namespace, name) holding its phase, restart sum, crash-loop
// flag, the cell it is counted in and a pointer to its shape: a short
// sorted slice of (resource, requests, limits) entries, interned and shared
// by every pod asking for the same amounts and dropped with the last of
// them. Resource, node and namespace names are interned to small integers. Tallies (pod counts by phase, restarts,
// crash-looping pods, and per-resource requests/limits/pods-without-limit
// vectors indexed by resource id) are kept for the whole cluster, for each
// node, for each namespace and for each (node, namespace) cell that has pods.
// A pod reaches the engine as a PodUsage (PodUsageOf): the pod already reduced
// to its phase, node, restart sum, crash-loop flag and effective resources,
// the small record a queue carries in place of the pod.
// Every event computes the object's new record, compares it with the old one,
// and when they differ adds the new record to the affected tallies and
// subtracts the old one. An event therefore touches at most four tallies and
// costs O(size of the object), independent of cluster size; a pod update that
// changes nothing the engine counts costs no allocation and no revision.
//
// # Resource names
//
// Pods can name any resource, so the engine counts a resource on its own
// (an id, a slot in every tally vector, rows in reads) only while it is
// tracked: cpu, memory, ephemeral-storage and pods always; any other name
// while some known node lists it in capacity or allocatable or some
// summary's spec names it (SetSummaryResources). A pod's amounts of other
// names stay in its own record, count in no tally, and are counted together
// by UntrackedResources (names and pods). When a name becomes tracked or
// stops being so, the pods holding it move their amounts in or out of the
// tallies at one revision, at O(pods holding it); a released id is reused.
// A pod event stays O(its own resources) whatever names it carries.
//
// # Units
//
// CPU is counted in millicores (Quantity.MilliValue); every other resource in
// its base unit (Quantity.Value, rounded up): bytes for memory,
// ephemeral-storage and hugepages, plain counts otherwise. Each container's
// quantity is converted (and so rounded up) before it is added, so a
// sub-millicore CPU request counts as one millicore. Quantity converts back.
//
// # Pod resources
//
// A pod's requests and limits follow the scheduler's rule
// (k8s.io/component-helpers/resource PodRequests/PodLimits, KEP-753 for
// sidecars): per resource, max(sum of app containers and restartable init
// containers, the largest effective init container), where a regular init
// container's effective value is its own plus that of every restartable
// (sidecar) init container declared before it; pod-level resources
// (spec.resources, for cpu, memory and hugepages-*) replace the container
// aggregate when set; spec.overhead is added to requests and to non-zero
// limits. Resizes in progress (status resources) are not considered: the
// engine counts the spec.
//
// A pod's limit for cpu, memory or ephemeral-storage is unbounded when any of
// its containers (init, sidecar or app) declares no non-zero limit for it and
// no pod-level limit bounds it: that is how the kubelet sizes the pod cgroup.
// Such a pod adds nothing to Limits and one to PodsWithoutLimit. Other
// resources (extended resources, hugepages) cannot be used without being
// requested, so a container that omits them simply uses none.
//
// Pods in phase Succeeded or Failed hold no resources but still count by
// phase. Pods bound to no node (spec.nodeName empty) count for their
// namespace, including its requests, but for no node; pending ones are
// "unscheduled".
//
// # Headroom
//
// Selection.Headroom asks how many more pods of a Shape fit on the selected
// nodes: the scheduler's NodeResourcesFit, node by node, with the requests
// the engine already counts. A node admits floor((allocatable - requested) /
// request) pods for each positive request of the shape and as many as its
// free pod slots (allocatable pods minus the unfinished pods bound to it),
// whichever is smallest, none below zero. It admits none when it is not
// Ready, when it carries a NoSchedule or NoExecute taint no toleration of
// the shape tolerates (core/v1 Toleration.ToleratesTaint), when it is
// cordoned and the shape does not tolerate the node.kubernetes.io/
// unschedulable:NoSchedule taint (the NodeUnschedulable filter), or when the
// shape's node selector does not match it. Node affinity, inter-pod
// affinity, topology spread, host ports, volumes and scheduling gates are
// not modelled. Every pod on a node counts, whatever the namespace selector.
// Nodes keep their scheduling taints (key, value, effect) for this; a read
// costs O(selected nodes x shapes x requests).
//
// # Workloads
//
// A Deployment or StatefulSet is ready when status.observedGeneration >=
// metadata.generation (the controller has seen the latest spec) and
// status.readyReplicas >= spec.replicas (default 1). A DaemonSet is ready
// when status.numberReady >= status.desiredNumberScheduled.
//
// # Usage
//
// Usage comes from the resource metrics API (metrics.k8s.io), one round at a
// time: ReplaceNodeUsage gives every node its NodeMetrics and a
// PodUsageRound every pod its PodMetrics (cpu in millicores, memory in
// bytes) as the list is read, and every pod not listed loses its usage;
// a node not listed does too, unless ReplaceNodeUsageKeeping is told how
// old a sample may be and its sample is newer. ReplacePodUsage is a round
// given all at once, ReplaceUsage does both kinds, and ClearUsage drops all
// of it while the API cannot be read.
// A pod keeps its usage in its record (two numbers and a flag) across pod
// events until the next round, and loses it when it is deleted. Tallies sum
// the usage of the pods they count and their idle amount, max(0, request -
// usage) per resource, incrementally like requests; each node also keeps its
// own usage. A round costs O(pods + nodes) and records a change only for the
// summaries whose usage moved. A pod round takes the write lock a chunk of
// pods at a time, so that it never stalls reads and events for long.
//
// # Concurrency
//
// One sync.RWMutex guards all state. Event methods (called from informer
// goroutines) take the write lock for the duration of one O(object) update;
// read methods take the read lock, so readers run in parallel with each
// other and never see a half-applied event. Each read therefore returns the
// state at one revision. The methods ending in At (NodeAt, ListNodesAt,
// NamespaceAt, ListNamespacesAt) and the ChangesWithState methods also
// return that revision, read under the same lock: what they return is
// exactly the state at it, never a revision that trails or leads the items.
//
// Waiting for changes takes no engine lock. When an event releases the
// write lock it publishes, in atomics, the new revision and, for each kind
// of summary it recorded a change of, that revision as the kind's last
// change. Wait and WaitFor return at once, without allocating, when the
// revision waited for has been passed; otherwise they park on a channel
// guarded by a small mutex of their own, which the next publication closes.
// Events pay one atomic store and load per publication and take that mutex
// only when someone waits. Revision reads the published revision without
// locking: every change up to it is fully applied.
//
// # Read cost
//
// Cluster with both selectors selecting everything is O(resources), plus
// O(nodes) when grouping. With only a node selector it is O(nodes), with only
// a namespace selector O(namespaces). With both selectors restrictive (or a
// namespace selector and grouping) it is O(nodes + namespaces + C), where C
// is the smallest of the number of (node, namespace) cells of the selected
// nodes, of the selected namespaces, and of the namespaces left out (whose
// cells on selected nodes are taken away from those nodes' tallies, which
// is what a selector that leaves out a small share costs); C is at most
// min(pods on those nodes, selected nodes x namespaces) and, in practice,
// far below the pod count only when pods of a namespace concentrate on few
// nodes or the selection keeps or leaves out few namespaces. Matching
// selectors against labels happens at read time, so a node or namespace
// label change moves its contribution at once without re-bucketing pods.
// The nodes a node selector and grouping label select, and their groups,
// are kept from one read to the next until a node is added, deleted or
// relabelled, so reads between such changes skip the O(nodes) matching.
// Listing crash-looping pods costs O(crash-looping pods), with a name built
// only for those that make the first MaxNames. NodeAt and
// NamespaceAt are O(size of the answer); ChangesWithState is O(buffered
// changes after the revision asked for) plus the size of the states it
// returns.
//
// # Change tracking
//
// Every event that changes anything increments a global revision. Each node
// and namespace summary carries the revision of its last change, and a
// bounded ring of change records lets watchers catch up. A pod event
// modifies the summaries of its namespace and of its old and new nodes,
// recording those changes at one revision, all Modified and none changing
// labels. A usage round records a Modified change without a label change
// for every summary whose usage moved (or, when usage appears or
// disappears, for every summary), at one revision per chunk of pods and one
// for the nodes and the pods the round left out. No revision records a
// summary twice. So a revision at which a summary appears, disappears or
// changes labels records exactly one change.
//
// Each record keeps the summary's labels before and after the change (maps
// shared with the engine, which never modifies one in place), and a Deleted
// record keeps the summary's last state. Change.Labels gives a deleted
// summary's last labels. ChangesWithState (NodeChangesWithState,
// NamespaceChangesWithState) reads under one lock the records of one kind
// after a revision R, the state at the current revision of the summaries
// they name and the last state of those they delete, and tells for each
// record whether its summary was visible to a label selector (existed and
// matched) just before and just after it. For any R still buffered:
//
//   - a summary with no change after R is now exactly as it was at R;
//   - a summary's state now is its state at its last change;
//   - the first change of a summary after R tells whether it was visible
//     at R, and each change whether it stayed so.
//
// That is what a watch needs to send events that carry the state at their
// revision, and to resume from any revision it sent without asking the
// client what it holds. ChangesWithState fails with ErrRevisionTooOld only
// when changes of its own kind after R were evicted, so churn of one kind
// does not expire the watchers of the other. Wait wakes on every revision,
// WaitFor only on recorded changes of one kind, WaitForName only on those
// of one summary (a watch of one namespace).
package summary
