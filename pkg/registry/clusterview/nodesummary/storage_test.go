package nodesummary

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

// TestReadOnly checks that no write verb is offered (discovery would list
// it), the scope and the names.
func TestReadOnly(t *testing.T) {
	registrytest.CheckReadOnly(t, "nodesummaries", NewREST(summary.New(summary.Options{})), registrytest.Discovery{
		Singular: "nodesummary", ShortNames: []string{"nodesum"}, Categories: []string{"clusterview"},
	})
}

func TestTable(t *testing.T) {
	e := summary.New(summary.Options{})
	n := fx.Node("node-a", fx.Holds("cpu", "4", "memory", "16Gi", "pods", "110"), fx.NodeLabels("topology.kubernetes.io/zone", "eu-1a"), fx.Cordoned(),
		fx.Pressure(corev1.NodeMemoryPressure), fx.Pressure(corev1.NodePIDPressure))
	e.UpsertNode(fx.CreatedAgo(n, 5*time.Hour))
	e.UpsertNode(fx.CreatedAgo(fx.Node("node-b", fx.NotReady()), 5*time.Hour))
	e.UpsertPod(fx.Pod("ns1", "p1", fx.OnNode("node-a"), fx.Requests("cpu", "1500m", "memory", "1536Mi")))
	e.UpsertPod(fx.Pod("ns1", "p2", fx.OnNode("node-a"), fx.Requests("cpu", "500m"), fx.InPhase(corev1.PodSucceeded)))
	e.UpsertPod(fx.Pod("ns1", "p3", fx.OnNode("node-a"), fx.CrashLooping(), fx.WithRestarts(7)))

	r := NewREST(e)
	list, err := r.List(genericapirequest.NewContext(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHeaders := []string{"Name", "Ready", "CPU Req", "CPU Alloc", "CPU%", "Mem Req", "Mem Alloc", "Mem%", "CPU Use", "Mem Use", "Pods", "Free CPU", "Free Mem", "Age",
		"Unschedulable", "Pressure", "Restarts", "CrashLooping", "Zone"}
	if tbl.ResourceVersion != list.(*clusterview.NodeSummaryList).ResourceVersion {
		t.Errorf("table resourceVersion %q differs from the list's", tbl.ResourceVersion)
	}
	want := [][]interface{}{
		// The succeeded pod requests nothing any more and holds no slot.
		// 14.5Gi free reads 14Gi: ten units and more print whole.
		{"node-a", "True", "1500m", "4", "37%", "1.5Gi", "16Gi", "9%", "<unknown>", "<unknown>", "2/110", "2500m", "14Gi", "5h", "True", "Memory,PID", int64(7), int64(1), "eu-1a"},
		{"node-b", "False", "0", "0", "<unknown>", "0", "0", "<unknown>", "<unknown>", "<unknown>", "0/<unknown>", "0", "0", "5h", "False", "<none>", int64(0), int64(0), "<none>"},
	}
	registrytest.CheckTable(t, tbl, wantHeaders, want)

	// A single object renders as a one-row table.
	obj, _ := r.Get(genericapirequest.NewContext(), "node-b", &metav1.GetOptions{})
	tbl, err = r.ConvertToTable(context.Background(), obj, nil)
	if err != nil || len(tbl.Rows) != 1 || tbl.Rows[0].Cells[0] != "node-b" {
		t.Errorf("single-object table = %+v, %v", tbl, err)
	}
}

func TestNames(t *testing.T) {
	r := NewREST(summary.New(summary.Options{}))
	if _, ok := r.New().(*clusterview.NodeSummary); !ok {
		t.Errorf("New() = %T", r.New())
	}
	if _, ok := r.NewList().(*clusterview.NodeSummaryList); !ok {
		t.Errorf("NewList() = %T", r.NewList())
	}
}
