package summary

import (
	"errors"
	"fmt"
	"sort"
)

// ErrRevisionTooOld is returned by Changes when some changes after the
// requested revision have already left the ring; a watch API should answer
// 410 Gone so that the client relists.
var ErrRevisionTooOld = errors.New("summary: revision too old, changes no longer buffered")

// ErrRevisionTooNew is returned by Changes for a revision the engine has not
// reached, typically one issued before a restart.
var ErrRevisionTooNew = errors.New("summary: revision not reached yet")

// ChangeKind says which kind of summary changed.
type ChangeKind uint8

const (
	// KindNode: a NodeTotals changed.
	KindNode ChangeKind = iota + 1
	// KindNamespace: a NamespaceTotals changed.
	KindNamespace
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
	// Added: the Node or Namespace object appeared.
	Added ChangeType = iota + 1
	// Modified: anything counted in the summary changed.
	Modified
	// Deleted: the Node or Namespace object went away.
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
// event may record several changes with the same revision.
type Change struct {
	Revision uint64
	Kind     ChangeKind
	Type     ChangeType
	Name     string
}

// changeLog is the revision counter and a fixed ring of change records.
// Records are written in revision order, so the ring is sorted.
type changeLog struct {
	rev   uint64
	ring  []Change
	start int // index of the oldest record
	n     int // records in the ring
	// evictedThrough is the highest revision any evicted record had (the
	// initial revision before any eviction): every change after it is still
	// in the ring.
	evictedThrough uint64
	// notify is closed and cleared on the next bump. It is only created when
	// a watcher waits, so events pay no allocation when nobody watches.
	notify chan struct{}
}

// closedChan is handed to waiters that are already behind.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (l *changeLog) init(size int, initial uint64) {
	l.ring = make([]Change, size)
	l.rev = initial
	l.evictedThrough = initial
}

func (l *changeLog) bump() uint64 {
	l.rev++
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	return l.rev
}

func (l *changeLog) record(c Change) {
	if l.n == len(l.ring) {
		l.evictedThrough = l.ring[l.start].Revision
		l.start = (l.start + 1) % len(l.ring)
		l.n--
	}
	l.ring[(l.start+l.n)%len(l.ring)] = c
	l.n++
}

func (l *changeLog) at(i int) *Change { return &l.ring[(l.start+i)%len(l.ring)] }

// Revision returns the current revision: the number of changes applied since
// the engine was created, plus Options.InitialRevision.
func (e *Engine) Revision() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.changes.rev
}

// Changes returns the change records with revisions after afterRev, oldest
// first, and the current revision, which the caller passes next time.
// It fails with ErrRevisionTooOld when records after afterRev were evicted,
// and with ErrRevisionTooNew when afterRev is beyond the current revision.
func (e *Engine) Changes(afterRev uint64) ([]Change, uint64, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	l := &e.changes
	if afterRev > l.rev {
		return nil, l.rev, fmt.Errorf("changes after %d (current %d): %w", afterRev, l.rev, ErrRevisionTooNew)
	}
	if afterRev < l.evictedThrough {
		return nil, l.rev, fmt.Errorf("changes after %d (oldest complete %d): %w", afterRev, l.evictedThrough, ErrRevisionTooOld)
	}
	first := sort.Search(l.n, func(i int) bool { return l.at(i).Revision > afterRev })
	if first == l.n {
		return nil, l.rev, nil
	}
	out := make([]Change, 0, l.n-first)
	for i := first; i < l.n; i++ {
		out = append(out, *l.at(i))
	}
	return out, l.rev, nil
}

// Wait returns a channel that is closed once the revision exceeds afterRev;
// it is already closed if it does. Any number of watchers may wait on the
// same channel; none of them polls.
func (e *Engine) Wait(afterRev uint64) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changes.rev > afterRev {
		return closedChan
	}
	if e.changes.notify == nil {
		e.changes.notify = make(chan struct{})
	}
	return e.changes.notify
}
