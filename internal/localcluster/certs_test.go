package localcluster

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clusterview/clusterview/internal/localcluster/pki"
)

func newTestPKI(t *testing.T) *clusterPKI {
	t.Helper()
	p, err := newClusterPKI()
	if err != nil {
		t.Fatalf("newClusterPKI: %v", err)
	}
	if err := p.write(t.TempDir()); err != nil {
		t.Fatalf("write: %v", err)
	}
	return p
}

func verify(t *testing.T, what string, cert *x509.Certificate, ca *pki.CA, usage x509.ExtKeyUsage, dnsName string) {
	t.Helper()
	_, err := cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		t.Errorf("%s does not verify against %s for %q: %v", what, ca.Cert.Subject.CommonName, dnsName, err)
	}
}

func TestClusterPKIChainsAndNames(t *testing.T) {
	p := newTestPKI(t)
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth

	for _, name := range []string{"localhost", "127.0.0.1", "::1", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", serviceClusterIP} {
		verify(t, "kube-apiserver serving cert", p.apiserverServing.Cert, p.ca, server, name)
	}
	// The name the aggregator checks, plus the direct-access names.
	for _, name := range []string{"clusterview-apiserver.clusterview-system.svc", "localhost", "127.0.0.1", "::1"} {
		verify(t, "clusterview serving cert", p.clusterviewServing.Cert, p.clusterviewServingCA, server, name)
	}
	verify(t, "admin cert", p.admin.Cert, p.ca, client, "")
	verify(t, "clusterview client cert", p.clusterviewClient.Cert, p.ca, client, "")
	verify(t, "front-proxy client cert", p.frontProxyClient.Cert, p.frontProxyCA, client, "")

	// Each CA vouches only for what it is meant to: in particular the front-proxy CA
	// must not accept ordinary client certificates (or anyone could assert identities
	// via request headers), and the caBundle must not trust kube-apiserver's leaves.
	if _, err := p.admin.Cert.Verify(x509.VerifyOptions{Roots: p.frontProxyCA.Pool(), KeyUsages: []x509.ExtKeyUsage{client}}); err == nil {
		t.Error("admin certificate verifies against the front-proxy CA")
	}
	if _, err := p.apiserverServing.Cert.Verify(x509.VerifyOptions{Roots: p.clusterviewServingCA.Pool()}); err == nil {
		t.Error("kube-apiserver certificate verifies against clusterview's serving CA")
	}
	if _, err := p.frontProxyClient.Cert.Verify(x509.VerifyOptions{Roots: p.ca.Pool(), KeyUsages: []x509.ExtKeyUsage{client}}); err == nil {
		t.Error("front-proxy client certificate verifies against the cluster CA")
	}

	// Identities as Kubernetes' x509 authenticator reads them.
	checkSubject := func(what string, c *x509.Certificate, user string, groups ...string) {
		t.Helper()
		if c.Subject.CommonName != user || !slices.Equal(c.Subject.Organization, groups) {
			t.Errorf("%s: subject CN=%q O=%q, want CN=%q O=%q", what, c.Subject.CommonName, c.Subject.Organization, user, groups)
		}
	}
	checkSubject("admin", p.admin.Cert, AdminUser, "system:masters")
	checkSubject("clusterview client", p.clusterviewClient.Cert, ClusterviewUser)
	checkSubject("front-proxy client", p.frontProxyClient.Cert, FrontProxyClientName)

	// Serving certificates must not double as client certificates and vice versa.
	for what, ck := range map[string]*pki.CertKey{"kube-apiserver": p.apiserverServing, "clusterview serving": p.clusterviewServing} {
		if !slices.Equal(ck.Cert.ExtKeyUsage, []x509.ExtKeyUsage{server}) {
			t.Errorf("%s ExtKeyUsage = %v, want server auth only", what, ck.Cert.ExtKeyUsage)
		}
	}
	for what, ck := range map[string]*pki.CertKey{"admin": p.admin, "clusterview client": p.clusterviewClient, "front-proxy client": p.frontProxyClient} {
		if !slices.Equal(ck.Cert.ExtKeyUsage, []x509.ExtKeyUsage{client}) {
			t.Errorf("%s ExtKeyUsage = %v, want client auth only", what, ck.Cert.ExtKeyUsage)
		}
	}
}

func TestClusterPKIFiles(t *testing.T) {
	p := newTestPKI(t)
	f := p.files
	pairs := map[string][2]string{
		"kube-apiserver":      {f.apiserverCert, f.apiserverKey},
		"front-proxy-client":  {f.frontProxyClientCert, f.frontProxyClientKey},
		"clusterview-serving": {f.clusterviewServingCert, f.clusterviewServingKey},
		"clusterview-client":  {f.clusterviewClientCert, f.clusterviewClientKey},
	}
	for name, pair := range pairs {
		if _, err := tls.LoadX509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, secret := range []string{f.apiserverKey, f.frontProxyClientKey, f.clusterviewServingKey, f.clusterviewClientKey, f.serviceAccountKey} {
		st, err := os.Stat(secret)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", secret, st.Mode().Perm())
		}
	}
	// CA keys never touch the disk.
	entries, err := os.ReadDir(filepath.Dir(f.caCert))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-ca.key") || e.Name() == "ca.key" {
			t.Errorf("CA private key written to disk: %s", e.Name())
		}
	}
	ca, err := os.ReadFile(f.clusterviewServingCACert)
	if err != nil {
		t.Fatal(err)
	}
	if string(ca) != string(p.clusterviewServingCA.CertPEM) {
		t.Error("clusterview serving CA file differs from the in-memory CA")
	}
}

func TestMintClient(t *testing.T) {
	p := newTestPKI(t)
	ck, err := p.mintClient("alice", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	verify(t, "minted cert", ck.Cert, p.ca, x509.ExtKeyUsageClientAuth, "")
	if ck.Cert.Subject.CommonName != "alice" || !slices.Equal(ck.Cert.Subject.Organization, []string{"team-a"}) {
		t.Errorf("subject = %v", ck.Cert.Subject)
	}
	if _, err := p.mintClient(""); err == nil {
		t.Error("empty user accepted")
	}
}

func TestUserFileName(t *testing.T) {
	a := userFileName("system:serviceaccount:ns:sa", nil)
	if strings.ContainsAny(a, ":/") || !strings.HasPrefix(a, "system_serviceaccount_ns_sa-") {
		t.Errorf("userFileName = %q", a)
	}
	if b := userFileName("system:serviceaccount:ns:sa", []string{"g"}); a == b {
		t.Error("different groups map to the same file")
	}
	if b := userFileName("../../etc/passwd", nil); strings.Contains(b, "/") {
		t.Errorf("path separator survived: %q", b)
	}
}

func TestDeclaresModule(t *testing.T) {
	for _, tc := range []struct {
		gomod string
		want  bool
	}{
		{"module github.com/clusterview/clusterview\n\ngo 1.26.0\n", true},
		{"// comment\nmodule \"github.com/clusterview/clusterview\"\n", true},
		{"module github.com/clusterview/clusterview/hack/tools/etcd\n", false},
		{"go 1.26.0\n", false},
	} {
		if got := declaresModule([]byte(tc.gomod), modulePath); got != tc.want {
			t.Errorf("declaresModule(%q) = %v, want %v", tc.gomod, got, tc.want)
		}
	}
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("old run\nheader\na\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tailFile(path, 0, 2); got != "b\nc" {
		t.Errorf("tail 2 = %q", got)
	}
	if got := tailFile(path, int64(len("old run\n")), 10); got != "header\na\nb\nc" {
		t.Errorf("tail from offset = %q", got)
	}
	if got := tailFile(filepath.Join(t.TempDir(), "missing"), 0, 3); !strings.Contains(got, "cannot read") {
		t.Errorf("missing file tail = %q", got)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Errorf("FreePorts(3) = %v, want three distinct ports", ports)
	}
}
