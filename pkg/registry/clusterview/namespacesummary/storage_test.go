package namespacesummary

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/summary"
)

// nsCtx is the context of a request in namespace ns ("" for all namespaces).
func nsCtx(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

func rl(pairs ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

func mkNS(name string, kv ...string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Now().Add(-3 * 24 * time.Hour))}}
	if len(kv) > 0 {
		ns.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			ns.Labels[kv[i]] = kv[i+1]
		}
	}
	return ns
}

func mkPod(ns, name, node string, phase corev1.PodPhase, req, lim corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim},
		}}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func testEngine() *summary.Engine {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(mkNS("team-a", "team", "a"))
	e.UpsertNamespace(mkNS("team-b", "team", "b"))
	e.UpsertNamespace(mkNS("other"))
	e.UpsertPod(mkPod("team-a", "p1", "n1", corev1.PodRunning, rl("cpu", "500m"), nil))
	return e
}

func is[I any](v any) bool {
	_, ok := v.(I)
	return ok
}

func TestReadOnlyAndNamespaced(t *testing.T) {
	var s rest.Storage = NewREST(summary.New(summary.Options{}))
	if is[rest.Creater](s) || is[rest.Updater](s) || is[rest.Patcher](s) || is[rest.GracefulDeleter](s) || is[rest.CollectionDeleter](s) {
		t.Errorf("namespacesummaries implement a write verb")
	}
	if !s.(rest.Scoper).NamespaceScoped() {
		t.Errorf("namespacesummaries are cluster-scoped")
	}
	r := s.(*REST)
	if r.GetSingularName() != "namespacesummary" || !cmp.Equal(r.ShortNames(), []string{"nssum"}) || !cmp.Equal(r.Categories(), []string{"clusterview"}) {
		t.Errorf("names: %q %q %q", r.GetSingularName(), r.ShortNames(), r.Categories())
	}
	if _, ok := r.NewList().(*clusterview.NamespaceSummaryList); !ok {
		t.Errorf("NewList() = %T", r.NewList())
	}
}

func TestGet(t *testing.T) {
	e := testEngine()
	r := NewREST(e)
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

func names(t *testing.T, obj runtime.Object) []string {
	t.Helper()
	items, err := meta.ExtractList(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, item := range items {
		s := item.(*clusterview.NamespaceSummary)
		if s.Namespace != s.Name {
			t.Errorf("summary %s lives in namespace %q", s.Name, s.Namespace)
		}
		out = append(out, s.Name)
	}
	return out
}

func TestList(t *testing.T) {
	e := testEngine()
	r := NewREST(e)
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
			opts := &metainternalversion.ListOptions{}
			if tt.labels != "" {
				sel, err := labels.Parse(tt.labels)
				if err != nil {
					t.Fatal(err)
				}
				opts.LabelSelector = sel
			}
			if tt.fields != "" {
				opts.FieldSelector = fields.ParseSelectorOrDie(tt.fields)
			}
			obj, err := r.List(nsCtx(tt.ns), opts)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(tt.want, names(t, obj)); diff != "" {
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

func TestTable(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(mkNS("team-a"))
	e.UpsertNamespace(mkNS("team-b"))
	p1 := mkPod("team-a", "p1", "n1", corev1.PodRunning, rl("cpu", "500m", "memory", "256Mi"), rl("cpu", "1", "memory", "512Mi"))
	p1.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 3}}
	e.UpsertPod(p1)
	p2 := mkPod("team-a", "p2", "n1", corev1.PodRunning, rl("cpu", "250m"), nil)
	p2.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 4,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
	e.UpsertPod(p2)
	e.UpsertPod(mkPod("team-a", "p3", "n2", corev1.PodRunning, nil, nil))
	e.UpsertPod(mkPod("team-a", "p4", "n2", corev1.PodFailed, rl("cpu", "2"), nil)) // holds nothing
	e.UpsertPod(mkPod("team-a", "p5", "", corev1.PodPending, rl("cpu", "1"), nil))  // unscheduled, still counts
	e.UpsertResourceQuota(&corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "compute"},
		Status:     corev1.ResourceQuotaStatus{Hard: rl("requests.cpu", "2", "pods", "10"), Used: rl("requests.cpu", "2", "pods", "5")},
	})
	e.UpsertResourceQuota(&corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "no-lb"},
		Status:     corev1.ResourceQuotaStatus{Hard: rl("services.loadbalancers", "0"), Used: rl("services.loadbalancers", "0")},
	})

	r := NewREST(e)
	list, err := r.List(nsCtx(""), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, c := range tbl.ColumnDefinitions {
		headers = append(headers, c.Name)
	}
	wantHeaders := []string{"Name", "Pods", "Restarts", "CPU Req", "Mem Req", "CPU Lim", "Mem Lim", "Age",
		"Running", "Pending", "Failed", "CrashLooping", "Quotas"}
	if diff := cmp.Diff(wantHeaders, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	want := [][]interface{}{
		// CPU: p1, p2 and the unscheduled p5 request 1750m; only p1 is
		// bounded, p2, p3 and p5 are not. The failed p4 holds nothing.
		{"team-a", int64(5), int64(7), "1750m", "256Mi", "1 (+3 unbounded)", "512Mi (+3 unbounded)", "3d",
			int64(3), int64(1), int64(1), int64(1), "2 (1 at limit)"},
		{"team-b", int64(0), int64(0), "0", "0", "0", "0", "3d", int64(0), int64(0), int64(0), int64(0), "0"},
	}
	if len(tbl.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(tbl.Rows), len(want))
	}
	for i, row := range tbl.Rows {
		if diff := cmp.Diff(want[i], row.Cells); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", i, diff)
		}
	}
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no watch event within 5s")
		return watch.Event{}
	}
}

// expectEvents compares the next events as "TYPE namespace/name rv".
func expectEvents(t *testing.T, w watch.Interface, want ...string) {
	t.Helper()
	for i, exp := range want {
		ev := nextEvent(t, w)
		m, err := meta.Accessor(ev.Object)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got := fmt.Sprintf("%s %s/%s %s", ev.Type, m.GetNamespace(), m.GetName(), m.GetResourceVersion()); got != exp {
			t.Fatalf("event %d = %q, want %q", i, got, exp)
		}
	}
}

func expectQuiet(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		t.Fatalf("unexpected event %s %+v", ev.Type, ev.Object)
	case <-time.After(100 * time.Millisecond):
	}
}

func rev(e *summary.Engine) string { return strconv.FormatUint(e.Revision(), 10) }

func TestWatchInNamespace(t *testing.T) {
	e := testEngine()
	r := NewREST(e)
	a, _, _ := e.NamespaceAt("team-a")
	w, err := r.Watch(nsCtx("team-a"), &metainternalversion.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expectEvents(t, w, "ADDED team-a/team-a "+strconv.FormatUint(a.Revision, 10))

	e.UpsertPod(mkPod("team-b", "p1", "n1", corev1.PodRunning, nil, nil))
	expectQuiet(t, w)
	e.UpsertPod(mkPod("team-a", "p2", "n1", corev1.PodRunning, nil, nil))
	expectEvents(t, w, "MODIFIED team-a/team-a "+rev(e))
	e.DeleteNamespace("team-a")
	expectEvents(t, w, "DELETED team-a/team-a "+rev(e))
	e.UpsertNamespace(mkNS("team-a"))
	expectEvents(t, w, "ADDED team-a/team-a "+rev(e))
}

func TestWatchAllNamespaces(t *testing.T) {
	e := testEngine()
	r := NewREST(e)
	from := rev(e)
	w, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: from})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	e.UpsertPod(mkPod("team-b", "p1", "n1", corev1.PodRunning, nil, nil))
	expectEvents(t, w, "MODIFIED team-b/team-b "+rev(e))
	e.UpsertNamespace(mkNS("new"))
	expectEvents(t, w, "ADDED new/new "+rev(e))
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

func TestWatchExpired(t *testing.T) {
	e := summary.New(summary.Options{ChangeBufferSize: 1})
	e.UpsertNamespace(mkNS("a"))
	e.UpsertNamespace(mkNS("b"))
	e.UpsertNamespace(mkNS("c"))
	r := NewREST(e)
	if _, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: "1"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("Watch(too old) error = %v, want 410", err)
	}
	if _, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: "99"}); !apierrors.IsResourceExpired(err) {
		t.Errorf("Watch(too new) error = %v, want 410", err)
	}
}

func TestWatchDeletesCarryTheLastState(t *testing.T) {
	e := testEngine()
	e.UpsertNamespace(mkNS("team-c", "tier", "gold"))
	e.UpsertPod(mkPod("team-c", "p1", "n1", corev1.PodRunning, nil, nil))
	r := NewREST(e)
	from := rev(e)
	w, err := r.Watch(nsCtx(""), &metainternalversion.ListOptions{ResourceVersion: from, LabelSelector: labels.SelectorFromSet(labels.Set{"tier": "gold"})})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Deleting a namespace the selector does not match says nothing.
	e.DeleteNamespace("team-a")
	expectQuiet(t, w)
	e.DeleteNamespace("team-c")
	ev := nextEvent(t, w)
	obj := ev.Object.(*clusterview.NamespaceSummary)
	if ev.Type != watch.Deleted || obj.Name != "team-c" || obj.Namespace != "team-c" || obj.Labels["tier"] != "gold" ||
		obj.Pods.Total != 1 || obj.ResourceVersion != rev(e) {
		t.Fatalf("event %s %+v, want team-c deleted with its last state", ev.Type, obj)
	}
	expectQuiet(t, w)
}
