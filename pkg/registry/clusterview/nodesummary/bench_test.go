package nodesummary

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/clusterview/clusterview/internal/readbench"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
)

// The full bench size: 5,000 nodes, 30 pods each, in 1,000 namespaces.
const (
	benchNodes       = 5000
	benchNamespaces  = 1000
	benchPodsPerNode = 30
)

var (
	benchOnce    sync.Once
	benchCluster *readbench.Cluster
)

func cluster() *readbench.Cluster {
	benchOnce.Do(func() { benchCluster = readbench.NewCluster(benchNodes, benchNamespaces, benchPodsPerNode) })
	return benchCluster
}

// BenchmarkListNodeSummaries lists 5,000 NodeSummaries as the server
// answers `kubectl get nodesummaries -o json` ("json") and `kubectl get
// nodesummaries` ("table"), against the core NodeList of the same nodes
// encoded with the same JSON serializer (x-peer).
func BenchmarkListNodeSummaries(b *testing.B) {
	c := cluster()
	c.Nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	readbench.BenchmarkList(b, NewREST(c.Engine), scheme.Scheme, v1beta1.SchemeGroupVersion, benchNodes, c.Nodes)
}

// BenchmarkListCoreNodes is the peer alone, with its own allocation
// figures: encoding the core NodeList of the 5,000 nodes.
func BenchmarkListCoreNodes(b *testing.B) {
	c := cluster()
	c.Nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	readbench.BenchmarkPeer(b, c.Nodes)
}
