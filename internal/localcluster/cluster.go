package localcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

const (
	defaultStartTimeout = 2 * time.Minute
	defaultStopTimeout  = 20 * time.Second
	pollInterval        = 200 * time.Millisecond
	// probeTimeout bounds a single readiness request, so one hung request cannot eat
	// the whole start timeout.
	probeTimeout = 5 * time.Second
	// portAttempts is how often a start is retried when a freshly picked port was
	// taken by someone else before the child bound it.
	portAttempts = 3
)

// Options configures Start.
type Options struct {
	// Dir holds all cluster state: pki/, etcd/ (data), logs/ and kubeconfig files. It
	// is created if needed. Credentials are regenerated on every Start, while existing
	// etcd data is reused, so a cluster can be restarted with its objects; remove Dir
	// for a clean one. Empty means a new temporary directory that Stop deletes.
	Dir string
	// BinDir holds etcd, kube-apiserver and kubectl. Empty means DefaultBinDir().
	BinDir string
	// Logger receives progress and failure messages. The zero value means the logger
	// in Start's context (klog.FromContext).
	Logger klog.Logger
	// APIServerPort fixes kube-apiserver's port on 127.0.0.1; zero picks a free one.
	APIServerPort int
	// StartTimeout bounds waiting for etcd and kube-apiserver to become ready.
	// Zero means 2 minutes.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits for each process after SIGTERM before
	// sending SIGKILL. Zero means 20 seconds.
	StopTimeout time.Duration
	// Usage also starts the resource metrics pipeline: kwok playing the kubelets of
	// the nodes SimulateKubelet marks, and metrics-server scraping them behind the
	// APIService MetricsAPIServiceName (see usage.go). Start returns once that
	// APIService is Available; NodeMetrics and PodMetrics appear two metric
	// resolutions after pods with usage exist.
	Usage bool
	// MetricResolution is metrics-server's --metric-resolution with Usage. Zero means
	// DefaultMetricResolution, its minimum.
	MetricResolution time.Duration
	// ExtraAPIServerArgs are appended to kube-apiserver's command line. For
	// single-valued flags the last occurrence wins, so they can override defaults.
	ExtraAPIServerArgs []string
}

// Cluster is a running local control plane. Its methods are safe for concurrent use.
type Cluster struct {
	dir     string
	ownsDir bool
	binDir  string
	logger  klog.Logger
	opts    Options

	pki       *clusterPKI
	etcd      *Process
	apiserver *Process
	etcdURL   string
	host      string

	// The resource metrics pipeline, with Options.Usage.
	usage             *usagePKI
	kwok              *Process
	kwokPort          int
	metricsServer     *Process
	metricsServerPort int

	adminConfig           *rest.Config
	clusterviewConfig     *rest.Config
	adminKubeconfig       string
	clusterviewKubeconfig string

	// usersMu serializes UserKubeconfig, whose calls for the same user and groups
	// write the same file.
	usersMu sync.Mutex

	stopOnce sync.Once
	stopErr  error
}

// Start generates credentials, starts etcd and kube-apiserver on loopback, waits
// until kube-apiserver is ready (including the kube-system objects aggregated API
// servers read at startup) and writes the admin and clusterview kubeconfigs. ctx
// bounds startup only. On error everything started so far is stopped again.
func Start(ctx context.Context, opts Options) (_ *Cluster, retErr error) {
	c := &Cluster{opts: opts, logger: opts.Logger}
	if c.logger.GetSink() == nil {
		c.logger = klog.FromContext(ctx)
	}
	c.logger = c.logger.WithName("localcluster")
	if c.opts.StartTimeout <= 0 {
		c.opts.StartTimeout = defaultStartTimeout
	}
	if c.opts.StopTimeout <= 0 {
		c.opts.StopTimeout = defaultStopTimeout
	}
	if c.opts.MetricResolution <= 0 {
		c.opts.MetricResolution = DefaultMetricResolution
	}

	var err error
	c.binDir = opts.BinDir
	if c.binDir == "" {
		if c.binDir, err = DefaultBinDir(); err != nil {
			return nil, err
		}
	}
	if c.binDir, err = filepath.Abs(c.binDir); err != nil {
		return nil, fmt.Errorf("resolving binary directory: %w", err)
	}
	needed := controlPlaneBinaries
	if opts.Usage {
		needed = slices.Concat(controlPlaneBinaries, usageBinaries)
	}
	if err := checkBinaries(c.binDir, needed...); err != nil {
		return nil, err
	}

	c.dir = opts.Dir
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "localcluster-"); err != nil {
			return nil, fmt.Errorf("creating cluster directory: %w", err)
		}
		c.ownsDir = true
	}
	if c.dir, err = filepath.Abs(c.dir); err != nil {
		return nil, fmt.Errorf("resolving cluster directory: %w", err)
	}
	for _, sub := range []string{"pki", "logs", "etcd"} {
		// 0700: etcd refuses looser data-dir permissions, and pki holds keys.
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("creating cluster directory: %w", err)
		}
	}

	defer func() {
		if retErr != nil {
			if err := c.Stop(); err != nil {
				c.logger.Error(err, "Cleaning up after failed start")
			}
		}
	}()

	if c.pki, err = newClusterPKI(); err != nil {
		return nil, fmt.Errorf("generating PKI: %w", err)
	}
	if err := c.pki.write(filepath.Join(c.dir, "pki")); err != nil {
		return nil, fmt.Errorf("writing PKI: %w", err)
	}

	startCtx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	began := time.Now()
	if err := c.startEtcd(startCtx); err != nil {
		return nil, err
	}
	if err := c.startAPIServer(startCtx); err != nil {
		return nil, err
	}

	c.adminKubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	if err := writeKubeconfig(c.adminKubeconfig, AdminUser, c.adminConfig); err != nil {
		return nil, err
	}
	c.clusterviewConfig = restConfigFor(c.host, c.pki.ca.CertPEM, c.pki.clusterviewClient.CertPEM, c.pki.clusterviewClient.KeyPEM)
	c.clusterviewKubeconfig = filepath.Join(c.dir, "clusterview.kubeconfig")
	if err := writeKubeconfig(c.clusterviewKubeconfig, ClusterviewUser, c.clusterviewConfig); err != nil {
		return nil, err
	}
	if c.opts.Usage {
		if err := c.startUsage(startCtx); err != nil {
			return nil, err
		}
	}
	c.logger.Info("Local control plane ready", "apiserver", c.host, "etcd", c.etcdURL,
		"dir", c.dir, "kubeconfig", c.adminKubeconfig, "took", time.Since(began).Round(time.Millisecond))
	return c, nil
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	url := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	p, ports, err := c.startOnFreePorts(ctx, "etcd", 2, nil, func(ports []int) (*Process, error) {
		clientURL, peerURL := url(ports[0]), url(ports[1])
		// Existing data from an earlier run keeps working although its member was
		// announced on other ports: a single member never talks to its peers.
		return StartProcess(c.processOptions("etcd", etcdBinary, []string{
			"--name=localcluster",
			"--data-dir=" + filepath.Join(c.dir, "etcd"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=localcluster=" + peerURL,
			// The data is disposable; skipping fsync makes every write and therefore
			// every test noticeably faster.
			"--unsafe-no-fsync",
		}))
	}, func(ctx context.Context, ports []int) error { return etcdHealthy(ctx, url(ports[0])) })
	if err != nil {
		return err
	}
	c.etcd, c.etcdURL = p, url(ports[0])
	return nil
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	var fixed []int
	if c.opts.APIServerPort != 0 {
		fixed = []int{c.opts.APIServerPort}
	}
	var client kubernetes.Interface
	p, _, err := c.startOnFreePorts(ctx, "kube-apiserver", 1, fixed, func(ports []int) (*Process, error) {
		c.host = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		c.adminConfig = restConfigFor(c.host, c.pki.ca.CertPEM, c.pki.admin.CertPEM, c.pki.admin.KeyPEM)
		var err error
		if client, err = kubernetes.NewForConfig(pollingConfig(c.adminConfig)); err != nil {
			return nil, fmt.Errorf("creating admin client: %w", err)
		}
		return StartProcess(c.processOptions("kube-apiserver", apiserverBinary, c.apiserverArgs(ports[0])))
	}, func(ctx context.Context, _ []int) error { return apiserverReady(ctx, client) })
	if err != nil {
		return err
	}
	c.apiserver = p
	return nil
}

// processOptions runs binary from the binary directory as name, appending
// to the log file LogFiles names.
func (c *Cluster) processOptions(name, binary string, args []string) ProcessOptions {
	return ProcessOptions{Name: name, Path: filepath.Join(c.binDir, binary), Args: args,
		LogPath: filepath.Join(c.dir, "logs", name+".log"), AppendLog: true, Logger: c.logger}
}

// startOnFreePorts starts a process on n free loopback ports (on fixed
// instead, when set) and waits until ready answers. start runs the process
// for the ports. When it lost a race for a port (someone else bound it
// between FreePorts and the child's bind), it starts again on other ports,
// up to portAttempts times; never on fixed ports.
func (c *Cluster) startOnFreePorts(ctx context.Context, name string, n int, fixed []int,
	start func(ports []int) (*Process, error), ready func(ctx context.Context, ports []int) error,
) (*Process, []int, error) {
	for attempt := 1; ; attempt++ {
		ports := fixed
		if ports == nil {
			var err error
			if ports, err = FreePorts(n); err != nil {
				return nil, nil, err
			}
		}
		p, err := start(ports)
		if err != nil {
			return nil, nil, err
		}
		err = waitFor(ctx, p, name, func(ctx context.Context) error { return ready(ctx, ports) })
		if err == nil {
			return p, ports, nil
		}
		_ = p.Stop(c.opts.StopTimeout)
		if fixed == nil && attempt < portAttempts && ctx.Err() == nil && strings.Contains(p.LogTail(50), "address already in use") {
			c.logger.Info("Lost a port race, retrying with other ports", "process", name, "attempt", attempt)
			continue
		}
		return nil, nil, err
	}
}

// apiserverArgs is kube-apiserver's command line; see the package documentation for
// why each unusual flag is there.
func (c *Cluster) apiserverArgs(port int) []string {
	f := c.pki.files
	args := []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		// With the default endpoint reconciler kube-apiserver refuses a loopback
		// advertise address; "none" skips maintaining the kubernetes Endpoints, which
		// nothing here consumes.
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--etcd-servers=" + c.etcdURL,
		"--authorization-mode=Node,RBAC",
		"--client-ca-file=" + f.caCert,
		"--tls-cert-file=" + f.apiserverCert,
		"--tls-private-key-file=" + f.apiserverKey,
		// The aggregator authenticates to aggregated servers with this certificate and
		// passes the user in these headers; both land in the
		// kube-system/extension-apiserver-authentication ConfigMap they read.
		"--requestheader-client-ca-file=" + f.frontProxyCACert,
		"--requestheader-allowed-names=" + FrontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + f.frontProxyClientCert,
		"--proxy-client-key-file=" + f.frontProxyClientKey,
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + f.serviceAccountPub,
		"--service-account-signing-key-file=" + f.serviceAccountKey,
		// Required, but nothing is ever routed there.
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		// Without kube-controller-manager no namespace ever gets its "default"
		// ServiceAccount, and this plugin would then reject every Pod.
		"--disable-admission-plugins=ServiceAccount",
	}
	return append(args, c.opts.ExtraAPIServerArgs...)
}

// waitFor polls check until it succeeds, the process exits or ctx ends. Errors
// include the last check failure and the tail of the process log.
func waitFor(ctx context.Context, p *Process, what string, check func(context.Context) error) error {
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if err := p.ExitError(); err != nil {
			return false, err
		}
		probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		err := check(probeCtx)
		if err != nil && ctx.Err() != nil {
			// Cut short by the overall deadline: keep the previous, meaningful failure.
			return false, nil
		}
		lastErr = err
		return err == nil, nil
	})
	if err == nil {
		return nil
	}
	if exitErr := p.ExitError(); exitErr != nil {
		return exitErr
	}
	return fmt.Errorf("waiting for %s to become ready: %w (last check: %v); last lines of %s:\n%s",
		what, err, lastErr, p.Options().LogPath, p.LogTail(30))
}

func etcdHealthy(ctx context.Context, clientURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("etcd /health: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// apiserverReady checks /readyz and then the objects aggregated API servers need at
// startup, which kube-apiserver creates in post-start hooks that /readyz does not
// cover: the kube-system namespace and the extension-apiserver-authentication
// ConfigMap holding the client and request-header CAs.
func apiserverReady(ctx context.Context, client kubernetes.Interface) error {
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("/readyz: %w: %s", err, failingChecks(body))
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", metav1.NamespaceSystem, err)
	}
	if _, err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("configmap %s/extension-apiserver-authentication: %w", metav1.NamespaceSystem, err)
	}
	return nil
}

// failingChecks extracts the "[-]..." lines of a verbose /readyz answer.
func failingChecks(body []byte) string {
	var failing []string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "[-]") {
			failing = append(failing, strings.TrimSpace(line))
		}
	}
	return strings.Join(failing, "; ")
}

// FreePorts returns n distinct loopback ports that were free a moment ago. All
// listeners stay open until every port is chosen, so the kernel cannot hand out the
// same port twice; a later race with another process is handled by retrying.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		// Held open until every port is picked, so that no two are the same;
		// a failed close of an unused listener changes nothing.
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Stop terminates kube-apiserver and then etcd (SIGTERM, then SIGKILL after
// Options.StopTimeout) and removes the cluster directory if Start created it. Stop
// clients such as clusterview first. It is idempotent and returns the first call's
// result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		// metrics-server and kwok first, as clients of kube-apiserver; kube-apiserver
		// before etcd: stopped after etcd, it would spend its shutdown retrying storage
		// instead of exiting.
		for _, p := range []*Process{c.metricsServer, c.kwok, c.apiserver, c.etcd} {
			if p == nil {
				continue
			}
			if err := p.Stop(c.opts.StopTimeout); err != nil {
				errs = append(errs, err)
			}
		}
		if c.ownsDir {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, fmt.Errorf("removing cluster directory: %w", err))
			}
		}
		c.stopErr = errors.Join(errs...)
		c.logger.V(1).Info("Local control plane stopped", "dir", c.dir, "err", c.stopErr)
	})
	return c.stopErr
}

// Dir is the cluster directory.
func (c *Cluster) Dir() string { return c.dir }

// Host is kube-apiserver's URL, https://127.0.0.1:<port>.
func (c *Cluster) Host() string { return c.host }

// EtcdURL is etcd's plain-HTTP client URL on loopback.
func (c *Cluster) EtcdURL() string { return c.etcdURL }

// CAPEM is the cluster CA certificate: it signed kube-apiserver's serving certificate
// and every client certificate kube-apiserver accepts.
func (c *Cluster) CAPEM() []byte { return append([]byte(nil), c.pki.ca.CertPEM...) }

// AdminConfig returns a new client configuration for the system:masters admin.
func (c *Cluster) AdminConfig() *rest.Config { return rest.CopyConfig(c.adminConfig) }

// AdminKubeconfig is the path of the admin kubeconfig file.
func (c *Cluster) AdminKubeconfig() string { return c.adminKubeconfig }

// ClusterviewConfig returns a new client configuration for clusterview's identity,
// ClusterviewUser. It has only the rights ApplyClusterviewRBAC grants.
func (c *Cluster) ClusterviewConfig() *rest.Config { return rest.CopyConfig(c.clusterviewConfig) }

// ClusterviewKubeconfig is the path of a kubeconfig file for clusterview's identity.
func (c *Cluster) ClusterviewKubeconfig() string { return c.clusterviewKubeconfig }

// ClusterviewServing returns clusterview's serving certificate and key files and the
// PEM of the CA that signed them, which is the APIService caBundle. The certificate
// covers ClusterviewServingDNSNames, 127.0.0.1 and ::1.
func (c *Cluster) ClusterviewServing() (certFile, keyFile string, caPEM []byte) {
	f := c.pki.files
	return f.clusterviewServingCert, f.clusterviewServingKey, append([]byte(nil), c.pki.clusterviewServingCA.CertPEM...)
}

// UserConfig returns a client configuration authenticating as user in groups, with a
// freshly minted client certificate. Kubernetes adds system:authenticated itself; pass
// "system:masters" for an administrator.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	ck, err := c.pki.mintClient(user, groups...)
	if err != nil {
		return nil, err
	}
	return restConfigFor(c.host, c.pki.ca.CertPEM, ck.CertPEM, ck.KeyPEM), nil
}

// FrontProxyClientCert mints a client certificate named commonName from the
// front-proxy CA, the CA kube-apiserver's aggregator proves itself with. Only
// FrontProxyClientName is in --requestheader-allowed-names, so security tests
// use it to show that the name, not only the CA, is checked.
func (c *Cluster) FrontProxyClientCert(commonName string) (certPEM, keyPEM []byte, err error) {
	ck, err := c.pki.frontProxyCA.NewClientCert(commonName)
	if err != nil {
		return nil, nil, fmt.Errorf("minting front-proxy client certificate %q: %w", commonName, err)
	}
	return ck.CertPEM, ck.KeyPEM, nil
}

// UserKubeconfig writes a kubeconfig for user in groups under <Dir>/users/ and returns
// its path, e.g. to run kubectl as an unprivileged user.
func (c *Cluster) UserKubeconfig(user string, groups ...string) (string, error) {
	cfg, err := c.UserConfig(user, groups...)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, "users", userFileName(user, groups)+".kubeconfig")
	c.usersMu.Lock()
	defer c.usersMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating users directory: %w", err)
	}
	if err := writeKubeconfig(path, user, cfg); err != nil {
		return "", err
	}
	return path, nil
}

// userFileName turns user and groups into a readable, unique file name: user names
// such as system:serviceaccount:ns:name contain characters best kept out of paths.
func userFileName(user string, groups []string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		default:
			return '_'
		}
	}, user)
	sum := sha256.Sum256([]byte(user + "\x00" + strings.Join(groups, "\x00")))
	return safe + "-" + hex.EncodeToString(sum[:4])
}

// KubectlPath is the path of the kubectl binary built alongside the control plane.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.binDir, kubectlBinary) }

// Kubectl returns a kubectl command running as the admin; pass --kubeconfig with a
// UserKubeconfig path to act as someone else.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.KubectlPath(), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.adminKubeconfig)
	return cmd
}

// LogFiles maps each process name ("etcd", "kube-apiserver", and with Options.Usage
// "kwok" and "metrics-server") to its log file.
func (c *Cluster) LogFiles() map[string]string {
	names := []string{"etcd", "kube-apiserver"}
	if c.opts.Usage {
		names = append(names, "kwok", "metrics-server")
	}
	files := make(map[string]string, len(names))
	for _, name := range names {
		files[name] = filepath.Join(c.dir, "logs", name+".log")
	}
	return files
}

// KubeAPIServer returns the running kube-apiserver process (nil before Start
// succeeds), for callers that measure it or restart it with the same
// command line (Process.Options).
func (c *Cluster) KubeAPIServer() *Process { return c.apiserver }

// Etcd returns the running etcd process (nil before Start succeeds).
func (c *Cluster) Etcd() *Process { return c.etcd }
