package framework

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/cmd/server"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

const (
	haEtcdMembers      = 3
	haStartTimeout     = 2 * time.Minute
	apiserverStopGrace = 90 * time.Second
)

// HAOptions configures StartHA.
type HAOptions struct {
	// Dir holds all state: the control plane, the etcd members, the
	// replicas' logs and, unless ClusterviewBinary is set, the binary.
	Dir string
	// ClusterviewBinary is a built clusterview-apiserver; empty builds one.
	ClusterviewBinary string
	// ReplicaFlags are added to both replicas' command lines, after the
	// deployment's own flags.
	ReplicaFlags []string
}

// HA is clusterview deployed for high availability on loopback: two
// clusterview-apiserver processes (replicas A and B) sharing a 3-member etcd
// cluster, behind one real kube-apiserver (localcluster), with the
// clusterview.io APIService pointing at replica A. An APIService names one
// Service port and the local Service is an ExternalName one, so the
// aggregator can only reach one replica here; tests reach B directly
// (Replica.Config) with the admin's client certificate.
type HA struct {
	Cluster *localcluster.Cluster
	Etcd    *EtcdCluster
	// A is the replica the APIService points at; B is reached directly.
	A, B *Replica
	// Admin reaches kube-apiserver as a member of system:masters.
	Admin *rest.Config
	// Kube is the core clientset on Admin.
	Kube kubernetes.Interface
	// Client is clusterview's clientset on Admin: through the aggregator.
	Client clientset.Interface
	// LeaseNamespace and LeaseName identify the leader-election Lease;
	// LeaseDuration, RenewDeadline and RetryPeriod are the replicas'
	// (default) timings.
	LeaseNamespace, LeaseName                 string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration

	binDir string
	dir    string

	apiserverMu   sync.Mutex
	apiserver     *localcluster.Process // the kube-apiserver this harness restarted, if any
	apiserverRuns int
}

// StartHA builds clusterview (unless given), starts a 3-member etcd cluster,
// etcd + kube-apiserver (localcluster), grants clusterview its RBAC, runs
// replicas A and B as separate processes with the flags of a real
// deployment, registers A as the APIService and waits until everything is
// ready. Call Stop when done.
func StartHA(ctx context.Context, opts HAOptions) (_ *HA, retErr error) {
	logger := klog.FromContext(ctx)
	binDir, err := localcluster.EnsureBinaries(ctx, logger)
	if err != nil {
		return nil, fmt.Errorf("building control-plane binaries: %w", err)
	}
	defaults := server.NewOptions().LeaderElection
	h := &HA{
		binDir:         binDir,
		dir:            opts.Dir,
		LeaseNamespace: defaults.ResourceNamespace,
		LeaseName:      defaults.ResourceName,
		LeaseDuration:  defaults.LeaseDuration.Duration,
		RenewDeadline:  defaults.RenewDeadline.Duration,
		RetryPeriod:    defaults.RetryPeriod.Duration,
	}
	defer func() {
		if retErr != nil {
			h.Stop()
		}
	}()

	// The three slow steps are independent: run them at once.
	bin := opts.ClusterviewBinary
	var buildErr, etcdErr, clusterErr error
	var wg sync.WaitGroup
	if bin == "" {
		wg.Go(func() {
			root, err := localcluster.RepoRoot()
			if err != nil {
				buildErr = err
				return
			}
			outDir := filepath.Join(opts.Dir, "bin")
			if buildErr = os.MkdirAll(outDir, 0o755); buildErr == nil {
				bin, buildErr = BuildClusterview(ctx, root, outDir)
			}
		})
	}
	wg.Go(func() {
		h.Etcd, etcdErr = StartEtcdCluster(ctx, filepath.Join(binDir, "etcd"), filepath.Join(opts.Dir, "etcd-cluster"), haEtcdMembers, haStartTimeout)
	})
	wg.Go(func() {
		h.Cluster, clusterErr = localcluster.Start(ctx, localcluster.Options{Dir: filepath.Join(opts.Dir, "cluster"), BinDir: binDir})
	})
	wg.Wait()
	if err := errors.Join(buildErr, etcdErr, clusterErr); err != nil {
		return nil, err
	}

	if err := h.Cluster.ApplyClusterviewRBAC(ctx); err != nil {
		return nil, fmt.Errorf("granting clusterview its RBAC: %w", err)
	}
	h.Admin = h.Cluster.AdminConfig()
	if h.Kube, err = kubernetes.NewForConfig(h.Admin); err != nil {
		return nil, err
	}
	if h.Client, err = clientset.NewForConfig(h.Admin); err != nil {
		return nil, err
	}

	ports, err := localcluster.FreePorts(2)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(opts.Dir, "replica-logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	_, _, servingCA := h.Cluster.ClusterviewServing()
	for i, name := range []string{"a", "b"} {
		// The flags of a deployment, on the shared etcd cluster.
		args := append(h.Cluster.ClusterviewFlags(""),
			"--secure-port="+strconv.Itoa(ports[i]),
			"--etcd-servers="+strings.Join(h.Etcd.Endpoints(), ","),
			// Level 1 logs k8s.io/apiserver's graceful-termination steps.
			"--v=1",
		)
		args = append(args, opts.ReplicaFlags...)
		direct := rest.CopyConfig(h.Admin)
		direct.Host = "https://127.0.0.1:" + strconv.Itoa(ports[i])
		direct.CAData = servingCA
		r := newReplica(name, ports[i], bin, args, logDir, direct)
		if name == "a" {
			h.A = r
		} else {
			h.B = r
		}
		if err := r.Start(); err != nil {
			return nil, err
		}
	}
	if err := errors.Join(h.A.WaitReady(ctx, haStartTimeout), h.B.WaitReady(ctx, haStartTimeout)); err != nil {
		return nil, err
	}
	if err := h.Cluster.RegisterClusterview(ctx, h.A.Port); err != nil {
		return nil, fmt.Errorf("registering the APIService: %w", err)
	}
	if err := h.Cluster.WaitForClusterviewAvailable(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	if err := waitMerged(ctx, h.Client.Discovery().RESTClient()); err != nil {
		return nil, err
	}
	return h, nil
}

// Replicas returns A and B.
func (h *HA) Replicas() []*Replica { return []*Replica{h.A, h.B} }

// Other returns the replica that is not r.
func (h *HA) Other(r *Replica) *Replica {
	if r == h.A {
		return h.B
	}
	return h.A
}

// Lease reads the leader-election Lease.
func (h *HA) Lease(ctx context.Context) (*coordinationv1.Lease, error) {
	return h.Kube.CoordinationV1().Leases(h.LeaseNamespace).Get(ctx, h.LeaseName, metav1.GetOptions{})
}

// HolderOf maps a Lease holder identity to the running replica whose
// current process logged it as its own, or nil.
func (h *HA) HolderOf(identity string) *Replica {
	if identity == "" {
		return nil
	}
	for _, r := range h.Replicas() {
		if r.Running() && slices.Contains(r.LeaderIdentities(), identity) {
			return r
		}
	}
	return nil
}

// Leader polls until the Lease names a holder that is one of the running
// replicas and returns that replica and its identity.
func (h *HA) Leader(ctx context.Context, timeout time.Duration) (*Replica, string, error) {
	var leader *Replica
	var identity, last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		lease, err := h.Lease(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			last = "the Lease has no holder"
			return false, nil
		}
		identity = *lease.Spec.HolderIdentity
		leader = h.HolderOf(identity)
		if leader == nil {
			last = fmt.Sprintf("holder %q is not a running replica (yet)", identity)
		}
		return leader != nil, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("no replica leads: %w (last: %s)", err, last)
	}
	return leader, identity, nil
}

// Heal brings the deployment back to full strength after a test disrupted
// it: every etcd member and replica running and ready, the APIService
// Available. Tests call it in t.Cleanup so that one failure does not cascade.
func (h *HA) Heal(ctx context.Context) error {
	var errs []error
	for _, m := range h.Etcd.Members {
		if !m.Running() {
			errs = append(errs, m.Restart(ctx, 60*time.Second))
		}
	}
	errs = append(errs, h.Etcd.WaitHealthy(ctx, 60*time.Second))
	for _, r := range h.Replicas() {
		if !r.Running() {
			if err := r.Start(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, r.WaitReady(ctx, 90*time.Second))
	}
	errs = append(errs, h.Cluster.WaitForClusterviewAvailable(ctx, 90*time.Second))
	return errors.Join(errs...)
}

// APIServerRestart is what RestartKubeAPIServer observed.
type APIServerRestart struct {
	// Signalled is when the old process got the signal, Exited when it was
	// gone, Started when the new one was started and Ready when its /readyz
	// first answered 200.
	Signalled, Exited, Started, Ready time.Time
}

// RestartKubeAPIServer stops the running kube-apiserver with sig (SIGTERM
// for a graceful restart, SIGKILL for a crash) and starts it again with
// exactly the same command line: same port, certificates and etcd, so every
// client's credentials stay valid. localcluster.Stop/Start cannot do that:
// Start regenerates the PKI.
func (h *HA) RestartKubeAPIServer(ctx context.Context, sig syscall.Signal) (APIServerRestart, error) {
	var res APIServerRestart
	h.apiserverMu.Lock()
	defer h.apiserverMu.Unlock()

	old := h.apiserver
	if old == nil {
		old = h.Cluster.KubeAPIServer()
	}
	res.Signalled = time.Now()
	if err := old.Signal(sig); err != nil {
		return res, err
	}
	if !old.WaitExit(apiserverStopGrace) {
		return res, fmt.Errorf("kube-apiserver (pid %d) still running %v after %v", old.PID(), apiserverStopGrace, sig)
	}
	res.Exited = time.Now()

	h.apiserverRuns++
	opts := old.Options()
	opts.LogPath = filepath.Join(h.Cluster.Dir(), "logs", fmt.Sprintf("kube-apiserver.restart-%d.log", h.apiserverRuns))
	opts.AppendLog = false
	logPath := opts.LogPath
	p, err := localcluster.StartProcess(opts)
	if err != nil {
		return res, err
	}
	h.apiserver = p
	res.Started = time.Now()

	client, err := rest.HTTPClientFor(h.Admin)
	if err != nil {
		return res, err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, haStartTimeout, true, func(ctx context.Context) (bool, error) {
		if err := p.ExitError(); err != nil {
			return false, err
		}
		reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, h.Admin.Host+"/readyz", nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return res, fmt.Errorf("restarted kube-apiserver not ready: %w (last: %s); log %s:\n%s", err, last, logPath, localcluster.LogTail(logPath, 20))
	}
	res.Ready = time.Now()
	return res, nil
}

// Stop stops the replicas, then kube-apiserver and its etcd, then the etcd
// cluster: clients before servers, so that nothing waits on a dead peer.
func (h *HA) Stop() {
	var wg sync.WaitGroup
	for _, r := range []*Replica{h.A, h.B} {
		if r == nil {
			continue
		}
		wg.Go(func() {
			if err := r.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping replica %s: %v\n", r.Name, err)
			}
		})
	}
	wg.Wait()
	h.apiserverMu.Lock()
	if h.apiserver != nil {
		if err := stopGracefully(h.apiserver, apiserverStopGrace); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the restarted kube-apiserver: %v\n", err)
		}
	}
	h.apiserverMu.Unlock()
	if h.Cluster != nil {
		if err := h.Cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the control plane: %v\n", err)
		}
	}
	if h.Etcd != nil {
		h.Etcd.Stop()
	}
}
