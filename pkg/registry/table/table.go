// Package table turns clusterview objects into the server-side tables that
// kubectl prints (metav1.Table). Each resource supplies its column
// definitions and a function that renders one object as a row; this package
// handles lists, list metadata and the object attached to each row, and
// renders the cells the resources' tables share (cells.go).
package table

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Unknown is printed for a value the server has not computed yet.
const Unknown = "<unknown>"

// Convertor renders objects of type T as table rows.
type Convertor[T runtime.Object] struct {
	// Columns describes the cells Row returns, in order. Columns with
	// Priority > 0 are shown only with `kubectl get -o wide`.
	Columns []metav1.TableColumnDefinition
	// Row renders one object. It returns one cell per column.
	Row func(obj T) []interface{}
	// Extra, when set, adds columns after Columns that depend on the objects
	// being printed, such as one per name the objects list in their spec.
	Extra func(objs []T) []ExtraColumn[T]
}

// ExtraColumn is a column chosen from the objects of one table.
type ExtraColumn[T runtime.Object] struct {
	Definition metav1.TableColumnDefinition
	Cell       func(obj T) interface{}
}

var _ rest.TableConvertor = Convertor[runtime.Object]{}

// ConvertToTable implements rest.TableConvertor for a single object or a list.
func (c Convertor[T]) ConvertToTable(_ context.Context, object runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: c.Columns}
	if m, err := meta.ListAccessor(object); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(object); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}

	var objects []runtime.Object
	if meta.IsListType(object) {
		items, err := meta.ExtractList(object)
		if err != nil {
			return nil, fmt.Errorf("reading list items: %w", err)
		}
		objects = items
	} else {
		objects = []runtime.Object{object}
	}

	typed := make([]T, len(objects))
	for i, o := range objects {
		t, ok := o.(T)
		if !ok {
			return nil, fmt.Errorf("cannot print %T in a table of %T", o, *new(T))
		}
		typed[i] = t
	}
	var extra []ExtraColumn[T]
	if c.Extra != nil {
		extra = c.Extra(typed)
		table.ColumnDefinitions = make([]metav1.TableColumnDefinition, 0, len(c.Columns)+len(extra))
		table.ColumnDefinitions = append(table.ColumnDefinitions, c.Columns...)
		for _, e := range extra {
			table.ColumnDefinitions = append(table.ColumnDefinitions, e.Definition)
		}
	}

	table.Rows = make([]metav1.TableRow, 0, len(objects))
	for i, t := range typed {
		cells := c.Row(t)
		for _, e := range extra {
			cells = append(cells, e.Cell(t))
		}
		// The generic endpoint replaces Object with the full object, its
		// metadata or nothing, depending on the request's includeObject.
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  cells,
			Object: runtime.RawExtension{Object: objects[i]},
		})
	}
	return table, nil
}

// Age renders the time since t as kubectl does ("5m", "3d").
func Age(t metav1.Time) string {
	if t.IsZero() {
		return Unknown
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// NameColumn is the first column of every table.
var NameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: "Name of the object."}

// AgeColumn is the conventional last column of every table.
var AgeColumn = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: "Time since the object was created."}
