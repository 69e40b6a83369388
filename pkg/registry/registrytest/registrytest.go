// Package registrytest holds the checks the resource packages' tests share:
// what a table printed (CheckTable) and which verbs a storage offers
// (Implements).
package registrytest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TableHeaders returns the names of tbl's columns, in order.
func TableHeaders(tbl *metav1.Table) []string {
	out := make([]string, 0, len(tbl.ColumnDefinitions))
	for _, c := range tbl.ColumnDefinitions {
		out = append(out, c.Name)
	}
	return out
}

// CheckTable reports a difference between tbl and the headers and row cells
// wanted, and a row that carries no object.
func CheckTable(t *testing.T, tbl *metav1.Table, headers []string, rows [][]interface{}) {
	t.Helper()
	if diff := cmp.Diff(headers, TableHeaders(tbl)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if len(tbl.Rows) != len(rows) {
		t.Fatalf("%d rows, want %d", len(tbl.Rows), len(rows))
	}
	for i, row := range tbl.Rows {
		if diff := cmp.Diff(rows[i], row.Cells); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", i, diff)
		}
		if row.Object.Object == nil {
			t.Errorf("row %d has no object", i)
		}
	}
}

// Implements reports whether v implements I, to check which verbs a
// storage offers.
func Implements[I any](v any) bool {
	_, ok := v.(I)
	return ok
}
