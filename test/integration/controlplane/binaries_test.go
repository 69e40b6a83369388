package controlplane

import (
	"testing"

	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// An empty binary directory is reported as stale (hack/build-tools.sh
// --check exits 3), not as an error. It runs the script, a process, so it
// lives here rather than in localcluster's unit tests.
func TestBinariesFreshReportsAnEmptyDirStale(t *testing.T) {
	t.Setenv(localcluster.BinDirEnv, t.TempDir())
	_, ctx := ktesting.NewTestContext(t)

	fresh, err := localcluster.BinariesFresh(ctx)
	if err != nil {
		t.Fatalf("BinariesFresh: %v", err)
	}
	if fresh {
		t.Error("BinariesFresh reported an empty directory as up to date")
	}
}
