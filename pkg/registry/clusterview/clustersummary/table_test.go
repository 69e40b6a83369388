package clustersummary

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

func TestTableColumns(t *testing.T) {
	type col struct {
		Name     string
		Type     string
		Format   string
		Priority int32
	}
	want := []col{
		{"Name", "string", "name", 0},
		{"Nodes", "string", "", 0},
		{"Running", "string", "", 0},
		{"Pending", "string", "", 0},
		{"CPU Req", "string", "", 0},
		{"Mem Req", "string", "", 0},
		{"Degraded", "string", "", 0},
		{"Age", "string", "", 0},
		{"Unscheduled", "string", "", 1},
		{"Restarts", "string", "", 1},
		{"CrashLooping", "string", "", 1},
		{"Namespaces", "string", "", 1},
		{"Ready", "string", "", 1},
		{"Reason", "string", "", 1},
	}
	tbl, err := tableConvertor.ConvertToTable(context.Background(), &clusterview.ClusterSummary{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []col
	for _, c := range tbl.ColumnDefinitions {
		got = append(got, col{c.Name, c.Type, c.Format, c.Priority})
		if c.Description == "" {
			t.Errorf("column %q has no description", c.Name)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	for _, row := range tbl.Rows {
		if len(row.Cells) != len(tbl.ColumnDefinitions) {
			t.Errorf("row has %d cells for %d columns", len(row.Cells), len(tbl.ColumnDefinitions))
		}
	}
}

func cond(condType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: condType, Status: status, Reason: reason, LastTransitionTime: metav1.Now()}
}

func usageOf(name corev1.ResourceName, requests string, allocatable *resource.Quantity) clusterview.ResourceUsage {
	return clusterview.ResourceUsage{Name: name, Requests: resource.MustParse(requests), Allocatable: allocatable}
}

func qty(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }

func TestTableRows(t *testing.T) {
	threeDaysAgo := metav1.NewTime(time.Now().Add(-72*time.Hour - time.Minute))
	updated := metav1.Now()

	full := clusterview.ClusterSummaryStatus{
		ObservedGeneration: 2,
		Conditions: []metav1.Condition{
			cond(clusterview.ConditionReady, metav1.ConditionTrue, "Computed"),
			cond(clusterview.ConditionDegraded, metav1.ConditionTrue, "NodesNotReady"),
		},
		Nodes:      &clusterview.NodeCounts{Total: 5, Ready: 4, NotReady: 1},
		Pods:       &clusterview.PodCounts{Total: 31, Running: 25, Pending: 3, Unscheduled: 2, Failed: 3, ContainerRestarts: 17, CrashLooping: 1},
		Namespaces: 6,
		Resources: []clusterview.ResourceUsage{
			usageOf(corev1.ResourcePods, "31", qty("550")),
			usageOf(corev1.ResourceCPU, "1500m", qty("4")),
			usageOf(corev1.ResourceMemory, "6Gi", qty("16Gi")),
		},
		LastUpdateTime: &updated,
	}

	cases := []struct {
		name string
		obj  *clusterview.ClusterSummary
		want []interface{}
	}{
		{
			name: "no status yet",
			obj:  &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "cluster", CreationTimestamp: threeDaysAgo}},
			want: []interface{}{"cluster", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", "3d",
				"<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", ""},
		},
		{
			name: "no creation timestamp",
			obj:  &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "new"}},
			want: []interface{}{"new", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", "<unknown>",
				"<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", ""},
		},
		{
			name: "full status",
			obj:  &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "prod", CreationTimestamp: threeDaysAgo}, Status: full},
			want: []interface{}{"prod", "4/5", "25", "3", "37%", "37%", "True", "3d",
				"2", "17", "1", "6", "True", "NodesNotReady"},
		},
		{
			name: "healthy, conditions in the other order",
			obj: &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "prod", CreationTimestamp: threeDaysAgo}, Status: func() clusterview.ClusterSummaryStatus {
				s := *full.DeepCopy()
				s.Conditions = []metav1.Condition{
					cond(clusterview.ConditionDegraded, metav1.ConditionFalse, "AllHealthy"),
					cond(clusterview.ConditionReady, metav1.ConditionFalse, "InformersNotSynced"),
				}
				return s
			}()},
			want: []interface{}{"prod", "4/5", "25", "3", "37%", "37%", "False", "3d",
				"2", "17", "1", "6", "False", "AllHealthy"},
		},
		{
			name: "only the Ready condition",
			obj: &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "prod", CreationTimestamp: threeDaysAgo}, Status: func() clusterview.ClusterSummaryStatus {
				s := *full.DeepCopy()
				s.Conditions = []metav1.Condition{cond(clusterview.ConditionReady, metav1.ConditionTrue, "Computed")}
				return s
			}()},
			want: []interface{}{"prod", "4/5", "25", "3", "37%", "37%", "Unknown", "3d",
				"2", "17", "1", "6", "True", ""},
		},
		{
			name: "no nodes selected: counts are zero, percentages unknown",
			obj: &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "empty", CreationTimestamp: threeDaysAgo}, Status: clusterview.ClusterSummaryStatus{
				Nodes:          &clusterview.NodeCounts{},
				Pods:           &clusterview.PodCounts{},
				Resources:      []clusterview.ResourceUsage{usageOf(corev1.ResourceCPU, "0", qty("0")), usageOf(corev1.ResourceMemory, "0", nil)},
				LastUpdateTime: &updated,
			}},
			want: []interface{}{"empty", "0/0", "0", "0", "<unknown>", "<unknown>", "Unknown", "3d",
				"0", "0", "0", "0", "Unknown", ""},
		},
		{
			name: "cpu and memory not among the reported resources",
			obj: &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "gpus", CreationTimestamp: threeDaysAgo}, Status: clusterview.ClusterSummaryStatus{
				Nodes:          &clusterview.NodeCounts{Total: 2, Ready: 2},
				Pods:           &clusterview.PodCounts{Running: 1},
				Resources:      []clusterview.ResourceUsage{usageOf("nvidia.com/gpu", "4", qty("8"))},
				LastUpdateTime: &updated,
			}},
			want: []interface{}{"gpus", "2/2", "1", "0", "<unknown>", "<unknown>", "Unknown", "3d",
				"0", "0", "0", "0", "Unknown", ""},
		},
		{
			name: "over-committed",
			obj: &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "busy", CreationTimestamp: threeDaysAgo}, Status: clusterview.ClusterSummaryStatus{
				Resources: []clusterview.ResourceUsage{usageOf(corev1.ResourceCPU, "12", qty("8")), usageOf(corev1.ResourceMemory, "1Ti", qty("512Gi"))},
			}},
			want: []interface{}{"busy", "<unknown>", "<unknown>", "<unknown>", "150%", "200%", "Unknown", "3d",
				"<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tbl, err := tableConvertor.ConvertToTable(context.Background(), tc.obj, nil)
			if err != nil {
				t.Fatalf("ConvertToTable: %v", err)
			}
			if len(tbl.Rows) != 1 {
				t.Fatalf("rows = %d, want 1", len(tbl.Rows))
			}
			if diff := cmp.Diff(tc.want, tbl.Rows[0].Cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
			if tbl.Rows[0].Object.Object != runtime.Object(tc.obj) {
				t.Errorf("row object is %v, want the summary itself", tbl.Rows[0].Object.Object)
			}
			if len(tbl.Rows[0].Object.Raw) != 0 {
				t.Errorf("row object has raw bytes")
			}
		})
	}
}

func TestTableSingleObjectMetadata(t *testing.T) {
	obj := &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "cluster", ResourceVersion: "77"}}
	tbl, err := tableConvertor.ConvertToTable(context.Background(), obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.ResourceVersion != "77" || tbl.Continue != "" || tbl.RemainingItemCount != nil {
		t.Errorf("table list meta = %+v, want resourceVersion 77 only", tbl.ListMeta)
	}
}

func TestTableList(t *testing.T) {
	list := &clusterview.ClusterSummaryList{
		ListMeta: metav1.ListMeta{ResourceVersion: "1234", Continue: "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", RemainingItemCount: ptr.To[int64](5)},
		Items: []clusterview.ClusterSummary{
			{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b", ResourceVersion: "2"}, Status: clusterview.ClusterSummaryStatus{
				Nodes: &clusterview.NodeCounts{Total: 3, Ready: 3},
				Resources: []clusterview.ResourceUsage{
					usageOf(corev1.ResourceCPU, "250m", qty("1")),
					usageOf(corev1.ResourceMemory, "512Mi", qty("2Gi")),
				},
			}},
		},
	}
	tbl, err := tableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatalf("ConvertToTable: %v", err)
	}
	if tbl.ResourceVersion != "1234" {
		t.Errorf("resourceVersion = %q, want 1234", tbl.ResourceVersion)
	}
	if tbl.Continue != "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ" {
		t.Errorf("continue = %q", tbl.Continue)
	}
	if tbl.RemainingItemCount == nil || *tbl.RemainingItemCount != 5 {
		t.Errorf("remainingItemCount = %v, want 5", tbl.RemainingItemCount)
	}
	if len(tbl.Rows) != 2 {
		t.Fatalf("rows = %d, want 2", len(tbl.Rows))
	}
	wantCells := [][]interface{}{
		{"a", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", ""},
		{"b", "3/3", "<unknown>", "<unknown>", "25%", "25%", "Unknown", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "<unknown>", "Unknown", ""},
	}
	for i, row := range tbl.Rows {
		if diff := cmp.Diff(wantCells[i], row.Cells); diff != "" {
			t.Errorf("row %d cells (-want +got):\n%s", i, diff)
		}
		cs, ok := row.Object.Object.(*clusterview.ClusterSummary)
		if !ok || cs != &list.Items[i] {
			t.Errorf("row %d object = %v, want list item %d", i, row.Object.Object, i)
		}
	}

	// An empty list is an empty table with the list's metadata, not an error.
	empty := &clusterview.ClusterSummaryList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}}
	tbl, err = tableConvertor.ConvertToTable(context.Background(), empty, nil)
	if err != nil {
		t.Fatalf("ConvertToTable of an empty list: %v", err)
	}
	if tbl.ResourceVersion != "9" || tbl.Rows == nil || len(tbl.Rows) != 0 || len(tbl.ColumnDefinitions) != 14 {
		t.Errorf("empty list table = %+v", tbl)
	}
}

func TestTableWrongType(t *testing.T) {
	for _, obj := range []runtime.Object{
		&clusterview.NodeSummary{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}},
		&clusterview.NodeSummaryList{Items: []clusterview.NodeSummary{{}}},
	} {
		if _, err := tableConvertor.ConvertToTable(context.Background(), obj, nil); err == nil {
			t.Errorf("ConvertToTable(%T): want an error", obj)
		}
	}
}
