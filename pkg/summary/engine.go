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
	// ChangeBufferSize is how many change records the ChangesWithState
	// methods can replay; zero means DefaultChangeBufferSize.
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
	podHasUsage // use holds the pod's current usage (usage.go)
)

// podRec is all the engine remembers of a pod.
type podRec struct {
	// cell is the (node, namespace) cell the pod is counted in, nil when the
	// pod is bound to no node.
	cell *cell
	// shape holds the pod's amounts, shared with every pod asking for the
	// same (shapes.go); nil for pods that hold no resources.
	shape    *podShape
	restarts int64
	use      podUse
	phase    phase
	flags    podFlags
	// usageRound is the last usage round that listed the pod (usage.go).
	usageRound uint32
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

// object is what a node entry and a namespace entry share: the state of
// the Kubernetes object the summary is named after, and the revision of
// the summary's last change. Recording a change (see changes.go) needs
// nothing else, so it is written once for both kinds.
type object struct {
	name  string
	known bool // the Kubernetes object exists; false: only pods (or workloads, quotas) refer to the name
	// labels is replaced, never modified in place: change records share it.
	labels  map[string]string
	created metav1.Time
	rev     uint64 // revision of the summary's last change
	cells   []*cell
}

// nodeEntry exists while the Node object is known or pods are bound to the
// name; an entry with known=false stands for a node the engine has not seen
// (yet), which has no labels.
type nodeEntry struct {
	object
	id        nodeID
	flags     nodeFlags
	resources []nodeRes // sorted by id
	pods      tally
	// use is the node's own usage, podUse sums its pods' (usage.go).
	use    nodeUse
	podUse useTally
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
	object
	id nsID
	// bound and unbound split the namespace's pods by whether they have a
	// node, because cluster requests leave unbound pods out.
	bound     tally
	unbound   tally
	workloads [numWorkloadKinds]ReadyCount
	quotas    map[string]quotaRec
	use       useTally // usage of its pods (usage.go)
}

// inUse says whether anything but the Namespace object refers to the name.
func (ns *nsEntry) inUse() bool {
	if ns.bound.total() != 0 || ns.unbound.total() != 0 || len(ns.quotas) != 0 {
		return true
	}
	for _, w := range ns.workloads {
		if w.Total != 0 {
			return true
		}
	}
	return false
}

// cell tallies the pods of one namespace on one node. Cells let a read with
// both a node and a namespace selector avoid visiting pods.
type cell struct {
	node nodeID
	ns   nsID
	// idx is the cell's position in the cells of its node (idx[nodeCells])
	// and of its namespace (idx[nsCells]).
	idx  [2]int32
	pods tally
	use  useTally // usage of its pods (usage.go)
}

// The two lists a cell is in, as indexes of cell.idx.
const (
	nodeCells = iota
	nsCells
)

func (o *object) addCell(c *cell, list int) {
	c.idx[list] = int32(len(o.cells))
	o.cells = append(o.cells, c)
}

// removeCell swaps the last cell into c's slot.
func (o *object) removeCell(c *cell, list int) {
	last := o.cells[len(o.cells)-1]
	o.cells[c.idx[list]] = last
	last.idx[list] = c.idx[list]
	o.cells[len(o.cells)-1] = nil
	o.cells = o.cells[:len(o.cells)-1]
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
	// nodeUsageMu orders node usage rounds, and podUsageMu pod usage
	// rounds, which apply a round in several holds of mu while the list
	// is still being read (usage.go); ClearUsage takes both, node first.
	nodeUsageMu sync.Mutex
	podUsageMu  sync.Mutex

	res resourceTable

	nodes idTable[nodeID, nodeEntry]
	nss   idTable[nsID, nsEntry]

	pods      map[podKey]podRec
	shapes    shapeTable
	crashing  map[podKey]*cell // the cell of each crash-looping pod, nil if unbound
	cells     map[uint64]*cell
	workloads map[workloadKey]bool // value: ready

	// Whole-cluster figures for reads whose selectors select everything.
	bound           tally
	unbound         tally
	nodeAgg         nodeAggregate
	notReady        map[nodeID]struct{}
	knownNamespaces int64
	workloadCounts  [numWorkloadKinds]ReadyCount
	usage           usageState

	// holders lists, for every non-standard resource name some pod holds,
	// the pods holding it, so that the name can move between tracked and
	// untracked (resnames.go). pinned is what each summary's spec names.
	holders       map[v1.ResourceName]map[podKey]struct{}
	untrackedPods int
	pinned        map[string][]v1.ResourceName

	// scratch buffers reused under the write lock so that steady-state
	// events do not allocate.
	podScratch       []podRes
	untrackedScratch []ResourceUsage
	nodeScratch      []nodeRes
	createdScratch   []resID

	changes changeLog

	// selections caches node selections resolved to ids.
	selections nodeSelections
}

// New returns an empty Engine.
func New(opts Options) *Engine {
	size := opts.ChangeBufferSize
	if size <= 0 {
		size = DefaultChangeBufferSize
	}
	e := &Engine{
		res: newResourceTable(),
		nodes: newIDTable(func(name string, id nodeID) *nodeEntry {
			return &nodeEntry{object: object{name: name}, id: id}
		}),
		nss: newIDTable(func(name string, id nsID) *nsEntry {
			return &nsEntry{object: object{name: name}, id: id}
		}),
		pods:      make(map[podKey]podRec),
		crashing:  make(map[podKey]*cell),
		shapes:    newShapeTable(),
		cells:     make(map[uint64]*cell),
		workloads: make(map[workloadKey]bool),
		notReady:  make(map[nodeID]struct{}),
		holders:   make(map[v1.ResourceName]map[podKey]struct{}),
		pinned:    make(map[string][]v1.ResourceName),
	}
	e.changes.init(size, opts.InitialRevision)
	return e
}

// idTable gives the names of one kind (nodes, namespaces) small dense ids,
// so that cells, pod keys and selections index slices instead of hashing
// names. Ids of released names are reused, so churn does not grow it.
type idTable[ID ~uint32, E any] struct {
	ids      map[string]ID
	byID     []*E // indexed by ID; 0 is never used, released ids hold nil
	free     []ID
	newEntry func(name string, id ID) *E
	// gen changes whenever an entry is created or released; the engine
	// also moves the node table's when a node's labels change, which
	// invalidates its resolved node selections (nodeselection.go).
	gen uint64
}

func newIDTable[ID ~uint32, E any](newEntry func(name string, id ID) *E) idTable[ID, E] {
	return idTable[ID, E]{ids: make(map[string]ID), byID: []*E{nil}, newEntry: newEntry}
}

// get returns the entry of name, nil if it has none.
func (t *idTable[ID, E]) get(name string) *E {
	if id, ok := t.ids[name]; ok {
		return t.byID[id]
	}
	return nil
}

// intern returns the entry of name, creating it.
func (t *idTable[ID, E]) intern(name string) *E {
	if id, ok := t.ids[name]; ok {
		return t.byID[id]
	}
	// Clone so the table does not pin the decoding buffer of the object.
	name = strings.Clone(name)
	var id ID
	if k := len(t.free); k > 0 {
		id = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		id = ID(len(t.byID))
		t.byID = append(t.byID, nil)
	}
	t.byID[id] = t.newEntry(name, id)
	t.ids[name] = id
	t.gen++
	return t.byID[id]
}

// release forgets the entry of name, which has id.
func (t *idTable[ID, E]) release(name string, id ID) {
	delete(t.ids, name)
	t.byID[id] = nil
	t.free = append(t.free, id)
	t.gen++
}

// count is the number of names that have an entry.
func (t *idTable[ID, E]) count() int { return len(t.ids) }

// releaseNodeIfUnused forgets an entry that neither a Node object nor a pod
// refers to any more, so node churn does not grow the tables.
func (e *Engine) releaseNodeIfUnused(n *nodeEntry) {
	if !n.known && n.pods.total() == 0 {
		e.nodes.release(n.name, n.id)
	}
}

// releaseNSIfUnused is releaseNodeIfUnused for namespaces.
func (e *Engine) releaseNSIfUnused(ns *nsEntry) {
	if !ns.known && !ns.inUse() {
		e.nss.release(ns.name, ns.id)
	}
}

// cellFor returns the cell of a node and namespace, creating it.
func (e *Engine) cellFor(n *nodeEntry, ns *nsEntry) *cell {
	key := cellKeyOf(n.id, ns.id)
	if c, ok := e.cells[key]; ok {
		return c
	}
	c := &cell{node: n.id, ns: ns.id}
	n.addCell(c, nodeCells)
	ns.addCell(c, nsCells)
	e.cells[key] = c
	return c
}

// releaseCellIfEmpty drops a cell whose last pod left.
func (e *Engine) releaseCellIfEmpty(c *cell) {
	if c.pods.total() != 0 {
		return
	}
	delete(e.cells, cellKeyOf(c.node, c.ns))
	e.nodes.byID[c.node].removeCell(c, nodeCells)
	e.nss.byID[c.ns].removeCell(c, nsCells)
}

// applyNodeAggregate adds (sign=+1) or removes (sign=-1) a known node from
// the whole-cluster node figures.
func (e *Engine) applyNodeAggregate(n *nodeEntry, sign int64) {
	a := &e.nodeAgg
	a.counts.add(n.flags, sign)
	for _, r := range n.resources {
		for int(r.id) >= len(a.capacity) {
			a.capacity = append(a.capacity, 0)
			a.allocatable = append(a.allocatable, 0)
		}
		a.capacity[r.id] += sign * r.capacity
		a.allocatable[r.id] += sign * r.allocatable
	}
}

// add counts (sign=+1) or uncounts (sign=-1) a node with flags f.
func (c *NodeCounts) add(f nodeFlags, sign int64) {
	c.Total += sign
	if f&nodeReady != 0 {
		c.Ready += sign
	} else {
		c.NotReady += sign
	}
	if f&nodeUnschedulable != 0 {
		c.Unschedulable += sign
	}
	if f&nodeMemoryPressure != 0 {
		c.MemoryPressure += sign
	}
	if f&nodeDiskPressure != 0 {
		c.DiskPressure += sign
	}
	if f&nodePIDPressure != 0 {
		c.PIDPressure += sign
	}
}
