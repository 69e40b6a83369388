// Package clustersummary is the storage of the ClusterSummary resource: its
// create and update semantics (strategy.go), its etcd-backed store
// (storage.go) and its kubectl table (table.go).
package clustersummary

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/validation"
)

// specStrategy implements create and update of the main resource: users own
// the spec, the server owns the status, as for the core types.
type specStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// statusStrategy implements updates through the status subresource, which
// may change the status and nothing else.
type statusStrategy struct {
	specStrategy
}

// NewStrategies returns the strategies for the main resource and its status subresource.
func NewStrategies(typer runtime.ObjectTyper) (specStrategy, statusStrategy) {
	s := specStrategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
	return s, statusStrategy{specStrategy: s}
}

func (specStrategy) NamespaceScoped() bool { return false }

// GetResetFields tells server-side apply that a write to the main resource
// never sets the status.
func (specStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"clusterview.io/v1beta1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// PrepareForCreate drops any status the client sent and starts the
// generation at 1.
func (specStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	cs := obj.(*clusterview.ClusterSummary)
	cs.Status = clusterview.ClusterSummaryStatus{}
	cs.Generation = 1
}

// PrepareForUpdate keeps the stored status and bumps the generation when the
// spec changes, so the status controller knows it has new work.
func (specStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newCS := obj.(*clusterview.ClusterSummary)
	oldCS := old.(*clusterview.ClusterSummary)
	newCS.Status = oldCS.Status
	if !apiequality.Semantic.DeepEqual(newCS.Spec, oldCS.Spec) {
		newCS.Generation = oldCS.Generation + 1
	}
}

func (specStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateClusterSummary(obj.(*clusterview.ClusterSummary))
}

func (specStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (specStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (specStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (specStrategy) Canonicalize(runtime.Object) {}

func (specStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterSummaryUpdate(obj.(*clusterview.ClusterSummary), old.(*clusterview.ClusterSummary))
}

func (specStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields tells server-side apply that a write to the status
// subresource never sets the spec or the metadata.
func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"clusterview.io/v1beta1": fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
			fieldpath.MakePathOrDie("metadata", "annotations"),
		),
	}
}

// PrepareForUpdate keeps the stored spec and metadata changes other than the
// status-owned ones out of a status write.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newCS := obj.(*clusterview.ClusterSummary)
	oldCS := old.(*clusterview.ClusterSummary)
	newCS.Spec = oldCS.Spec
	newCS.Labels = oldCS.Labels
	newCS.Annotations = oldCS.Annotations
	newCS.Generation = oldCS.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterSummaryStatusUpdate(obj.(*clusterview.ClusterSummary), old.(*clusterview.ClusterSummary))
}

func (statusStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetAttrs returns the labels and the selectable fields of a ClusterSummary.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	cs, ok := obj.(*clusterview.ClusterSummary)
	if !ok {
		return nil, nil, fmt.Errorf("not a ClusterSummary: %T", obj)
	}
	return cs.Labels, generic.ObjectMetaFieldsSet(&cs.ObjectMeta, false), nil
}

// MatchClusterSummary is the filter the store uses for label and field selectors.
func MatchClusterSummary(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
