// Package aggregated tests clusterview behind a real kube-apiserver's
// aggregation layer: discovery, OpenAPI, the generated clientset and the
// real kubectl through the aggregator, and delegated security.
package aggregated

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/test/integration/framework"
)

// env is shared by every test in the package: starting etcd,
// kube-apiserver and clusterview takes seconds, and the tests use distinct
// object names so they do not interfere.
var env *framework.Aggregated

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// A cold build of the control-plane binaries can take 15 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	ctx = klog.NewContext(ctx, klog.Background())
	dir, err := os.MkdirTemp("", "clusterview-aggregated-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	env, err = framework.StartAggregated(ctx, dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting clusterview behind kube-apiserver: %v\n", err)
		return 1
	}
	defer env.Stop()
	return m.Run()
}
