package nodesummary

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// clusterCtx is the context of a request for a cluster-scoped resource.
func clusterCtx() context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)
}

// mkNode builds a node with labels (key/value pairs), a Ready condition and
// allocatable = capacity = cpu, memory and pods.
func mkNode(name string, ready bool, cpu, mem, pods string, kv ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:              name,
		CreationTimestamp: metav1.NewTime(time.Now().Add(-5 * time.Hour)),
	}}
	if len(kv) > 0 {
		n.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	list := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{"cpu": cpu, "memory": mem, "pods": pods} {
		if v != "" {
			list[name] = resource.MustParse(v)
		}
	}
	n.Status.Capacity, n.Status.Allocatable = list, list
	return n
}

// mkPod builds a Running pod on a node requesting cpu and memory.
func mkPod(ns, name, node, cpu, mem string) *corev1.Pod {
	req := corev1.ResourceList{}
	if cpu != "" {
		req["cpu"] = resource.MustParse(cpu)
	}
	if mem != "" {
		req["memory"] = resource.MustParse(mem)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "c", Resources: corev1.ResourceRequirements{Requests: req},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
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

// expectEvents reads len(want) events and compares them as "TYPE name rv".
// An rv of "*" in want matches any resourceVersion.
func expectEvents(t *testing.T, w watch.Interface, want ...string) {
	t.Helper()
	for i, exp := range want {
		ev, ok := nextEvent(t, w)
		if !ok {
			t.Fatalf("event %d: channel closed, want %q", i, exp)
		}
		got := describe(ev)
		var wantType, wantName, wantRV string
		fmt.Sscan(exp, &wantType, &wantName, &wantRV)
		var gotType, gotName, gotRV string
		fmt.Sscan(got, &gotType, &gotName, &gotRV)
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
	obj, err := meta.Accessor(ev.Object)
	if err != nil {
		return fmt.Sprintf("%s <%v> -", ev.Type, err)
	}
	name := obj.GetName()
	if name == "" {
		name = "-"
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
