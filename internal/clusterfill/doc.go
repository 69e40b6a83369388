// Package clusterfill fills a Kubernetes cluster with nodes, namespaces, pods,
// resource quotas and apps/v1 workloads through the ordinary API, for
// clusterview's demo ("make run") and its scale benchmark.
//
// # Why it writes status
//
// The local control plane (internal/localcluster) runs etcd and kube-apiserver
// only: no kubelet, scheduler or controller-manager. Everything those would
// write, this package writes itself, the way they would:
//
//   - nodes are created with their status (capacity, allocatable, conditions),
//     as a kubelet registers them;
//   - pods are bound by setting spec.nodeName at create, as the scheduler's
//     binding would, and their phase, conditions and container statuses are
//     written through the status subresource, as the kubelet does;
//   - Deployment, StatefulSet, DaemonSet and ResourceQuota status is written as
//     their controllers would;
//   - each namespace gets its "default" ServiceAccount, which the
//     ServiceAccount admission plugin requires (when enabled) and which only
//     kube-controller-manager creates;
//   - the node.kubernetes.io/not-ready:NoSchedule taint that the
//     TaintNodesByCondition admission plugin puts on every new node is lifted
//     from ready nodes, as the node lifecycle controller would.
//
// # Writes per object
//
// kube-apiserver keeps a Node's status on create but resets the status of
// Pods, Deployments, StatefulSets, DaemonSets and ResourceQuotas (their
// strategies' PrepareForCreate), and the status subresource cannot create an
// object. A pod in its final state therefore always costs two writes: create,
// then UpdateStatus. A ready node costs two as well (create with status, then
// the taint update); an unready one, one.
//
// # Entry points
//
// Demo builds a small, fixed, idempotent cluster whose contents DescribeDemo
// reports without a cluster, so tests can assert exact numbers. Synthetic
// loads thousands of nodes and pods with bounded concurrency for the scale
// benchmark, and Churn then changes pod and node status at a fixed rate,
// recording when the API acknowledged each change so that a benchmark can
// measure how fresh clusterview's summaries are.
//
// Clients should come from TuneConfig: client-go's default client-side rate
// limit (5 requests/s) would make even Demo take half a minute.
//
// # Addresses
//
// No object carries an IP address or a kubelet endpoint: nothing here is
// routable, and a node address would invite kube-apiserver (kubectl logs,
// exec) to dial hosts other than loopback. Such requests fail at once with
// "no preferred addresses found" instead.
package clusterfill
