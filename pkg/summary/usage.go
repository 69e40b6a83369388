package summary

import (
	"slices"
	"strings"
	"time"
)

// This file keeps what the resource metrics API (metrics.k8s.io) reports next
// to the requests: each node's own usage (NodeMetrics) and each pod's usage
// (PodMetrics), for cpu and memory only, the two resources that API reports.
//
// A pod's usage lives in its podRec (two numbers and a flag), and every tally
// that counts the pod also sums its usage and its idle amount, max(0, request
// - usage) per resource, in a useTally: the same add-new, subtract-old
// bookkeeping as requests, so a pod event or a usage round costs O(1) per pod
// that changed and reads never visit pods.

// NodeUse is one node's usage as the resource metrics API reports it:
// NodeMetrics, what `kubectl top node` shows.
type NodeUse struct {
	Name string
	// CPU is in millicores, Memory in bytes.
	CPU, Memory int64
	// Timestamp and Window describe the sample: usage averaged over
	// [Timestamp-Window, Timestamp].
	Timestamp time.Time
	Window    time.Duration
}

// PodUse is one pod's usage as the resource metrics API reports it: the sum
// over the containers of its PodMetrics.
type PodUse struct {
	Namespace, Name string
	// CPU is in millicores, Memory in bytes.
	CPU, Memory int64
}

// podUse is a pod's usage in its podRec; meaningful while the pod's flags
// have podHasUsage.
type podUse struct {
	cpu, mem int64
}

// nodeUse is a node's own usage; meaningful while has is set.
type nodeUse struct {
	cpu, mem  int64
	timestamp time.Time
	window    time.Duration
	has       bool
}

// useTally sums the usage of the pods a tally counts that have usage, and
// their idle amount: per resource max(0, request - usage).
type useTally struct {
	cpu, mem         int64
	cpuIdle, memIdle int64
}

func (t *useTally) add(o *useTally) { t.addTimes(o, 1) }

// addTimes adds o k times: k = -1 takes it away again.
func (t *useTally) addTimes(o *useTally, k int64) {
	t.cpu += k * o.cpu
	t.mem += k * o.mem
	t.cpuIdle += k * o.cpuIdle
	t.memIdle += k * o.memIdle
}

// usageState is the engine's view of the resource metrics API.
type usageState struct {
	// available is true from a ReplaceUsage until a ClearUsage: usage
	// fields are reported only while it is set.
	available bool
	// nodes sums the usage of the known nodes that have it, for reads that
	// select every node.
	nodes useTally
	pods  useTally // every pod with usage
	// round numbers the rounds; withUsage counts the pods with usage and
	// listed counts those of them whose usageRound is round, so that a
	// round knows without a scan whether some pod it did not list still
	// has usage.
	round     uint32
	withUsage int
	listed    int
	nodeSeen  map[string]int // scratch, used under Engine.nodeUsageMu
}

// contribution is what a pod record adds to a useTally; zero without usage.
func (r *podRec) contribution() useTally {
	if r.flags&podHasUsage == 0 {
		return useTally{}
	}
	var reqCPU, reqMem int64
	res := r.resources()
	for i := range res {
		switch res[i].id {
		case resCPU:
			reqCPU = res[i].requests
		case resMemory:
			reqMem = res[i].requests
		}
	}
	return useTally{
		cpu: r.use.cpu, mem: r.use.mem,
		cpuIdle: max(0, reqCPU-r.use.cpu), memIdle: max(0, reqMem-r.use.mem),
	}
}

// carryUsage keeps the usage of the previous record of the same pod: usage
// changes only with a usage round, never with a pod event.
func (r *podRec) carryUsage(old *podRec) {
	r.flags |= old.flags & podHasUsage
	r.use = old.use
	r.usageRound = old.usageRound
}

// applyPodUse adds (sign=+1) or subtracts (sign=-1) a pod's usage in every
// use tally that counts the pod; applyPod calls it.
func (e *Engine) applyPodUse(ns *nsEntry, r *podRec, sign int64) {
	if r.flags&podHasUsage == 0 {
		return
	}
	e.usage.withUsage += int(sign)
	if r.usageRound == e.usage.round {
		e.usage.listed += int(sign)
	}
	c := r.contribution()
	c.cpu, c.mem, c.cpuIdle, c.memIdle = sign*c.cpu, sign*c.mem, sign*c.cpuIdle, sign*c.memIdle
	ns.use.add(&c)
	e.usage.pods.add(&c)
	if r.cell != nil {
		r.cell.use.add(&c)
		e.nodes.byID[r.cell.node].podUse.add(&c)
	}
}

// usageChunk is how many pods of a round one hold of the write lock
// applies. A round over 150,000 pods took the lock for 84 to 140 ms in one
// piece (BenchmarkReplaceUsage), stalling every read and informer event
// behind it; in chunks, nothing waits for more than a chunk.
const usageChunk = 2048

// ReplaceUsage records one round of the resource metrics API:
// ReplaceNodeUsage with nodes, then ReplacePodUsage with pods.
func (e *Engine) ReplaceUsage(nodes []NodeUse, pods []PodUse) {
	e.ReplaceNodeUsage(nodes)
	e.ReplacePodUsage(pods)
}

// ReplaceNodeUsage records a round of NodeMetrics: every node listed gets
// the usage given, every other node loses its own usage, and usage is
// reported as available from now on. Nodes the engine does not know are
// ignored: the next round will carry them once their objects have arrived.
// Node summaries whose usage changed get a new revision; a round that
// changes nothing costs none.
func (e *Engine) ReplaceNodeUsage(nodes []NodeUse) {
	e.ReplaceNodeUsageKeeping(nodes, time.Time{})
}

// ReplaceNodeUsageKeeping is ReplaceNodeUsage, except that a node the round
// does not list keeps its sample while the sample's timestamp is not before
// currentSince (a zero currentSince keeps none). metrics-server leaves a
// node out of the list when its last scrape of the node failed, which at
// thousands of nodes happens to hundreds of them at a time: without this,
// every such round would take those nodes' usage out of the sums of every
// summary, and the next round would put it back.
func (e *Engine) ReplaceNodeUsageKeeping(nodes []NodeUse, currentSince time.Time) {
	e.nodeUsageMu.Lock()
	defer e.nodeUsageMu.Unlock()

	// Indexed before taking the lock, which then covers only the walk.
	seen := e.usage.nodeSeen
	if seen == nil {
		seen = make(map[string]int, len(nodes))
	}
	clear(seen)
	for i := range nodes {
		seen[nodes[i].Name] = i
	}

	e.mu.Lock()
	defer e.unlock()
	e.makeUsageAvailable()
	var rev uint64
	for _, n := range e.nodes.byID {
		if n == nil || !n.known {
			continue
		}
		var next nodeUse
		if i, ok := seen[n.name]; ok {
			u := &nodes[i]
			next = nodeUse{cpu: u.CPU, mem: u.Memory, timestamp: u.Timestamp, window: u.Window, has: true}
		} else if n.use.has && !currentSince.IsZero() && !n.use.timestamp.Before(currentSince) {
			continue // still current: kept
		}
		if next == n.use {
			continue
		}
		e.setNodeUse(n, next)
		if rev == 0 {
			rev = e.changes.bump()
		}
		// Node summaries show the node's own usage, not their pods'.
		e.touch(KindNode, &n.object, rev)
	}
	clear(seen)
	e.usage.nodeSeen = seen
}

// ReplacePodUsage records a round of PodMetrics given all at once: a
// PodUsageRound fed pods sorted by namespace. metrics-server lists pods
// sorted so already, but the API does not promise an order, and unsorted,
// every chunk of a large round could touch every namespace.
func (e *Engine) ReplacePodUsage(pods []PodUse) {
	slices.SortFunc(pods, func(a, b PodUse) int { return strings.Compare(a.Namespace, b.Namespace) })
	round := e.BeginPodUsage()
	for i := range pods {
		round.Add(pods[i])
	}
	round.End()
}

// PodUsageRound records one round of PodMetrics as it is read, so that a
// namespace's usage need not wait for the end of a list that takes seconds
// at 150,000 pods: every pod added gets the usage given, and at End every
// pod the round did not list loses its usage. Pods the engine does not know
// are ignored: the next round will carry them once their objects have
// arrived. Namespace summaries whose usage changed get a new revision; a
// round that changes nothing costs none.
//
// The pods are applied usageChunk at a time, each chunk under the write
// lock and with a revision of its own, so a read made during a round may
// see some pods with this round's usage and others with the previous
// round's, both samples that are current. Pods added in namespace order
// fall in one or two chunks per namespace, so a round records a namespace
// once or twice; once a pod comes out of that order, the round keeps the
// rest and applies it sorted at End.
//
// One round runs at a time: BeginPodUsage waits for the previous round's
// End or Abort. A round does not hold up node usage rounds.
type PodUsageRound struct {
	e     *Engine
	round uint32
	// pending is the next chunk; once unsorted, everything not applied.
	pending  []PodUse
	lastNS   string
	unsorted bool
	ended    bool
}

// BeginPodUsage starts a round of PodMetrics and reports usage as
// available from now on. The caller must End or Abort it.
func (e *Engine) BeginPodUsage() *PodUsageRound {
	e.podUsageMu.Lock()
	e.mu.Lock()
	defer e.unlock()
	e.makeUsageAvailable()
	// No pod has the new round's number yet.
	e.usage.round++
	e.usage.listed = 0
	return &PodUsageRound{e: e, round: e.usage.round, pending: make([]PodUse, 0, usageChunk)}
}

// Add gives one pod its usage, applied with the chunk it falls in.
func (r *PodUsageRound) Add(p PodUse) {
	if p.Namespace < r.lastNS {
		r.unsorted = true
	}
	r.lastNS = p.Namespace
	r.pending = append(r.pending, p)
	if !r.unsorted && len(r.pending) == usageChunk {
		r.apply()
	}
}

// apply applies the pending pods under the write lock.
func (r *PodUsageRound) apply() {
	if len(r.pending) == 0 {
		return
	}
	r.e.mu.Lock()
	r.e.applyPodUsage(r.round, r.pending)
	r.e.unlock()
	r.pending = r.pending[:0]
}

// applyPending applies the pods added and not yet applied: sorted, in
// chunks, once the round came out of order.
func (r *PodUsageRound) applyPending() {
	if !r.unsorted {
		r.apply()
		return
	}
	pods := r.pending
	slices.SortFunc(pods, func(a, b PodUse) int { return strings.Compare(a.Namespace, b.Namespace) })
	for start := 0; start < len(pods); start += usageChunk {
		r.pending = pods[start:min(start+usageChunk, len(pods))]
		r.apply()
	}
	r.pending = nil
}

// End applies what is pending, takes the usage of every pod the round did
// not list away, and ends the round.
func (r *PodUsageRound) End() {
	if r.ended {
		return
	}
	defer r.finish()
	r.applyPending()

	// Pods the round did not list lose their usage. Steady rounds list
	// every pod that has usage, and skip the scan.
	e := r.e
	e.mu.Lock()
	defer e.unlock()
	if e.usage.withUsage == e.usage.listed {
		return
	}
	var rev uint64
	for key, p := range e.pods {
		if p.flags&podHasUsage == 0 || p.usageRound == r.round {
			continue
		}
		ns := e.nss.byID[key.ns]
		e.applyPodUse(ns, &p, -1)
		p.flags &^= podHasUsage
		p.use = podUse{}
		e.pods[key] = p
		if rev == 0 {
			rev = e.changes.bump()
		}
		e.touchNS(ns, rev)
	}
}

// Abort ends the round, for a list that failed part way: it applies the
// pods added, whose samples are current, and takes no one's usage away, so
// the pods not read keep the previous round's until a round ends or
// ClearUsage. Abort after End does nothing.
func (r *PodUsageRound) Abort() {
	if r.ended {
		return
	}
	defer r.finish()
	r.applyPending()
}

func (r *PodUsageRound) finish() {
	r.ended = true
	r.pending = nil
	r.e.podUsageMu.Unlock()
}

// makeUsageAvailable reports usage from now on. The caller holds the write
// lock.
func (e *Engine) makeUsageAvailable() {
	if !e.usage.available {
		e.usage.available = true
		// Every summary gains usage fields, even those whose usage is zero.
		e.touchAll(e.changes.bump())
	}
}

// applyPodUsage gives the pods of one chunk of round their usage and marks
// them listed. The caller holds the write lock.
func (e *Engine) applyPodUsage(round uint32, pods []PodUse) {
	var rev uint64
	var lastNS string
	var nsID nsID
	var nsKnown bool
	for i := range pods {
		p := &pods[i]
		// Pods come sorted by namespace: resolve each namespace once.
		if i == 0 || p.Namespace != lastNS {
			lastNS = p.Namespace
			nsID, nsKnown = e.nss.ids[p.Namespace]
		}
		if !nsKnown {
			continue
		}
		key := podKey{ns: nsID, name: p.Name}
		r, ok := e.pods[key]
		if !ok {
			continue
		}
		u := podUse{cpu: p.CPU, mem: p.Memory}
		if r.flags&podHasUsage != 0 && r.use == u {
			if r.usageRound != round {
				r.usageRound = round
				e.usage.listed++
				e.pods[key] = r
			}
			continue
		}
		ns := e.nss.byID[key.ns]
		e.applyPodUse(ns, &r, -1)
		r.flags |= podHasUsage
		r.use = u
		r.usageRound = round
		e.applyPodUse(ns, &r, 1)
		e.pods[key] = r
		if rev == 0 {
			rev = e.changes.bump()
		}
		// Only the namespace summary changed: node summaries show the
		// node's own usage.
		e.touchNS(ns, rev)
	}
}

// ClearUsage forgets all usage and reports it as unavailable, for when the
// resource metrics API cannot be read or its data is no longer current.
func (e *Engine) ClearUsage() {
	e.nodeUsageMu.Lock()
	defer e.nodeUsageMu.Unlock()
	e.podUsageMu.Lock()
	defer e.podUsageMu.Unlock()
	e.mu.Lock()
	defer e.unlock()
	if !e.usage.available {
		return
	}
	for key, r := range e.pods {
		if r.flags&podHasUsage == 0 {
			continue
		}
		e.applyPodUse(e.nss.byID[key.ns], &r, -1)
		r.flags &^= podHasUsage
		r.use = podUse{}
		e.pods[key] = r
	}
	for _, n := range e.nodes.byID {
		if n != nil && n.use.has {
			e.setNodeUse(n, nodeUse{})
		}
	}
	e.usage.available = false
	e.touchAll(e.changes.bump())
}

// UsageAvailable reports whether usage is current: true between a
// ReplaceUsage and the next ClearUsage.
func (e *Engine) UsageAvailable() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.usage.available
}

// setNodeUse replaces a node's own usage, keeping the cluster-wide sum.
func (e *Engine) setNodeUse(n *nodeEntry, next nodeUse) {
	if n.use.has {
		e.usage.nodes.cpu -= n.use.cpu
		e.usage.nodes.mem -= n.use.mem
	}
	n.use = next
	if n.use.has {
		e.usage.nodes.cpu += n.use.cpu
		e.usage.nodes.mem += n.use.mem
	}
}

// touchAll marks every known node and namespace summary changed at rev, for
// when usage as a whole appears or disappears.
func (e *Engine) touchAll(rev uint64) {
	for _, n := range e.nodes.byID {
		if n != nil {
			e.touch(KindNode, &n.object, rev)
		}
	}
	for _, ns := range e.nss.byID {
		if ns != nil {
			e.touchNS(ns, rev)
		}
	}
}

// setUsageRows puts a use tally into the cpu and memory rows of a read-side
// vector: usage from use, idle from idle.
func setUsageRows(vec []ResourceTotals, use, idle *useTally) {
	vec[resCPU].HasUsage, vec[resMemory].HasUsage = true, true
	vec[resCPU].Usage += use.cpu
	vec[resMemory].Usage += use.mem
	vec[resCPU].Idle += idle.cpuIdle
	vec[resMemory].Idle += idle.memIdle
}

// nodeUseTally is a node's own usage as a useTally (no idle).
func (n *nodeEntry) nodeUseTally() useTally {
	if !n.use.has {
		return useTally{}
	}
	return useTally{cpu: n.use.cpu, mem: n.use.mem}
}

// addUsage fills the usage and idle of a cluster read, after addNodes and
// selectNamespaces. Without a namespace selector usage is the selected
// nodes' own usage (NodeMetrics, which includes what runs outside pods);
// with one it is the selected pods' usage (PodMetrics). Idle always sums the
// selected pods.
func (r *clusterRead) addUsage() {
	e, vec, nodeOn, nsOn, groupOf := r.e, r.vec, r.nodeOn, r.nsOn, r.groupOf
	r.out.UsageAvailable = e.usage.available
	if !e.usage.available {
		return
	}
	var use, idle useTally
	addGroup := func(id nodeID, u, i *useTally) {
		if groupOf == nil {
			return
		}
		if g := groupOf[id]; g != nil {
			setUsageRows(g.vec, u, i)
		}
	}
	for _, g := range groupOf {
		if g != nil {
			// Groups with no usage still report it, as zero.
			setUsageRows(g.vec, &useTally{}, &useTally{})
		}
	}
	switch {
	case nsOn == nil && nodeOn == nil && groupOf == nil:
		use, idle = e.usage.nodes, e.usage.pods
	case nsOn == nil:
		for _, n := range e.nodes.byID {
			if n == nil || (nodeOn != nil && !nodeOn[n.id]) {
				continue
			}
			nu := n.nodeUseTally()
			use.add(&nu)
			idle.add(&n.podUse)
			addGroup(n.id, &nu, &n.podUse)
		}
	case nodeOn == nil && groupOf == nil:
		for _, ns := range e.nss.byID {
			if ns != nil && nsOn[ns.id] {
				use.add(&ns.use)
			}
		}
		idle = use
	default:
		// addCells summed the selected cells' usage with their pods.
		use, idle = r.cellUse, r.cellUse
		for _, g := range r.groups {
			setUsageRows(g.vec, &g.use, &g.use)
		}
	}
	setUsageRows(vec, &use, &idle)
}
