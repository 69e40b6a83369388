package namespacesummary

import (
	"testing"

	"github.com/clusterview/clusterview/internal/readbench"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
)

// BenchmarkListNamespaceSummaries lists 1,000 NamespaceSummaries (holding
// 150,000 pods on 5,000 nodes) as the server answers `kubectl get
// namespacesummaries -A -o json` ("json") and `kubectl get
// namespacesummaries -A` ("table"), against the core NamespaceList of the
// same namespaces encoded with the same JSON serializer (x-peer).
func BenchmarkListNamespaceSummaries(b *testing.B) {
	c := readbench.FullCluster()
	readbench.BenchmarkList(b, NewREST(c.Engine), scheme.Scheme, v1beta1.SchemeGroupVersion, readbench.FullNamespaces, c.Namespaces)
}

// BenchmarkListCoreNamespaces is the peer alone: encoding the core
// NamespaceList of the 1,000 namespaces.
func BenchmarkListCoreNamespaces(b *testing.B) {
	readbench.BenchmarkPeer(b, readbench.FullCluster().Namespaces)
}
