package localcluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/localcluster/pki"
)

const (
	// externalName is where the aggregator dials clusterview: localhost resolves on
	// the host itself, where kube-apiserver runs, without any cluster networking.
	externalName = "localhost"

	groupPriorityMinimum int64 = 1000
	versionPriority      int64 = 15
)

// apiServiceGVR is addressed through the dynamic client so that this package does not
// need k8s.io/kube-aggregator's typed client.
var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// RegisterAPIService routes clusterview.io/v1beta1 through the kube-apiserver
// aggregator to a clusterview listening on localhost:port. It applies the ExternalName
// Service ClusterviewNamespace/ClusterviewService (creating the namespace if needed)
// and the APIService APIServiceName with caBundle, the PEM CA that signed
// clusterview's serving certificate. The aggregator verifies that certificate against
// ClusterviewService.ClusterviewNamespace.svc; TLS verification is never disabled.
// Re-registering with another port or CA updates both objects.
func RegisterAPIService(ctx context.Context, cfg *rest.Config, port int, caBundle []byte) error {
	return registerAPIService(ctx, cfg, aggregatedAPI{
		group: Group, version: Version, namespace: ClusterviewNamespace, service: ClusterviewService,
		groupPriorityMinimum: groupPriorityMinimum, versionPriority: versionPriority,
	}, port, caBundle)
}

// aggregatedAPI is one API group version served behind the aggregator by a
// server on localhost, reached through an ExternalName Service.
type aggregatedAPI struct {
	group, version     string
	namespace, service string
	// The APIService's discovery ordering.
	groupPriorityMinimum, versionPriority int64
}

// name is the APIService's name, <version>.<group>.
func (a aggregatedAPI) name() string { return a.version + "." + a.group }

// registerAPIService applies the ExternalName Service and the APIService of api,
// pointing at localhost:port and trusting caBundle; see RegisterAPIService.
func registerAPIService(ctx context.Context, cfg *rest.Config, api aggregatedAPI, port int, caBundle []byte) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("invalid port %d", port)
	}
	if _, err := pki.ParseCertsPEM(caBundle); err != nil {
		return fmt.Errorf("invalid caBundle: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}

	if _, err := client.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(api.namespace), apply); err != nil {
		return fmt.Errorf("applying namespace %s: %w", api.namespace, err)
	}
	svc := corev1ac.Service(api.service, api.namespace).WithSpec(corev1ac.ServiceSpec().
		WithType(corev1.ServiceTypeExternalName).
		WithExternalName(externalName).
		// The aggregator takes the port from the APIService; listing it here documents
		// where the server listens for anyone reading the Service.
		WithPorts(corev1ac.ServicePort().WithName("https").WithProtocol(corev1.ProtocolTCP).WithPort(int32(port))))
	if _, err := client.CoreV1().Services(api.namespace).Apply(ctx, svc, apply); err != nil {
		return fmt.Errorf("applying service %s/%s: %w", api.namespace, api.service, err)
	}

	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": api.name()},
		"spec": map[string]any{
			"group":                api.group,
			"version":              api.version,
			"groupPriorityMinimum": api.groupPriorityMinimum,
			"versionPriority":      api.versionPriority,
			"service": map[string]any{
				"namespace": api.namespace,
				"name":      api.service,
				"port":      int64(port),
			},
			// Unstructured content must be plain JSON values, so encode the bytes the
			// way the typed API's []byte field would be.
			"caBundle": base64.StdEncoding.EncodeToString(caBundle),
			// Applied explicitly so that a value someone else set cannot survive.
			"insecureSkipTLSVerify": false,
		},
	}}
	if _, err := dyn.Resource(apiServiceGVR).Apply(ctx, api.name(), apiService, apply); err != nil {
		return fmt.Errorf("applying apiservice %s: %w", api.name(), err)
	}
	return nil
}

// UnregisterAPIService deletes the APIService, e.g. after clusterview stopped, so
// discovery clients such as kubectl stop reporting an unavailable group. A missing
// APIService is not an error.
func UnregisterAPIService(ctx context.Context, cfg *rest.Config) error {
	return unregisterAPIService(ctx, cfg, APIServiceName)
}

// unregisterAPIService deletes the APIService name; a missing one is not an
// error.
func unregisterAPIService(ctx context.Context, cfg *rest.Config, name string) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	err = dyn.Resource(apiServiceGVR).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting apiservice %s: %w", name, err)
	}
	return nil
}

// WaitForAPIServiceAvailable polls until the APIService reports Available=True,
// i.e. the aggregator reached clusterview and verified its certificate. On timeout
// the error carries the condition's last status, reason and message, which name the
// actual problem (connection refused, certificate errors, bad status).
func WaitForAPIServiceAvailable(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	return waitForAPIServiceAvailable(ctx, cfg, APIServiceName, timeout)
}

// waitForAPIServiceAvailable waits until the APIService name is Available; see
// WaitForAPIServiceAvailable.
func waitForAPIServiceAvailable(ctx context.Context, cfg *rest.Config, name string, timeout time.Duration) error {
	dyn, err := dynamic.NewForConfig(pollingConfig(cfg))
	if err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	last := "APIService not observed yet"
	err = wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := dyn.Resource(apiServiceGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			// A request cut short by the deadline says nothing about the APIService;
			// keep the last real observation for the error message.
			if ctx.Err() == nil {
				last = err.Error()
			}
			return false, nil
		}
		status, reason, message, found := availableCondition(obj)
		if !found {
			last = "no Available condition yet"
			return false, nil
		}
		if status == string(metav1.ConditionTrue) {
			return true, nil
		}
		last = fmt.Sprintf("Available=%s reason=%s message=%q", status, reason, message)
		return false, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err) {
			return fmt.Errorf("apiservice %s not available after %v: %s", name, timeout, last)
		}
		return fmt.Errorf("waiting for apiservice %s: %w (%s)", name, err, last)
	}
	return nil
}

func availableCondition(obj *unstructured.Unstructured) (status, reason, message string, found bool) {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Available" {
			continue
		}
		status, _ = m["status"].(string)
		reason, _ = m["reason"].(string)
		message, _ = m["message"].(string)
		return status, reason, message, true
	}
	return "", "", "", false
}

// RegisterClusterview registers clusterview listening on localhost:port with this
// cluster's clusterview serving CA; see RegisterAPIService.
func (c *Cluster) RegisterClusterview(ctx context.Context, port int) error {
	return RegisterAPIService(ctx, c.adminConfig, port, c.pki.clusterviewServingCA.CertPEM)
}

// WaitForClusterviewAvailable waits until the APIService is Available; see
// WaitForAPIServiceAvailable.
func (c *Cluster) WaitForClusterviewAvailable(ctx context.Context, timeout time.Duration) error {
	return WaitForAPIServiceAvailable(ctx, c.adminConfig, timeout)
}

// ClusterviewFlags are the flags that run clusterview-apiserver against this
// cluster as a deployment would: serving with the certificate the APIService
// trusts, delegating authentication and authorization to kube-apiserver as
// the clusterview identity, and keeping its embedded etcd in dataDir. Callers
// add how it listens (--secure-port or a listener).
func (c *Cluster) ClusterviewFlags(dataDir string) []string {
	certFile, keyFile, _ := c.ClusterviewServing()
	return ClusterviewFlags(c.ClusterviewKubeconfig(), certFile, keyFile, dataDir)
}

// ClusterviewFlags is the same command line for any cluster: kubeconfig
// reaches its kube-apiserver (informers and delegated authentication and
// authorization), certFile and keyFile are the serving certificate the
// APIService trusts. An empty dataDir leaves --data-dir out, for servers
// that are given --etcd-servers instead.
func ClusterviewFlags(kubeconfig, certFile, keyFile, dataDir string) []string {
	flags := []string{
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
	}
	if dataDir != "" {
		flags = append(flags, "--data-dir="+dataDir)
	}
	return flags
}
