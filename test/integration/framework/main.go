package framework

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/klog/v2"
)

// setupTimeout bounds an environment's start: a cold build of the
// control-plane binaries alone can take 15 minutes.
const setupTimeout = 25 * time.Minute

// RunMain is a test package's TestMain body: it starts the package's shared
// environment with start in a fresh directory named after name, runs the
// tests, and stops the environment with stop. The directory, with the
// processes' logs, is removed after a pass and kept after a failure, since
// the logs explain most failures. It returns the exit code for os.Exit.
func RunMain(m *testing.M, name string, start func(ctx context.Context, dir string) error, stop func()) int {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	ctx = klog.NewContext(ctx, klog.Background())
	dir, err := os.MkdirTemp("", "clusterview-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := start(ctx, dir); err != nil {
		fmt.Fprintf(os.Stderr, "starting the %s environment: %v\n(logs kept in %s)\n", name, err, dir)
		return 1
	}
	code := m.Run()
	stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "logs kept in %s\n", dir)
		return code
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}
