// Package nodesummary is the read-only storage of the NodeSummary resource:
// one cluster-scoped summary per Node, served live from the summary engine
// (storage.go) and printed by kubectl as a table (table.go). Nothing is
// stored in etcd, and clients can only get, list and watch.
package nodesummary

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/table"
	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi"
	"github.com/clusterview/clusterview/pkg/summaryapi/livestore"
)

// REST serves NodeSummaries. It implements no write verb, so discovery
// lists get, list and watch only.
type REST struct {
	*livestore.Store[*clusterview.NodeSummary]
	// Convertor prints the table (table.go).
	table.Convertor[*clusterview.NodeSummary]
}

var _ livestore.Resource = &REST{}

// NewREST returns the storage of nodesummaries, reading engine.
func NewREST(engine *summary.Engine) *REST {
	return &REST{livestore.New(livestore.Config[*clusterview.NodeSummary]{
		Engine:   engine,
		Resource: clusterview.Resource("nodesummaries"),
		Kind:     summary.KindNode,
		Read:     livestore.NodeReader(engine, summaryapi.NodeSummary),
		New:      func() *clusterview.NodeSummary { return &clusterview.NodeSummary{} },
		NewList: func(items []*clusterview.NodeSummary) runtime.Object {
			return &clusterview.NodeSummaryList{Items: livestore.Values(items)}
		},
	}), tableConvertor}
}

// GetSingularName lets `kubectl get nodesummary` resolve.
func (r *REST) GetSingularName() string { return "nodesummary" }

// ShortNames lets users type `kubectl get nodesum`.
func (r *REST) ShortNames() []string { return []string{"nodesum"} }

// Categories puts the resource in `kubectl get clusterview`.
func (r *REST) Categories() []string { return []string{"clusterview"} }
