package clustersummary

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

func shapes(names ...string) []clusterview.HeadroomShape {
	var out []clusterview.HeadroomShape
	for _, n := range names {
		out = append(out, clusterview.HeadroomShape{Name: n})
	}
	return out
}

// TestTableFitsColumns: -o wide gets one Fits column per headroom shape,
// the first three names in list order, after the fixed columns.
func TestTableFitsColumns(t *testing.T) {
	list := &clusterview.ClusterSummaryList{Items: []clusterview.ClusterSummary{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec:       clusterview.ClusterSummarySpec{Headroom: shapes("web", "gpu")},
			Status: clusterview.ClusterSummaryStatus{Headroom: []clusterview.HeadroomStatus{
				{Name: "web", Fits: 5, LimitedBy: "cpu"}, {Name: "gpu", Fits: 0},
			}},
		},
		// Status not computed yet; its fourth shape name is past the cap.
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: clusterview.ClusterSummarySpec{Headroom: shapes("web", "batch", "big")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "c"}},
	}}
	tbl, err := tableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	fixed := len(tableConvertor.Columns)
	if len(tbl.ColumnDefinitions) != fixed+3 {
		t.Fatalf("%d columns, want %d fixed and 3 Fits", len(tbl.ColumnDefinitions), fixed)
	}
	var names []string
	for _, c := range tbl.ColumnDefinitions[fixed:] {
		names = append(names, c.Name)
		if c.Priority != 1 || c.Type != "string" || c.Description == "" {
			t.Errorf("column %+v: want a described wide string column", c)
		}
	}
	if diff := cmp.Diff([]string{"Fits:web", "Fits:gpu", "Fits:batch"}, names); diff != "" {
		t.Errorf("Fits columns (-want +got):\n%s", diff)
	}
	want := [][]interface{}{{"5", "0", "<none>"}, {"<unknown>", "<none>", "<unknown>"}, {"<none>", "<none>", "<none>"}}
	for i, row := range tbl.Rows {
		if len(row.Cells) != len(tbl.ColumnDefinitions) {
			t.Fatalf("row %d has %d cells for %d columns", i, len(row.Cells), len(tbl.ColumnDefinitions))
		}
		if diff := cmp.Diff(want[i], row.Cells[fixed:]); diff != "" {
			t.Errorf("row %d Fits cells (-want +got):\n%s", i, diff)
		}
	}

	// Without shapes the table keeps exactly its fixed columns.
	tbl, err = tableConvertor.ConvertToTable(context.Background(), &clusterview.ClusterSummary{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.ColumnDefinitions) != fixed || len(tbl.Rows[0].Cells) != fixed {
		t.Errorf("no shapes: %d columns, %d cells; want %d", len(tbl.ColumnDefinitions), len(tbl.Rows[0].Cells), fixed)
	}
}
