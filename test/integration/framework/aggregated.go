package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/cmd/server"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

// Aggregated is a real control plane (etcd + kube-apiserver) with
// clusterview-apiserver running in the test process, registered as the
// APIService v1beta1.clusterview.io. Every request the tests make goes
// through kube-apiserver unless a test says otherwise.
type Aggregated struct {
	Cluster *localcluster.Cluster
	// Admin reaches kube-apiserver as a member of system:masters.
	Admin *rest.Config
	// Client is the generated clientset on Admin: through the aggregator.
	Client clientset.Interface
	// ClusterviewAddr is clusterview's own loopback address, for tests that
	// bypass kube-apiserver on purpose.
	ClusterviewAddr string
	// AvailableAfter is how long the APIService took to become Available
	// after clusterview started serving.
	AvailableAfter time.Duration

	stopClusterview func()
}

// StartAggregated builds the control-plane binaries if needed, starts etcd
// and kube-apiserver, grants clusterview its RBAC, starts clusterview with
// the flags a deployment would use, registers it and waits until the
// APIService is Available. dir holds all state. Call Stop when done: it
// stops clusterview first so that kube-apiserver shuts down promptly.
func StartAggregated(ctx context.Context, dir string, extraFlags ...string) (*Aggregated, error) {
	return startAggregated(ctx, dir, false, extraFlags)
}

// StartAggregatedWithUsage is StartAggregated with the cluster's resource
// metrics pipeline (localcluster.Options.Usage): kwok playing the kubelets of
// the nodes localcluster.SimulateKubelet marks, and metrics-server behind the
// APIService v1beta1.metrics.k8s.io, which is Available when it returns.
func StartAggregatedWithUsage(ctx context.Context, dir string, extraFlags ...string) (*Aggregated, error) {
	return startAggregated(ctx, dir, true, extraFlags)
}

func startAggregated(ctx context.Context, dir string, usage bool, extraFlags []string) (_ *Aggregated, retErr error) {
	logger := klog.FromContext(ctx)
	ensure := localcluster.EnsureBinaries
	if usage {
		ensure = localcluster.EnsureUsageBinaries
	}
	binDir, err := ensure(ctx, logger)
	if err != nil {
		return nil, fmt.Errorf("building control-plane binaries: %w", err)
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{Dir: filepath.Join(dir, "cluster"), BinDir: binDir, Usage: usage})
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	a := &Aggregated{Cluster: cluster, Admin: cluster.AdminConfig(), stopClusterview: func() {}}
	defer func() {
		if retErr != nil {
			a.Stop()
		}
	}()
	if err := cluster.ApplyClusterviewRBAC(ctx); err != nil {
		return nil, fmt.Errorf("granting clusterview its RBAC: %w", err)
	}
	if a.Client, err = clientset.NewForConfig(a.Admin); err != nil {
		return nil, err
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	a.ClusterviewAddr = listener.Addr().String()
	flags := append(aggregatedFlags(a, dir), extraFlags...)
	started := time.Now()
	stop, err := runClusterview(ctx, listener, flags)
	if err != nil {
		return nil, err
	}
	a.stopClusterview = stop

	port := listener.Addr().(*net.TCPAddr).Port
	if err := cluster.RegisterClusterview(ctx, port); err != nil {
		return nil, fmt.Errorf("registering the APIService: %w", err)
	}
	if err := cluster.WaitForClusterviewAvailable(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	a.AvailableAfter = time.Since(started)
	// kube-apiserver merges our discovery and OpenAPI documents into its own
	// shortly after the APIService turns Available; kubectl needs both.
	if err := waitMerged(ctx, a.Client.Discovery().RESTClient()); err != nil {
		return nil, err
	}
	return a, nil
}

// waitMerged polls until kube-apiserver's discovery and OpenAPI v3 documents
// include clusterview.io/v1beta1.
func waitMerged(ctx context.Context, client rest.Interface) error {
	var missing string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, check := range []struct{ path, accept, want string }{
			{"/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", `"clustersummaries"`},
			{"/openapi/v3", "application/json", `"apis/clusterview.io/v1beta1"`},
		} {
			raw, err := client.Get().AbsPath(check.path).SetHeader("Accept", check.accept).DoRaw(ctx)
			if err != nil || !strings.Contains(string(raw), check.want) {
				missing = check.path
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver's %s does not include clusterview.io/v1beta1: %w", missing, err)
	}
	return nil
}

// runClusterview parses flags exactly as the clusterview-apiserver command
// does and serves on listener until the returned stop function is called.
func runClusterview(ctx context.Context, listener net.Listener, args []string) (stop func(), err error) {
	o := server.NewOptions()
	fs := pflag.NewFlagSet("clusterview-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("parsing clusterview flags: %w", err)
	}
	o.RecommendedOptions.SecureServing.Listener = listener
	if err := o.Complete(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	srv, cleanup, err := o.NewServer(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("building clusterview: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				klog.FromContext(ctx).Error(err, "clusterview stopped with an error")
			}
		case <-time.After(60 * time.Second):
			klog.FromContext(ctx).Error(nil, "clusterview did not stop within 60s")
		}
		cleanup()
	}, nil
}

// Stop stops clusterview, then the control plane.
func (a *Aggregated) Stop() {
	a.stopClusterview()
	if a.Cluster != nil {
		if err := a.Cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the control plane: %v\n", err)
		}
	}
}
