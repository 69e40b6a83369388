// Package summary keeps incrementally maintained tallies of a cluster's
// nodes, pods, namespaces, resource quotas and apps/v1 workloads, so that
// cluster-, node- and namespace-level summaries can be read without ever
// scanning pods. It knows nothing of HTTP, storage or API clients: package
// feed turns informer events into calls on an Engine.
//
// # Data layout
//
// The Engine keeps no Kubernetes objects. Each pod is a compact record keyed
// by (interned namespace, name) holding its phase, restart sum, crash-loop
// flag, the cell it is counted in and a short sorted slice of
// (resource, requests, limits) entries. Resource, node and namespace names
// are interned to small integers. Tallies (pod counts by phase, restarts,
// crash-looping pods, and per-resource requests/limits/pods-without-limit
// vectors indexed by resource id) are kept for the whole cluster, for each
// node, for each namespace and for each (node, namespace) cell that has pods.
// Every event computes the object's new record, compares it with the old one,
// and when they differ adds the new record to the affected tallies and
// subtracts the old one. An event therefore touches at most four tallies and
// costs O(size of the object), independent of cluster size; a pod update that
// changes nothing the engine counts costs no allocation and no revision.
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
// # Workloads
//
// A Deployment or StatefulSet is ready when status.observedGeneration >=
// metadata.generation (the controller has seen the latest spec) and
// status.readyReplicas >= spec.replicas (default 1). A DaemonSet is ready
// when status.numberReady >= status.desiredNumberScheduled.
//
// # Concurrency
//
// One sync.RWMutex guards all state. Event methods (called from informer
// goroutines) take the write lock for the duration of one O(object) update;
// read methods take the read lock, so readers run in parallel with each
// other and never see a half-applied event.
//
// # Read cost
//
// Cluster with both selectors selecting everything is O(resources), plus
// O(nodes) when grouping. With only a node selector it is O(nodes), with only
// a namespace selector O(namespaces). With both selectors restrictive (or a
// namespace selector and grouping) it is O(nodes + namespaces + C), where C
// is the smaller of the number of (node, namespace) cells of the selected
// nodes and of the selected namespaces; C is at most min(pods on those
// nodes, selected nodes x namespaces) and, in practice, far below the pod
// count only when pods of a namespace concentrate on few nodes. Matching
// selectors against labels happens at read time, so a node or namespace
// label change moves its contribution at once without re-bucketing pods.
// Listing crash-looping pods costs O(crash-looping pods). Node, Namespace
// and Changes are O(size of the answer).
//
// # Change tracking
//
// Every event that changes anything increments a global revision. Each node
// and namespace summary carries the revision of its last change, and a
// bounded ring of change records lets watchers catch up with Changes and wait
// with Wait. A pod event modifies the summaries of its namespace and of its
// old and new nodes.
package summary
