package aggregated

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/localcluster"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/test/integration/framework"
)

const summariesPath = "/apis/clusterview.io/v1beta1/clustersummaries"

// TestSecurityIsDelegated checks that clusterview trusts only what
// kube-apiserver vouches for: identities come from TokenReview, client
// certificates or the front proxy's headers (only with the front proxy's
// client certificate), and every decision is a SubjectAccessReview.
func TestSecurityIsDelegated(t *testing.T) {
	ctx := t.Context()

	t.Run("anonymous is refused through kube-apiserver", func(t *testing.T) {
		anonymous := &rest.Config{Host: env.Admin.Host, TLSClientConfig: rest.TLSClientConfig{CAData: env.Admin.CAData}}
		client := clientset.NewForConfigOrDie(anonymous)
		_, err := client.ClusterviewV1beta1().ClusterSummaries().List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
			t.Errorf("anonymous list: %v, want 401 or 403", err)
		}
	})

	aliceConfig, err := env.Cluster.UserConfig("alice", "developers")
	if err != nil {
		t.Fatal(err)
	}
	alice := clientset.NewForConfigOrDie(aliceConfig)

	t.Run("a user without RBAC is forbidden", func(t *testing.T) {
		_, err := alice.ClusterviewV1beta1().ClusterSummaries().List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `"alice"`) {
			t.Errorf("alice's list: %v, want 403 naming alice", err)
		}
	})

	t.Run("clusterview itself asks kube-apiserver, for the identity the front proxy carries", func(t *testing.T) {
		// Straight to clusterview, presenting the front proxy's client
		// certificate as kube-apiserver's aggregator does.
		code, body := direct(t, frontProxyClient(t), map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "developers"})
		if code != http.StatusForbidden || !strings.Contains(body, `User \"alice\"`) {
			t.Errorf("front-proxied request for alice: %d %s, want 403 naming alice", code, body)
		}
	})

	t.Run("granting a ClusterRole lets the same user in", func(t *testing.T) {
		framework.GrantClusterSummaries(t, kubernetes.NewForConfigOrDie(env.Admin), "clusterview-test-reader-alice", framework.User("alice"), "get", "list", "watch")
		// clusterview caches SubjectAccessReview denials for 10s, so poll.
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 45*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := alice.ClusterviewV1beta1().ClusterSummaries().List(ctx, metav1.ListOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("alice still cannot list after the grant: %v", err)
		}
		if err := alice.ClusterviewV1beta1().ClusterSummaries().Delete(ctx, "cluster", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("alice's delete with read-only RBAC: %v, want 403", err)
		}
		var code int
		var body string
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 45*time.Second, true, func(ctx context.Context) (bool, error) {
			code, body = direct(t, frontProxyClient(t), map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "developers"})
			return code == http.StatusOK, nil
		})
		if err != nil {
			t.Errorf("front-proxied request for alice after the grant: %d %s", code, body)
		}
	})

	t.Run("forged front-proxy headers are not trusted", func(t *testing.T) {
		forged := map[string]string{"X-Remote-User": "localcluster-admin", "X-Remote-Group": "system:masters"}
		// No client certificate at all.
		if code, body := direct(t, tlsClient(t, nil), forged); code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Errorf("forged headers without a client certificate: %d %s, want 401 or 403", code, body)
		}
		// A valid client certificate that is not the front proxy's: the
		// certificate's own user counts, the headers do not.
		code, body := direct(t, userClient(t, "mallory"), forged)
		if code != http.StatusForbidden || !strings.Contains(body, `User \"mallory\"`) {
			t.Errorf("forged headers with mallory's certificate: %d %s, want 403 for mallory", code, body)
		}
	})
}

// TestSecurityFrontProxyNameIsChecked presents front-proxy certificates
// from the right CA straight to clusterview, with headers claiming an
// administrator: one named as --requestheader-allowed-names says is
// honoured (the control), one with any other name is not.
func TestSecurityFrontProxyNameIsChecked(t *testing.T) {
	admin := map[string]string{"X-Remote-User": "localcluster-admin", "X-Remote-Group": "system:masters"}
	for _, tc := range []struct {
		name    string
		honored bool
	}{
		{localcluster.FrontProxyClientName, true},
		{"front-proxy-client-2", false},
		{"system:kube-aggregator", false},
	} {
		certPEM, keyPEM, err := env.Cluster.FrontProxyClientCert(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		code, body := direct(t, tlsClient(t, &cert), admin)
		switch {
		case tc.honored && code != http.StatusOK:
			t.Errorf("front-proxy certificate %q with admin headers: %d %s, want 200", tc.name, code, body)
		case !tc.honored && (code == http.StatusOK || strings.Contains(body, "localcluster-admin")):
			t.Errorf("front-proxy certificate %q outside --requestheader-allowed-names: %d %s, want the headers ignored (401, or 403 for anonymous)", tc.name, code, body)
		case !tc.honored && code != http.StatusUnauthorized && code != http.StatusForbidden:
			t.Errorf("front-proxy certificate %q outside --requestheader-allowed-names: %d %s, want 401 or 403", tc.name, code, body)
		}
	}
}

// TestSecurityMetricsAndProfilingNeedRBAC sends an authenticated user
// without RBAC straight to clusterview's /metrics and /debug/pprof/: both
// are 403 naming the user. As a control, the same user granted get on
// /metrics (a nonResourceURL rule in kube-apiserver's RBAC) reads it.
func TestSecurityMetricsAndProfilingNeedRBAC(t *testing.T) {
	client := userClient(t, "metrics-snoop")
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		code, body := directPath(t, client, path, nil)
		if code != http.StatusForbidden || !strings.Contains(body, `User \"metrics-snoop\"`) {
			t.Errorf("GET %s as a user without RBAC: %d %.200s, want 403 naming metrics-snoop", path, code, body)
		}
	}

	kube := kubernetes.NewForConfigOrDie(env.Admin)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "clusterview-test-metrics-snoop"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	framework.BindClusterRole(t, kube, role.Name, role.Name, framework.User("metrics-snoop"))
	var code int
	var body string
	// clusterview caches SubjectAccessReview denials for 10s, so poll.
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 45*time.Second, true, func(context.Context) (bool, error) {
		code, body = directPath(t, client, "/metrics", nil)
		return code == http.StatusOK, nil
	})
	if err != nil || !strings.Contains(body, "apiserver_request_total") {
		t.Errorf("GET /metrics after granting it: %d %.200s, want 200 with metrics", code, body)
	}
	if code, body := directPath(t, client, "/debug/pprof/heap", nil); code != http.StatusForbidden {
		t.Errorf("GET /debug/pprof/heap with only /metrics granted: %d %.200s, want 403", code, body)
	}
}

// frontProxyClient presents the certificate kube-apiserver's aggregator uses.
func frontProxyClient(t *testing.T) *http.Client {
	t.Helper()
	dir := filepath.Join(env.Cluster.Dir(), "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "front-proxy-client.crt"), filepath.Join(dir, "front-proxy-client.key"))
	if err != nil {
		t.Fatalf("loading the front-proxy client certificate: %v", err)
	}
	return tlsClient(t, &cert)
}

// tlsClient trusts clusterview's serving CA and presents cert, if any.
func tlsClient(t *testing.T, cert *tls.Certificate) *http.Client {
	t.Helper()
	_, _, caPEM := env.Cluster.ClusterviewServing()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA in clusterview's serving CA bundle")
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// userClient is tlsClient presenting a client certificate localcluster
// minted for user.
func userClient(t *testing.T, user string) *http.Client {
	t.Helper()
	cfg, err := env.Cluster.UserConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	return tlsClient(t, &cert)
}

// direct sends a list request straight to clusterview, bypassing kube-apiserver.
func direct(t *testing.T, client *http.Client, headers map[string]string) (int, string) {
	t.Helper()
	return directPath(t, client, summariesPath, headers)
}

// directPath sends a GET of path straight to clusterview.
func directPath(t *testing.T, client *http.Client, path string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("https://%s%s", env.ClusterviewAddr, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request to clusterview: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
