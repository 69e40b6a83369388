package livestore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/clusterview/namespacesummary"
	"github.com/clusterview/clusterview/pkg/registry/clusterview/nodesummary"
	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi/livestore"
)

// The tests read and watch through the Stores of the two live resources:
// nodes cluster-scoped, namespaces served in the namespace they are named
// after.

type nodeStore = livestore.Store[*clusterview.NodeSummary]

func newNodeStore(e *summary.Engine) *nodeStore { return nodesummary.NewREST(e).Store }

func newNamespaceStore(e *summary.Engine) *livestore.Store[*clusterview.NamespaceSummary] {
	return namespacesummary.NewREST(e).Store
}

// clusterCtx is the context of a request for a cluster-scoped resource.
func clusterCtx() context.Context { return nsCtx(metav1.NamespaceNone) }

// nsCtx is the context of a request in namespace ns ("" for all namespaces).
func nsCtx(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

// mkNode builds a node with labels (key/value pairs), a Ready condition and
// allocatable = capacity = cpu, memory and pods.
func mkNode(name string, ready bool, cpu, mem, pods string, kv ...string) *corev1.Node {
	return fx.Node(name, fx.Ready(ready), fx.Holds("cpu", cpu, "memory", mem, "pods", pods), fx.NodeLabels(kv...))
}

// mkPod builds a Running pod on a node requesting cpu and memory.
func mkPod(ns, name, node, cpu, mem string) *corev1.Pod {
	return fx.Pod(ns, name, fx.OnNode(node), fx.Requests("cpu", cpu, "memory", mem))
}

// listOptions parses a label and a field selector ("" selects all).
func listOptions(t *testing.T, labelSelector, fieldSelector string) *metainternalversion.ListOptions {
	t.Helper()
	opts := &metainternalversion.ListOptions{}
	if labelSelector != "" {
		sel, err := labels.Parse(labelSelector)
		if err != nil {
			t.Fatal(err)
		}
		opts.LabelSelector = sel
	}
	if fieldSelector != "" {
		opts.FieldSelector = fields.ParseSelectorOrDie(fieldSelector)
	}
	return opts
}

func rv(e *summary.Engine) string { return strconv.FormatUint(e.Revision(), 10) }

// listNames returns the names of a list's items, never nil.
func listNames(t *testing.T, obj runtime.Object) []string {
	t.Helper()
	items, err := meta.ExtractList(obj)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m.GetName())
	}
	return names
}

type watcher interface {
	Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error)
}

func startWatch(t *testing.T, ctx context.Context, s watcher, opts *metainternalversion.ListOptions) watch.Interface {
	t.Helper()
	w, err := s.Watch(ctx, opts)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

// nextEvent waits for the next event; ok is false when the channel closed.
func nextEvent(t *testing.T, w watch.Interface) (watch.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		return ev, ok
	case <-time.After(5 * time.Second):
		t.Fatalf("no watch event within 5s")
		return watch.Event{}, false
	}
}

// expectEvents reads len(want) events and compares them as "TYPE name rv"
// ("TYPE namespace/name rv" for namespaced objects). An rv of "*" in want
// matches any resourceVersion.
func expectEvents(t *testing.T, w watch.Interface, want ...string) {
	t.Helper()
	for i, exp := range want {
		ev, ok := nextEvent(t, w)
		if !ok {
			t.Fatalf("event %d: channel closed, want %q", i, exp)
		}
		got := describe(ev)
		wantType, wantName, wantRV := eventFields(exp)
		gotType, gotName, gotRV := eventFields(got)
		if gotType != wantType || gotName != wantName || (wantRV != "*" && gotRV != wantRV) {
			t.Fatalf("event %d = %q, want %q", i, got, exp)
		}
	}
}

// expectQuiet checks that no event arrives for a short while.
func expectQuiet(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("unexpected event %q", describe(ev))
		}
		t.Fatalf("unexpected close of the watch")
	case <-time.After(100 * time.Millisecond):
	}
}

func describe(ev watch.Event) string {
	if ev.Type == watch.Error {
		return fmt.Sprintf("%s %v -", ev.Type, ev.Object)
	}
	obj, err := meta.Accessor(object(ev))
	if err != nil {
		return fmt.Sprintf("%s <%v> -", ev.Type, err)
	}
	name := obj.GetName()
	if name == "" {
		name = "-"
	}
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s %s", ev.Type, name, obj.GetResourceVersion())
}

// expectClosed waits for the result channel to close, skipping events.
func expectClosed(t *testing.T, w watch.Interface) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel not closed within 5s")
		}
	}
}

// object returns what an event carries, unwrapping a summary the watchers
// share (livestore.Shared) as the serializers do.
func object(ev watch.Event) runtime.Object {
	if co, ok := ev.Object.(runtime.CacheableObject); ok {
		return co.GetObject()
	}
	return ev.Object
}

// eventFields splits a described event into type, name and resourceVersion,
// empty where it has fewer fields.
func eventFields(s string) (typ, name, rv string) {
	f := append(strings.Fields(s), "", "", "")
	return f[0], f[1], f[2]
}
