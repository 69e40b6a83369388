// Command local-up is `make run`: it brings up clusterview behind a real
// kube-apiserver on this machine and stays in the foreground until Ctrl-C
// or SIGTERM, then stops everything in order.
//
// By default it starts a local control plane (etcd + kube-apiserver, built
// from pinned Go modules), grants clusterview its RBAC, starts the
// clusterview-apiserver binary with an embedded etcd, registers the
// APIService, waits until it is Available and seeds a demo cluster. With
// --kubeconfig it uses an existing cluster instead and seeds nothing unless
// asked to.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/internal/localcluster/pki"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

type options struct {
	dir          string
	binary       string
	port         int
	kubeconfig   string
	seed         bool
	availableFor time.Duration
	// historyResolution is short so that `kubectl clusterview history`
	// draws a moving curve within a minute.
	historyResolution time.Duration
	// churnRate is how many real pod and node status changes per second
	// keep the seeded demo moving; 0 leaves it still.
	churnRate float64
	// usageInterval is clusterview's --usage-interval.
	usageInterval time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", "_output/local", "Directory for all local state: control plane, clusterview's etcd, logs and the kubeconfig.")
	flag.StringVar(&o.binary, "clusterview-binary", "_output/bin/clusterview-apiserver", "clusterview-apiserver binary to run (make build).")
	flag.IntVar(&o.port, "port", 8443, "Port clusterview serves on, on 127.0.0.1.")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "Use the cluster of this kubeconfig instead of starting a local control plane. Its kube-apiserver must run on this machine to reach clusterview on 127.0.0.1.")
	seed := flag.String("seed", "auto", "Seed a demo cluster: true, false, or auto (only on the local control plane). Env CLUSTERVIEW_SEED overrides.")
	flag.DurationVar(&o.availableFor, "available-timeout", 2*time.Minute, "How long to wait for the APIService to become Available.")
	flag.DurationVar(&o.historyResolution, "history-resolution", 5*time.Second, "clusterview's --history-resolution: time between two recorded samples.")
	flag.Float64Var(&o.churnRate, "churn-rate", 0.3, "Status changes per second (container restarts, pods leaving and re-entering Running, crash loops, node readiness) written to the seeded demo through the API while it runs; 0 keeps it still.")
	flag.DurationVar(&o.usageInterval, "usage-interval", localcluster.DefaultMetricResolution, "clusterview's --usage-interval: time between two reads of the resource metrics API. The local cluster's metrics-server scrapes at this resolution; reading more often returns the same samples.")
	klog.InitFlags(nil)
	flag.Parse()
	if env := os.Getenv("CLUSTERVIEW_SEED"); env != "" {
		*seed = env
	}
	switch *seed {
	case "auto":
		o.seed = o.kubeconfig == ""
	default:
		v, err := strconv.ParseBool(*seed)
		if err != nil {
			fmt.Fprintf(os.Stderr, "local-up: --seed must be true, false or auto, not %q\n", *seed)
			os.Exit(2)
		}
		o.seed = v
	}

	// When whoever started us (make) is terminated, stop as if signalled,
	// so that nothing keeps running behind a SIGTERM sent to `make run`.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		klog.Background().Error(err, "Cannot follow the parent process; stop with Ctrl-C or SIGTERM to local-up itself")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = klog.NewContext(ctx, klog.Background().WithName("local-up"))
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "local-up: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (retErr error) {
	logger := klog.FromContext(ctx)
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// The cluster: a local control plane, or the one of --kubeconfig.
	var admin *rest.Config
	var adminKubeconfig, clusterviewKubeconfig, certFile, keyFile string
	var caPEM []byte
	var cluster *localcluster.Cluster
	if o.kubeconfig == "" {
		logger.Info("Building the control-plane binaries, metrics-server and kwok if needed (the first run takes ~20 minutes)")
		binDir, err := localcluster.EnsureUsageBinaries(ctx, logger)
		if err != nil {
			return err
		}
		// With its resource metrics pipeline: kwok plays the kubelets of the
		// demo's nodes and metrics-server serves metrics.k8s.io from them.
		cluster, err = localcluster.Start(ctx, localcluster.Options{Dir: filepath.Join(dir, "cluster"), BinDir: binDir,
			Usage: true, MetricResolution: o.usageInterval})
		if err != nil {
			return err
		}
		// Stopped last: clusterview's watches would otherwise hold it up.
		defer func() {
			if err := cluster.Stop(); err != nil && retErr == nil {
				retErr = err
			}
		}()
		if err := cluster.ApplyClusterviewRBAC(ctx); err != nil {
			return err
		}
		admin, adminKubeconfig = cluster.AdminConfig(), cluster.AdminKubeconfig()
		clusterviewKubeconfig = cluster.ClusterviewKubeconfig()
		certFile, keyFile, caPEM = cluster.ClusterviewServing()
	} else {
		adminKubeconfig = o.kubeconfig
		clusterviewKubeconfig = o.kubeconfig
		admin, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig)
		if err != nil {
			return fmt.Errorf("loading %s: %w", o.kubeconfig, err)
		}
		if certFile, keyFile, caPEM, err = servingCert(filepath.Join(dir, "pki")); err != nil {
			return err
		}
	}

	// clusterview, as a separate process like in a real deployment.
	clusterview, err := startClusterview(ctx, o, dir, clusterviewKubeconfig, certFile, keyFile)
	if err != nil {
		return err
	}
	// SIGTERM lets it drain its requests and close its watches.
	defer func() {
		if err := clusterview.Stop(20 * time.Second); err != nil {
			logger.Error(err, "Stopping clusterview-apiserver")
		}
	}()

	if err := localcluster.RegisterAPIService(ctx, admin, o.port, caPEM); err != nil {
		return err
	}
	if err := localcluster.WaitForAPIServiceAvailable(ctx, admin, o.availableFor); err != nil {
		return fmt.Errorf("%w (clusterview's log: %s)", err, clusterview.Options().LogPath)
	}

	if o.seed {
		kube, err := kubernetes.NewForConfig(admin)
		if err != nil {
			return err
		}
		report, err := clusterfill.Demo(ctx, kube)
		if err != nil {
			return fmt.Errorf("seeding the demo cluster: %w", err)
		}
		logger.Info("Seeded the demo cluster", "report", report)
		if o.churnRate > 0 {
			go keepChanging(ctx, kube, o.churnRate)
		}
		if cluster != nil {
			logger.Info("Waiting for the first usage from metrics-server (two scrapes)", "resolution", o.usageInterval)
			if err := waitForUsage(ctx, admin, report.Contents.NodesWithMetrics, 3*time.Minute); err != nil {
				return fmt.Errorf("%w (logs: %s, %s)", err, cluster.LogFiles()["metrics-server"], clusterview.Options().LogPath)
			}
		}
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := copyFile(adminKubeconfig, kubeconfig); err != nil {
		return err
	}
	fmt.Printf(`clusterview is ready: export KUBECONFIG=%s
Try:
  kubectl get clustersummaries
  kubectl get nodesummaries
  kubectl get namespacesummaries -A
  kubectl get clustersummary cluster -o yaml
  kubectl top nodes            (usage from metrics-server; demo-b-3 and demo-c-3 have no kubelet, so no metrics)
  kubectl top pods -A
  kubectl get namespacesummaries -A -o wide --sort-by=.resources[0].idle
  kubectl explain clustersummary.spec
  _output/bin/kubectl-clusterview history --since 10m   (or kubectl clusterview after make install-plugin)
  _output/bin/kubectl-clusterview top nodes --sort-by cpu
Logs: %s. Press Ctrl-C to stop.
`, kubeconfig, dir)

	select {
	case <-ctx.Done():
		logger.Info("Stopping: clusterview, then kube-apiserver, then etcd")
	case <-clusterview.Done():
		return clusterview.ExitError()
	}
	return nil
}

// startClusterview runs clusterview-apiserver as a separate process, as in
// a real deployment.
func startClusterview(ctx context.Context, o options, dir, kubeconfig, certFile, keyFile string) (*localcluster.Process, error) {
	p, err := localcluster.StartProcess(localcluster.ProcessOptions{
		Name: "clusterview-apiserver",
		Path: o.binary,
		Args: append(localcluster.ClusterviewFlags(kubeconfig, certFile, keyFile, filepath.Join(dir, "clusterview-etcd")),
			"--secure-port="+strconv.Itoa(o.port), "--history-resolution="+o.historyResolution.String(),
			"--usage-interval="+o.usageInterval.String()),
		LogPath: filepath.Join(dir, "clusterview.log"),
		Logger:  klog.FromContext(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}
	klog.FromContext(ctx).Info("Started clusterview-apiserver", "pid", p.PID(), "port", o.port, "log", p.Options().LogPath)
	return p, nil
}

// waitForUsage waits until clusterview reports usage for every node in
// nodes, through kube-apiserver: metrics-server needs two scrapes of the
// simulated kubelets before it has a CPU rate, and clusterview one read
// after that.
func waitForUsage(ctx context.Context, admin *rest.Config, nodes []string, timeout time.Duration) error {
	client, err := clientset.NewForConfig(admin)
	if err != nil {
		return err
	}
	missing := nodes
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		missing = nil
		for _, name := range nodes {
			ns, err := client.ClusterviewV1beta1().NodeSummaries().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !slices.ContainsFunc(ns.Resources, func(r v1beta1.ResourceUsage) bool { return r.Usage != nil }) {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("no usage after %v for nodes %v: %w", timeout, missing, err)
	}
	return nil
}

// servingCert makes a CA and a serving certificate for the names the
// aggregator dials, for use with an existing cluster.
func servingCert(dir string) (certFile, keyFile string, caPEM []byte, err error) {
	ca, err := pki.NewCA("clusterview-local-serving-ca")
	if err != nil {
		return "", "", nil, err
	}
	cert, err := ca.NewServingCert(pki.ServingOptions{DNSNames: localcluster.ClusterviewServingDNSNames, IPs: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}})
	if err != nil {
		return "", "", nil, err
	}
	certFile, keyFile, err = cert.WriteFiles(dir, "clusterview-serving")
	return certFile, keyFile, ca.CertPEM, err
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		return errors.Join(fmt.Errorf("writing %s", to), err)
	}
	return nil
}

// keepChanging writes gentle, real status changes to the demo's pods and
// nodes until ctx ends, so that recorded history moves. Every figure it
// causes is computed by clusterview from the changed objects.
func keepChanging(ctx context.Context, kube kubernetes.Interface, rate float64) {
	logger := klog.FromContext(ctx)
	for seed := int64(1); ctx.Err() == nil; seed++ {
		_, err := clusterfill.Churn(ctx, kube, clusterfill.ChurnOptions{
			Rate: rate, Duration: time.Minute, Seed: seed, LabelSelector: clusterfill.DemoLabel + "=true",
		})
		if err != nil && ctx.Err() == nil {
			logger.Error(err, "Changing the demo cluster; retrying in a minute")
			select {
			case <-ctx.Done():
			case <-time.After(time.Minute):
			}
		}
	}
}
