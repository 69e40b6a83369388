package livestore_test

// The semantics of get, list and watch that only namespaced summaries
// have: each is served in the namespace it is named after.

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/summary"
)

func namespaceEngine() *summary.Engine {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(fx.Namespace("team-a", "team", "a"))
	e.UpsertNamespace(fx.Namespace("team-b", "team", "b"))
	e.UpsertNamespace(fx.Namespace("other"))
	e.UpsertPod(fx.Pod("team-a", "p1", fx.OnNode("n1"), fx.Requests("cpu", "500m")))
	return e
}

func TestGetNamespace(t *testing.T) {
	e := namespaceEngine()
	r := newNamespaceStore(e)
	obj, err := r.Get(nsCtx("team-a"), "team-a", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got := obj.(*clusterview.NamespaceSummary)
	want, _, _ := e.NamespaceAt("team-a")
	if got.Name != "team-a" || got.Namespace != "team-a" || got.Labels["team"] != "a" || got.Pods.Running != 1 ||
		got.ResourceVersion != strconv.FormatUint(want.Revision, 10) {
		t.Errorf("Get returned %+v", got)
	}

	for _, tt := range []struct{ ns, name string }{
		{"team-a", "team-b"}, // another namespace's summary is not in team-a
		{"team-a", "other-name"},
		{"missing", "missing"},
	} {
		_, err := r.Get(nsCtx(tt.ns), tt.name, &metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("Get(%s/%s) error = %v, want NotFound", tt.ns, tt.name, err)
			continue
		}
		if d := err.(apierrors.APIStatus).Status().Details; d.Group != "clusterview.io" || d.Kind != "namespacesummaries" || d.Name != tt.name {
			t.Errorf("Get(%s/%s) details = %+v", tt.ns, tt.name, d)
		}
	}
}

func TestListNamespaces(t *testing.T) {
	e := namespaceEngine()
	r := newNamespaceStore(e)
	for _, tt := range []struct {
		name, ns, labels, fields string
		want                     []string
	}{
		{name: "all namespaces", want: []string{"other", "team-a", "team-b"}},
		{name: "one namespace", ns: "team-a", want: []string{"team-a"}},
		{name: "unknown namespace", ns: "nope", want: []string{}},
		{name: "labels", labels: "team", want: []string{"team-a", "team-b"}},
		{name: "labels in namespace", ns: "team-a", labels: "team=b", want: []string{}},
		{name: "name", fields: "metadata.name=team-b", want: []string{"team-b"}},
		{name: "namespace field", fields: "metadata.namespace=other", want: []string{"other"}},
		{name: "not name", fields: "metadata.name!=other", want: []string{"team-a", "team-b"}},
		{name: "name in another namespace", ns: "team-a", fields: "metadata.name=team-b", want: []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := r.List(nsCtx(tt.ns), listOptions(t, tt.labels, tt.fields))
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(tt.want, listNames(t, obj)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if rv := obj.(*clusterview.NamespaceSummaryList).ResourceVersion; rv != strconv.FormatUint(e.Revision(), 10) {
				t.Errorf("list resourceVersion = %s, want %d", rv, e.Revision())
			}
		})
	}

	_, err := r.List(nsCtx(""), &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("status.phase=Active")})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `"status.phase"`) {
		t.Errorf("List(status.phase) error = %v, want a BadRequest naming the field", err)
	}
}

func TestWatchInNamespace(t *testing.T) {
	e := namespaceEngine()
	r := newNamespaceStore(e)
	a, _, _ := e.NamespaceAt("team-a")
	w, err := r.Watch(nsCtx("team-a"), &metainternalversion.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expectEvents(t, w, "ADDED team-a/team-a "+strconv.FormatUint(a.Revision, 10))

	e.UpsertPod(fx.Pod("team-b", "p1", fx.OnNode("n1")))
	expectQuiet(t, w)
	e.UpsertPod(fx.Pod("team-a", "p2", fx.OnNode("n1")))
	expectEvents(t, w, "MODIFIED team-a/team-a "+rv(e))
	e.DeleteNamespace("team-a")
	expectEvents(t, w, "DELETED team-a/team-a "+rv(e))
	e.UpsertNamespace(fx.Namespace("team-a"))
	expectEvents(t, w, "ADDED team-a/team-a "+rv(e))
}

func TestWatchAllNamespaces(t *testing.T) {
	e := namespaceEngine()
	r := newNamespaceStore(e)
	from := rv(e)
	w, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: from})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	e.UpsertPod(fx.Pod("team-b", "p1", fx.OnNode("n1")))
	expectEvents(t, w, "MODIFIED team-b/team-b "+rv(e))
	e.UpsertNamespace(fx.Namespace("new"))
	expectEvents(t, w, "ADDED new/new "+rv(e))
	// Node changes are not namespace changes.
	e.UpsertNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	expectQuiet(t, w)

	// Field selectors work on watches too.
	w2, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: from, FieldSelector: fields.OneTermEqualSelector("metadata.namespace", "new")})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	expectEvents(t, w2, "ADDED new/new "+mustRV(e, "new"))
	expectQuiet(t, w2)
}

func mustRV(e *summary.Engine, ns string) string {
	s, _, ok := e.NamespaceAt(ns)
	if !ok {
		panic(ns)
	}
	return strconv.FormatUint(s.Revision, 10)
}

func TestWatchExpiredNamespaces(t *testing.T) {
	e := summary.New(summary.Options{ChangeBufferSize: 1})
	e.UpsertNamespace(fx.Namespace("a"))
	e.UpsertNamespace(fx.Namespace("b"))
	e.UpsertNamespace(fx.Namespace("c"))
	r := newNamespaceStore(e)
	if _, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: "1"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("Watch(too old) error = %v, want 410", err)
	}
	if _, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: "99"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("Watch(too new) error = %v, want 410", err)
	}
}

func TestWatchDeletesCarryTheLastState(t *testing.T) {
	e := namespaceEngine()
	e.UpsertNamespace(fx.Namespace("team-c", "tier", "gold"))
	e.UpsertPod(fx.Pod("team-c", "p1", fx.OnNode("n1")))
	r := newNamespaceStore(e)
	from := rv(e)
	w, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: from, LabelSelector: labels.SelectorFromSet(labels.Set{"tier": "gold"})})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Deleting a namespace the selector does not match says nothing.
	e.DeleteNamespace("team-a")
	expectQuiet(t, w)
	e.DeleteNamespace("team-c")
	ev, _ := nextEvent(t, w)
	obj := object(ev).(*clusterview.NamespaceSummary)
	if ev.Type != watch.Deleted || obj.Name != "team-c" || obj.Namespace != "team-c" || obj.Labels["tier"] != "gold" ||
		obj.Pods.Total != 1 || obj.ResourceVersion != rv(e) {
		t.Fatalf("event %s %+v, want team-c deleted with its last state", ev.Type, obj)
	}
	expectQuiet(t, w)
}
