package clustersummary

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

// REST is the main ClusterSummary resource, stored in etcd by the generic
// registry store: it brings list pagination, selectors, watch and
// resourceVersion semantics.
type REST struct {
	*genericregistry.Store
}

// StatusREST is the status subresource: get, update and patch of the status only.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.StandardStorage    = &REST{}
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
	_ rest.Patcher            = &StatusREST{}
)

// NewREST returns the storage of the resource and of its status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *StatusREST, error) {
	specStrategy, statusStrategy := NewStrategies(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &clusterview.ClusterSummary{} },
		NewListFunc:               func() runtime.Object { return &clusterview.ClusterSummaryList{} },
		PredicateFunc:             MatchClusterSummary,
		DefaultQualifiedResource:  clusterview.Resource("clustersummaries"),
		SingularQualifiedResource: clusterview.Resource("clustersummary"),

		CreateStrategy:      specStrategy,
		UpdateStrategy:      specStrategy,
		DeleteStrategy:      specStrategy,
		ResetFieldsStrategy: specStrategy,

		TableConvertor: tableConvertor,
	}
	options := &generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}
	if err := store.CompleteWithOptions(options); err != nil {
		return nil, nil, fmt.Errorf("completing the clustersummaries store: %w", err)
	}

	statusStore := *store
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy
	return &REST{store}, &StatusREST{store: &statusStore}, nil
}

// ShortNames lets users type `kubectl get csum`.
func (r *REST) ShortNames() []string { return []string{"csum"} }

// Categories puts the resource in `kubectl get clusterview`.
func (r *REST) Categories() []string { return []string{"clusterview"} }

// New returns an empty ClusterSummary.
func (r *StatusREST) New() runtime.Object { return &clusterview.ClusterSummary{} }

// Destroy does nothing: the store is shared with the main resource, which
// releases it.
func (r *StatusREST) Destroy() {}

// Get returns the object, for clients that read the status subresource.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status only; the status strategy keeps the rest as stored.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Creating through the status subresource is never allowed.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields tells server-side apply which fields a status write resets.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints the status subresource like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
