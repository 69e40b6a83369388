package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/localcluster/pki"
)

// The resource metrics pipeline that Options.Usage adds: kwok plays the kubelets of
// the nodes labelled SimulatedKubeletLabel and serves each one's /metrics/resource
// over TLS, metrics-server scrapes those endpoints like a kubelet's and serves
// metrics.k8s.io/v1beta1 behind the aggregator as the APIService
// MetricsAPIServiceName, so that `kubectl top` and clusterview's usage read real
// NodeMetrics and PodMetrics.
const (
	// SimulatedKubeletLabel, with the value "true", marks the nodes whose kubelet kwok
	// plays (SimulateKubelet sets it). Only those nodes have resource metrics.
	SimulatedKubeletLabel = "clusterview.io/simulated-kubelet"
	// UsageCPUAnnotation and UsageMemoryAnnotation on a pod bound to a simulated node
	// are the CPU and memory each of its containers uses, as quantities ("250m",
	// "300Mi"). kwok reports them; a pod without both uses nothing, and metrics-server
	// then has no PodMetrics for it. Changing an annotation changes the usage.
	UsageCPUAnnotation    = "clusterview.io/simulated-usage-cpu"
	UsageMemoryAnnotation = "clusterview.io/simulated-usage-memory"

	// resourceMetricsPathAnnotation tells metrics-server where a node's kubelet serves
	// its resource metrics; kwok serves every node's under one address.
	resourceMetricsPathAnnotation = "metrics.k8s.io/resource-metrics-path"
	kwokMetricsPathPattern        = "/metrics/nodes/{nodeName}/metrics/resource"

	// MetricsServerNamespace and MetricsServerService name the ExternalName Service
	// the metrics APIService points at, where a cluster's add-on would run.
	MetricsServerNamespace = metav1.NamespaceSystem
	MetricsServerService   = "metrics-server"
	// MetricsServerUser is the user name in metrics-server's client certificate.
	MetricsServerUser = "metrics-server"
	// MetricsServerClusterRole grants metrics-server what it reads.
	MetricsServerClusterRole = "localcluster:metrics-server"
	// MetricsAPIServiceName is the resource metrics API's APIService.
	MetricsAPIServiceName = "v1beta1.metrics.k8s.io"

	// DefaultMetricResolution is metrics-server's smallest --metric-resolution.
	DefaultMetricResolution = 10 * time.Second
)

// metricsAPI is metrics.k8s.io/v1beta1 with the priorities metrics-server's own
// manifests register it with.
var metricsAPI = aggregatedAPI{
	group: "metrics.k8s.io", version: "v1beta1", namespace: MetricsServerNamespace, service: MetricsServerService,
	groupPriorityMinimum: 100, versionPriority: 100,
}

// SimulateKubelet marks node as one whose kubelet kwok plays: the label kwok and
// metrics-server select on, the annotation pointing metrics-server at kwok's path for
// this node, and the InternalIP 127.0.0.1 where kwok listens. kwok never writes the
// node's status, so its conditions stay what their writer made them. Call it on a
// node before creating it.
func SimulateKubelet(node *corev1.Node) {
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Labels[SimulatedKubeletLabel] = "true"
	if node.Annotations == nil {
		node.Annotations = map[string]string{}
	}
	node.Annotations[resourceMetricsPathAnnotation] = strings.ReplaceAll(kwokMetricsPathPattern, "{nodeName}", node.Name)
	addresses := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			addresses = append(addresses, a)
		}
	}
	node.Status.Addresses = addresses
}

// usagePKI is the credentials of the resource metrics pipeline.
type usagePKI struct {
	// kubeletCA signs kwok's serving certificate; metrics-server trusts only it
	// (--kubelet-certificate-authority).
	kubeletCA *pki.CA
	// metricsServingCA signs metrics-server's serving certificate; its PEM is the
	// metrics APIService's caBundle.
	metricsServingCA *pki.CA

	kubeletCACert           string
	kwokCert, kwokKey       string
	metricsCert, metricsKey string
	metricsKubeconfig       string
}

func (c *Cluster) writeUsagePKI() (*usagePKI, error) {
	dir := filepath.Join(c.dir, "pki")
	u := &usagePKI{}
	var err error
	if u.kubeletCA, err = pki.NewCA("localcluster-kubelet-ca"); err != nil {
		return nil, err
	}
	if u.metricsServingCA, err = pki.NewCA("metrics-server-serving-ca"); err != nil {
		return nil, err
	}
	u.kubeletCACert = filepath.Join(dir, "kubelet-ca.crt")
	if err := pki.WriteFile(u.kubeletCACert, u.kubeletCA.CertPEM, false); err != nil {
		return nil, err
	}
	// metrics-server dials the node's InternalIP, 127.0.0.1.
	kwokServing, err := u.kubeletCA.NewServingCert(pki.ServingOptions{CommonName: "kwok", DNSNames: []string{"localhost"}, IPs: loopbackIPs})
	if err != nil {
		return nil, err
	}
	if u.kwokCert, u.kwokKey, err = kwokServing.WriteFiles(dir, "kwok-serving"); err != nil {
		return nil, err
	}
	svc := MetricsServerService + "." + MetricsServerNamespace
	metricsServing, err := u.metricsServingCA.NewServingCert(pki.ServingOptions{
		CommonName: MetricsServerService,
		DNSNames:   []string{svc + ".svc", svc + ".svc.cluster.local", svc, "localhost"},
		IPs:        loopbackIPs,
	})
	if err != nil {
		return nil, err
	}
	if u.metricsCert, u.metricsKey, err = metricsServing.WriteFiles(dir, "metrics-server-serving"); err != nil {
		return nil, err
	}
	metricsClient, err := c.pki.mintClient(MetricsServerUser)
	if err != nil {
		return nil, err
	}
	u.metricsKubeconfig = filepath.Join(c.dir, "metrics-server.kubeconfig")
	if err := writeKubeconfig(u.metricsKubeconfig, MetricsServerUser,
		restConfigFor(c.host, c.pki.ca.CertPEM, metricsClient.CertPEM, metricsClient.KeyPEM)); err != nil {
		return nil, err
	}
	return u, nil
}

// startUsage starts kwok and metrics-server, grants metrics-server its RBAC and
// registers it, and waits until the aggregator reports the APIService Available.
func (c *Cluster) startUsage(ctx context.Context) error {
	var err error
	if c.usage, err = c.writeUsagePKI(); err != nil {
		return fmt.Errorf("generating the metrics pipeline's PKI: %w", err)
	}
	if err := c.startKwok(ctx); err != nil {
		return err
	}
	if err := applyMetricsServerRBAC(ctx, c.adminConfig); err != nil {
		return err
	}
	if err := c.startMetricsServer(ctx); err != nil {
		return err
	}
	if err := c.RegisterMetricsServer(ctx); err != nil {
		return err
	}
	return waitForAPIServiceAvailable(ctx, c.adminConfig, MetricsAPIServiceName, c.opts.StartTimeout)
}

// noLifecycle is a kwok Stage for kind that selects nothing.
func noLifecycle(kind string) map[string]any {
	return map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage",
		"metadata": map[string]any{"name": "no-" + strings.ToLower(kind) + "-lifecycle"},
		"spec": map[string]any{
			"resourceRef": map[string]any{"apiGroup": "v1", "kind": kind},
			"selector":    map[string]any{"matchLabels": map[string]string{SimulatedKubeletLabel + "-stage": "none"}},
		},
	}
}

// kwokConfig is kwok's --config: what the simulated kubelets serve, and nothing that
// would make kwok write node or pod statuses.
func kwokConfig() ([]byte, error) {
	const apiVersion = "kwok.x-k8s.io/v1alpha1"
	usageOf := func(annotation string) string {
		return fmt.Sprintf(`has(pod.metadata.annotations) && %q in pod.metadata.annotations ? Quantity(pod.metadata.annotations[%q]) : Quantity("0")`,
			annotation, annotation)
	}
	containerLabels := []map[string]string{
		{"name": "container", "value": "container.name"},
		{"name": "namespace", "value": "pod.metadata.namespace"},
		{"name": "pod", "value": "pod.metadata.name"},
	}
	docs := []map[string]any{
		// kwok refuses to run without a Stage, and every Stage it matches changes
		// objects. These select no pod and no node, so kwok plays no lifecycle:
		// statuses stay whatever their writers (tests, the demo) made them. The node
		// Stage is needed all the same: without one nothing drains kwok's node
		// events, and its node cache stops after the first node or two.
		noLifecycle("Pod"),
		noLifecycle("Node"),
		// The series metrics-server reads from a kubelet's /metrics/resource. CPU is a
		// counter that kwok integrates from the current usage between scrapes.
		{
			"apiVersion": apiVersion, "kind": "Metric",
			"metadata": map[string]any{"name": "resource-metrics"},
			"spec": map[string]any{
				"path": kwokMetricsPathPattern,
				"metrics": []map[string]any{
					{"name": "node_cpu_usage_seconds_total", "dimension": "node", "kind": "counter", "value": `node.CumulativeUsage("cpu")`},
					{"name": "node_memory_working_set_bytes", "dimension": "node", "kind": "gauge", "value": `node.Usage("memory")`},
					{"name": "container_cpu_usage_seconds_total", "dimension": "container", "kind": "counter",
						"labels": containerLabels, "value": `pod.CumulativeUsage("cpu", container.name)`},
					{"name": "container_memory_working_set_bytes", "dimension": "container", "kind": "gauge",
						"labels": containerLabels, "value": `pod.Usage("memory", container.name)`},
				},
			},
		},
		// Every container of a simulated node's pod uses what its pod's annotations say.
		{
			"apiVersion": apiVersion, "kind": "ClusterResourceUsage",
			"metadata": map[string]any{"name": "usage-from-annotations"},
			"spec": map[string]any{
				"usages": []map[string]any{{"usage": map[string]any{
					"cpu":    map[string]string{"expression": usageOf(UsageCPUAnnotation)},
					"memory": map[string]string{"expression": usageOf(UsageMemoryAnnotation)},
				}}},
			},
		},
	}
	var out []byte
	for i, doc := range docs {
		data, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("encoding kwok's configuration: %w", err)
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(append(out, data...), '\n')
	}
	return out, nil
}

func (c *Cluster) startKwok(ctx context.Context) error {
	dir := filepath.Join(c.dir, "kwok")
	// kwok also reads ~/.kwok; a home of its own keeps a developer's configuration
	// out of the cluster.
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("creating kwok's directory: %w", err)
	}
	conf, err := kwokConfig()
	if err != nil {
		return err
	}
	confPath := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return fmt.Errorf("writing kwok's configuration: %w", err)
	}
	client, err := c.tlsClient(c.usage.kubeletCA.CertPEM)
	if err != nil {
		return err
	}
	p, port, err := c.startServing(ctx, "kwok", client, "/healthz", func(port int) ProcessOptions {
		opts := c.processOptions("kwok", kwokBinary, []string{
			// The simulated kubelets act for the cluster's operator: they only read
			// nodes and pods, and serve metrics.
			"--kubeconfig=" + c.adminKubeconfig,
			"--config=" + confPath,
			"--manage-nodes-with-label-selector=" + SimulatedKubeletLabel + "=true",
			// No leases: kwok would otherwise heartbeat the nodes and own their
			// readiness.
			"--node-lease-duration-seconds=0",
			"--server-address=" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			"--tls-cert-file=" + c.usage.kwokCert,
			"--tls-private-key-file=" + c.usage.kwokKey,
		})
		opts.Env = []string{"HOME=" + home}
		return opts
	})
	if err != nil {
		return err
	}
	c.kwok, c.kwokPort = p, port
	return nil
}

func (c *Cluster) startMetricsServer(ctx context.Context) error {
	client, err := c.tlsClient(c.usage.metricsServingCA.CertPEM)
	if err != nil {
		return err
	}
	resolution := c.opts.MetricResolution
	p, port, err := c.startServing(ctx, "metrics-server", client, "/livez", func(port int) ProcessOptions {
		return c.processOptions("metrics-server", metricsServerBinary, []string{
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + c.usage.metricsCert,
			"--tls-private-key-file=" + c.usage.metricsKey,
			"--kubeconfig=" + c.usage.metricsKubeconfig,
			"--authentication-kubeconfig=" + c.usage.metricsKubeconfig,
			"--authorization-kubeconfig=" + c.usage.metricsKubeconfig,
			"--metric-resolution=" + resolution.String(),
			// A scrape must end well within one resolution (metrics-server checks).
			"--kubelet-request-timeout=" + (resolution / 2).String(),
			// kwok serves every simulated node on one port of 127.0.0.1, the nodes'
			// InternalIP, with a certificate from the kubelet CA.
			"--kubelet-port=" + strconv.Itoa(c.kwokPort),
			"--kubelet-preferred-address-types=" + string(corev1.NodeInternalIP),
			"--kubelet-certificate-authority=" + c.usage.kubeletCACert,
			"--node-selector=" + SimulatedKubeletLabel + "=true",
		})
	})
	if err != nil {
		return err
	}
	c.metricsServer, c.metricsServerPort = p, port
	return nil
}

// startServing starts a process serving HTTPS on a free loopback port, see
// startOnFreePorts, and waits until GET path through client answers 200.
func (c *Cluster) startServing(ctx context.Context, name string, client *http.Client, path string, opts func(port int) ProcessOptions) (*Process, int, error) {
	p, ports, err := c.startOnFreePorts(ctx, name, 1, nil, func(ports []int) (*Process, error) {
		return StartProcess(opts(ports[0]))
	}, func(ctx context.Context, ports []int) error { return httpsOK(ctx, client, ports[0], path) })
	if err != nil {
		return nil, 0, err
	}
	return p, ports[0], nil
}

// tlsClient is an HTTPS client trusting only caPEM.
func (c *Cluster) tlsClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in CA PEM")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// httpsOK checks that GET https://127.0.0.1:port/path answers 200.
func httpsOK(ctx context.Context, client *http.Client, port int, path string) error {
	url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// applyMetricsServerRBAC grants MetricsServerUser what metrics-server needs: reading
// nodes and pods (and the kubelets' metrics), delegating authentication and
// authorization, and reading the request-header CAs.
func applyMetricsServerRBAC(ctx context.Context, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	subject := rbacv1ac.Subject().WithKind(rbacv1.UserKind).WithAPIGroup(rbacv1.GroupName).WithName(MetricsServerUser)
	role := rbacv1ac.ClusterRole(MetricsServerClusterRole).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("nodes/metrics").WithVerbs("get"),
		rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("nodes", "pods").WithVerbs(readVerbs...),
	)
	if _, err := client.RbacV1().ClusterRoles().Apply(ctx, role, apply); err != nil {
		return fmt.Errorf("applying clusterrole %s: %w", MetricsServerClusterRole, err)
	}
	for name, clusterRole := range map[string]string{
		MetricsServerClusterRole:                MetricsServerClusterRole,
		MetricsServerClusterRole + ":delegator": "system:auth-delegator",
	} {
		crb := rbacv1ac.ClusterRoleBinding(name).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(clusterRole)).
			WithSubjects(subject)
		if _, err := client.RbacV1().ClusterRoleBindings().Apply(ctx, crb, apply); err != nil {
			return fmt.Errorf("applying clusterrolebinding %s: %w", name, err)
		}
	}
	rb := rbacv1ac.RoleBinding(MetricsServerClusterRole+":authentication-reader", metav1.NamespaceSystem).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName("extension-apiserver-authentication-reader")).
		WithSubjects(subject)
	if _, err := client.RbacV1().RoleBindings(metav1.NamespaceSystem).Apply(ctx, rb, apply); err != nil {
		return fmt.Errorf("applying rolebinding %s/%s: %w", metav1.NamespaceSystem, *rb.Name, err)
	}
	return nil
}

// RegisterMetricsServer (re-)registers the APIService MetricsAPIServiceName for the
// metrics-server that Options.Usage started, with its serving CA as caBundle; a test
// that deleted the APIService restores it with this.
func (c *Cluster) RegisterMetricsServer(ctx context.Context) error {
	if c.metricsServer == nil {
		return fmt.Errorf("no metrics-server: the cluster was started without Options.Usage")
	}
	return registerAPIService(ctx, c.adminConfig, metricsAPI, c.metricsServerPort, c.usage.metricsServingCA.CertPEM)
}

// WaitForMetricsAvailable waits until the APIService MetricsAPIServiceName is
// Available; see WaitForAPIServiceAvailable.
func (c *Cluster) WaitForMetricsAvailable(ctx context.Context, timeout time.Duration) error {
	return waitForAPIServiceAvailable(ctx, c.adminConfig, MetricsAPIServiceName, timeout)
}

// MetricsServer returns the running metrics-server (nil without Options.Usage), e.g.
// to pause it with SIGSTOP.
func (c *Cluster) MetricsServer() *Process { return c.metricsServer }

// Kwok returns the running kwok, the simulated kubelets (nil without Options.Usage).
func (c *Cluster) Kwok() *Process { return c.kwok }

// StartUsage starts the resource metrics pipeline (kwok and metrics-server, see
// Options.Usage) on a cluster started without it, and returns once its APIService is
// Available. A caller that fills the cluster first, such as the scale benchmark,
// keeps the two processes out of the load that way.
func (c *Cluster) StartUsage(ctx context.Context) error {
	if c.metricsServer != nil || c.kwok != nil {
		return fmt.Errorf("the resource metrics pipeline is already running")
	}
	if err := checkBinaries(c.binDir, usageBinaries...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	return c.startUsage(ctx)
}

// StopUsage unregisters the resource metrics API and stops metrics-server and
// kwok, so that discovery clients such as kubectl do not report an
// unavailable group; StartUsage can start them again. The scale benchmark
// frees their memory this way (GiBs at 150,000 pods) before the peers that
// need it.
func (c *Cluster) StopUsage(ctx context.Context) error {
	if c.metricsServer == nil && c.kwok == nil {
		return fmt.Errorf("the resource metrics pipeline is not running")
	}
	errs := []error{unregisterAPIService(ctx, c.adminConfig, MetricsAPIServiceName)}
	// metrics-server first: it scrapes kwok. A process that did not stop
	// stays, for Stop to try again.
	for _, p := range []**Process{&c.metricsServer, &c.kwok} {
		if *p == nil {
			continue
		}
		if err := (*p).Stop(c.opts.StopTimeout); err != nil {
			errs = append(errs, err)
			continue
		}
		*p = nil
	}
	return errors.Join(errs...)
}
