package livestore_test

// What a watch costs: a watch of one namespace wakes for that namespace
// only, and a change is converted and encoded once however many watchers
// send it.

import (
	"bytes"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi"
	"github.com/clusterview/clusterview/pkg/summaryapi/livestore"
)

// countingReader counts the change batches the watchers read, which they
// do each time they wake.
type countingReader[T livestore.Object] struct {
	livestore.Reader[T]
	batches atomic.Int64
}

func (r *countingReader[T]) Changes(afterRev uint64, f summary.ChangeFilter) (livestore.Batch[T], error) {
	r.batches.Add(1)
	return r.Reader.Changes(afterRev, f)
}

// countedNamespaceStore is a namespace store whose reads and conversions
// are counted.
func countedNamespaceStore(e *summary.Engine) (*livestore.Store[*clusterview.NamespaceSummary], *countingReader[*clusterview.NamespaceSummary], *atomic.Int64) {
	conversions := &atomic.Int64{}
	convert := func(ns summary.NamespaceTotals) *clusterview.NamespaceSummary {
		conversions.Add(1)
		return summaryapi.NamespaceSummary(ns)
	}
	r := &countingReader[*clusterview.NamespaceSummary]{Reader: livestore.NamespaceReader(e, convert)}
	s := livestore.New(livestore.Config[*clusterview.NamespaceSummary]{
		Engine:     e,
		Resource:   clusterview.Resource("namespacesummaries"),
		Kind:       summary.KindNamespace,
		Namespaced: true,
		Read:       r,
		New:        func() *clusterview.NamespaceSummary { return &clusterview.NamespaceSummary{} },
		NewList: func(items []*clusterview.NamespaceSummary) runtime.Object {
			return &clusterview.NamespaceSummaryList{Items: livestore.Values(items)}
		},
	})
	return s, r, conversions
}

// TestWatchOfANamespaceSleepsThroughOthers watches namespace a while
// namespace b changes 50 times: the watch must not wake (read the engine)
// for them, only for the change of a.
func TestWatchOfANamespaceSleepsThroughOthers(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(fx.Namespace("a"))
	e.UpsertNamespace(fx.Namespace("b"))
	s, reads, _ := countedNamespaceStore(e)
	w := startWatch(t, nsCtx("a"), s, &metainternalversion.ListOptions{ResourceVersion: rv(e)})
	started := reads.batches.Load() // the watch reads its first batch as it starts

	for i := range 50 {
		e.UpsertPod(fx.Pod("b", "p"+strconv.Itoa(i), fx.OnNode("n1"), fx.Requests("cpu", "10m")))
		// Pace the changes so that a watch woken by each would read each.
		time.Sleep(time.Millisecond)
	}
	e.UpsertPod(fx.Pod("a", "p", fx.OnNode("n1"), fx.Requests("cpu", "10m")))
	expectEvents(t, w, "MODIFIED a/a "+rv(e))
	if n := reads.batches.Load() - started; n != 1 {
		t.Errorf("the watch of namespace a read %d change batches for 50 changes of b and 1 of a, want 1", n)
	}
}

// TestWatchersShareOneConversionAndEncoding has 5 watchers of namespace a
// and 5 of all namespaces see one change of a: the summary is converted
// once, every watcher sends the same object, and encoding it for the 10
// of them runs the encoder once per wire format.
func TestWatchersShareOneConversionAndEncoding(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(fx.Namespace("a"))
	e.UpsertNamespace(fx.Namespace("b"))
	s, _, conversions := countedNamespaceStore(e)
	var watches []watch.Interface
	for i := range 10 {
		ns := "a"
		if i%2 == 1 {
			ns = "" // all namespaces
		}
		watches = append(watches, startWatch(t, nsCtx(ns), s, &metainternalversion.ListOptions{ResourceVersion: rv(e)}))
	}

	e.UpsertPod(fx.Pod("a", "p", fx.OnNode("n1"), fx.Requests("cpu", "250m")))
	var sent []runtime.Object
	for _, w := range watches {
		ev, ok := nextEvent(t, w)
		if !ok || ev.Type != watch.Modified {
			t.Fatalf("event %v %v, want MODIFIED", ev.Type, ev.Object)
		}
		sent = append(sent, ev.Object)
	}
	if n := conversions.Load(); n != 1 {
		t.Errorf("one change seen by 10 watchers was converted %d times, want 1", n)
	}
	for i, obj := range sent {
		if obj != sent[0] {
			t.Fatalf("watcher %d sent another object (%T) than watcher 0 (%T)", i, obj, sent[0])
		}
	}
	co, ok := sent[0].(runtime.CacheableObject)
	if !ok {
		t.Fatalf("watch events carry %T, which does not cache its serializations", sent[0])
	}
	if got := co.GetObject().(*clusterview.NamespaceSummary); got.Pods.Running != 1 || got.ResourceVersion != rv(e) {
		t.Fatalf("shared object = %+v, want 1 running pod at resourceVersion %s", got, rv(e))
	}

	encodes := map[runtime.Identifier]int{}
	encoder := func(id runtime.Identifier) func(runtime.Object, io.Writer) error {
		return func(obj runtime.Object, w io.Writer) error {
			encodes[id]++
			_, err := io.WriteString(w, string(id)+":"+obj.(*clusterview.NamespaceSummary).Name)
			return err
		}
	}
	for _, id := range []runtime.Identifier{"json", "protobuf"} {
		for _, obj := range sent {
			var buf bytes.Buffer
			if err := obj.(runtime.CacheableObject).CacheEncode(id, encoder(id), &buf); err != nil {
				t.Fatal(err)
			}
			if want := string(id) + ":a"; buf.String() != want {
				t.Fatalf("encoded %q, want %q", buf.String(), want)
			}
		}
		if encodes[id] != 1 {
			t.Errorf("10 sends of one change encoded it %d times as %s, want 1", encodes[id], id)
		}
	}

	// A list converts anew: the handler owns what a list returns.
	before := conversions.Load()
	if _, err := s.List(nsCtx(""), &metainternalversion.ListOptions{LabelSelector: labels.Everything()}); err != nil {
		t.Fatal(err)
	}
	if conversions.Load() != before+2 {
		t.Errorf("a list of 2 summaries converted %d, want 2", conversions.Load()-before)
	}
}
