package nodesummary

import (
	"testing"

	"github.com/clusterview/clusterview/internal/readbench"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
)

// BenchmarkListNodeSummaries lists 5,000 NodeSummaries as the server
// answers `kubectl get nodesummaries -o json` ("json") and `kubectl get
// nodesummaries` ("table"), against the core NodeList of the same nodes
// encoded with the same JSON serializer (x-peer).
func BenchmarkListNodeSummaries(b *testing.B) {
	c := readbench.FullCluster()
	readbench.BenchmarkList(b, NewREST(c.Engine), scheme.Scheme, v1beta1.SchemeGroupVersion, readbench.FullNodes, c.Nodes)
}

// BenchmarkListCoreNodes is the peer alone, with its own allocation
// figures: encoding the core NodeList of the 5,000 nodes.
func BenchmarkListCoreNodes(b *testing.B) {
	readbench.BenchmarkPeer(b, readbench.FullCluster().Nodes)
}
