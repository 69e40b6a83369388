package framework

import (
	"context"
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// coldBuildBudget is what a test needs left of its -timeout before it
// attempts a cold build of the control-plane binaries (about 12-15 minutes
// on 2 cores).
const coldBuildBudget = 20 * time.Minute

// ControlPlaneBinaries returns the directory of fresh control-plane binaries,
// building them with hack/build-tools.sh when they are missing or stale. It
// never skips: when a cold build cannot fit into the test's -timeout it fails
// at once and says how to fix that.
func ControlPlaneBinaries(t *testing.T) string {
	t.Helper()
	logger, ctx := ktesting.NewTestContext(t)
	fresh, err := localcluster.BinariesFresh(ctx)
	if err != nil {
		t.Fatalf("checking control-plane binaries: %v", err)
	}
	if !fresh {
		if deadline, ok := t.Deadline(); ok && time.Until(deadline) < coldBuildBudget {
			t.Fatalf("control-plane binaries are missing or stale and building them takes up to ~15 min on 2 cores, "+
				"but only %v of the test timeout is left: run hack/build-tools.sh all first, or pass -timeout 30m",
				time.Until(deadline).Round(time.Second))
		}
		t.Log("Building control-plane binaries with hack/build-tools.sh; a cold build takes up to ~15 min")
	}
	dir, err := localcluster.EnsureBinaries(ctx, logger)
	if err != nil {
		t.Fatalf("building control-plane binaries: %v", err)
	}
	return dir
}

// StartControlPlane starts etcd and kube-apiserver for one test, with no
// clusterview, and stops them when the test ends; after a failure it logs
// the last lines of each process's log first. The context carries the
// test's logger.
func StartControlPlane(t *testing.T) (*localcluster.Cluster, context.Context) {
	t.Helper()
	bins := ControlPlaneBinaries(t)
	_, ctx := ktesting.NewTestContext(t)
	c, err := localcluster.Start(ctx, localcluster.Options{Dir: t.TempDir(), BinDir: bins})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, path := range c.LogFiles() {
				t.Logf("last lines of %s log:\n%s", name, localcluster.LogTail(path, 40))
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	return c, ctx
}
