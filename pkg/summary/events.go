package summary

import (
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
)

// The event methods below are idempotent upserts and deletes by key, so an
// informer relist (adds/updates for every existing object, deletes for
// vanished ones) converges to the right tallies whatever was missed. None of
// them retains the object passed in.

// UpsertPod records the current state of a pod (add, update or relist).
// It is UpsertPodUsage(pod.Namespace, pod.Name, PodUsageOf(pod)).
func (e *Engine) UpsertPod(pod *v1.Pod) {
	u := PodUsageOf(pod)
	e.UpsertPodUsage(pod.Namespace, pod.Name, &u)
}

// UpsertPodUsage records the current state of a pod, reduced by PodUsageOf.
func (e *Engine) UpsertPodUsage(namespace, name string, u *PodUsage) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.intern(namespace)
	key := podKey{ns: ns.id, name: name}
	old, existed := e.pods[key]
	next := e.podRecord(u, old.shape)
	next.carryUsage(&old)
	var node *nodeEntry
	if u.NodeName != "" {
		// Most updates keep the node: comparing its name is cheaper than
		// hashing it.
		if old.cell != nil && e.nodes.byID[old.cell.node].name == u.NodeName {
			node = e.nodes.byID[old.cell.node]
		} else {
			node = e.nodes.intern(u.NodeName)
		}
	}
	// Shapes are interned, so equal amounts are the same pointer.
	if existed && old.shape == next.shape && old.phase == next.phase && old.flags == next.flags &&
		old.restarts == next.restarts && sameNode(old.cell, node) {
		return
	}
	if old.shape != next.shape {
		e.shapes.replace(old.shape, next.shape)
		e.updateHolders(key, &old, &next)
		e.countUntracked(&old, &next)
	}
	if node != nil {
		next.cell = e.cellFor(node, ns)
	}

	// Add before subtracting so that a pod staying in its cell never empties
	// (and re-creates) it.
	e.applyPod(ns, &next, 1)
	if existed {
		e.applyPod(ns, &old, -1)
	}
	e.pods[key] = next
	if next.flags&podCrashLooping != 0 {
		e.crashing[key] = next.cell
	} else if old.flags&podCrashLooping != 0 {
		delete(e.crashing, key)
	}

	rev := e.changes.bump()
	e.touchNS(ns, rev)
	e.touchNode(old.cell, rev)
	if old.cell == nil || next.cell == nil || old.cell.node != next.cell.node {
		e.touchNode(next.cell, rev)
	}
	if old.cell != nil && old.cell != next.cell {
		e.releaseCellIfEmpty(old.cell)
		e.releaseNodeIfUnused(e.nodes.byID[old.cell.node])
	}
}

// DeletePod forgets a pod. Tombstones carry the key, which is all it needs.
func (e *Engine) DeletePod(namespace, name string) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.get(namespace)
	if ns == nil {
		return
	}
	key := podKey{ns: ns.id, name: name}
	old, ok := e.pods[key]
	if !ok {
		return
	}
	e.applyPod(ns, &old, -1)
	delete(e.pods, key)
	delete(e.crashing, key)
	e.shapes.replace(old.shape, nil)
	e.updateHolders(key, &old, &podRec{})
	e.countUntracked(&old, &podRec{})

	rev := e.changes.bump()
	e.touchNS(ns, rev)
	e.touchNode(old.cell, rev)
	if old.cell != nil {
		e.releaseCellIfEmpty(old.cell)
		e.releaseNodeIfUnused(e.nodes.byID[old.cell.node])
	}
	e.releaseNSIfUnused(ns)
}

// HasPod reports whether the engine counts the pod namespace/name.
func (e *Engine) HasPod(namespace, name string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ns := e.nss.get(namespace)
	if ns == nil {
		return false
	}
	_, ok := e.pods[podKey{ns: ns.id, name: name}]
	return ok
}

// PodKeys returns the namespace/name key of every pod the engine counts, in
// no particular order. With HasPod it lets the engine stand in for an
// informer's store as the record of known pods (see package feed), so that
// pods are not kept twice.
func (e *Engine) PodKeys() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	keys := make([]string, 0, len(e.pods))
	for k := range e.pods {
		keys = append(keys, e.nss.byID[k.ns].name+"/"+k.name)
	}
	return keys
}

func sameNode(c *cell, n *nodeEntry) bool {
	if c == nil || n == nil {
		return c == nil && n == nil
	}
	return c.node == n.id
}

// applyPod adds or subtracts a pod record in every tally it belongs to.
func (e *Engine) applyPod(ns *nsEntry, r *podRec, sign int32) {
	e.applyPodUse(ns, r, int64(sign))
	if r.cell == nil {
		ns.unbound.apply(r, sign)
		e.unbound.apply(r, sign)
		return
	}
	ns.bound.apply(r, sign)
	e.bound.apply(r, sign)
	e.nodes.byID[r.cell.node].pods.apply(r, sign)
	r.cell.pods.apply(r, sign)
}

// touchNS marks a namespace summary changed at rev.
func (e *Engine) touchNS(ns *nsEntry, rev uint64) {
	e.touch(KindNamespace, &ns.object, rev)
}

// touchNode marks the summary of a cell's node changed at rev.
func (e *Engine) touchNode(c *cell, rev uint64) {
	if c != nil {
		e.touch(KindNode, &e.nodes.byID[c.node].object, rev)
	}
}

// UpsertNode records the current state of a node.
func (e *Engine) UpsertNode(node *v1.Node) {
	e.mu.Lock()
	defer e.unlock()

	n := e.nodes.intern(node.Name)
	flags := nodeFlagsOf(node)
	res := e.nodeResources(node)
	sameRes := slices.Equal(n.resources, res)
	taints := SchedulingTaints(node.Spec.Taints)
	sameTaints := slices.Equal(n.taints, taints)
	if flags == n.flags && sameRes && sameTaints && n.follows(&node.ObjectMeta) {
		return
	}
	if n.known {
		e.applyNodeAggregate(n, -1)
	}
	var rev uint64
	if !sameRes {
		old := n.resources
		n.resources = slices.Clone(res)
		// Count the new list before uncounting the old, so that a name in
		// both is never released; then move the pods holding a name that
		// became tracked.
		e.advertise(n.resources, 1, &rev)
		e.advertise(old, -1, &rev)
		for _, id := range e.createdScratch {
			e.retrack(e.res.names[id], id, true, &rev)
		}
	}
	if !sameTaints {
		n.taints = taints
	}
	n.flags = flags
	e.applyNodeAggregate(n, 1)
	if flags&nodeReady == 0 {
		e.notReady[n.id] = struct{}{}
	} else {
		delete(e.notReady, n.id)
	}
	if !maps.Equal(n.labels, node.Labels) {
		e.nodes.gen++ // resolved node selections are out of date
	}
	e.recordUpsert(KindNode, &n.object, &node.ObjectMeta)
}

// DeleteNode forgets a node object. Pods still bound to it keep counting, as
// pods of an unknown node, until they are deleted or move.
func (e *Engine) DeleteNode(name string) {
	e.mu.Lock()
	defer e.unlock()

	n := e.nodes.get(name)
	if n == nil || !n.known {
		return
	}
	last := e.nodeTotals(n) // deletes are rare: the record keeps the last state
	e.applyNodeAggregate(n, -1)
	delete(e.notReady, n.id)
	e.setNodeUse(n, nodeUse{})
	old := n.resources
	n.flags, n.resources, n.taints = 0, nil, nil
	e.nodes.gen++ // the node loses its labels
	e.recordDelete(KindNode, &n.object, &last)
	var rev uint64
	e.advertise(old, -1, &rev)
	e.releaseNodeIfUnused(n)
}

func nodeFlagsOf(node *v1.Node) nodeFlags {
	var f nodeFlags
	if node.Spec.Unschedulable {
		f |= nodeUnschedulable
	}
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Status != v1.ConditionTrue {
			continue
		}
		switch c.Type {
		case v1.NodeReady:
			f |= nodeReady
		case v1.NodeMemoryPressure:
			f |= nodeMemoryPressure
		case v1.NodeDiskPressure:
			f |= nodeDiskPressure
		case v1.NodePIDPressure:
			f |= nodePIDPressure
		}
	}
	return f
}

// nodeResources returns the node's capacity and allocatable sorted by
// resource id, in scratch memory, and lists in e.createdScratch the ids it
// gave names no one tracked before.
func (e *Engine) nodeResources(node *v1.Node) []nodeRes {
	out := e.nodeScratch[:0]
	e.createdScratch = e.createdScratch[:0]
	intern := func(name v1.ResourceName) resID {
		id, created := e.res.intern(name)
		if created {
			e.createdScratch = append(e.createdScratch, id)
		}
		return id
	}
	find := func(id resID) int {
		for i := range out {
			if out[i].id == id {
				return i
			}
		}
		out = append(out, nodeRes{id: id})
		return len(out) - 1
	}
	for name, q := range node.Status.Capacity {
		id := intern(name)
		out[find(id)].capacity = amount(name, &q)
	}
	for name, q := range node.Status.Allocatable {
		id := intern(name)
		out[find(id)].allocatable = amount(name, &q)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].id < out[j-1].id; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	e.nodeScratch = out
	return out
}

// UpsertNamespace records the current state of a namespace.
func (e *Engine) UpsertNamespace(namespace *v1.Namespace) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.intern(namespace.Name)
	if ns.follows(&namespace.ObjectMeta) {
		return
	}
	if !ns.known {
		e.knownNamespaces++
	}
	e.recordUpsert(KindNamespace, &ns.object, &namespace.ObjectMeta)
}

// DeleteNamespace forgets a namespace object. Its pods, workloads and quotas
// keep counting until their own deletes arrive.
func (e *Engine) DeleteNamespace(name string) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.get(name)
	if ns == nil || !ns.known {
		return
	}
	last := e.namespaceTotals(ns) // deletes are rare: the record keeps the last state
	e.knownNamespaces--
	e.recordDelete(KindNamespace, &ns.object, &last)
	e.releaseNSIfUnused(ns)
}

// UpsertResourceQuota records a quota's hard limits and usage.
func (e *Engine) UpsertResourceQuota(q *v1.ResourceQuota) {
	e.mu.Lock()
	defer e.unlock()

	hard := q.Status.Hard
	if hard == nil {
		hard = q.Spec.Hard
	}
	ns := e.nss.intern(q.Namespace)
	if old, ok := ns.quotas[q.Name]; ok && resourceListsEqual(old.hard, hard) && resourceListsEqual(old.used, q.Status.Used) {
		return
	}
	if ns.quotas == nil {
		ns.quotas = make(map[string]quotaRec)
	}
	ns.quotas[q.Name] = quotaRec{hard: hard.DeepCopy(), used: q.Status.Used.DeepCopy()}
	e.touchNS(ns, e.changes.bump())
}

// DeleteResourceQuota forgets a quota.
func (e *Engine) DeleteResourceQuota(namespace, name string) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.get(namespace)
	if ns == nil {
		return
	}
	if _, ok := ns.quotas[name]; !ok {
		return
	}
	delete(ns.quotas, name)
	e.touchNS(ns, e.changes.bump())
	e.releaseNSIfUnused(ns)
}

func resourceListsEqual(a, b v1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, qa := range a {
		qb, ok := b[name]
		if !ok || qa.Cmp(qb) != 0 {
			return false
		}
	}
	return true
}

// UpsertDeployment records whether a deployment is ready.
func (e *Engine) UpsertDeployment(d *appsv1.Deployment) {
	ready := d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas >= replicasOrDefault(d.Spec.Replicas)
	e.upsertWorkload(kindDeployment, d.Namespace, d.Name, ready)
}

// DeleteDeployment forgets a deployment.
func (e *Engine) DeleteDeployment(namespace, name string) {
	e.deleteWorkload(kindDeployment, namespace, name)
}

// UpsertStatefulSet records whether a statefulset is ready.
func (e *Engine) UpsertStatefulSet(s *appsv1.StatefulSet) {
	ready := s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas >= replicasOrDefault(s.Spec.Replicas)
	e.upsertWorkload(kindStatefulSet, s.Namespace, s.Name, ready)
}

// DeleteStatefulSet forgets a statefulset.
func (e *Engine) DeleteStatefulSet(namespace, name string) {
	e.deleteWorkload(kindStatefulSet, namespace, name)
}

// UpsertDaemonSet records whether a daemonset is ready.
func (e *Engine) UpsertDaemonSet(d *appsv1.DaemonSet) {
	e.upsertWorkload(kindDaemonSet, d.Namespace, d.Name, d.Status.NumberReady >= d.Status.DesiredNumberScheduled)
}

// DeleteDaemonSet forgets a daemonset.
func (e *Engine) DeleteDaemonSet(namespace, name string) {
	e.deleteWorkload(kindDaemonSet, namespace, name)
}

// replicasOrDefault applies the API default of spec.replicas.
func replicasOrDefault(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func (e *Engine) upsertWorkload(kind workloadKind, namespace, name string, ready bool) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.intern(namespace)
	key := workloadKey{kind: kind, ns: ns.id, name: name}
	old, existed := e.workloads[key]
	if existed && old == ready {
		return
	}
	if existed {
		e.applyWorkload(ns, kind, old, -1)
	}
	e.applyWorkload(ns, kind, ready, 1)
	e.workloads[key] = ready
	e.touchNS(ns, e.changes.bump())
}

func (e *Engine) deleteWorkload(kind workloadKind, namespace, name string) {
	e.mu.Lock()
	defer e.unlock()

	ns := e.nss.get(namespace)
	if ns == nil {
		return
	}
	key := workloadKey{kind: kind, ns: ns.id, name: name}
	old, ok := e.workloads[key]
	if !ok {
		return
	}
	e.applyWorkload(ns, kind, old, -1)
	delete(e.workloads, key)
	e.touchNS(ns, e.changes.bump())
	e.releaseNSIfUnused(ns)
}

func (e *Engine) applyWorkload(ns *nsEntry, kind workloadKind, ready bool, sign int64) {
	for _, c := range [2]*ReadyCount{&ns.workloads[kind], &e.workloadCounts[kind]} {
		c.Total += sign
		if ready {
			c.Ready += sign
		}
	}
}
