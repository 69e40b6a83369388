package livestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi"
)

// Watch streams the summaries the request selects, as the generic storage
// would:
//
//   - With initial events (resourceVersion "" or "0", or sendInitialEvents
//     true) the watch starts with an ADDED event for every selected summary,
//     then, with sendInitialEvents and allowWatchBookmarks, a BOOKMARK
//     annotated k8s.io/initial-events-end, as client-go's watch-list expects.
//   - Otherwise it streams the changes after the given resourceVersion, or
//     after the current revision for "" / "0" without initial events.
//
// Each engine change record of this resource makes the watch read the
// summary's current state and emit ADDED, MODIFIED or DELETED depending on
// whether the client can see it (it exists and matches the selectors) and
// whether the client was last told it could. A label change that moves a
// summary into or out of the selector therefore reads as ADDED or DELETED,
// like the watch cache does. Events always carry the current state, so a
// burst of changes to one summary is delivered as one event.
//
// A watch resumed from a resourceVersion cannot know which state the client
// holds of a summary changed since then: events carry the state read when
// they were sent, which may be newer than their resourceVersion. So the
// changes made before the watch started are sent as if the client might see
// every such summary, and one that is not visible (any more) is reported
// DELETED even if the client never had it. Deletes are idempotent for
// clients; a missed one would leave a stale object forever. After that first
// batch the watch knows exactly what the client sees.
//
// A resourceVersion whose changes have left the engine's ring, or that the
// engine has not reached, fails with 410 Gone; a watcher that falls that far
// behind mid-stream gets a 410 ERROR event and the watch closes. Either way
// client-go reflectors relist.
//
// With allowWatchBookmarks the watch also sends a BOOKMARK with the current
// revision whenever it was idle for BookmarkInterval while the revision
// moved. The watch ends when Stop is called or ctx ends; it blocks on the
// engine's change notification and never polls.
func (s *Store[T]) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	if opts == nil {
		opts = &metainternalversion.ListOptions{}
	}
	f, err := s.newFilter(ctx, opts)
	if err != nil {
		return nil, err
	}
	rv, err := s.parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	w := &watcher[T]{
		store:     s,
		filter:    f,
		state:     make(map[string]keyState),
		bookmarks: opts.AllowWatchBookmarks,
		interval:  cmp.Or(s.BookmarkInterval, DefaultBookmarkInterval),
		logger:    klog.FromContext(ctx).WithValues("resource", s.cfg.Resource.String()),
	}
	legacyStart := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	switch {
	case opts.SendInitialEvents != nil && *opts.SendInitialEvents, opts.SendInitialEvents == nil && legacyStart:
		// The current state is "not older than" any revision the engine
		// has reached.
		if cur := s.cfg.Engine.Revision(); rv > cur {
			return nil, s.tooNew(rv, cur)
		}
		w.startWithInitialEvents(opts.SendInitialEvents != nil)
	case legacyStart:
		if err := w.startAfter(s.cfg.Engine.Revision()); err != nil {
			return nil, err
		}
	default:
		if err := w.startAfter(rv); err != nil {
			return nil, err
		}
	}
	w.logger.V(4).Info("Watch started", "resourceVersion", opts.ResourceVersion, "after", w.after,
		"initialEvents", len(w.initial), "labels", opts.LabelSelector, "fields", opts.FieldSelector)

	out := make(chan watch.Event)
	pw := watch.NewProxyWatcher(out)
	go w.run(ctx, out, pw.StopChan())
	return pw, nil
}

// keyState is what the client was last told about a summary.
type keyState struct {
	// present: the last event was ADDED or MODIFIED.
	present bool
	// rev is the revision of the summary content last sent, so that a
	// change record the client has already seen the result of is skipped.
	rev uint64
}

// watcher is the state of one watch. Only its goroutine touches it after
// Watch returns.
type watcher[T Object] struct {
	store  *Store[T]
	filter filter
	// after is the revision through which changes have been delivered.
	after uint64
	// initial are the ADDED events to send first; first is the first batch
	// of change records, read when the watch started.
	initial    []T
	initialEnd bool
	first      []summary.Change
	// state has an entry for every summary this watch told the client of,
	// and for existing summaries it found the client cannot see; summaries
	// that no longer exist are dropped, since their next record must be an
	// Added.
	state map[string]keyState
	// unseen says what the client sees of a key with no state, outside the
	// first batch (see startAfter).
	unseen unseenRule

	bookmarks bool
	interval  time.Duration
	// lastRV and lastSent are the resourceVersion and time of the last
	// event sent, for bookmarks.
	lastRV   uint64
	lastSent time.Time
	logger   klog.Logger
}

// unseenRule says what the client sees of a summary the watch has no state
// for.
type unseenRule uint8

const (
	// unseenHidden: the client cannot see it. True when the watch sent the
	// client everything it sees (initial events) or listed what it saw.
	unseenHidden unseenRule = iota
	// unseenIfExisted: the client sees it if it existed before its first
	// change record, that is unless that record is an Added. Exact when
	// seeing is existing: no label selector.
	unseenIfExisted
)

// startWithInitialEvents snapshots the selected summaries for the initial
// ADDED events. The revision is read before the summaries, so changes that
// land in between are replayed after the snapshot; the state map then
// recognises those the snapshot already shows and skips them.
func (w *watcher[T]) startWithInitialEvents(endBookmark bool) {
	w.after = w.store.cfg.Engine.Revision()
	w.initial = w.store.read(w.filter)
	for _, obj := range w.initial {
		w.state[obj.GetName()] = keyState{present: true, rev: objectRevision(obj)}
	}
	w.initialEnd = endBookmark
	w.lastRV = w.after
}

// startAfter prepares a watch of the changes after rev, failing with 410
// when the engine cannot replay them. The changes already made, up to the
// current revision cur, form the first batch.
//
// What does the client see? For a summary with no change in (rev, cur], its
// state at rev, which is its state now. Events carry the state read when
// they are sent, which may be newer than their resourceVersion (see
// deliver), so for a summary changed in (rev, cur] the client may hold any
// state from rev up to when it started this watch, which is before cur. The
// first batch therefore assumes such a summary may be visible: if it no
// longer is, the client gets a DELETED it may not need (deletions are
// idempotent) rather than none it needs.
//
// For the others, without a label selector the client sees exactly the
// summaries that exist, which the first change record of each key tells
// (unseenIfExisted). With one, whether the client sees a summary depends on
// its labels at rev, which the engine no longer has; so the matching
// summaries are listed before the changes are read. A listed summary with no
// change in (rev, cur] is visible; any other unlisted one is not.
func (w *watcher[T]) startAfter(rev uint64) error {
	var listed []T
	if w.filter.labels != nil {
		listed = w.store.read(w.filter)
	}
	changes, cur, err := w.store.cfg.Engine.Changes(rev)
	if err != nil {
		return w.expired(rev, err)
	}
	w.unseen = unseenIfExisted
	if w.filter.labels != nil {
		w.unseen = unseenHidden
		changed := make(map[string]bool)
		for _, c := range changes {
			if c.Kind == w.store.cfg.Kind {
				changed[c.Name] = true
			}
		}
		for _, obj := range listed {
			if key := obj.GetName(); !changed[key] {
				w.state[key] = keyState{present: true, rev: objectRevision(obj)}
			}
		}
	}
	w.first = changes
	w.after = cur
	w.lastRV = rev
	return nil
}

// expired turns an engine error about rev into the API error.
func (w *watcher[T]) expired(rev uint64, err error) error {
	switch {
	case errors.Is(err, summary.ErrRevisionTooOld):
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%v)", rev, err))
	case errors.Is(err, summary.ErrRevisionTooNew):
		return w.store.tooNew(rev, w.store.cfg.Engine.Revision())
	default:
		return apierrors.NewInternalError(fmt.Errorf("reading %s changes after %d: %w", w.store.cfg.Resource, rev, err))
	}
}

// run sends the events until the client stops the watch or ctx ends, then
// closes out.
func (w *watcher[T]) run(ctx context.Context, out chan<- watch.Event, stop <-chan struct{}) {
	defer close(out)
	send := func(ev watch.Event) bool {
		select {
		case out <- ev:
			w.lastSent = time.Now()
			return true
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	defer func() { w.logger.V(4).Info("Watch ended", "after", w.after) }()

	w.lastSent = time.Now()
	for _, obj := range w.initial {
		if !send(watch.Event{Type: watch.Added, Object: obj}) {
			return
		}
	}
	w.initial = nil
	if w.initialEnd && w.bookmarks {
		if !send(w.bookmark(true)) {
			return
		}
	}
	if !w.deliver(w.first, true, send) {
		return
	}
	w.first = nil

	var tick <-chan time.Time
	if w.bookmarks {
		t := time.NewTicker(w.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-w.store.cfg.Engine.Wait(w.after):
		case <-tick:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		changes, cur, err := w.store.cfg.Engine.Changes(w.after)
		if err != nil {
			w.logger.V(2).Info("Watch fell behind the engine's change ring", "after", w.after, "err", err)
			status := apierrors.NewResourceExpired(fmt.Sprintf("the watch fell behind: %v", err)).Status()
			send(watch.Event{Type: watch.Error, Object: &status})
			return
		}
		if !w.deliver(changes, false, send) {
			return
		}
		w.after = cur
		if w.bookmarks && w.after > w.lastRV && time.Since(w.lastSent) >= w.interval {
			if !send(w.bookmark(false)) {
				return
			}
		}
	}
}

// bookmark returns a BOOKMARK event at the delivered revision.
func (w *watcher[T]) bookmark(initialEventsEnd bool) watch.Event {
	obj := w.store.cfg.New()
	obj.SetResourceVersion(summaryapi.ResourceVersion(w.after))
	if initialEventsEnd {
		obj.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	w.lastRV = w.after
	return watch.Event{Type: watch.Bookmark, Object: obj}
}

// pendingKey collects a batch's change records of one key.
type pendingKey struct {
	key   string
	first summary.ChangeType
	last  uint64
}

// deliver sends the events a batch of change records calls for; first marks
// the batch read when the watch started. It returns false when the watch
// ended.
//
// The records are collapsed per key and the keys sent in the order of their
// last record, and each event's resourceVersion is that record's revision.
// The content may be newer, when the summary changed again before it was
// read: this watch then skips the later record, and a watch resumed from an
// earlier resourceVersion treats the summary as one the client may see
// (startAfter). A client
// that resumes from the resourceVersion of any event therefore misses
// nothing: every key sent before it had its last record at or before that
// revision, and every key after it has a record after it. Keys whose last
// records share a revision (one pod event touches two nodes) carry that
// revision minus one, all but the last of them, so resuming from any of them
// replays the others.
func (w *watcher[T]) deliver(changes []summary.Change, first bool, send func(watch.Event) bool) bool {
	var keys []pendingKey
	index := make(map[string]int)
	for _, c := range changes {
		if c.Kind != w.store.cfg.Kind || !w.filter.keyMatches(c.Name) {
			continue
		}
		if i, ok := index[c.Name]; ok {
			keys[i].last = c.Revision
			continue
		}
		index[c.Name] = len(keys)
		keys = append(keys, pendingKey{key: c.Name, first: c.Type, last: c.Revision})
	}
	slices.SortStableFunc(keys, func(a, b pendingKey) int { return cmp.Compare(a.last, b.last) })
	for i, p := range keys {
		rv := p.last
		if i+1 < len(keys) && keys[i+1].last == rv {
			rv--
		}
		ev, ok := w.event(p, first)
		if !ok {
			continue
		}
		ev.Object.(Object).SetResourceVersion(summaryapi.ResourceVersion(rv))
		if !send(ev) {
			return false
		}
		w.lastRV = rv
	}
	return true
}

// event returns the event one key's changes call for, if any, and records
// what the client now knows. In the first batch a key with no state may be
// visible to the client or not (see startAfter).
func (w *watcher[T]) event(p pendingKey, firstBatch bool) (watch.Event, bool) {
	obj, exists := w.store.cfg.Get(p.key)
	visible := exists && w.filter.labelsMatch(obj)
	st, known := w.state[p.key]
	maybe := !known && firstBatch
	if !known {
		st.present = maybe || (w.unseen == unseenIfExisted && p.first != summary.Added)
	}
	var rev uint64
	if exists {
		rev = objectRevision(obj)
		w.state[p.key] = keyState{present: visible, rev: rev}
	} else {
		delete(w.state, p.key)
	}

	switch {
	case visible && (!st.present || maybe && p.first == summary.Added):
		// For a maybe, both types make clients store the object; ADDED
		// reads better for a summary created since the client's revision.
		return watch.Event{Type: watch.Added, Object: obj}, true
	case visible && rev > st.rev:
		return watch.Event{Type: watch.Modified, Object: obj}, true
	case visible:
		// The client already has this content, from the initial events
		// or from an event sent when an earlier record was processed.
		return watch.Event{}, false
	case st.present:
		// A summary that left the label selector is sent as it is now,
		// no longer matching; a deleted one only by its identity.
		if !exists {
			// The engine forgets a deleted summary: the event carries its
			// identity, which is all clients key deletions by.
			obj = w.store.cfg.New()
			obj.SetName(p.key)
			if w.store.cfg.Namespaced {
				obj.SetNamespace(p.key)
			}
		}
		return watch.Event{Type: watch.Deleted, Object: obj}, true
	default:
		return watch.Event{}, false
	}
}

// objectRevision parses the resourceVersion summaryapi gave the object.
func objectRevision(obj Object) uint64 {
	rev, _ := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	return rev
}
