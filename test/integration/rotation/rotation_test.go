// Package rotation tests that clusterview picks up rotated credentials
// without a restart: its serving certificate from --tls-cert-file and
// --tls-private-key-file, and the client and front-proxy CAs it reads from
// kube-system/extension-apiserver-authentication. It runs its own control
// plane and clusterview, since rotating the credentials of the shared
// aggregated environment would disturb the tests using it.
package rotation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/internal/localcluster/pki"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/test/integration/framework"
)

var (
	env *framework.Aggregated
	// servingCAs verifies clusterview's serving certificate, before and
	// after TestRotationServingCertificate rotates it.
	servingCAs *x509.CertPool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	ctx = klog.NewContext(ctx, klog.Background())
	dir, err := os.MkdirTemp("", "clusterview-rotation-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }() // a leftover temporary directory fails nothing
	env, err = framework.StartAggregated(ctx, dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting clusterview behind kube-apiserver: %v\n", err)
		return 1
	}
	defer env.Stop()
	_, _, caPEM := env.Cluster.ClusterviewServing()
	servingCAs = x509.NewCertPool()
	if !servingCAs.AppendCertsFromPEM(caPEM) {
		fmt.Fprintln(os.Stderr, "no CA in clusterview's serving CA bundle")
		return 1
	}
	return m.Run()
}

const summariesPath = "/apis/clusterview.io/v1beta1/clustersummaries"

// writeAtomically replaces path by renaming a complete file over it, as
// kubelet's secret volumes and cert-manager's tooling do, so that a reader
// never sees a half-written file.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// servedCertificate completes a TLS handshake with clusterview, verifying
// against roots, and returns the leaf it presented.
func servedCertificate(ctx context.Context, roots *x509.CertPool) (*x509.Certificate, error) {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{
		RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12,
	}}
	conn, err := dialer.DialContext(ctx, "tcp", env.ClusterviewAddr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }() // only the handshake mattered
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func poolOf(ca *pki.CA) *x509.CertPool { return ca.Pool() }

// TestRotationServingCertificate rotates clusterview's serving certificate
// to one from a new CA the way an operator would: first trust both CAs in
// the APIService, then replace the files, then drop the old CA. clusterview
// must serve the new certificate without a restart, and requests through
// kube-apiserver must not fail at any point.
func TestRotationServingCertificate(t *testing.T) {
	ctx := t.Context()
	certFile, keyFile, oldCAPEM := env.Cluster.ClusterviewServing()
	oldCA := x509.NewCertPool()
	oldCA.AppendCertsFromPEM(oldCAPEM)
	port := mustPort(t, env.ClusterviewAddr)
	summaries := env.Client.ClusterviewV1beta1().ClusterSummaries()

	oldLeaf, err := servedCertificate(ctx, oldCA)
	if err != nil {
		t.Fatalf("handshake before the rotation: %v", err)
	}
	newCA, err := pki.NewCA("clusterview-serving-ca-rotated")
	if err != nil {
		t.Fatal(err)
	}
	newServing, err := newCA.NewServingCert(pki.ServingOptions{
		CommonName: localcluster.ClusterviewService,
		DNSNames:   localcluster.ClusterviewServingDNSNames,
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Step 1: the aggregator trusts both CAs.
	if err := localcluster.RegisterAPIService(ctx, env.Admin, port, append(append([]byte(nil), oldCAPEM...), newCA.CertPEM...)); err != nil {
		t.Fatal(err)
	}
	servingCAs.AddCert(newCA.Cert)

	// A watch opened before the rotation must survive it: clusterview is not
	// restarted, so its streams stay open.
	w, err := summaries.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=rotated-serving"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Requests through kube-apiserver all along.
	var probes, probeFailures atomic.Int64
	var probeErrMu sync.Mutex
	var probeErr error
	probeCtx, stopProbing := context.WithCancel(ctx)
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		for probeCtx.Err() == nil {
			_, err := summaries.List(probeCtx, metav1.ListOptions{Limit: 1})
			if probeCtx.Err() != nil {
				return
			}
			probes.Add(1)
			if err != nil {
				probeFailures.Add(1)
				probeErrMu.Lock()
				probeErr = err
				probeErrMu.Unlock()
			}
			select {
			case <-probeCtx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	// Step 2: replace the files: the certificate, then its key. In between
	// they do not match; clusterview must keep serving the old pair.
	rotated := time.Now()
	writeAtomically(t, certFile, newServing.CertPEM)
	writeAtomically(t, keyFile, newServing.KeyPEM)

	var leaf *x509.Certificate
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		leaf, last = servedCertificate(ctx, poolOf(newCA))
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("clusterview still does not present a certificate from the new CA 90s after the rotation: %v", last)
	}
	t.Logf("new serving certificate presented %s after the files changed", time.Since(rotated).Round(time.Millisecond))
	if !leaf.Equal(newServing.Cert) || leaf.Equal(oldLeaf) {
		t.Errorf("presented certificate serial %s, want the new one %s", leaf.SerialNumber, newServing.Cert.SerialNumber)
	}
	var unknownAuthority x509.UnknownAuthorityError
	if _, err := servedCertificate(ctx, oldCA); !errors.As(err, &unknownAuthority) {
		t.Errorf("handshake trusting only the old CA: %v, want an unknown-authority error", err)
	}

	// Keep probing for a while with the new certificate in place.
	seen := probes.Load()
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		return probes.Load() >= seen+20, nil
	}); err != nil {
		t.Errorf("probing stalled: %d requests", probes.Load())
	}

	// Step 3: the aggregator trusts only the new CA.
	if err := localcluster.RegisterAPIService(ctx, env.Admin, port, newCA.CertPEM); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = summaries.Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("no request through kube-apiserver succeeds with the new caBundle: %v", last)
	}
	stopProbing()
	<-probing
	t.Logf("%d requests through kube-apiserver during the rotation, %d failed", probes.Load(), probeFailures.Load())
	if probeFailures.Load() > 0 || probes.Load() == 0 {
		t.Errorf("%d of %d requests through kube-apiserver failed during the rotation, last: %v", probeFailures.Load(), probes.Load(), probeErr)
	}

	// The watch from before still delivers.
	if _, err := summaries.Create(ctx, &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "rotated-serving"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = summaries.Delete(context.Background(), "rotated-serving", metav1.DeleteOptions{}) })
	select {
	case ev, ok := <-w.ResultChan():
		if !ok || ev.Type != watch.Added {
			t.Errorf("watch opened before the rotation: %v %+v (open %v), want ADDED", ev.Type, ev.Object, ok)
		}
	case <-time.After(30 * time.Second):
		t.Error("the watch opened before the rotation delivered nothing within 30s")
	}

	// Control: the aggregator does verify against the caBundle, so a
	// bundle without the new CA must now fail. It must be a bundle never
	// used before: the aggregator builds its transport through client-go's
	// TLS cache, and the transport of the original, old-CA-only bundle
	// still holds connections opened before the rotation, whose TLS
	// sessions carry the old certificate and verify against the old CA.
	unrelated, err := pki.NewCA("unrelated-ca")
	if err != nil {
		t.Fatal(err)
	}
	if err := localcluster.RegisterAPIService(ctx, env.Admin, port, append(append([]byte(nil), oldCAPEM...), unrelated.CertPEM...)); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = summaries.Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		return apierrors.IsServiceUnavailable(last), nil
	})
	if err != nil {
		t.Errorf("with a caBundle lacking the new CA, requests still answer %v, want 503", last)
	}
	if err := localcluster.RegisterAPIService(ctx, env.Admin, port, newCA.CertPEM); err != nil {
		t.Fatal(err)
	}
	if err := localcluster.WaitForAPIServiceAvailable(ctx, env.Admin, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

func mustPort(t *testing.T, addr string) int {
	t.Helper()
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return tcp.Port
}

// directResult is clusterview's answer to a request sent straight to it.
type directResult struct {
	code int
	body string
	// acceptableCAs are the CA names clusterview asked for in the
	// handshake's certificate request.
	acceptableCAs [][]byte
}

// direct lists ClusterSummaries straight from clusterview over a new
// connection, presenting cert whatever CAs the server asks for (Go would
// otherwise withhold a certificate the server does not advertise, and the
// request would merely be anonymous).
func direct(t *testing.T, cert *pki.CertKey, headers map[string]string) directResult {
	t.Helper()
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var res directResult
	transport := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			RootCAs: servingCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				res.acceptableCAs = req.AcceptableCAs
				return &pair, nil
			},
		},
	}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+env.ClusterviewAddr+summariesPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: transport, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("request to clusterview: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	res.code, res.body = resp.StatusCode, string(body)
	return res
}

func advertises(res directResult, ca *pki.CA) bool {
	for _, name := range res.acceptableCAs {
		if bytes.Equal(name, ca.Cert.RawSubject) {
			return true
		}
	}
	return false
}

// pollDirect sends the request until it gets want and, if given, the
// handshake advertises the CA or not as advertised says, for at most a minute.
func pollDirect(t *testing.T, what string, want int, cert *pki.CertKey, headers map[string]string, ca *pki.CA, advertised bool) directResult {
	t.Helper()
	var res directResult
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		res = direct(t, cert, headers)
		return res.code == want && (ca == nil || advertises(res, ca) == advertised), nil
	})
	if err != nil {
		adv := ca != nil && advertises(res, ca)
		t.Fatalf("%s: still %d %s (CA advertised in the handshake: %v) after 60s, want %d", what, res.code, res.body, adv, want)
	}
	return res
}

const (
	authConfigMapNamespace = "kube-system"
	authConfigMapName      = "extension-apiserver-authentication"
)

// updateAuthConfigMap applies mutate to the ConfigMap clusterview reads its
// client CAs from, retrying on conflicts with kube-apiserver's own
// controller that maintains it.
func updateAuthConfigMap(t *testing.T, kube kubernetes.Interface, mutate func(data map[string]string)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := kube.CoreV1().ConfigMaps(authConfigMapNamespace).Get(context.WithoutCancel(t.Context()), authConfigMapName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cm.Data)
		_, err = kube.CoreV1().ConfigMaps(authConfigMapNamespace).Update(context.WithoutCancel(t.Context()), cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating %s/%s: %v", authConfigMapNamespace, authConfigMapName, err)
	}
}

// TestRotationClientCA adds a new client CA and a new front-proxy CA to
// kube-system/extension-apiserver-authentication and removes them again:
// clusterview must accept certificates from a CA as soon as the ConfigMap
// trusts it for that purpose, and only for that purpose, and stop accepting
// them once it no longer does, all without a restart.
func TestRotationClientCA(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	framework.GrantClusterSummaries(t, kube, "clusterview-rotation-reader-carol", framework.User("carol"), "get", "list", "watch")

	clientCA, err := pki.NewCA("rotation-client-ca")
	if err != nil {
		t.Fatal(err)
	}
	carol, err := clientCA.NewClientCert("carol")
	if err != nil {
		t.Fatal(err)
	}
	proxyCA, err := pki.NewCA("rotation-front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := proxyCA.NewClientCert(localcluster.FrontProxyClientName)
	if err != nil {
		t.Fatal(err)
	}
	asCarol := map[string]string{"X-Remote-User": "carol"}

	original, err := kube.CoreV1().ConfigMaps(authConfigMapNamespace).Get(ctx, authConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restore := func(t *testing.T) {
		t.Helper()
		updateAuthConfigMap(t, kube, func(data map[string]string) {
			for _, key := range []string{"client-ca-file", "requestheader-client-ca-file"} {
				data[key] = original.Data[key]
			}
		})
	}
	t.Cleanup(func() { restore(t) })

	// Before: neither CA is trusted.
	res := direct(t, carol, nil)
	if res.code != http.StatusUnauthorized {
		t.Errorf("carol's certificate from an untrusted CA: %d %s, want 401", res.code, res.body)
	}
	if advertises(res, clientCA) {
		t.Errorf("clusterview advertises the new client CA before it is trusted")
	}
	if res := direct(t, proxy, asCarol); res.code != http.StatusUnauthorized {
		t.Errorf("front-proxy certificate from an untrusted CA: %d %s, want 401", res.code, res.body)
	}

	t.Run("a CA added to client-ca-file is trusted for client certificates", func(t *testing.T) {
		updateAuthConfigMap(t, kube, func(data map[string]string) {
			data["client-ca-file"] = strings.TrimRight(data["client-ca-file"], "\n") + "\n" + string(clientCA.CertPEM)
		})
		// Authentication and the TLS certificate request (which names the
		// CAs a client may pick a certificate from) both follow.
		pollDirect(t, "carol after her CA was added to client-ca-file", http.StatusOK, carol, nil, clientCA, true)
		if res := direct(t, proxy, asCarol); res.code != http.StatusUnauthorized {
			t.Errorf("front-proxy certificate from a CA trusted nowhere: %d %s, want 401", res.code, res.body)
		}
	})

	t.Run("a CA added to requestheader-client-ca-file is trusted for the front proxy's headers", func(t *testing.T) {
		updateAuthConfigMap(t, kube, func(data map[string]string) {
			data["requestheader-client-ca-file"] = strings.TrimRight(data["requestheader-client-ca-file"], "\n") + "\n" + string(proxyCA.CertPEM)
		})
		pollDirect(t, "the new front proxy asserting carol", http.StatusOK, proxy, asCarol, proxyCA, true)
		// The user is the one in the header, not the certificate's name.
		if res := direct(t, proxy, map[string]string{"X-Remote-User": "dave"}); res.code != http.StatusForbidden || !strings.Contains(res.body, `User \"dave\"`) {
			t.Errorf("the new front proxy asserting dave: %d %s, want 403 naming dave", res.code, res.body)
		}
		// A CA trusted for client certificates does not vouch for headers.
		if res := direct(t, carol, map[string]string{"X-Remote-User": localcluster.AdminUser, "X-Remote-Group": "system:masters"}); res.code != http.StatusOK || !authenticatedAs(t, carol, "carol") {
			t.Errorf("carol's certificate with forged headers: %d %s", res.code, res.body)
		}
	})

	t.Run("removed CAs are no longer trusted", func(t *testing.T) {
		restore(t)
		pollDirect(t, "carol after her CA was removed", http.StatusUnauthorized, carol, nil, clientCA, false)
		pollDirect(t, "the front proxy after its CA was removed", http.StatusUnauthorized, proxy, asCarol, proxyCA, false)
	})
}

// authenticatedAs asks clusterview who cert is, through a request only that
// user may not make: deleting a summary answers 403 naming the user.
func authenticatedAs(t *testing.T, cert *pki.CertKey, user string) bool {
	t.Helper()
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		RootCAs: servingCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
	}}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, "https://"+env.ClusterviewAddr+summariesPath+"/does-not-exist", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Remote-User", localcluster.AdminUser)
	req.Header.Set("X-Remote-Group", "system:masters")
	resp, err := (&http.Client{Transport: transport, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusForbidden && strings.Contains(string(body), `User \"`+user+`\"`)
}
