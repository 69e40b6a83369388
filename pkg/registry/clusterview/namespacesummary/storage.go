// Package namespacesummary is the read-only storage of the NamespaceSummary
// resource: one summary per Namespace, living in that namespace and named
// after it, served live from the summary engine (storage.go) and printed by
// kubectl as a table (table.go). Nothing is stored in etcd, and clients can
// only get, list and watch.
package namespacesummary

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/table"
	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi"
	"github.com/clusterview/clusterview/pkg/summaryapi/livestore"
)

// REST serves NamespaceSummaries. It implements no write verb, so discovery
// lists get, list and watch only. A request in namespace team-a sees at
// most one object, team-a's summary; one across all namespaces sees all.
type REST struct {
	*livestore.Store[*clusterview.NamespaceSummary]
	// Convertor prints the table (table.go).
	table.Convertor[*clusterview.NamespaceSummary]
}

var _ livestore.Resource = &REST{}

// NewREST returns the storage of namespacesummaries, reading engine.
func NewREST(engine *summary.Engine) *REST {
	return &REST{livestore.New(livestore.Config[*clusterview.NamespaceSummary]{
		Engine:     engine,
		Resource:   clusterview.Resource("namespacesummaries"),
		Kind:       summary.KindNamespace,
		Namespaced: true,
		Read:       livestore.NamespaceReader(engine, summaryapi.NamespaceSummary),
		New:        func() *clusterview.NamespaceSummary { return &clusterview.NamespaceSummary{} },
		NewList: func(items []*clusterview.NamespaceSummary) runtime.Object {
			return &clusterview.NamespaceSummaryList{Items: livestore.Values(items)}
		},
	}), tableConvertor}
}

// GetSingularName lets `kubectl get namespacesummary` resolve.
func (r *REST) GetSingularName() string { return "namespacesummary" }

// ShortNames lets users type `kubectl get nssum`.
func (r *REST) ShortNames() []string { return []string{"nssum"} }

// Categories puts the resource in `kubectl get clusterview`.
func (r *REST) Categories() []string { return []string{"clusterview"} }
