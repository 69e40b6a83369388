// Package livestore serves the summaries a summary.Engine computes as a
// read-only Kubernetes resource: get, list and watch with label selectors,
// metadata field selectors and resourceVersion semantics, read live from the
// engine with no etcd behind them. The resource packages (nodesummary,
// namespacesummary) supply how to read and convert one kind of summary
// (NodeReader, NamespaceReader).
//
// # Resource versions
//
// An object's resourceVersion is the engine revision of its summary's last
// change, and a list's is the engine revision it was read at. Every read
// takes the items and the revision under one engine lock, so a list is
// exactly the state at its resourceVersion: a watch from it misses nothing
// and repeats nothing the list already showed. Watch events are exact in the
// same way (see Store.Watch): after an event at resourceVersion R the
// client sees exactly the summaries visible at R, so a watch resumed from R
// sends ADDED only for summaries the client lacks and DELETED only for
// summaries it holds.
//
// Revisions are only meaningful to this server process: a revision the
// engine has not reached, or one whose changes of the resource have left the
// engine's change ring, is answered with 410 Gone so that clients relist.
package livestore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi"
)

// DefaultBookmarkInterval is how often an idle watch that asked for
// bookmarks is told the current revision. The engine keeps a bounded ring of
// changes, so under pod churn a quiet watcher's last resourceVersion can
// leave the ring within minutes; frequent bookmarks let it resume instead of
// relisting. A bookmark is one tiny event, and none is sent unless the
// revision moved.
const DefaultBookmarkInterval = 10 * time.Second

// Field selector fields every summary supports.
const (
	fieldName      = "metadata.name"
	fieldNamespace = "metadata.namespace"
)

// Object is a summary as the API serves it: an internal clusterview object.
type Object interface {
	runtime.Object
	metav1.Object
}

// Config says how to read one kind of summary from the engine. Each summary
// has a key, the name of the Node or Namespace it describes, which is its
// name and, for namespaced summaries, also its namespace.
type Config[T Object] struct {
	Engine *summary.Engine
	// Resource qualifies errors, such as NotFound.
	Resource schema.GroupResource
	// Kind picks the engine change records that concern this resource.
	Kind summary.ChangeKind
	// Namespaced serves each summary in the namespace named after its key.
	Namespaced bool
	// Read reads the summaries of Kind from Engine: see NodeReader and
	// NamespaceReader.
	Read Reader[T]
	// New returns an empty object.
	New func() T
	// NewList returns the resource's list type holding items.
	NewList func(items []T) runtime.Object
}

// Resource is what each live summary resource implements: the read verbs
// (get, list, watch, and no write verb, so discovery lists only those), a
// table for kubectl, and the names kubectl resolves. Store provides the
// verbs; the resource package adds its columns and names and asserts this
// interface at compile time.
type Resource interface {
	rest.Storage
	rest.Scoper
	rest.Getter
	rest.Lister
	rest.Watcher
	rest.TableConvertor
	rest.SingularNameProvider
	rest.ShortNamesProvider
	rest.CategoriesProvider
}

// Values copies the objects items points to into a slice of values, as
// list types hold them. The result is never nil, so an empty list encodes
// as [] rather than null.
func Values[E any](items []*E) []E {
	out := make([]E, len(items))
	for i, item := range items {
		out[i] = *item
	}
	return out
}

// Reader reads one kind of summary from the engine, converted to the API
// type T. Each method reads under one engine lock, so what it returns is
// exactly the engine's state at the revision it returns.
type Reader[T Object] interface {
	// Get reads the summary of a key; false when the engine does not know
	// it.
	Get(key string) (T, uint64, bool)
	// List reads the summaries whose labels match sel (nil: all), sorted
	// by key.
	List(sel labels.Selector) ([]T, uint64)
	// Changes reads the change records after afterRev that f accepts and
	// the state of the summaries they name.
	Changes(afterRev uint64, f summary.ChangeFilter) (Batch[T], error)
}

// Batch is a summary.ChangeBatch whose states are converted on demand,
// each state once for every watcher that reads it.
type Batch[T Object] struct {
	// Revision and Changes are those of the engine's batch.
	Revision uint64
	Changes  []summary.WatchedChange
	// Current returns a summary's state at Revision, if the engine's batch
	// has it (see summary.ChangeBatch.Current).
	Current func(key string) (*Shared[T], bool)
	// Deleted returns the last state of the summary that Changes[i], a
	// Deleted change, removed.
	Deleted func(i int) (*Shared[T], bool)
}

// NodeReader reads node summaries from e, converted by convert.
func NodeReader[T Object](e *summary.Engine, convert func(summary.NodeTotals) T) Reader[T] {
	return engineReader[summary.NodeTotals, T]{get: e.NodeAt, list: e.ListNodesAt, changes: e.NodeChangesWithState,
		convert: convert, shared: newSharedCache(convert),
		state: func(n summary.NodeTotals) stateKey { return stateKey{n.Name, n.Revision} }}
}

// NamespaceReader reads namespace summaries from e, converted by convert.
func NamespaceReader[T Object](e *summary.Engine, convert func(summary.NamespaceTotals) T) Reader[T] {
	return engineReader[summary.NamespaceTotals, T]{get: e.NamespaceAt, list: e.ListNamespacesAt, changes: e.NamespaceChangesWithState,
		convert: convert, shared: newSharedCache(convert),
		state: func(n summary.NamespaceTotals) stateKey { return stateKey{n.Name, n.Revision} }}
}

// engineReader adapts the engine's reads of summaries S. Gets and lists
// convert anew, since the handler owns what they return; watch batches
// share conversions through shared.
type engineReader[S summary.NodeTotals | summary.NamespaceTotals, T Object] struct {
	get     func(string) (S, uint64, bool)
	list    func(labels.Selector) ([]S, uint64)
	changes func(uint64, summary.ChangeFilter) (summary.ChangeBatch[S], error)
	convert func(S) T
	shared  *sharedCache[S, T]
	state   func(S) stateKey
}

func (r engineReader[S, T]) Get(key string) (T, uint64, bool) {
	s, rev, ok := r.get(key)
	if !ok {
		var zero T
		return zero, rev, false
	}
	return r.convert(s), rev, true
}

func (r engineReader[S, T]) List(sel labels.Selector) ([]T, uint64) {
	all, rev := r.list(sel)
	out := make([]T, len(all))
	for i, s := range all {
		out[i] = r.convert(s)
	}
	return out, rev
}

func (r engineReader[S, T]) Changes(afterRev uint64, f summary.ChangeFilter) (Batch[T], error) {
	b, err := r.changes(afterRev, f)
	if err != nil {
		return Batch[T]{Revision: b.Revision}, err
	}
	return Batch[T]{
		Revision: b.Revision,
		Changes:  b.Changes,
		Current: func(key string) (*Shared[T], bool) {
			s, ok := b.Current[key]
			if !ok {
				return nil, false
			}
			return r.shared.get(r.state(s), s), true
		},
		Deleted: func(i int) (*Shared[T], bool) {
			s, ok := b.Deleted[i]
			if !ok {
				return nil, false
			}
			return r.shared.get(r.state(s), s), true
		},
	}, nil
}

// Store implements get, list and watch of one kind of summary. It
// implements none of the write verbs, so the resource is read-only.
type Store[T Object] struct {
	cfg Config[T]
	// BookmarkInterval overrides DefaultBookmarkInterval. Set it before the
	// store serves requests.
	BookmarkInterval time.Duration
}

// New returns a Store reading summaries as cfg says.
func New[T Object](cfg Config[T]) *Store[T] {
	return &Store[T]{cfg: cfg, BookmarkInterval: DefaultBookmarkInterval}
}

// New returns an empty object of the resource.
func (s *Store[T]) New() runtime.Object { return s.cfg.New() }

// NewList returns an empty list of the resource.
func (s *Store[T]) NewList() runtime.Object { return s.cfg.NewList(nil) }

// Destroy releases nothing: the engine belongs to whoever created it.
func (s *Store[T]) Destroy() {}

// NamespaceScoped reports whether summaries live in namespaces.
func (s *Store[T]) NamespaceScoped() bool { return s.cfg.Namespaced }

// Get returns the current summary named name. A namespaced summary exists
// only in the namespace of the same name. GetOptions.ResourceVersion is not
// checked: the engine only has the latest state, which satisfies both "any"
// ("0") and "most recent" ("").
func (s *Store[T]) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if s.cfg.Namespaced {
		if ns := genericapirequest.NamespaceValue(ctx); ns != "" && ns != name {
			return nil, apierrors.NewNotFound(s.cfg.Resource, name)
		}
	}
	obj, _, ok := s.cfg.Read.Get(name)
	if !ok {
		return nil, apierrors.NewNotFound(s.cfg.Resource, name)
	}
	return obj, nil
}

// List returns the current summaries that match the request's namespace
// and selectors, sorted by name, in one response: limit is ignored (as the
// API allows) because the list is built in memory anyway.
func (s *Store[T]) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	if opts == nil {
		opts = &metainternalversion.ListOptions{}
	}
	f, err := s.newFilter(ctx, opts)
	if err != nil {
		return nil, err
	}
	if opts.Continue != "" {
		// This store never issues continue tokens, so one is from elsewhere.
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s do not support continue tokens", s.cfg.Resource))
	}
	minRev, err := s.parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}

	// The items and the revision are read under one engine lock: the list
	// is exactly the state at rev.
	items, rev := s.read(f)

	if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		switch {
		case opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact && minRev != rev:
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("resource version %d is not available: %s are served at the current revision only (now %d)", minRev, s.cfg.Resource, rev))
		case minRev > rev:
			return nil, s.tooNew(minRev, rev)
		}
	}

	list := s.cfg.NewList(items)
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, fmt.Errorf("accessing the metadata of a %s list: %w", s.cfg.Resource, err)
	}
	lm.SetResourceVersion(summaryapi.ResourceVersion(rev))
	return list, nil
}

// read returns the summaries f selects, sorted by key, and the revision
// they were read at.
func (s *Store[T]) read(f filter) ([]T, uint64) {
	// A namespace or an exact name pins a single key: read just that one
	// instead of every summary.
	if key, ok := f.onlyKey(); ok {
		obj, rev, found := s.cfg.Read.Get(key)
		if !found || !f.keyMatches(key) || !f.labelsMatch(obj) {
			return nil, rev
		}
		return []T{obj}, rev
	}
	all, rev := s.cfg.Read.List(f.labels)
	if f.fields == nil {
		return all, rev
	}
	return slices.DeleteFunc(all, func(obj T) bool { return !f.keyMatches(obj.GetName()) }), rev
}

// parseResourceVersion parses a resourceVersion; "" and "0" are zero.
func (s *Store[T]) parseResourceVersion(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q: %v", rv, err))
	}
	return n, nil
}

// tooNew answers a resourceVersion this engine has not reached. The
// generic storage would wait for it and then time out, but the engine's
// revisions are not etcd's: such a version was issued by another server
// process and will never mean anything here, so 410 makes clients relist
// at once.
func (s *Store[T]) tooNew(rev, current uint64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("resource version %d is newer than the %s revision %d (issued before a restart?)", rev, s.cfg.Resource, current))
}

// filter is what a request selects: a namespace, field selector
// requirements on the metadata, and a label selector.
type filter struct {
	namespaced bool
	// namespace is the request's namespace, "" for all namespaces.
	namespace string
	// fields and labels are nil when they select everything.
	fields fields.Selector
	labels labels.Selector
}

// newFilter reads the request's namespace and selectors. Only metadata
// fields can be selected: summaries have no other field an index could
// serve, and an unsupported field is the client's mistake (400), not an
// empty result.
func (s *Store[T]) newFilter(ctx context.Context, opts *metainternalversion.ListOptions) (filter, error) {
	f := filter{namespaced: s.cfg.Namespaced}
	if s.cfg.Namespaced {
		f.namespace = genericapirequest.NamespaceValue(ctx)
	}
	if opts.LabelSelector != nil && !opts.LabelSelector.Empty() {
		f.labels = opts.LabelSelector
	}
	if opts.FieldSelector != nil && !opts.FieldSelector.Empty() {
		supported := []string{fieldName}
		if s.cfg.Namespaced {
			supported = append(supported, fieldNamespace)
		}
		for _, r := range opts.FieldSelector.Requirements() {
			if !slices.Contains(supported, r.Field) {
				return filter{}, apierrors.NewBadRequest(fmt.Sprintf("field selector %q is not supported for %s: only %s", r.Field, s.cfg.Resource, strings.Join(supported, ", ")))
			}
		}
		f.fields = opts.FieldSelector
	}
	return f, nil
}

// keyMatches applies the namespace and the field selector, which depend on
// the key alone.
func (f filter) keyMatches(key string) bool {
	if f.namespace != "" && key != f.namespace {
		return false
	}
	if f.fields == nil {
		return true
	}
	set := fields.Set{fieldName: key}
	if f.namespaced {
		set[fieldNamespace] = key
	}
	return f.fields.Matches(set)
}

// changeFilter is the filter for the engine's change batches.
func (f filter) changeFilter() summary.ChangeFilter {
	cf := summary.ChangeFilter{Labels: f.labels}
	if f.namespace != "" || f.fields != nil {
		cf.Name = f.keyMatches
	}
	return cf
}

// labelsMatch applies the label selector.
func (f filter) labelsMatch(obj Object) bool {
	return f.labels == nil || f.labels.Matches(labels.Set(obj.GetLabels()))
}

// onlyKey returns the one key the filter can match, if it pins one.
func (f filter) onlyKey() (string, bool) {
	if f.namespace != "" {
		return f.namespace, true
	}
	if f.fields == nil {
		return "", false
	}
	if key, ok := f.fields.RequiresExactMatch(fieldName); ok {
		return key, true
	}
	if f.namespaced {
		return f.fields.RequiresExactMatch(fieldNamespace)
	}
	return "", false
}
