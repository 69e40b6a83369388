// Package history tests the recording and reading of ClusterSummary history
// against a real etcd and kube-apiserver, with clusterview recording every
// second and keeping short tiers, through the generated clientset.
package history

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/clusterview/clusterview/test/integration/framework"
)

var (
	env *framework.Aggregated
	dir string
)

// The tiers are short so that a test sees many samples, several rollups
// and the retention horizon within seconds.
const (
	resolution      = time.Second
	rollupInterval  = 4 * time.Second
	rawRetention    = 40 * time.Second
	rollupRetention = 2 * time.Minute
)

var historyFlags = []string{
	"--history-resolution=" + resolution.String(),
	"--history-rollup-interval=" + rollupInterval.String(),
	"--history-raw-retention=" + rawRetention.String(),
	"--history-rollup-retention=" + rollupRetention.String(),
}

func TestMain(m *testing.M) {
	os.Exit(framework.RunMain(m, "history", func(ctx context.Context, d string) (err error) {
		dir = d
		env, err = framework.StartAggregated(ctx, dir, historyFlags...)
		return err
	}, func() { env.Stop() }))
}
