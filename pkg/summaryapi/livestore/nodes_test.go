package livestore_test

// The semantics of get, list and watch, on the cluster-scoped node
// summaries.

import (
	"context"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/summary"
)

func nodeEngine() *summary.Engine {
	e := summary.New(summary.Options{})
	e.UpsertNode(mkNode("node-a", true, "4", "16Gi", "110", "zone", "a"))
	e.UpsertNode(mkNode("node-b", false, "2", "8Gi", "50", "zone", "b"))
	e.UpsertPod(mkPod("ns1", "p1", "node-a", "1500m", "1Gi"))
	return e
}

func TestGetNode(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	obj, err := r.Get(clusterCtx(), "node-a", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	n := obj.(*clusterview.NodeSummary)
	want, _, _ := e.NodeAt("node-a")
	if n.Name != "node-a" || n.Labels["zone"] != "a" || !n.Ready || n.Pods.Running != 1 || n.PodCapacity != 110 ||
		n.ResourceVersion != strconv.FormatUint(want.Revision, 10) || !n.CreationTimestamp.Equal(&want.CreationTimestamp) {
		t.Errorf("Get returned %+v", n)
	}

	_, err = r.Get(clusterCtx(), "missing", &metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("Get(missing) error = %v, want NotFound", err)
	}
	details := err.(apierrors.APIStatus).Status().Details
	if details.Group != "clusterview.io" || details.Kind != "nodesummaries" || details.Name != "missing" {
		t.Errorf("NotFound details = %+v", details)
	}
}

func TestListNodes(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	tests := []struct {
		name   string
		labels string
		fields string
		want   []string
	}{
		{name: "all", want: []string{"node-a", "node-b"}},
		{name: "label", labels: "zone=b", want: []string{"node-b"}},
		{name: "label set", labels: "zone in (a,b,c)", want: []string{"node-a", "node-b"}},
		{name: "label none", labels: "zone=c", want: []string{}},
		{name: "name", fields: "metadata.name=node-a", want: []string{"node-a"}},
		{name: "name and label", labels: "zone=b", fields: "metadata.name=node-a", want: []string{}},
		{name: "name missing", fields: "metadata.name=nope", want: []string{}},
		{name: "not name", fields: "metadata.name!=node-a", want: []string{"node-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := r.List(clusterCtx(), listOptions(t, tt.labels, tt.fields))
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(tt.want, listNames(t, obj)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			list := obj.(*clusterview.NodeSummaryList)
			if list.ResourceVersion != strconv.FormatUint(e.Revision(), 10) {
				t.Errorf("list resourceVersion = %q, want %d", list.ResourceVersion, e.Revision())
			}
			if list.Items == nil {
				t.Errorf("Items is nil; an empty list must encode as []")
			}
		})
	}
}

func TestListRejectsUnsupportedFields(t *testing.T) {
	r := newNodeStore(nodeEngine())
	for sel, field := range map[string]string{
		"spec.nodeName=x":                   "spec.nodeName",
		"metadata.namespace=default":        "metadata.namespace",
		"metadata.name=a,status.ready=true": "status.ready",
	} {
		opts := &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie(sel)}
		_, err := r.List(clusterCtx(), opts)
		if !apierrors.IsBadRequest(err) {
			t.Errorf("List(%s) error = %v, want BadRequest", sel, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+field+`"`) {
			t.Errorf("List(%s) error %q does not name %q", sel, err, field)
		}
		if _, err := r.Watch(clusterCtx(), opts); !apierrors.IsBadRequest(err) {
			t.Errorf("Watch(%s) error = %v, want BadRequest", sel, err)
		}
	}
}

func TestListResourceVersions(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	cur := e.Revision()
	for _, tt := range []struct {
		rv    string
		match metav1.ResourceVersionMatch
		check func(error) bool
	}{
		{rv: "0", check: func(err error) bool { return err == nil }},
		{rv: strconv.FormatUint(cur, 10), check: func(err error) bool { return err == nil }},
		{rv: strconv.FormatUint(cur, 10), match: metav1.ResourceVersionMatchExact, check: func(err error) bool { return err == nil }},
		{rv: strconv.FormatUint(cur-1, 10), match: metav1.ResourceVersionMatchExact, check: apierrors.IsResourceExpired},
		{rv: strconv.FormatUint(cur+5, 10), match: metav1.ResourceVersionMatchNotOlderThan, check: apierrors.IsResourceExpired},
		{rv: "abc", check: apierrors.IsBadRequest},
	} {
		_, err := r.List(clusterCtx(), &metainternalversion.ListOptions{ResourceVersion: tt.rv, ResourceVersionMatch: tt.match})
		if !tt.check(err) {
			t.Errorf("List(rv=%s, match=%s) error = %v", tt.rv, tt.match, err)
		}
	}
	if _, err := r.List(clusterCtx(), &metainternalversion.ListOptions{Continue: "xyz"}); !apierrors.IsBadRequest(err) {
		t.Errorf("List(continue) error = %v, want BadRequest", err)
	}
}

func TestWatchFromZeroSendsInitialEvents(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: "0"})
	a, _, _ := e.NodeAt("node-a")
	b, _, _ := e.NodeAt("node-b")
	expectEvents(t, w,
		"ADDED node-a "+strconv.FormatUint(a.Revision, 10),
		"ADDED node-b "+strconv.FormatUint(b.Revision, 10))
	expectQuiet(t, w)

	e.UpsertPod(mkPod("ns1", "p2", "node-b", "100m", ""))
	expectEvents(t, w, "MODIFIED node-b "+rv(e))
	e.DeleteNode("node-a")
	expectEvents(t, w, "DELETED node-a "+rv(e))
	e.UpsertNode(mkNode("node-c", true, "1", "1Gi", "10"))
	expectEvents(t, w, "ADDED node-c "+rv(e))
	// Changes to namespaces are not node changes.
	e.UpsertNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1"}})
	expectQuiet(t, w)
}

func TestWatchFromListResourceVersion(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	list, err := r.List(clusterCtx(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listRV := list.(*clusterview.NodeSummaryList).ResourceVersion

	// Changes between the list and the watch are replayed; several changes
	// to one summary are delivered as one event with its current state.
	e.UpsertPod(mkPod("ns1", "p2", "node-a", "100m", ""))
	e.UpsertPod(mkPod("ns1", "p3", "node-a", "100m", ""))
	afterA := rv(e)
	e.DeleteNode("node-b")
	afterB := rv(e)

	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: listRV})
	ev, _ := nextEvent(t, w)
	if ev.Type != watch.Modified || object(ev).(*clusterview.NodeSummary).Name != "node-a" ||
		object(ev).(*clusterview.NodeSummary).Pods.Running != 3 || object(ev).(*clusterview.NodeSummary).ResourceVersion != afterA {
		t.Fatalf("first event = %s %+v", ev.Type, ev.Object)
	}
	expectEvents(t, w, "DELETED node-b "+afterB)
	expectQuiet(t, w)
}

func TestWatchLabelSelectorTransitions(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	sel := labels.SelectorFromSet(labels.Set{"zone": "a"})
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: rv(e), LabelSelector: sel})

	e.UpsertPod(mkPod("ns1", "p2", "node-b", "100m", "")) // node-b is not selected
	expectQuiet(t, w)
	e.UpsertNode(mkNode("node-a", true, "4", "16Gi", "110", "zone", "b"))
	expectEvents(t, w, "DELETED node-a "+rv(e))
	e.UpsertPod(mkPod("ns1", "p3", "node-a", "100m", "")) // node-a is no longer selected
	expectQuiet(t, w)
	e.UpsertNode(mkNode("node-b", true, "2", "8Gi", "50", "zone", "a"))
	expectEvents(t, w, "ADDED node-b "+rv(e))
	e.UpsertNode(mkNode("node-a", true, "4", "16Gi", "110", "zone", "a"))
	expectEvents(t, w, "ADDED node-a "+rv(e))
	e.DeleteNode("node-b")
	expectEvents(t, w, "DELETED node-b "+rv(e))
}

func TestWatchLabelSelectorFromOlderRevision(t *testing.T) {
	// Between the client's list and its watch, node-a left the selector and
	// node-b joined it; the watch must still tell the client.
	e := nodeEngine()
	r := newNodeStore(e)
	from := rv(e)
	e.UpsertNode(mkNode("node-a", true, "4", "16Gi", "110", "zone", "b"))
	e.UpsertNode(mkNode("node-b", false, "2", "8Gi", "50", "zone", "a"))
	e.UpsertNode(mkNode("node-c", true, "1", "1Gi", "10", "zone", "c"))
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: from, LabelSelector: labels.SelectorFromSet(labels.Set{"zone": "a"})})
	// The client's list at from held node-a only. node-a left the selector:
	// DELETED, carrying the labels it matched by. node-b joined it: ADDED.
	// node-c never matched: the client hears nothing of it.
	ev, _ := nextEvent(t, w)
	if got := describe(ev); got != "DELETED node-a 4" || object(ev).(*clusterview.NodeSummary).Labels["zone"] != "a" {
		t.Fatalf("first event = %s %+v, want node-a deleted with its zone=a labels", got, object(ev).(*clusterview.NodeSummary).ObjectMeta)
	}
	expectEvents(t, w, "ADDED node-b 5")
	expectQuiet(t, w)
	e.UpsertPod(mkPod("ns1", "p9", "node-a", "1", ""))
	e.UpsertPod(mkPod("ns1", "p10", "node-c", "1", ""))
	expectQuiet(t, w)
	// A selected watch hears of the deletion of matching summaries only,
	// with their last state.
	e.DeleteNode("node-c")
	e.DeleteNode("node-b")
	ev, _ = nextEvent(t, w)
	if got := describe(ev); got != "DELETED node-b "+rv(e) || object(ev).(*clusterview.NodeSummary).Labels["zone"] != "a" ||
		object(ev).(*clusterview.NodeSummary).PodCapacity != 50 {
		t.Fatalf("event = %s %+v, want node-b deleted with its last state", got, ev.Object)
	}
	expectQuiet(t, w)
}

func TestWatchFoldsABatchExactly(t *testing.T) {
	// node-b joins zone=a, changes, and leaves again before the watch
	// reads: the client is told it appeared and went, each event with the
	// labels the client sees it with, so that resuming between the two
	// events is exact as well.
	e := nodeEngine()
	r := newNodeStore(e)
	sel := labels.SelectorFromSet(labels.Set{"zone": "a"})
	from := rv(e)
	e.UpsertNode(mkNode("node-b", false, "2", "8Gi", "50", "zone", "a"))
	joined := rv(e)
	e.UpsertPod(mkPod("ns1", "p2", "node-b", "100m", ""))
	e.UpsertNode(mkNode("node-b", false, "2", "8Gi", "50", "zone", "b"))
	left := rv(e)
	e.UpsertPod(mkPod("ns1", "p3", "node-a", "100m", ""))
	modified := rv(e)

	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: from, LabelSelector: sel})
	for _, want := range []string{"ADDED node-b " + joined, "DELETED node-b " + left, "MODIFIED node-a " + modified} {
		ev, _ := nextEvent(t, w)
		if got := describe(ev); got != want || object(ev).(*clusterview.NodeSummary).Labels["zone"] != "a" {
			t.Fatalf("event %s with labels %v, want %s with zone=a", got, object(ev).(*clusterview.NodeSummary).Labels, want)
		}
	}
	expectQuiet(t, w)

	// Resumed between the two: node-b is held, so it is deleted.
	w = startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: joined, LabelSelector: sel})
	expectEvents(t, w, "DELETED node-b "+left, "MODIFIED node-a "+modified)
	expectQuiet(t, w)
}

func TestWatchFieldSelector(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: "0", FieldSelector: fields.OneTermEqualSelector("metadata.name", "node-b")})
	expectEvents(t, w, "ADDED node-b *")
	e.UpsertPod(mkPod("ns1", "p2", "node-a", "100m", ""))
	expectQuiet(t, w)
	e.UpsertPod(mkPod("ns1", "p3", "node-b", "100m", ""))
	expectEvents(t, w, "MODIFIED node-b "+rv(e))
}

func TestWatchTiedRevisions(t *testing.T) {
	// Moving a pod changes two node summaries at one revision. All but the
	// last event of such a tie carry the revision before it, so a client
	// resuming from any of them still gets the others.
	e := nodeEngine()
	r := newNodeStore(e)
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: rv(e)})
	e.UpsertPod(mkPod("ns1", "p1", "node-b", "1500m", "1Gi"))
	moved := e.Revision()
	expectEvents(t, w,
		"MODIFIED node-a "+strconv.FormatUint(moved-1, 10),
		"MODIFIED node-b "+strconv.FormatUint(moved, 10))

	w2 := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: strconv.FormatUint(moved-1, 10)})
	expectEvents(t, w2, "MODIFIED node-a *", "MODIFIED node-b *")
}

func TestWatchExpiredNodes(t *testing.T) {
	e := summary.New(summary.Options{ChangeBufferSize: 2, InitialRevision: 100})
	r := newNodeStore(e)
	for i := range 5 {
		e.UpsertNode(mkNode("node-"+strconv.Itoa(i), true, "1", "1Gi", "10"))
	}
	for _, v := range []string{"100", "101", "150", "abc"} {
		_, err := r.Watch(clusterCtx(), &metainternalversion.ListOptions{ResourceVersion: v})
		want := apierrors.IsResourceExpired
		if v == "abc" {
			want = apierrors.IsBadRequest
		}
		if !want(err) {
			t.Errorf("Watch(rv=%s) error = %v", v, err)
		}
		if v != "abc" && apierrors.ReasonForError(err) != metav1.StatusReasonExpired {
			t.Errorf("Watch(rv=%s) reason = %s, want Expired (410)", v, apierrors.ReasonForError(err))
		}
	}
	// The last two changes are still buffered.
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: "103"})
	expectEvents(t, w, "ADDED node-3 104", "ADDED node-4 105")
}

func TestWatchFallsBehind(t *testing.T) {
	e := summary.New(summary.Options{ChangeBufferSize: 2})
	e.UpsertNode(mkNode("node-a", true, "1", "1Gi", "10"))
	r := newNodeStore(e)
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: rv(e)})
	// Nobody reads while many changes go by: the watcher either blocks
	// sending the first one or finds its revision evicted.
	for i := range 10 {
		e.UpsertPod(mkPod("ns1", "p"+strconv.Itoa(i), "node-a", "", ""))
	}
	var last watch.Event
	for {
		ev, ok := nextEvent(t, w)
		if !ok {
			break
		}
		last = ev
	}
	status, ok := last.Object.(*metav1.Status)
	if last.Type != watch.Error || !ok || status.Code != 410 || status.Reason != metav1.StatusReasonExpired {
		t.Fatalf("last event = %s %+v, want a 410 ERROR", last.Type, last.Object)
	}
}

func TestWatchEndsWithContextAndStop(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)

	ctx, cancel := context.WithCancel(clusterCtx())
	w, err := r.Watch(ctx, &metainternalversion.ListOptions{ResourceVersion: rv(e)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	expectClosed(t, w)

	// Stop releases a goroutine blocked on sending an event nobody reads.
	w, err = r.Watch(clusterCtx(), &metainternalversion.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	w.Stop()
	w.Stop() // idempotent
	expectClosed(t, w)
}

func TestWatchBookmarks(t *testing.T) {
	e := nodeEngine()
	r := newNodeStore(e)
	r.BookmarkInterval = 20 * time.Millisecond

	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{
		ResourceVersion: rv(e), AllowWatchBookmarks: true,
	})
	// No bookmark while nothing changes.
	expectQuiet(t, w)
	// A change to another kind moves the revision without a node event; the
	// bookmark tells the client it may resume from there.
	e.UpsertNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1"}})
	expectEvents(t, w, "BOOKMARK - "+rv(e))
	expectQuiet(t, w)
}

func TestWatchList(t *testing.T) {
	// client-go's reflectors stream the initial state this way by default.
	e := nodeEngine()
	r := newNodeStore(e)
	w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{
		SendInitialEvents: ptr.To(true), AllowWatchBookmarks: true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	at := rv(e)
	expectEvents(t, w, "ADDED node-a *", "ADDED node-b *")
	ev, _ := nextEvent(t, w)
	obj := object(ev).(*clusterview.NodeSummary)
	if ev.Type != watch.Bookmark || obj.ResourceVersion != at || obj.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("event after the initial ones = %s %+v, want the initial-events-end bookmark at %s", ev.Type, obj.ObjectMeta, at)
	}
	e.DeleteNode("node-b")
	expectEvents(t, w, "DELETED node-b "+rv(e))

	// Explicitly no initial events: only changes from now on.
	w = startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{SendInitialEvents: ptr.To(false), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	expectQuiet(t, w)
	e.UpsertPod(mkPod("ns1", "p2", "node-a", "", ""))
	expectEvents(t, w, "MODIFIED node-a "+rv(e))

	// A revision the engine has not reached.
	_, err := r.Watch(clusterCtx(), &metainternalversion.ListOptions{
		ResourceVersion: strconv.FormatUint(e.Revision()+1, 10), SendInitialEvents: ptr.To(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if !apierrors.IsResourceExpired(err) {
		t.Errorf("watch-list from a future revision: %v, want 410", err)
	}
}

// TestWatchResumeNeverMisses mutates the engine at random while a client
// keeps a cache from a watch that it drops and resumes, from the
// resourceVersion of the last event it got, at random points. Whatever the
// interleaving, every event must be exact for the client's cache (no
// spurious DELETED, ADDED only for what it lacks, MODIFIED only for what it
// holds, nothing outside the selector) and the cache must end equal to a
// fresh list.
func TestWatchResumeNeverMisses(t *testing.T) {
	for _, selector := range []string{"", "zone=a", "zone in (a,c)", "zone!=b"} {
		t.Run("selector="+selector, func(t *testing.T) {
			rnd := rand.New(rand.NewSource(1))
			e := summary.New(summary.Options{})
			r := newNodeStore(e)
			sel, _ := labels.Parse(selector)
			nodes := []string{"n0", "n1", "n2", "n3", "n4"}
			zones := []string{"a", "b", "c"}
			mutate := func() {
				n := nodes[rnd.Intn(len(nodes))]
				switch rnd.Intn(4) {
				case 0:
					e.UpsertNode(mkNode(n, rnd.Intn(2) == 0, "4", "8Gi", "10", "zone", zones[rnd.Intn(len(zones))]))
				case 1:
					e.DeleteNode(n)
				default:
					e.UpsertPod(mkPod("ns", "p"+strconv.Itoa(rnd.Intn(8)), n, strconv.Itoa(rnd.Intn(3)+1), ""))
				}
			}

			cache := map[string]string{} // name -> fingerprint of the content
			list, err := r.List(clusterCtx(), &metainternalversion.ListOptions{LabelSelector: sel})
			if err != nil {
				t.Fatal(err)
			}
			lastRV := list.(*clusterview.NodeSummaryList).ResourceVersion
			// apply checks that every event is exact for the client's
			// cache: ADDED for a summary it does not hold, MODIFIED and
			// DELETED for one it holds, always matching the selector.
			apply := func(ev watch.Event) {
				obj := object(ev).(*clusterview.NodeSummary)
				if prev, _ := strconv.ParseUint(lastRV, 10, 64); mustParse(obj.ResourceVersion) < prev {
					t.Fatalf("resourceVersion went back from %s to %s", lastRV, obj.ResourceVersion)
				}
				lastRV = obj.ResourceVersion
				_, held := cache[obj.Name]
				if !sel.Matches(labels.Set(obj.Labels)) {
					t.Fatalf("%s %s with labels %v, which the selector %q does not match", ev.Type, obj.Name, obj.Labels, selector)
				}
				switch ev.Type {
				case watch.Added, watch.Modified:
					if held != (ev.Type == watch.Modified) {
						t.Fatalf("%s %s at %s; the client holds it: %v", ev.Type, obj.Name, obj.ResourceVersion, held)
					}
					cache[obj.Name] = fingerprint(obj)
				case watch.Deleted:
					if !held {
						t.Fatalf("spurious DELETED %s at %s: the client does not hold it", obj.Name, obj.ResourceVersion)
					}
					delete(cache, obj.Name)
				default:
					t.Fatalf("unexpected %s event %+v", ev.Type, ev.Object)
				}
			}
			// converge resumes from lastRV with the engine at rest: the cache
			// must reach what a fresh list says.
			converge := func(round int) {
				w := startWatch(t, clusterCtx(), r, &metainternalversion.ListOptions{ResourceVersion: lastRV, LabelSelector: sel})
				defer w.Stop()
				want := map[string]string{}
				list, _ := r.List(clusterCtx(), &metainternalversion.ListOptions{LabelSelector: sel})
				for i := range list.(*clusterview.NodeSummaryList).Items {
					item := &list.(*clusterview.NodeSummaryList).Items[i]
					want[item.Name] = fingerprint(item)
				}
				deadline := time.After(5 * time.Second)
				for !cmp.Equal(want, cache) {
					select {
					case ev := <-w.ResultChan():
						apply(ev)
					case <-deadline:
						t.Fatalf("round %d: cache never converged (-want +got):\n%s", round, cmp.Diff(want, cache))
					}
				}
			}
			for round := 0; round < 400; round++ {
				w, err := r.Watch(clusterCtx(), &metainternalversion.ListOptions{ResourceVersion: lastRV, LabelSelector: sel})
				if err != nil {
					t.Fatalf("round %d: resuming from %s: %v", round, lastRV, err)
				}
				for range rnd.Intn(10) {
					mutate()
				}
				// Read some of the events, then drop the watch.
				for range rnd.Intn(4) {
					select {
					case ev := <-w.ResultChan():
						apply(ev)
					case <-time.After(5 * time.Millisecond):
					}
				}
				w.Stop()
				if rnd.Intn(3) == 0 {
					converge(round)
				}
			}
			converge(-1)
		})
	}
}

// fingerprint is what the cache compares: what a client would display.
func fingerprint(n *clusterview.NodeSummary) string {
	var b strings.Builder
	b.WriteString(n.Labels["zone"])
	b.WriteString(strconv.FormatBool(n.Ready))
	b.WriteString(strconv.FormatInt(n.Pods.Total, 10))
	for _, u := range n.Resources {
		b.WriteString(string(u.Name) + "=" + u.Requests.String())
	}
	return b.String()
}

func mustParse(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}
