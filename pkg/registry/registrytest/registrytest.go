// Package registrytest holds the checks the resource packages' tests share:
// what a table printed (CheckTable), which verbs a storage offers
// (Implements) and what a read-only storage tells discovery
// (CheckReadOnly).
package registrytest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"
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

// Discovery is what a storage tells discovery besides its verbs: its scope
// and its names.
type Discovery struct {
	Namespaced bool
	Singular   string
	ShortNames []string
	Categories []string
}

// CheckReadOnly reports a write verb that s offers (discovery would list
// it) and a scope or name of s that differs from want. resource names s in
// the messages.
func CheckReadOnly(t *testing.T, resource string, s rest.Storage, want Discovery) {
	t.Helper()
	for name, ok := range map[string]bool{
		"Creater":           Implements[rest.Creater](s),
		"Updater":           Implements[rest.Updater](s),
		"Patcher":           Implements[rest.Patcher](s),
		"GracefulDeleter":   Implements[rest.GracefulDeleter](s),
		"CollectionDeleter": Implements[rest.CollectionDeleter](s),
	} {
		if ok {
			t.Errorf("%s implement rest.%s", resource, name)
		}
	}
	scoper, ok := s.(rest.Scoper)
	if !ok || scoper.NamespaceScoped() != want.Namespaced {
		t.Errorf("%s: namespaced = %v, want %v", resource, ok && scoper.NamespaceScoped(), want.Namespaced)
	}
	var got Discovery
	got.Namespaced = want.Namespaced
	if n, ok := s.(rest.SingularNameProvider); ok {
		got.Singular = n.GetSingularName()
	}
	if n, ok := s.(rest.ShortNamesProvider); ok {
		got.ShortNames = n.ShortNames()
	}
	if n, ok := s.(rest.CategoriesProvider); ok {
		got.Categories = n.Categories()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s names (-want +got):\n%s", resource, diff)
	}
}
