package namespacesummary

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/clusterview/clusterview/internal/readbench"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
)

// 1,000 namespaces holding 150,000 pods on 5,000 nodes.
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

// BenchmarkListNamespaceSummaries lists 1,000 NamespaceSummaries as the
// server answers `kubectl get namespacesummaries -A -o json` ("json") and
// `kubectl get namespacesummaries -A` ("table"), against the core
// NamespaceList of the same namespaces encoded with the same JSON serializer
// (x-peer).
func BenchmarkListNamespaceSummaries(b *testing.B) {
	c := cluster()
	c.Namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	readbench.BenchmarkList(b, NewREST(c.Engine), scheme.Scheme, v1beta1.SchemeGroupVersion, benchNamespaces, c.Namespaces)
}

// BenchmarkListCoreNamespaces is the peer alone: encoding the core
// NamespaceList of the 1,000 namespaces.
func BenchmarkListCoreNamespaces(b *testing.B) {
	c := cluster()
	c.Namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	readbench.BenchmarkPeer(b, c.Namespaces)
}
