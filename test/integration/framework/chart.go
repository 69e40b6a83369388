package framework

import (
	"testing"

	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// ChartRender returns the path of chart-render, which lints and renders
// charts/clusterview with the pinned Helm library, building it with
// hack/build-tools.sh chart-render into the directory the control-plane
// binaries come from ($CLUSTERVIEW_BIN_DIR or _output/bin) when it is missing
// or stale.
func ChartRender(t *testing.T) string {
	t.Helper()
	logger, ctx := ktesting.NewTestContext(t)
	path, err := localcluster.EnsureChartRender(ctx, logger)
	if err != nil {
		t.Fatalf("building chart-render: %v", err)
	}
	return path
}
