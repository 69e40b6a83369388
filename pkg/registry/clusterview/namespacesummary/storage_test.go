package namespacesummary

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/registrytest"
	"github.com/clusterview/clusterview/pkg/summary"
)

// Get, list and watch are livestore's, tested there; these tests check
// what is this resource's own: scope, names and table.

func TestReadOnlyAndNamespaced(t *testing.T) {
	r := NewREST(summary.New(summary.Options{}))
	registrytest.CheckReadOnly(t, "namespacesummaries", r, registrytest.Discovery{
		Namespaced: true, Singular: "namespacesummary", ShortNames: []string{"nssum"}, Categories: []string{"clusterview"},
	})
	if _, ok := r.NewList().(*clusterview.NamespaceSummaryList); !ok {
		t.Errorf("NewList() = %T", r.NewList())
	}
}

func TestTable(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(fx.CreatedAgo(fx.Namespace("team-a"), 3*24*time.Hour))
	e.UpsertNamespace(fx.CreatedAgo(fx.Namespace("team-b"), 3*24*time.Hour))
	e.UpsertPod(fx.Pod("team-a", "p1", fx.OnNode("n1"), fx.Requests("cpu", "500m", "memory", "256Mi"), fx.Limits("cpu", "1", "memory", "512Mi"), fx.WithRestarts(3)))
	e.UpsertPod(fx.Pod("team-a", "p2", fx.OnNode("n1"), fx.Requests("cpu", "250m"), fx.CrashLooping(), fx.WithRestarts(4)))
	e.UpsertPod(fx.Pod("team-a", "p3", fx.OnNode("n2")))
	e.UpsertPod(fx.Pod("team-a", "p4", fx.OnNode("n2"), fx.InPhase(corev1.PodFailed), fx.Requests("cpu", "2"))) // holds nothing
	e.UpsertPod(fx.Pod("team-a", "p5", fx.InPhase(corev1.PodPending), fx.Requests("cpu", "1")))                 // unscheduled, still counts
	e.UpsertResourceQuota(&corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "compute"},
		Status:     corev1.ResourceQuotaStatus{Hard: fx.Resources("requests.cpu", "2", "pods", "10"), Used: fx.Resources("requests.cpu", "2", "pods", "5")},
	})
	e.UpsertResourceQuota(&corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "no-lb"},
		Status:     corev1.ResourceQuotaStatus{Hard: fx.Resources("services.loadbalancers", "0"), Used: fx.Resources("services.loadbalancers", "0")},
	})

	r := NewREST(e)
	list, err := r.List(genericapirequest.WithNamespace(genericapirequest.NewContext(), ""), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHeaders := []string{"Name", "Pods", "Restarts", "CPU Req", "Mem Req", "CPU Use", "Mem Use", "CPU Lim", "Mem Lim", "Age",
		"Running", "Pending", "Failed", "CrashLooping", "Quotas", "CPU Idle", "Mem Idle"}
	want := [][]interface{}{
		// CPU: p1, p2 and the unscheduled p5 request 1750m; only p1 is
		// bounded, p2, p3 and p5 are not. The failed p4 holds nothing.
		{"team-a", int64(5), int64(7), "1750m", "256Mi", "<unknown>", "<unknown>", "1 (+3 unbounded)", "512Mi (+3 unbounded)", "3d",
			int64(3), int64(1), int64(1), int64(1), "2 (1 at limit)", "<unknown>", "<unknown>"},
		{"team-b", int64(0), int64(0), "0", "0", "<unknown>", "<unknown>", "0", "0", "3d", int64(0), int64(0), int64(0), int64(0), "0", "<unknown>", "<unknown>"},
	}
	registrytest.CheckTable(t, tbl, wantHeaders, want)
}
