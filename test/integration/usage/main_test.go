// Package usage tests usage next to requests end to end: kwok plays the
// kubelets of simulated nodes, a real metrics-server scrapes them behind the
// APIService v1beta1.metrics.k8s.io, and clusterview reads metrics.k8s.io
// through kube-apiserver like any client; every summary is read through the
// aggregator with the generated clientset.
package usage

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/clusterview/clusterview/test/integration/framework"
)

// usageInterval is clusterview's --usage-interval here: short, so that usage
// appears, goes stale (3 intervals) and recovers within the tests' timeouts,
// yet 3 intervals exceed metrics-server's 10s resolution, so its samples stay
// current between two scrapes, and a read stuck for a whole interval is
// unmistakable next to the status writes.
const usageInterval = 5 * time.Second

// env is shared by the tests of the package, which run one after another.
var env *framework.Aggregated

func TestMain(m *testing.M) {
	os.Exit(framework.RunMain(m, "usage", func(ctx context.Context, dir string) (err error) {
		env, err = framework.StartAggregatedWithUsage(ctx, dir, "--usage-interval="+usageInterval.String())
		return err
	}, func() { env.Stop() }))
}
