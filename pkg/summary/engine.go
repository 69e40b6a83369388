package summary

import (
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultChangeBufferSize is the number of change records kept when
// Options.ChangeBufferSize is zero.
const DefaultChangeBufferSize = 10000

// Options configures an Engine.
type Options struct {
	// ChangeBufferSize is how many change records Changes can replay; zero
	// means DefaultChangeBufferSize.
	ChangeBufferSize int
	// InitialRevision is the revision of the empty engine. A server may set
	// it from the clock so that revisions keep growing across restarts and
	// clients holding an old revision get ErrRevisionTooOld rather than a
	// silently wrong replay.
	InitialRevision uint64
}

type nodeID uint32
type nsID uint32

// podKey identifies a pod: informers key pods by namespace/name, and a pod
// re-created under the same name simply replaces the old record.
type podKey struct {
	ns   nsID
	name string
}

type podFlags uint8

const (
	podUnscheduled podFlags = 1 << iota
	podCrashLooping
)

// podRec is all the engine remembers of a pod.
type podRec struct {
	// cell is the (node, namespace) cell the pod is counted in, nil when the
	// pod is bound to no node.
	cell     *cell
	restarts int64
	// res is sorted by id; nil for pods that hold no resources.
	res     []podRes
	phase   phase
	flags   podFlags
	noLimit uint8 // bit i set: unbounded limit for resource i (see unboundedTracked)
}

// podRes is one resource of a pod. limits is zero when the limit is unbounded.
type podRes struct {
	id       resID
	requests int64
	limits   int64
}

type nodeFlags uint8

const (
	nodeReady nodeFlags = 1 << iota
	nodeMemoryPressure
	nodeDiskPressure
	nodePIDPressure
	nodeUnschedulable
)

// nodeRes is one resource of a node's status.
type nodeRes struct {
	id          resID
	capacity    int64
	allocatable int64
}

// nodeEntry exists while the Node object is known or pods are bound to the
// name; an entry with known=false stands for a node the engine has not seen
// (yet), which has no labels.
type nodeEntry struct {
	name      string
	id        nodeID
	known     bool
	flags     nodeFlags
	labels    map[string]string
	created   metav1.Time
	resources []nodeRes // sorted by id
	pods      tally
	cells     []*cell
	rev       uint64
	// taints are the node's NoSchedule and NoExecute taints (see
	// SchedulingTaints), for headroom.
	taints []v1.Taint
}

func (n *nodeEntry) podCapacity() int64 {
	for _, r := range n.resources {
		if r.id == resPods {
			return r.allocatable
		}
	}
	return 0
}

// nsEntry exists while the Namespace object is known or anything (pods,
// workloads, quotas) lives in the name.
type nsEntry struct {
	name    string
	id      nsID
	known   bool
	labels  map[string]string
	created metav1.Time
	// bound and unbound split the namespace's pods by whether they have a
	// node, because cluster requests leave unbound pods out.
	bound     tally
	unbound   tally
	workloads [numWorkloadKinds]ReadyCount
	quotas    map[string]quotaRec
	cells     []*cell
	rev       uint64
}

// cell tallies the pods of one namespace on one node. Cells let a read with
// both a node and a namespace selector avoid visiting pods.
type cell struct {
	node    nodeID
	ns      nsID
	nodeIdx int32 // position in nodeEntry.cells
	nsIdx   int32 // position in nsEntry.cells
	pods    tally
}

func cellKeyOf(n nodeID, ns nsID) uint64 { return uint64(n)<<32 | uint64(ns) }

type workloadKind uint8

const (
	kindDeployment workloadKind = iota
	kindStatefulSet
	kindDaemonSet
	numWorkloadKinds
)

type workloadKey struct {
	kind workloadKind
	ns   nsID
	name string
}

type quotaRec struct {
	hard v1.ResourceList
	used v1.ResourceList
}

// nodeAggregate sums the known nodes for reads that select every node.
type nodeAggregate struct {
	counts NodeCounts
	// capacity and allocatable are indexed by resID.
	capacity    []int64
	allocatable []int64
}

// Engine holds the tallies. Its zero value is not usable; call New.
type Engine struct {
	mu sync.RWMutex

	res resourceTable

	nodeIDs     map[string]nodeID
	nodes       []*nodeEntry // indexed by nodeID; 0 means "no node"
	freeNodeIDs []nodeID

	nsIDs     map[string]nsID
	nss       []*nsEntry // indexed by nsID; 0 is unused
	freeNSIDs []nsID

	pods      map[podKey]podRec
	crashing  map[podKey]struct{}
	cells     map[uint64]*cell
	workloads map[workloadKey]bool // value: ready

	// Whole-cluster figures for reads whose selectors select everything.
	bound           tally
	unbound         tally
	nodeAgg         nodeAggregate
	notReady        map[nodeID]struct{}
	knownNamespaces int64
	workloadCounts  [numWorkloadKinds]ReadyCount

	// scratch buffers reused under the write lock so that steady-state
	// events do not allocate.
	podScratch  []podRes
	nodeScratch []nodeRes

	changes changeLog
}

// New returns an empty Engine.
func New(opts Options) *Engine {
	size := opts.ChangeBufferSize
	if size <= 0 {
		size = DefaultChangeBufferSize
	}
	e := &Engine{
		res:       newResourceTable(),
		nodeIDs:   make(map[string]nodeID),
		nodes:     []*nodeEntry{nil},
		nsIDs:     make(map[string]nsID),
		nss:       []*nsEntry{nil},
		pods:      make(map[podKey]podRec),
		crashing:  make(map[podKey]struct{}),
		cells:     make(map[uint64]*cell),
		workloads: make(map[workloadKey]bool),
		notReady:  make(map[nodeID]struct{}),
	}
	e.changes.init(size, opts.InitialRevision)
	return e
}

// internNode returns the entry of a node name, creating an unknown one.
func (e *Engine) internNode(name string) *nodeEntry {
	if id, ok := e.nodeIDs[name]; ok {
		return e.nodes[id]
	}
	n := &nodeEntry{name: strings.Clone(name)}
	if k := len(e.freeNodeIDs); k > 0 {
		n.id = e.freeNodeIDs[k-1]
		e.freeNodeIDs = e.freeNodeIDs[:k-1]
		e.nodes[n.id] = n
	} else {
		n.id = nodeID(len(e.nodes))
		e.nodes = append(e.nodes, n)
	}
	e.nodeIDs[n.name] = n.id
	return n
}

// releaseNodeIfUnused forgets an entry that neither a Node object nor a pod
// refers to any more, so node churn does not grow the tables.
func (e *Engine) releaseNodeIfUnused(n *nodeEntry) {
	if n.known || n.pods.total() != 0 {
		return
	}
	delete(e.nodeIDs, n.name)
	e.nodes[n.id] = nil
	e.freeNodeIDs = append(e.freeNodeIDs, n.id)
}

func (e *Engine) internNS(name string) *nsEntry {
	if id, ok := e.nsIDs[name]; ok {
		return e.nss[id]
	}
	ns := &nsEntry{name: strings.Clone(name)}
	if k := len(e.freeNSIDs); k > 0 {
		ns.id = e.freeNSIDs[k-1]
		e.freeNSIDs = e.freeNSIDs[:k-1]
		e.nss[ns.id] = ns
	} else {
		ns.id = nsID(len(e.nss))
		e.nss = append(e.nss, ns)
	}
	e.nsIDs[ns.name] = ns.id
	return ns
}

func (e *Engine) lookupNS(name string) *nsEntry {
	if id, ok := e.nsIDs[name]; ok {
		return e.nss[id]
	}
	return nil
}

func (e *Engine) releaseNSIfUnused(ns *nsEntry) {
	if ns.known || ns.bound.total() != 0 || ns.unbound.total() != 0 || len(ns.quotas) != 0 {
		return
	}
	for _, w := range ns.workloads {
		if w.Total != 0 {
			return
		}
	}
	delete(e.nsIDs, ns.name)
	e.nss[ns.id] = nil
	e.freeNSIDs = append(e.freeNSIDs, ns.id)
}

// cellFor returns the cell of a node and namespace, creating it.
func (e *Engine) cellFor(n *nodeEntry, ns *nsEntry) *cell {
	key := cellKeyOf(n.id, ns.id)
	if c, ok := e.cells[key]; ok {
		return c
	}
	c := &cell{node: n.id, ns: ns.id, nodeIdx: int32(len(n.cells)), nsIdx: int32(len(ns.cells))}
	n.cells = append(n.cells, c)
	ns.cells = append(ns.cells, c)
	e.cells[key] = c
	return c
}

// releaseCellIfEmpty drops a cell whose last pod left, swapping the last
// cell of each list into its slot.
func (e *Engine) releaseCellIfEmpty(c *cell) {
	if c.pods.total() != 0 {
		return
	}
	delete(e.cells, cellKeyOf(c.node, c.ns))
	n := e.nodes[c.node]
	last := n.cells[len(n.cells)-1]
	n.cells[c.nodeIdx] = last
	last.nodeIdx = c.nodeIdx
	n.cells[len(n.cells)-1] = nil
	n.cells = n.cells[:len(n.cells)-1]

	ns := e.nss[c.ns]
	last = ns.cells[len(ns.cells)-1]
	ns.cells[c.nsIdx] = last
	last.nsIdx = c.nsIdx
	ns.cells[len(ns.cells)-1] = nil
	ns.cells = ns.cells[:len(ns.cells)-1]
}

// applyNodeAggregate adds (sign=+1) or removes (sign=-1) a known node from
// the whole-cluster node figures.
func (e *Engine) applyNodeAggregate(n *nodeEntry, sign int64) {
	a := &e.nodeAgg
	a.counts.Total += sign
	if n.flags&nodeReady != 0 {
		a.counts.Ready += sign
	} else {
		a.counts.NotReady += sign
	}
	if n.flags&nodeUnschedulable != 0 {
		a.counts.Unschedulable += sign
	}
	if n.flags&nodeMemoryPressure != 0 {
		a.counts.MemoryPressure += sign
	}
	if n.flags&nodeDiskPressure != 0 {
		a.counts.DiskPressure += sign
	}
	if n.flags&nodePIDPressure != 0 {
		a.counts.PIDPressure += sign
	}
	for _, r := range n.resources {
		for int(r.id) >= len(a.capacity) {
			a.capacity = append(a.capacity, 0)
			a.allocatable = append(a.allocatable, 0)
		}
		a.capacity[r.id] += sign * r.capacity
		a.allocatable[r.id] += sign * r.allocatable
	}
}
