// Package controlplane tests internal/localcluster's real control plane:
// versions, kubeconfigs, users, clusterview's RBAC, aggregation through a
// stand-in server, a start that fails, and children that die with their
// parent.
package controlplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/internal/localcluster/pki"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// kubeVersion is the release hack/tools pins for kube-apiserver and kubectl.
const kubeVersion = "v1.37.1"

func TestControlPlane(t *testing.T) {
	c, ctx := framework.StartControlPlane(t)

	t.Run("kubectl version", func(t *testing.T) {
		out, err := c.Kubectl(ctx, "version", "--output=json").Output()
		if err != nil {
			t.Fatalf("kubectl version: %v\n%s", err, stderrOf(err))
		}
		var v struct {
			ClientVersion struct{ GitVersion, Major, Minor string }
			ServerVersion struct{ GitVersion, Major, Minor string }
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("parsing %s: %v", out, err)
		}
		for what, got := range map[string]string{"client": v.ClientVersion.GitVersion, "server": v.ServerVersion.GitVersion} {
			if got != kubeVersion {
				t.Errorf("%s gitVersion = %q, want %q", what, got, kubeVersion)
			}
		}
		if v.ServerVersion.Major != "1" || v.ServerVersion.Minor != "37" {
			t.Errorf("server major/minor = %q/%q, want 1/37", v.ServerVersion.Major, v.ServerVersion.Minor)
		}
	})

	t.Run("readyz", func(t *testing.T) {
		out, err := c.Kubectl(ctx, "get", "--raw", "/readyz").Output()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("kubectl get --raw /readyz = %q, %v %s", out, err, stderrOf(err))
		}
	})

	t.Run("kubeconfig files", func(t *testing.T) {
		for _, kc := range []string{c.AdminKubeconfig(), c.ClusterviewKubeconfig()} {
			st, err := os.Stat(kc)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", kc, st.Mode().Perm())
			}
		}
		out, err := c.Kubectl(ctx, "--kubeconfig", c.ClusterviewKubeconfig(), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").Output()
		if err != nil || string(out) != localcluster.ClusterviewUser {
			t.Errorf("clusterview kubeconfig authenticates as %q (%v %s), want %q", out, err, stderrOf(err), localcluster.ClusterviewUser)
		}
	})

	t.Run("unprivileged user", func(t *testing.T) {
		cfg, err := c.UserConfig("alice", "team-a")
		if err != nil {
			t.Fatal(err)
		}
		alice := kubernetes.NewForConfigOrDie(cfg)
		_, err = alice.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("alice listing nodes: err = %v, want Forbidden", err)
		}
		if !strings.Contains(err.Error(), `User "alice"`) {
			t.Errorf("forbidden error does not name alice: %v", err)
		}
		kc, err := c.UserKubeconfig("alice", "team-a")
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Kubectl(ctx, "--kubeconfig", kc, "auth", "can-i", "list", "pods").Output()
		if got := strings.TrimSpace(string(out)); got != "no" {
			t.Errorf("kubectl auth can-i list pods as alice = %q (%v), want no", got, err)
		}
	})

	t.Run("pods without controllers", func(t *testing.T) {
		// Seeding relies on creating Pods directly in a fresh namespace, which the
		// ServiceAccount admission plugin would reject without kube-controller-manager.
		out, err := c.Kubectl(ctx, "create", "namespace", "seed").CombinedOutput()
		if err != nil {
			t.Fatalf("create namespace: %v: %s", err, out)
		}
		out, err = c.Kubectl(ctx, "-n", "seed", "run", "p", "--image=registry.invalid/x").CombinedOutput()
		if err != nil {
			t.Fatalf("create pod: %v: %s", err, out)
		}
	})

	t.Run("clusterview RBAC", func(t *testing.T) {
		if err := c.ApplyClusterviewRBAC(ctx); err != nil {
			t.Fatal(err)
		}
		// Idempotent.
		if err := c.ApplyClusterviewRBAC(ctx); err != nil {
			t.Fatalf("second ApplyClusterviewRBAC: %v", err)
		}
		cv := kubernetes.NewForConfigOrDie(c.ClusterviewConfig())
		allowed := []authorizationv1.ResourceAttributes{
			{Verb: "watch", Resource: "pods"},
			{Verb: "list", Resource: "nodes"},
			{Verb: "list", Resource: "namespaces"},
			{Verb: "watch", Resource: "resourcequotas", Namespace: "seed"},
			{Verb: "list", Group: "apps", Resource: "deployments"},
			{Verb: "watch", Group: "apps", Resource: "statefulsets"},
			{Verb: "get", Group: "apps", Resource: "daemonsets"},
			{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
			{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"},
			{Verb: "get", Resource: "configmaps", Namespace: "kube-system", Name: "extension-apiserver-authentication"},
			{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: localcluster.ClusterviewNamespace},
			{Verb: "watch", Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"},
			{Verb: "list", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies"},
		}
		denied := []authorizationv1.ResourceAttributes{
			{Verb: "list", Resource: "secrets"},
			{Verb: "delete", Resource: "pods", Namespace: "seed"},
			{Verb: "update", Group: "apps", Resource: "deployments", Namespace: "seed"},
			{Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"},
		}
		check := func(attrs authorizationv1.ResourceAttributes, want bool) {
			t.Helper()
			r, err := cv.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status.Allowed != want {
				t.Errorf("clusterview %s %s/%s in %q: allowed=%v, want %v (%s)", attrs.Verb, attrs.Group, attrs.Resource,
					attrs.Namespace, r.Status.Allowed, want, r.Status.Reason)
			}
		}
		for _, a := range allowed {
			check(a, true)
		}
		for _, a := range denied {
			check(a, false)
		}
	})

	t.Run("aggregation", func(t *testing.T) {
		if err := c.ApplyClusterviewRBAC(ctx); err != nil {
			t.Fatal(err)
		}
		srv := startFakeAggregatedServer(t, ctx, c)

		// A wrong caBundle must leave the APIService unavailable, with the reason in the error.
		if err := localcluster.RegisterAPIService(ctx, c.AdminConfig(), srv.port, c.CAPEM()); err != nil {
			t.Fatal(err)
		}
		err := c.WaitForClusterviewAvailable(ctx, 10*time.Second)
		if err == nil {
			t.Fatal("APIService became available with a caBundle that did not sign the serving certificate")
		}
		if !strings.Contains(err.Error(), "not available after") || !strings.Contains(err.Error(), "Available=False") {
			t.Errorf("unhelpful timeout error: %v", err)
		}
		t.Logf("expected failure with the wrong caBundle: %v", err)

		if err := c.RegisterClusterview(ctx, srv.port); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitForClusterviewAvailable(ctx, 60*time.Second); err != nil {
			t.Fatal(err)
		}

		// A request through kube-apiserver reaches the server with the caller's
		// identity in the request headers, sent by the front-proxy client.
		admin := kubernetes.NewForConfigOrDie(c.AdminConfig())
		body, err := admin.Discovery().RESTClient().Get().AbsPath("/apis", localcluster.Group, localcluster.Version, "probes").DoRaw(ctx)
		if err != nil {
			t.Fatalf("GET through the aggregator: %v: %s", err, body)
		}
		seen := srv.lastProbe()
		if seen.clientCN != localcluster.FrontProxyClientName || seen.user != localcluster.AdminUser || !strings.Contains(seen.groups, "system:masters") {
			t.Errorf("aggregated server saw client %q user %q groups %q, want %q, %q, system:masters",
				seen.clientCN, seen.user, seen.groups, localcluster.FrontProxyClientName, localcluster.AdminUser)
		}
		out, err := c.Kubectl(ctx, "api-versions").Output()
		if err != nil || !strings.Contains(string(out), localcluster.Group+"/"+localcluster.Version) {
			t.Errorf("kubectl api-versions lacks %s/%s: %v\n%s", localcluster.Group, localcluster.Version, err, out)
		}

		if err := localcluster.UnregisterAPIService(ctx, c.AdminConfig()); err != nil {
			t.Fatal(err)
		}
		if err := localcluster.UnregisterAPIService(ctx, c.AdminConfig()); err != nil {
			t.Errorf("second UnregisterAPIService: %v", err)
		}
	})

	t.Run("stop", func(t *testing.T) {
		pids := []int{c.KubeAPIServer().PID(), c.Etcd().PID()}
		start := time.Now()
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("Stop took %v", time.Since(start).Round(time.Millisecond))
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("pid %d still alive after Stop", pid)
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

// A kube-apiserver that cannot start must fail Start quickly, with its own
// complaint in the error, and leave no process behind.
func TestStartFailureReportsLog(t *testing.T) {
	bins := framework.ControlPlaneBinaries(t)
	_, ctx := ktesting.NewTestContext(t)
	began := time.Now()
	c, err := localcluster.Start(ctx, localcluster.Options{Dir: t.TempDir(), BinDir: bins, ExtraAPIServerArgs: []string{"--no-such-flag"}})
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start succeeded with an unknown kube-apiserver flag")
	}
	t.Logf("Start failed after %v as expected: %v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{"kube-apiserver exited (exit status 1)", "unknown flag: --no-such-flag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q", want)
		}
	}
	if d := time.Since(began); d > 30*time.Second {
		t.Errorf("Start took %v to notice the exit, want well under its timeout", d)
	}
}

// fakeAggregatedServer stands in for clusterview: it serves with clusterview's
// certificate, accepts only clients signed by the request-header CA published in
// kube-system/extension-apiserver-authentication (read with clusterview's own
// identity, as a real aggregated server does) and records who called.
type fakeAggregatedServer struct {
	port  int
	mu    sync.Mutex
	probe probe
}

type probe struct{ clientCN, user, groups string }

func (s *fakeAggregatedServer) lastProbe() probe {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probe
}

func startFakeAggregatedServer(t *testing.T, ctx context.Context, c *localcluster.Cluster) *fakeAggregatedServer {
	t.Helper()
	cv := kubernetes.NewForConfigOrDie(c.ClusterviewConfig())
	cm, err := cv.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading request-header CA as clusterview: %v", err)
	}
	rhCerts, err := pki.ParseCertsPEM([]byte(cm.Data["requestheader-client-ca-file"]))
	if err != nil {
		t.Fatalf("requestheader-client-ca-file: %v", err)
	}
	rhPool := x509.NewCertPool()
	for _, cert := range rhCerts {
		rhPool.AddCert(cert)
	}
	certFile, keyFile, _ := c.ClusterviewServing()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}

	s := &fakeAggregatedServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/apis/"+localcluster.Group+"/"+localcluster.Version, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":%q,"resources":[]}`, localcluster.Group+"/"+localcluster.Version)
	})
	mux.HandleFunc("/apis/"+localcluster.Group+"/"+localcluster.Version+"/probes", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.probe = probe{
			clientCN: r.TLS.PeerCertificates[0].Subject.CommonName,
			user:     r.Header.Get("X-Remote-User"),
			groups:   strings.Join(r.Header.Values("X-Remote-Group"), ","),
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{}`)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	hs := &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    rhPool,
		},
		// The wrong-caBundle step makes the aggregator abort handshakes on purpose.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = hs.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = hs.Close() })
	return s
}

// TestChildrenDieWithParent checks that a test binary killed with SIGKILL — no
// cleanup runs — does not leave etcd and kube-apiserver behind.
func TestChildrenDieWithParent(t *testing.T) {
	bins := framework.ControlPlaneBinaries(t)
	_, ctx := ktesting.NewTestContext(t)
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperStartAndHang$", "-test.v")
	cmd.Env = append(os.Environ(), "LOCALCLUSTER_HELPER_DIR="+dir, "LOCALCLUSTER_HELPER_BINDIR="+bins)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "HELPER-PIDS "); ok {
			for _, f := range strings.Fields(rest) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 2 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper did not report its child pids (scan error %v)", sc.Err())
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("pid %d not running before the helper was killed", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("pid %d survived its parent's death", pid)
			}
			time.Sleep(50 * time.Millisecond) // polling the process table; there is no event to wait on
		}
	}
}

// TestHelperStartAndHang is the child half of TestChildrenDieWithParent; it does
// nothing in a normal run.
func TestHelperStartAndHang(t *testing.T) {
	dir := os.Getenv("LOCALCLUSTER_HELPER_DIR")
	if dir == "" {
		return
	}
	_, ctx := ktesting.NewTestContext(t)
	c, err := localcluster.Start(ctx, localcluster.Options{Dir: dir, BinDir: os.Getenv("LOCALCLUSTER_HELPER_BINDIR")})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("HELPER-PIDS %d %d\n", c.KubeAPIServer().PID(), c.Etcd().PID())
	select {} // until killed
}

// alive reports whether pid exists and is not a zombie. Reparented children of a
// killed process may linger as zombies until init reaps them, which counts as dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return !os.IsNotExist(err)
	}
	// The state follows the parenthesized command name, which may contain spaces.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
