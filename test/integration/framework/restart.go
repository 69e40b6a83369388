package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// RestartClusterview stops a's clusterview-apiserver and starts a new one in
// the test process on the same port, serving certificate and etcd data, as a
// rolling restart of a single-replica deployment would. The APIService keeps
// pointing at the port, so nothing is re-registered. It returns once a list of
// ClusterSummaries through kube-apiserver succeeds again.
//
// dir must be the directory given to StartAggregated, and extraFlags the
// extra flags to run with (normally the ones given to StartAggregated).
// Restarting the package-wide environment of a test package disturbs every
// test running at the time; use it on an environment of your own.
func (a *Aggregated) RestartClusterview(ctx context.Context, dir string, extraFlags ...string) error {
	a.stopClusterview()
	a.stopClusterview = func() {}

	// The old listener is closed once the old server has stopped; binding
	// the same port again can still race with the kernel releasing it.
	var listener net.Listener
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		var err error
		listener, err = net.Listen("tcp", a.ClusterviewAddr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("listening again on %s: %w", a.ClusterviewAddr, err)
	}
	// The new server lives until Stop or the next restart, like the one
	// StartAggregated started, not only as long as the caller's ctx (a
	// test's context ends with the test, and later tests of the package
	// would find clusterview gone).
	stop, err := runClusterview(context.WithoutCancel(ctx), listener, append(aggregatedFlags(a, dir), extraFlags...))
	if err != nil {
		_ = listener.Close()
		return err
	}
	a.stopClusterview = stop

	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = a.Client.ClusterviewV1beta1().ClusterSummaries().List(ctx, metav1.ListOptions{Limit: 1})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("clusterview not serving through kube-apiserver after the restart: %w (last error: %v)", err, last)
	}
	return nil
}

// aggregatedFlags are the flags StartAggregated runs clusterview with, before
// its extra flags; a restart reuses them, so both run the same server.
func aggregatedFlags(a *Aggregated, dir string) []string {
	return a.Cluster.ClusterviewFlags(filepath.Join(dir, "clusterview-etcd"))
}
