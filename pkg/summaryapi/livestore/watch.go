package livestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
//     read with the revision under one engine lock, then, with
//     sendInitialEvents and allowWatchBookmarks, a BOOKMARK at that revision
//     annotated k8s.io/initial-events-end, as client-go's watch-list
//     expects.
//   - Otherwise it streams the changes after the given resourceVersion, or
//     after the current revision for "" / "0" without initial events.
//
// The watch reads the engine in batches: every change record of this
// resource after the revision delivered so far, together with the state of
// the summaries they name, under one engine lock (see
// summary.ChangeBatch). The engine tells, for each record, whether the
// summary was visible to the request's selectors just before and just after
// it, so the watch needs no memory of what it sent: a summary becoming
// visible (created, or its labels now matching) is ADDED, one that stops
// being visible (deleted, or its labels no longer matching) is DELETED, and
// one that stays visible is MODIFIED. A DELETED event carries the summary as
// the client last could see it, with the labels it matched by; for a deleted
// summary that is its complete last state.
//
// Changes are folded per summary: the summary's records in a batch give one
// event at its last record, carrying its state then, plus one event at each
// record that changed its visibility. An event's resourceVersion is the
// revision of its record, so after an event at resourceVersion R the client
// sees exactly the summaries visible at R, and holds the state at R of every
// summary with no change after R. Resuming from R (or from a list at R)
// therefore neither misses nor invents anything: the first change of each
// summary after R says whether the client has it, so there are no DELETED
// events for summaries the client never had. Two exceptions keep that
// promise: events whose records share a revision (one pod event changes two
// nodes) carry that revision minus one, all but the last of them; and an
// ADDED followed by more changes of the summary in the same batch carries
// its newer state. In both cases the summary has a change after the event's
// resourceVersion, which a resumed watch sends again.
//
// Initial events carry each summary's own resourceVersion; a client that
// resumes before it saw them all may get a DELETED for a summary it did not
// get yet, as from the watch cache. client-go's watch-list restarts instead.
//
// A resourceVersion whose changes of this resource have left the engine's
// ring, or that the engine has not reached, fails with 410 Gone; a watcher
// that falls that far behind mid-stream gets a 410 ERROR event and the watch
// closes. Either way client-go reflectors relist.
//
// With allowWatchBookmarks the watch also sends a BOOKMARK with the current
// revision whenever it was idle for BookmarkInterval while the revision
// moved. The watch ends when Stop is called or ctx ends; it blocks on the
// engine's notification of changes of this resource (summary.Engine.WaitFor)
// and never polls. A watch that can see one summary only (in one namespace,
// or of one name) waits for that summary's changes (WaitForName), so a
// change wakes only the watchers that may send it.
//
// Every watcher reads the engine itself, but a summary's state is converted
// once for all of them and sent as a Shared object, which the serializers
// encode once per wire format (runtime.CacheableObject). Only events that
// need another resourceVersion or other labels than the state's own (see
// above) are copies.
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
		filter:    f.changeFilter(),
		bookmarks: opts.AllowWatchBookmarks,
		interval:  cmp.Or(s.BookmarkInterval, DefaultBookmarkInterval),
		logger:    klog.FromContext(ctx).WithValues("resource", s.cfg.Resource.String()),
	}
	legacyStart := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	switch {
	case opts.SendInitialEvents != nil && *opts.SendInitialEvents, opts.SendInitialEvents == nil && legacyStart:
		w.initial, w.after = s.read(f)
		// The current state is "not older than" any revision the engine
		// has reached.
		if rv > w.after {
			return nil, s.tooNew(rv, w.after)
		}
		w.initialEnd = opts.SendInitialEvents != nil
	case legacyStart:
		w.after = s.cfg.Engine.Revision()
	default:
		// Read the first batch now, so that a revision the engine cannot
		// replay fails the request rather than the stream.
		b, err := s.cfg.Read.Changes(rv, w.filter)
		if err != nil {
			return nil, w.expired(rv, err)
		}
		w.after, w.first = rv, &b
	}
	w.lastRV = w.after
	w.key, w.pinned = f.onlyKey()
	w.logger.V(4).Info("Watch started", "resourceVersion", opts.ResourceVersion, "after", w.after,
		"initialEvents", len(w.initial), "labels", opts.LabelSelector, "fields", opts.FieldSelector)

	out := make(chan watch.Event)
	pw := watch.NewProxyWatcher(out)
	go w.run(ctx, out, pw.StopChan())
	return pw, nil
}

// watcher is the state of one watch. Only its goroutine touches it after
// Watch returns.
type watcher[T Object] struct {
	store  *Store[T]
	filter summary.ChangeFilter
	// key is the one summary the watch can see, when pinned: it then
	// wakes for that summary's changes only.
	key    string
	pinned bool
	// after is the revision through which changes have been delivered.
	after uint64
	// initial are the ADDED events to send first; first is the first batch
	// of changes, read when the watch started.
	initial    []T
	initialEnd bool
	first      *Batch[T]

	bookmarks bool
	interval  time.Duration
	// lastRV and lastSent are the resourceVersion and time of the last
	// event sent, for bookmarks.
	lastRV   uint64
	lastSent time.Time
	logger   klog.Logger
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
	if w.first != nil {
		if !w.deliver(w.first, send) {
			return
		}
		w.first = nil
	}

	var tick <-chan time.Time
	if w.bookmarks {
		t := time.NewTicker(w.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		changed, release := w.wait()
		select {
		case <-changed:
		case <-tick:
		case <-stop:
			release()
			return
		case <-ctx.Done():
			release()
			return
		}
		release()
		b, err := w.store.cfg.Read.Changes(w.after, w.filter)
		if err != nil {
			w.logger.V(2).Info("Watch fell behind the engine's change ring", "after", w.after, "err", err)
			status := apierrors.NewResourceExpired(fmt.Sprintf("the watch fell behind: %v", err)).Status()
			send(watch.Event{Type: watch.Error, Object: &status})
			return
		}
		if !w.deliver(&b, send) {
			return
		}
		if w.bookmarks && w.after > w.lastRV && time.Since(w.lastSent) >= w.interval {
			if !send(w.bookmark(false)) {
				return
			}
		}
	}
}

// wait returns a channel closed when the watch may have changes after the
// revision delivered, and the function to call once done waiting. A watch
// of one summary (a namespace, or a name) waits for that summary's changes
// only, so that watchers of other namespaces are not woken to find nothing.
func (w *watcher[T]) wait() (<-chan struct{}, func()) {
	kind := w.store.cfg.Kind
	if w.pinned {
		return w.store.cfg.Engine.WaitForName(kind, w.key, w.after)
	}
	return w.store.cfg.Engine.WaitFor(kind, w.after), func() {}
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

// deliver sends the events of a batch and moves after to its revision. It
// returns false when the watch ended.
func (w *watcher[T]) deliver(b *Batch[T], send func(watch.Event) bool) bool {
	for _, ev := range w.store.events(b) {
		if !send(watch.Event{Type: ev.typ, Object: ev.object()}) {
			return false
		}
		w.lastRV = ev.rev
	}
	w.after = b.Revision
	return true
}

// pendingEvent is an event of a batch, at the record of index seq.
type pendingEvent[T Object] struct {
	rev uint64
	seq int
	typ watch.EventType
	obj *Shared[T]
	// seenLabels, when set, replace the state's labels: those the client
	// sees (or saw) the summary with.
	seenLabels map[string]string
	relabel    bool
}

// object returns what the event carries. Most events carry a state as it
// is, at its own resourceVersion: all watchers then send the same shared
// object, encoded once. The rest carry a copy set to the event's
// resourceVersion and labels.
func (ev *pendingEvent[T]) object() runtime.Object {
	rv := summaryapi.ResourceVersion(ev.rev)
	if !ev.relabel && ev.obj.obj.GetResourceVersion() == rv {
		return ev.obj
	}
	obj := ev.obj.obj.DeepCopyObject().(T)
	obj.SetResourceVersion(rv)
	if ev.relabel {
		obj.SetLabels(ev.seenLabels)
	}
	return obj
}

// events turns a batch into events, in the order of their records (see
// Watch): per summary, one event at each record that changed whether the
// client sees it, and a MODIFIED at its last record if it stayed visible
// through the batch.
func (s *Store[T]) events(b *Batch[T]) []pendingEvent[T] {
	byKey := make(map[string][]int)
	var keys []string
	for i, c := range b.Changes {
		if _, ok := byKey[c.Name]; !ok {
			keys = append(keys, c.Name)
		}
		byKey[c.Name] = append(byKey[c.Name], i)
	}
	var evs []pendingEvent[T]
	for _, key := range keys {
		idx := byKey[key]
		lastFlip := -1
		for _, i := range idx {
			if c := &b.Changes[i]; c.WasVisible != c.Visible {
				lastFlip = i
			}
		}
		if lastFlip < 0 {
			// Visible throughout, or never: at most one MODIFIED with the
			// state after the last record, which is the current state.
			last := idx[len(idx)-1]
			if b.Changes[last].Visible {
				if obj, ok := b.Current(key); ok {
					evs = append(evs, pendingEvent[T]{rev: b.Changes[last].Revision, seq: last, typ: watch.Modified, obj: obj})
				}
			}
			continue
		}
		for n, i := range idx {
			c := &b.Changes[i]
			if c.WasVisible == c.Visible {
				continue
			}
			ev := pendingEvent[T]{rev: c.Revision, seq: i, typ: watch.Deleted}
			if c.Visible {
				ev.typ = watch.Added
			}
			ok := false
			switch {
			case c.Visible && i == lastFlip:
				// Visible from here to the end of the batch: the current
				// state, which folds in any later change.
				ev.obj, ok = b.Current(key)
			case c.Type == summary.Deleted:
				// The complete last state.
				ev.obj, ok = b.Deleted(i)
			}
			if !ok {
				// Made visible and invisible again within the batch, or
				// relabeled out of the selector: the engine has the
				// summary's state at a later record only, shown with the
				// labels the client sees (or saw) it with.
				ev.obj = s.stateFrom(b, key, idx[n:])
				ev.seenLabels, ev.relabel = c.SeenLabels, true
			}
			evs = append(evs, ev)
		}
	}
	slices.SortFunc(evs, func(a, b pendingEvent[T]) int {
		return cmp.Or(cmp.Compare(a.rev, b.rev), cmp.Compare(a.seq, b.seq))
	})
	// Events whose records share a revision: all but the last carry the
	// revision before, so that resuming from any of them replays the rest.
	for i := 0; i+1 < len(evs); i++ {
		if evs[i].rev == evs[i+1].rev {
			evs[i].rev--
		}
	}
	return evs
}

// stateFrom returns the state of a summary the engine has nearest after
// the records idx (indexes of the summary's records in b): the last state
// before its next deletion, else its current state, else just its
// identity.
func (s *Store[T]) stateFrom(b *Batch[T], key string, idx []int) *Shared[T] {
	for _, i := range idx {
		if b.Changes[i].Type == summary.Deleted {
			if obj, ok := b.Deleted(i); ok {
				return obj
			}
			break
		}
	}
	if obj, ok := b.Current(key); ok {
		return obj
	}
	obj := s.cfg.New()
	obj.SetName(key)
	if s.cfg.Namespaced {
		obj.SetNamespace(key)
	}
	return NewShared(obj)
}
