// Package aggregated tests clusterview behind a real kube-apiserver's
// aggregation layer: discovery, OpenAPI, the generated clientset and the
// real kubectl through the aggregator, and delegated security.
package aggregated

import (
	"context"
	"os"
	"testing"

	"github.com/clusterview/clusterview/test/integration/framework"
)

// env is shared by every test in the package: starting etcd,
// kube-apiserver and clusterview takes seconds, and the tests use distinct
// object names so they do not interfere.
var env *framework.Aggregated

func TestMain(m *testing.M) {
	os.Exit(framework.RunMain(m, "aggregated", func(ctx context.Context, dir string) (err error) {
		env, err = framework.StartAggregated(ctx, dir)
		return err
	}, func() { env.Stop() }))
}
