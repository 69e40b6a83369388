package summary

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ErrRevisionTooOld is returned by the ChangesWithState methods when some
// changes of their kind after the requested revision have already left the
// ring; a watch API should answer 410 Gone so that the client relists.
var ErrRevisionTooOld = errors.New("summary: revision too old, changes no longer buffered")

// ErrRevisionTooNew is returned by the ChangesWithState methods for a
// revision the engine has not reached, typically one issued before a
// restart.
var ErrRevisionTooNew = errors.New("summary: revision not reached yet")

// ChangeKind says which kind of summary changed.
type ChangeKind uint8

const (
	// KindNode means a NodeTotals changed.
	KindNode ChangeKind = iota + 1
	// KindNamespace means a NamespaceTotals changed.
	KindNamespace

	numChangeKinds = iota + 1 // kinds index arrays directly; 0 is unused
)

func (k ChangeKind) String() string {
	switch k {
	case KindNode:
		return "Node"
	case KindNamespace:
		return "Namespace"
	default:
		return fmt.Sprintf("ChangeKind(%d)", uint8(k))
	}
}

// ChangeType says how a summary changed. Added and Deleted follow the Node or
// Namespace object; every other change (including pods, quotas and
// workloads) is Modified.
type ChangeType uint8

const (
	// Added means the Node or Namespace object appeared.
	Added ChangeType = iota + 1
	// Modified means anything counted in the summary changed.
	Modified
	// Deleted means the Node or Namespace object went away.
	Deleted
)

func (t ChangeType) String() string {
	switch t {
	case Added:
		return "Added"
	case Modified:
		return "Modified"
	case Deleted:
		return "Deleted"
	default:
		return fmt.Sprintf("ChangeType(%d)", uint8(t))
	}
}

// Change records that a node or namespace summary changed at Revision. One
// event may record several changes with the same revision; those are always
// Modified changes that leave labels alone (a pod event touching a namespace
// and one or two nodes), so a revision at which a summary appears,
// disappears or changes labels records exactly one change.
type Change struct {
	Revision uint64
	Kind     ChangeKind
	Type     ChangeType
	Name     string
	// Labels are, on a Deleted change, the labels the summary had when it
	// was deleted (a copy); nil on other changes.
	Labels map[string]string
}

// changeRec is a change as the ring keeps it: besides the record, the
// labels the summary had after the change (before it, for a Deleted
// change), so that whether a label selector matched the summary before and
// after any buffered change can be told later. The rare changes that need
// more (the labels before a relabeling, the last state of a deleted
// summary) keep it in changeLog.extra, so that the ring stays small. Label
// maps are shared with the engine's entries, which never modify a map in
// place.
type changeRec struct {
	rev    uint64
	name   string
	labels map[string]string
	kind   ChangeKind
	typ    ChangeType
	extra  bool // changeLog.extra has an entry for rev
}

// recExtra is what a relabeling or a deletion keeps besides its changeRec.
// Such a change is the only one of its revision.
type recExtra struct {
	prev map[string]string // labels before a relabeling
	// last is a deleted summary's state just before the deletion: a
	// *NodeTotals or a *NamespaceTotals, after the record's kind.
	last any
}

// follows says whether o is the known state of an object with meta, so
// that an update repeating it records nothing.
func (o *object) follows(meta *metav1.ObjectMeta) bool {
	return o.known && maps.Equal(o.labels, meta.Labels) && o.created.Equal(&meta.CreationTimestamp)
}

// recordUpsert makes o follow an added or updated object and records the
// change: Added when o was not known, Modified otherwise.
func (e *Engine) recordUpsert(kind ChangeKind, o *object, meta *metav1.ObjectMeta) {
	sameLabels := maps.Equal(o.labels, meta.Labels)
	prevLabels := o.labels // nil unless known
	if !sameLabels {
		// Replaced, never modified in place: change records share it.
		o.labels = maps.Clone(meta.Labels)
	}
	o.created = meta.CreationTimestamp
	typ := Modified
	if !o.known {
		typ = Added
		o.known = true
	}
	rev := e.changes.bump()
	o.rev = rev
	rec := changeRec{rev: rev, kind: kind, typ: typ, name: o.name, labels: o.labels}
	if typ == Modified && !sameLabels {
		e.changes.recordExtra(rec, recExtra{prev: prevLabels})
	} else {
		e.changes.record(rec)
	}
}

// recordDelete forgets o's object and records its deletion, keeping last,
// the summary's state just before.
func (e *Engine) recordDelete(kind ChangeKind, o *object, last any) {
	prevLabels := o.labels
	o.known, o.labels, o.created = false, nil, metav1.Time{}
	rev := e.changes.bump()
	o.rev = rev
	e.changes.recordExtra(changeRec{rev: rev, kind: kind, typ: Deleted, name: o.name, labels: prevLabels}, recExtra{last: last})
}

// touch records that the summary of o changed at rev for some other reason
// than its object (pods, quotas, workloads); only known summaries exist.
// One record per summary and revision is enough, and more would let a
// revision that touches a summary many times (a usage round over 150,000
// pods in a few namespaces) flush the ring and send every watcher to
// relist.
func (e *Engine) touch(kind ChangeKind, o *object, rev uint64) {
	if o.known && o.rev != rev {
		o.rev = rev
		e.changes.record(changeRec{rev: rev, kind: kind, typ: Modified, name: o.name, labels: o.labels})
	}
}

func (l *changeLog) change(r *changeRec) Change {
	c := Change{Revision: r.rev, Kind: r.kind, Type: r.typ, Name: r.name}
	if r.typ == Deleted {
		c.Labels = maps.Clone(r.labels)
	}
	return c
}

// labelsBefore and labelsAfter return the summary's labels on either side
// of a change, and whether it existed there.
func (l *changeLog) labelsBefore(r *changeRec) (map[string]string, bool) {
	switch {
	case r.typ == Added:
		return nil, false
	case r.extra && r.typ == Modified:
		return l.extra[r.rev].prev, true
	default:
		return r.labels, true
	}
}

func (l *changeLog) labelsAfter(r *changeRec) (map[string]string, bool) {
	if r.typ == Deleted {
		return nil, false
	}
	return r.labels, true
}

// notifier wakes the waiters for revisions beyond last. Waiting is
// lock-free when last is already beyond the revision waited for; otherwise
// the waiter takes mu, a mutex of its own, never the engine's lock. The
// writer side (publish) only touches mu when someone is waiting, so events
// pay two atomic operations and no allocation when nobody watches.
type notifier struct {
	last    atomic.Uint64
	waiting atomic.Bool
	mu      sync.Mutex
	ch      chan struct{} // closed and cleared by the next publish
}

// closedChan is handed to waiters that are already behind.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (n *notifier) wait(afterRev uint64) <-chan struct{} {
	if n.last.Load() > afterRev {
		return closedChan
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	// Announce the waiter, then look at last again: publish stores last
	// before it looks at waiting, so either it sees the waiter and closes
	// ch, or this load sees its revision.
	n.waiting.Store(true)
	if n.last.Load() > afterRev {
		return closedChan
	}
	return n.ch
}

func (n *notifier) publish(rev uint64) {
	n.last.Store(rev)
	if !n.waiting.Load() {
		return
	}
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.waiting.Store(false)
	n.mu.Unlock()
}

// changeLog is the revision counter and a fixed ring of change records.
// Records are written in revision order, so the ring is sorted. Everything
// but the notifiers is guarded by Engine.mu.
type changeLog struct {
	rev   uint64
	ring  []changeRec
	start int // index of the oldest record
	n     int // records in the ring
	// evictedThrough is the highest revision any evicted record had (the
	// initial revision before any eviction): every change after it is still
	// in the ring. kindEvictedThrough is the same per kind; the
	// ChangesWithState methods read that one.
	evictedThrough     uint64
	kindEvictedThrough [numChangeKinds]uint64
	// extra completes the records flagged extra, by revision.
	extra map[uint64]recExtra
	// dirty says what the event under way changed, for unlock to announce:
	// bit 0 the revision, bit k a record of kind k.
	dirty uint8
	// all announces every revision, kinds[k] every revision that recorded
	// a change of kind k. Both are published when the write lock is
	// released, so a woken waiter reads the whole event.
	all   notifier
	kinds [numChangeKinds]notifier
	// named wakes the waiters for one summary of a kind (WaitForName).
	named [numChangeKinds]nameNotifier
}

// nameNotifier wakes the waiters for the changes of single summaries, so
// that a watcher of one namespace does not wake for every other namespace.
// Waiters of a name share one channel, closed and forgotten by the first
// publish that records a change of that name. publish only takes mu when
// some name is waited for.
type nameNotifier struct {
	// names counts the entries of waits, so that publish can skip mu.
	names atomic.Int64
	mu    sync.Mutex
	waits map[string]*nameWait
}

// nameWait is the channel the waiters of one name share, and how many of
// them have not released it.
type nameWait struct {
	ch      chan struct{}
	waiters int
}

// wait registers a waiter for name and returns its channel and the
// function that unregisters it.
func (n *nameNotifier) wait(name string) (chan struct{}, func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.waits == nil {
		n.waits = make(map[string]*nameWait)
	}
	w := n.waits[name]
	if w == nil {
		w = &nameWait{ch: make(chan struct{})}
		n.waits[name] = w
		n.names.Add(1)
	}
	w.waiters++
	var once sync.Once
	return w.ch, func() { once.Do(func() { n.release(name, w) }) }
}

// release unregisters a waiter of w. A wait that was already closed has
// left the map; its waiters have nothing to undo.
func (n *nameNotifier) release(name string, w *nameWait) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.waits[name] != w {
		return
	}
	if w.waiters--; w.waiters == 0 {
		delete(n.waits, name)
		n.names.Add(-1)
	}
}

// publish wakes the waiters of the names of recs. The caller has already
// stored the revision of recs in the kind's notifier: a waiter that
// registers after this publish took mu sees that revision (see
// Engine.WaitForName).
func (n *nameNotifier) publish(recs func(yield func(name string) bool)) {
	if n.names.Load() == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for name := range recs {
		if w := n.waits[name]; w != nil {
			close(w.ch)
			delete(n.waits, name)
			n.names.Add(-1)
		}
	}
}

func (l *changeLog) init(size int, initial uint64) {
	l.ring = make([]changeRec, size)
	l.extra = make(map[uint64]recExtra)
	l.rev = initial
	l.evictedThrough = initial
	l.all.last.Store(initial)
	for k := range l.kinds {
		l.kindEvictedThrough[k] = initial
		l.kinds[k].last.Store(initial)
	}
}

func (l *changeLog) bump() uint64 {
	l.rev++
	l.dirty |= 1
	return l.rev
}

func (l *changeLog) record(r changeRec) {
	if l.n == len(l.ring) {
		old := &l.ring[l.start]
		l.evictedThrough = old.rev
		l.kindEvictedThrough[old.kind] = old.rev
		if old.extra {
			delete(l.extra, old.rev)
		}
		l.start = (l.start + 1) % len(l.ring)
		l.n--
	}
	l.ring[(l.start+l.n)%len(l.ring)] = r
	l.n++
	l.dirty |= 1 << r.kind
}

// recordExtra records a change that keeps more: the only change of its
// revision.
func (l *changeLog) recordExtra(r changeRec, x recExtra) {
	r.extra = true
	l.record(r)
	l.extra[r.rev] = x
}

// publish announces what the event under way changed; the caller holds the
// write lock.
func (l *changeLog) publish() {
	d := l.dirty
	l.dirty = 0
	// The records of the event under way are those after the revision
	// published last.
	prev := l.all.last.Load()
	if d&1 != 0 {
		l.all.publish(l.rev)
	}
	for k := KindNode; k < numChangeKinds; k++ {
		if d&(1<<k) != 0 {
			l.kinds[k].publish(l.rev)
			l.named[k].publish(func(yield func(string) bool) {
				for i := l.firstAfter(prev); i < l.n; i++ {
					if r := l.at(i); r.kind == k && !yield(r.name) {
						return
					}
				}
			})
		}
	}
}

func (l *changeLog) at(i int) *changeRec { return &l.ring[(l.start+i)%len(l.ring)] }

// firstAfter returns the index of the first record with a revision after
// rev.
func (l *changeLog) firstAfter(rev uint64) int {
	return sort.Search(l.n, func(i int) bool { return l.at(i).rev > rev })
}

// unlock releases the write lock after announcing the event's changes, so
// that waiters wake once the whole event can be read.
func (e *Engine) unlock() {
	if e.changes.dirty != 0 {
		e.changes.publish()
	}
	e.mu.Unlock()
}

// Revision returns the current revision: the number of changes applied since
// the engine was created, plus Options.InitialRevision. Every change up to
// it has been fully applied: any read that starts after Revision returns
// reflects them. It takes no lock; a read that must know the exact revision
// of what it returns uses the methods ending in At, or ChangesWithState.
func (e *Engine) Revision() uint64 {
	return e.changes.all.last.Load()
}

// Wait returns a channel that is closed once the revision exceeds afterRev;
// it is already closed if it does. Any number of watchers may wait on the
// same channel; none of them polls. Wait never takes the engine's lock and
// does not allocate unless it has to block.
func (e *Engine) Wait(afterRev uint64) <-chan struct{} {
	return e.changes.all.wait(afterRev)
}

// WaitFor is Wait for the changes of one kind: the channel is closed once a
// change of kind with a revision after afterRev has been recorded, so node
// watchers do not wake for namespace-only changes and the other way round.
func (e *Engine) WaitFor(kind ChangeKind, afterRev uint64) <-chan struct{} {
	if kind == 0 || kind >= numChangeKinds {
		panic(fmt.Sprintf("summary: WaitFor(%v)", kind))
	}
	return e.changes.kinds[kind].wait(afterRev)
}

// WaitForName is WaitFor for the changes of the one summary of kind named
// name, so that a watcher of one namespace (or of one node) sleeps through
// the changes of all the others. The channel is closed once a change of
// that summary with a revision after afterRev has been recorded (or once
// such changes may have left the ring). The caller calls release once it
// stops waiting on the channel, closed or not, so that waits of watchers
// that went away do not pile up; release may be called more than once.
// Like WaitFor it does not take the engine's lock when nothing of kind
// changed after afterRev; otherwise it reads the ring under the read lock.
func (e *Engine) WaitForName(kind ChangeKind, name string, afterRev uint64) (ch <-chan struct{}, release func()) {
	if kind == 0 || kind >= numChangeKinds {
		panic(fmt.Sprintf("summary: WaitForName(%v)", kind))
	}
	c, release := e.changes.named[kind].wait(name)
	// Registered first, then the revision checked: publish stores the
	// revision before it looks for waiters, so either it sees this waiter
	// and closes c, or this load sees its revision, and then the ring has
	// the change.
	if e.changes.kinds[kind].last.Load() > afterRev && e.changedSince(kind, name, afterRev) {
		return closedChan, release
	}
	return c, release
}

// changedSince says whether the summary of kind named name changed after
// afterRev, or may have: changes of kind after it left the ring.
func (e *Engine) changedSince(kind ChangeKind, name string, afterRev uint64) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	l := &e.changes
	if afterRev < l.kindEvictedThrough[kind] {
		return true
	}
	for i := l.firstAfter(afterRev); i < l.n; i++ {
		if r := l.at(i); r.kind == kind && r.name == name {
			return true
		}
	}
	return false
}

// ChangeFilter says which summaries a watcher sees, for ChangesWithState.
type ChangeFilter struct {
	// Name keeps the changes of the summaries whose name it accepts; nil
	// keeps all.
	Name func(name string) bool
	// Labels says which summaries are visible: a summary is visible while
	// it exists and its labels match. Nil or an empty selector makes every
	// existing summary visible.
	Labels labels.Selector
}

// WatchedChange is a change record as a watcher with a ChangeFilter sees
// it.
type WatchedChange struct {
	Change
	// WasVisible and Visible say whether the summary was visible to the
	// filter just before and just after this change. Because a revision
	// that changes visibility records one change only, WasVisible of the
	// first change of a summary after a revision R tells whether it was
	// visible at R.
	WasVisible, Visible bool
	// SeenLabels is set (a copy) when the change made the summary visible
	// or invisible: the labels it was visible with, that is after the
	// change when it became visible, before it when it stopped being.
	SeenLabels map[string]string
}

// ChangeBatch is a batch of change records of one kind together with the
// state of the summaries they name, read under one lock.
type ChangeBatch[S NodeTotals | NamespaceTotals] struct {
	// Revision is the revision the batch was read at: Changes holds every
	// change of the kind the filter's Name accepts with a revision after
	// the one asked for, up to Revision, oldest first.
	Revision uint64
	Changes  []WatchedChange
	// Current is the state at Revision of every summary named in Changes
	// that exists at Revision and was visible before or after one of its
	// changes. A summary's state at Revision is also its state at the
	// revision of its last change in the batch.
	Current map[string]S
	// Deleted holds, by index in Changes, the last state (just before the
	// deletion) of the summary each Deleted change removed.
	Deleted map[int]S
}

// NodeChangesWithState returns the node changes after afterRev that f
// accepts, with the state of the nodes they name, all read under one
// lock. It fails with ErrRevisionTooOld when node changes after afterRev
// have left the ring (changes of other kinds do not count), and with
// ErrRevisionTooNew when afterRev is beyond the current revision.
func (e *Engine) NodeChangesWithState(afterRev uint64, f ChangeFilter) (ChangeBatch[NodeTotals], error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return changesWithState(e, KindNode, afterRev, f, e.knownNode)
}

// NamespaceChangesWithState is NodeChangesWithState for namespaces.
func (e *Engine) NamespaceChangesWithState(afterRev uint64, f ChangeFilter) (ChangeBatch[NamespaceTotals], error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return changesWithState(e, KindNamespace, afterRev, f, e.knownNamespace)
}

// changesWithState reads a ChangeBatch of one kind; state returns the
// current state of a summary of that kind, if it exists. The caller holds
// the read lock.
func changesWithState[S summaryState[S]](e *Engine, kind ChangeKind, afterRev uint64, f ChangeFilter, state func(name string) (S, bool)) (ChangeBatch[S], error) {
	b := ChangeBatch[S]{Revision: e.changes.rev}
	var err error
	b.Changes, err = e.watchedChanges(afterRev, kind, f, func(i int, x recExtra) {
		if b.Deleted == nil {
			b.Deleted = make(map[int]S)
		}
		b.Deleted[i] = (*x.last.(*S)).clone()
	})
	if err != nil {
		return ChangeBatch[S]{Revision: b.Revision}, err
	}
	for _, c := range b.Changes {
		if !c.WasVisible && !c.Visible {
			continue
		}
		if _, done := b.Current[c.Name]; done {
			continue
		}
		if s, ok := state(c.Name); ok {
			if b.Current == nil {
				b.Current = make(map[string]S)
			}
			b.Current[c.Name] = s
		}
	}
	return b, nil
}

// watchedChanges returns the records of kind after afterRev that f
// accepts, calling deleted for each Deleted record. The caller holds the
// read lock.
func (e *Engine) watchedChanges(afterRev uint64, kind ChangeKind, f ChangeFilter, deleted func(int, recExtra)) ([]WatchedChange, error) {
	l := &e.changes
	if afterRev > l.rev {
		return nil, fmt.Errorf("%s changes after %d (current %d): %w", kind, afterRev, l.rev, ErrRevisionTooNew)
	}
	if afterRev < l.kindEvictedThrough[kind] {
		return nil, fmt.Errorf("%s changes after %d (oldest complete %d): %w", kind, afterRev, l.kindEvictedThrough[kind], ErrRevisionTooOld)
	}
	sel := restrictive(f.Labels)
	visible := func(set map[string]string, exists bool) bool {
		return exists && (sel == nil || sel.Matches(labels.Set(set)))
	}
	var out []WatchedChange
	for i := l.firstAfter(afterRev); i < l.n; i++ {
		r := l.at(i)
		if r.kind != kind || (f.Name != nil && !f.Name(r.name)) {
			continue
		}
		before, existed := l.labelsBefore(r)
		after, exists := l.labelsAfter(r)
		c := WatchedChange{
			Change:     l.change(r),
			WasVisible: visible(before, existed),
			Visible:    visible(after, exists),
		}
		switch {
		case c.Visible && !c.WasVisible:
			c.SeenLabels = maps.Clone(after)
		case c.WasVisible && !c.Visible:
			c.SeenLabels = maps.Clone(before)
		}
		if r.typ == Deleted {
			deleted(len(out), l.extra[r.rev])
		}
		out = append(out, c)
	}
	return out, nil
}
