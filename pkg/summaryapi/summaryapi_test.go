package summaryapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/summary"
)

// quantityComparer compares quantities by their serialized form and format,
// so a test fails when a figure is right but would print differently.
var quantityComparer = cmp.Comparer(func(a, b resource.Quantity) bool {
	return a.String() == b.String() && a.Format == b.Format
})

func q(s string) resource.Quantity { return resource.MustParse(s) }

func qp(s string) *resource.Quantity {
	v := resource.MustParse(s)
	return &v
}

// bytes is a byte figure as the API renders it: BinarySI, even for values
// (like zero) that resource.MustParse would make DecimalSI.
func bytes(v int64) resource.Quantity { return *resource.NewQuantity(v, resource.BinarySI) }

func bytesp(v int64) *resource.Quantity {
	b := bytes(v)
	return &b
}

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func TestNoneGroupMatchesEngine(t *testing.T) {
	// The engine buckets unlabelled nodes under its own constant and the API
	// documents another; ClusterStatus passes the value through unchanged.
	if clusterview.NoneGroup != summary.NoGroupValue {
		t.Fatalf("clusterview.NoneGroup %q != summary.NoGroupValue %q", clusterview.NoneGroup, summary.NoGroupValue)
	}
}

func TestResourceUsageUnits(t *testing.T) {
	tests := []struct {
		name      string
		in        summary.ResourceTotals
		withNodes bool
		want      clusterview.ResourceUsage
	}{{
		name:      "cpu millicores are DecimalSI",
		in:        summary.ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 1250, Limits: 2000, PodsWithoutLimit: 3},
		withNodes: true,
		want: clusterview.ResourceUsage{Name: "cpu", Capacity: qp("4"), Allocatable: qp("3500m"),
			Requests: q("1250m"), Limits: q("2"), PodsWithoutLimit: 3},
	}, {
		name:      "memory bytes are BinarySI",
		in:        summary.ResourceTotals{Name: "memory", Capacity: 16 << 30, Allocatable: 15 << 30, Requests: 1536 << 20, Limits: 100},
		withNodes: true,
		want: clusterview.ResourceUsage{Name: "memory", Capacity: qp("16Gi"), Allocatable: qp("15Gi"),
			Requests: q("1536Mi"), Limits: bytes(100)},
	}, {
		name:      "storage and hugepages are BinarySI",
		in:        summary.ResourceTotals{Name: "hugepages-2Mi", Requests: 4 << 20},
		withNodes: true,
		want:      clusterview.ResourceUsage{Name: "hugepages-2Mi", Capacity: bytesp(0), Allocatable: bytesp(0), Requests: q("4Mi"), Limits: bytes(0)},
	}, {
		name:      "counts are DecimalSI",
		in:        summary.ResourceTotals{Name: "nvidia.com/gpu", Capacity: 8, Allocatable: 8, Requests: 3, Limits: 3},
		withNodes: true,
		want: clusterview.ResourceUsage{Name: "nvidia.com/gpu", Capacity: qp("8"), Allocatable: qp("8"),
			Requests: q("3"), Limits: q("3")},
	}, {
		name: "namespaces have no capacity or allocatable",
		in:   summary.ResourceTotals{Name: "cpu", Requests: 500, Limits: 1000, PodsWithoutLimit: 1},
		want: clusterview.ResourceUsage{Name: "cpu", Requests: q("500m"), Limits: q("1"), PodsWithoutLimit: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResourceUsage(tt.in, tt.withNodes)
			if diff := cmp.Diff(tt.want, got, quantityComparer); diff != "" {
				t.Errorf("ResourceUsage (-want +got):\n%s", diff)
			}
		})
	}
	// Format matters beyond the printed string: BinarySI keeps memory in
	// binary suffixes as values change.
	if got := ResourceUsage(summary.ResourceTotals{Name: "memory", Requests: 1 << 30}, false).Requests.Format; got != resource.BinarySI {
		t.Errorf("memory format = %s, want BinarySI", got)
	}
	if got := ResourceUsage(summary.ResourceTotals{Name: "cpu", Requests: 1}, false).Requests.Format; got != resource.DecimalSI {
		t.Errorf("cpu format = %s, want DecimalSI", got)
	}
	if ResourceUsages(nil, true) != nil {
		t.Errorf("ResourceUsages(nil) is not nil")
	}
}

func TestNodeSummary(t *testing.T) {
	zeroBytes := summary.Quantity(corev1.ResourceMemory, 0)
	in := summary.NodeTotals{
		Name:              "node-a",
		Labels:            map[string]string{"topology.kubernetes.io/zone": "z1"},
		CreationTimestamp: created,
		Ready:             true,
		MemoryPressure:    true,
		DiskPressure:      false,
		PIDPressure:       true,
		Unschedulable:     true,
		Resources: []summary.ResourceTotals{
			{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 1500, Limits: 1000, PodsWithoutLimit: 1},
			// Its pods request more memory than it has left allocatable.
			{Name: "memory", Capacity: 8 << 30, Allocatable: 4 << 30, Requests: 5 << 30},
			{Name: "pods", Capacity: 110, Allocatable: 100},
		},
		Pods:        summary.PodCounts{Total: 9, Pending: 1, Running: 4, Succeeded: 1, Failed: 1, Unknown: 2, ContainerRestarts: 17, CrashLooping: 1},
		PodCapacity: 100,
		Revision:    42,
	}
	want := &clusterview.NodeSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name:              "node-a",
			Labels:            map[string]string{"topology.kubernetes.io/zone": "z1"},
			CreationTimestamp: created,
			ResourceVersion:   "42",
		},
		Ready:          true,
		Unschedulable:  true,
		MemoryPressure: true,
		PIDPressure:    true,
		Pods:           clusterview.PodCounts{Total: 9, Pending: 1, Running: 4, Succeeded: 1, Failed: 1, Unknown: 2, ContainerRestarts: 17, CrashLooping: 1},
		PodCapacity:    100,
		Resources: []clusterview.ResourceUsage{
			{Name: "cpu", Capacity: qp("4"), Allocatable: qp("3500m"), Requests: q("1500m"), Limits: q("1"), PodsWithoutLimit: 1, Free: qp("2")},
			// Free never goes below zero.
			{Name: "memory", Capacity: qp("8Gi"), Allocatable: qp("4Gi"), Requests: q("5Gi"), Limits: zeroBytes, Free: &zeroBytes},
			// Pending, Running and Unknown pods take a pod slot; finished ones do not.
			{Name: "pods", Capacity: qp("110"), Allocatable: qp("100"), Requests: q("7"), Limits: q("0"), Free: qp("93")},
		},
	}
	if diff := cmp.Diff(want, NodeSummary(in), quantityComparer); diff != "" {
		t.Errorf("NodeSummary (-want +got):\n%s", diff)
	}
}

func TestNamespaceSummary(t *testing.T) {
	in := summary.NamespaceTotals{
		Name:              "team-a",
		Labels:            map[string]string{"team": "a"},
		CreationTimestamp: created,
		Pods:              summary.PodCounts{Total: 3, Pending: 1, Running: 2, Unscheduled: 1, ContainerRestarts: 4},
		Resources: []summary.ResourceTotals{
			{Name: "cpu", Requests: 750, Limits: 500, PodsWithoutLimit: 2},
			{Name: "memory", Requests: 256 << 20, Limits: 512 << 20},
		},
		Quotas: []summary.QuotaTotals{{
			Name: "compute",
			Hard: corev1.ResourceList{"requests.cpu": q("2")},
			Used: corev1.ResourceList{"requests.cpu": q("750m")},
		}},
		Workloads: summary.WorkloadCounts{
			Deployments:  summary.ReadyCount{Total: 2, Ready: 1},
			StatefulSets: summary.ReadyCount{Total: 1, Ready: 1},
			DaemonSets:   summary.ReadyCount{Total: 3},
		},
		Revision: 7,
	}
	want := &clusterview.NamespaceSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name:              "team-a",
			Namespace:         "team-a",
			Labels:            map[string]string{"team": "a"},
			CreationTimestamp: created,
			ResourceVersion:   "7",
		},
		Pods: clusterview.PodCounts{Total: 3, Pending: 1, Running: 2, Unscheduled: 1, ContainerRestarts: 4},
		Resources: []clusterview.ResourceUsage{
			{Name: "cpu", Requests: q("750m"), Limits: q("500m"), PodsWithoutLimit: 2},
			{Name: "memory", Requests: q("256Mi"), Limits: q("512Mi")},
		},
		Quotas: []clusterview.QuotaUsage{{
			Name: "compute",
			Hard: corev1.ResourceList{"requests.cpu": q("2")},
			Used: corev1.ResourceList{"requests.cpu": q("750m")},
		}},
		Workloads: clusterview.WorkloadCounts{
			Deployments:  clusterview.ReadyCount{Total: 2, Ready: 1},
			StatefulSets: clusterview.ReadyCount{Total: 1, Ready: 1},
			DaemonSets:   clusterview.ReadyCount{Total: 3},
		},
	}
	if diff := cmp.Diff(want, NamespaceSummary(in), quantityComparer); diff != "" {
		t.Errorf("NamespaceSummary (-want +got):\n%s", diff)
	}
}

// TestClusterStatusFromEngine feeds a real engine so the test also pins the
// engine facts ClusterStatus relies on: resources in the requested order,
// groups sorted with the <none> group, and the degraded names.
func TestClusterStatusFromEngine(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNamespace(fx.Namespace("ns1"))
	e.UpsertNode(fx.Node("b-node", fx.NodeLabels("zone", "z2"), fx.Holds("cpu", "2", "memory", "4Gi", "pods", "10")))
	e.UpsertNode(fx.Node("a-node", fx.NotReady(), fx.NodeLabels("zone", "z1"), fx.Holds("cpu", "4", "memory", "8Gi", "pods", "20")))
	e.UpsertNode(fx.Node("c-node", fx.Holds("cpu", "1", "memory", "1Gi", "pods", "5")))
	e.UpsertPod(fx.Pod("ns1", "p1", fx.OnNode("a-node"), fx.Requests("cpu", "500m", "memory", "1Gi"), fx.Limits("cpu", "1")))
	e.UpsertPod(fx.Pod("ns1", "p2", fx.OnNode("b-node"), fx.Requests("cpu", "250m")))
	e.UpsertPod(fx.Pod("ns1", "p3", fx.OnNode("c-node"), fx.Requests("cpu", "100m"), fx.CrashLooping(), fx.WithRestarts(5)))
	e.UpsertPod(fx.Pod("ns1", "p4", fx.InPhase(corev1.PodPending), fx.Requests("cpu", "1")))

	totals := e.Cluster(summary.Selection{
		NodeSelector:     labels.Everything(),
		GroupByNodeLabel: "zone",
		// Deliberately not sorted, with a resource nobody has.
		Resources: []corev1.ResourceName{"memory", "nvidia.com/gpu", "cpu"},
	})
	got := ClusterStatus(totals)

	want := clusterview.ClusterSummaryStatus{
		Nodes: &clusterview.NodeCounts{Total: 3, Ready: 2, NotReady: 1},
		Pods: &clusterview.PodCounts{Total: 4, Pending: 1, Running: 3, Unscheduled: 1,
			ContainerRestarts: 5, CrashLooping: 1},
		Namespaces: 1,
		Resources: []clusterview.ResourceUsage{
			// No pod sets a memory limit: three bound pods are unbounded.
			{Name: "memory", Capacity: qp("13Gi"), Allocatable: qp("13Gi"), Requests: q("1Gi"), Limits: bytes(0), PodsWithoutLimit: 3},
			{Name: "nvidia.com/gpu", Capacity: qp("0"), Allocatable: qp("0"), Requests: q("0"), Limits: q("0")},
			// The unscheduled pod's 1 CPU is no node's: cluster requests leave it out.
			{Name: "cpu", Capacity: qp("7"), Allocatable: qp("7"), Requests: q("850m"), Limits: q("1"), PodsWithoutLimit: 2},
		},
		Workloads: &clusterview.WorkloadCounts{},
		Groups: []clusterview.GroupSummary{
			{
				Name:  "<none>",
				Nodes: clusterview.NodeCounts{Total: 1, Ready: 1},
				Pods:  clusterview.PodCounts{Total: 1, Running: 1, ContainerRestarts: 5, CrashLooping: 1},
				Resources: []clusterview.ResourceUsage{
					{Name: "memory", Capacity: qp("1Gi"), Allocatable: qp("1Gi"), Requests: bytes(0), Limits: bytes(0), PodsWithoutLimit: 1},
					{Name: "nvidia.com/gpu", Capacity: qp("0"), Allocatable: qp("0"), Requests: q("0"), Limits: q("0")},
					{Name: "cpu", Capacity: qp("1"), Allocatable: qp("1"), Requests: q("100m"), Limits: q("0"), PodsWithoutLimit: 1},
				},
			},
			{
				Name:  "z1",
				Nodes: clusterview.NodeCounts{Total: 1, NotReady: 1},
				Pods:  clusterview.PodCounts{Total: 1, Running: 1},
				Resources: []clusterview.ResourceUsage{
					{Name: "memory", Capacity: qp("8Gi"), Allocatable: qp("8Gi"), Requests: q("1Gi"), Limits: bytes(0), PodsWithoutLimit: 1},
					{Name: "nvidia.com/gpu", Capacity: qp("0"), Allocatable: qp("0"), Requests: q("0"), Limits: q("0")},
					{Name: "cpu", Capacity: qp("4"), Allocatable: qp("4"), Requests: q("500m"), Limits: q("1")},
				},
			},
			{
				Name:  "z2",
				Nodes: clusterview.NodeCounts{Total: 1, Ready: 1},
				Pods:  clusterview.PodCounts{Total: 1, Running: 1},
				Resources: []clusterview.ResourceUsage{
					{Name: "memory", Capacity: qp("4Gi"), Allocatable: qp("4Gi"), Requests: bytes(0), Limits: bytes(0), PodsWithoutLimit: 1},
					{Name: "nvidia.com/gpu", Capacity: qp("0"), Allocatable: qp("0"), Requests: q("0"), Limits: q("0")},
					{Name: "cpu", Capacity: qp("2"), Allocatable: qp("2"), Requests: q("250m"), Limits: q("0"), PodsWithoutLimit: 1},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got, quantityComparer); diff != "" {
		t.Errorf("ClusterStatus (-want +got):\n%s", diff)
	}

	d := DegradationOf(totals)
	wantD := Degradation{NotReadyNodes: 1, NotReadyNodeNames: []string{"a-node"}, CrashLoopingPods: 1, CrashLoopingPodNames: []string{"ns1/p3"}}
	if diff := cmp.Diff(wantD, d); diff != "" {
		t.Errorf("DegradationOf (-want +got):\n%s", diff)
	}
	if !d.Degraded() {
		t.Errorf("Degraded() = false with a not-ready node")
	}
	if (Degradation{}).Degraded() {
		t.Errorf("Degraded() = true for a healthy cluster")
	}
}

func TestClusterStatusLeavesControllerFieldsEmpty(t *testing.T) {
	st := ClusterStatus(summary.ClusterTotals{Revision: 9})
	if st.Conditions != nil || st.ObservedGeneration != 0 || st.LastUpdateTime != nil {
		t.Errorf("controller-owned fields set: %+v", st)
	}
	if st.Nodes == nil || st.Pods == nil || st.Workloads == nil {
		t.Errorf("counts must be present, even when zero: %+v", st)
	}
	if st.Groups != nil || st.Resources != nil {
		t.Errorf("no groups or resources were computed, got %+v / %+v", st.Groups, st.Resources)
	}
}

// TestHeadroomStatuses converts engine headroom for the summary and its
// groups, in spec order, with largestFit as quantities.
func TestHeadroomStatuses(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNode(fx.Node("b-node", fx.NodeLabels("zone", "z2"), fx.Holds("cpu", "2", "memory", "4Gi", "pods", "10")))
	e.UpsertNode(fx.Node("a-node", fx.NotReady(), fx.NodeLabels("zone", "z1"), fx.Holds("cpu", "4", "memory", "8Gi", "pods", "20")))
	e.UpsertNode(fx.Node("c-node", fx.Holds("cpu", "1", "memory", "1Gi", "pods", "5")))
	e.UpsertPod(fx.Pod("ns1", "p1", fx.OnNode("b-node"), fx.Requests("cpu", "250m")))
	e.UpsertPod(fx.Pod("ns1", "p2", fx.OnNode("c-node"), fx.Requests("cpu", "100m")))
	shapes := []summary.Shape{
		{Name: "web", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
		{Name: "big", Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}},
	}
	st := ClusterStatus(e.Cluster(summary.Selection{GroupByNodeLabel: "zone", Headroom: shapes}))

	// b-node: 1750m / 250m = 7; c-node: 900m / 250m = 3; a-node is not Ready.
	want := []clusterview.HeadroomStatus{
		{Name: "web", Fits: 10, LimitedBy: "cpu", LargestFit: corev1.ResourceList{"cpu": resource.MustParse("1750m")}},
		{Name: "big", Fits: 2, LimitedBy: "memory", LargestFit: corev1.ResourceList{"memory": resource.MustParse("4Gi")}},
	}
	if diff := cmp.Diff(want, st.Headroom, quantityComparer); diff != "" {
		t.Errorf("status.headroom (-want +got):\n%s", diff)
	}
	wantGroups := map[string][]clusterview.HeadroomStatus{
		"<none>": {
			{Name: "web", Fits: 3, LimitedBy: "cpu", LargestFit: corev1.ResourceList{"cpu": resource.MustParse("900m")}},
			// 2Gi does not fit on c-node, but a 1Gi pod would.
			{Name: "big", Fits: 0, LimitedBy: "memory", LargestFit: corev1.ResourceList{"memory": resource.MustParse("1Gi")}},
		},
		"z1": {
			{Name: "web", LargestFit: corev1.ResourceList{"cpu": q("0")}},
			{Name: "big", LargestFit: corev1.ResourceList{"memory": bytes(0)}},
		},
		"z2": {
			{Name: "web", Fits: 7, LimitedBy: "cpu", LargestFit: corev1.ResourceList{"cpu": resource.MustParse("1750m")}},
			{Name: "big", Fits: 2, LimitedBy: "memory", LargestFit: corev1.ResourceList{"memory": resource.MustParse("4Gi")}},
		},
	}
	if len(st.Groups) != len(wantGroups) {
		t.Fatalf("groups = %d, want %d", len(st.Groups), len(wantGroups))
	}
	for _, g := range st.Groups {
		if diff := cmp.Diff(wantGroups[g.Name], g.Headroom, quantityComparer); diff != "" {
			t.Errorf("group %s headroom (-want +got):\n%s", g.Name, diff)
		}
	}
	if HeadroomStatuses(nil) != nil {
		t.Error("HeadroomStatuses(nil) is not nil")
	}
}
