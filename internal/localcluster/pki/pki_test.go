package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func mustCA(t *testing.T, name string) *CA {
	t.Helper()
	ca, err := NewCA(name)
	if err != nil {
		t.Fatalf("NewCA(%q): %v", name, err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	ca := mustCA(t, "test-ca")
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v, want both true", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("KeyUsage %v lacks CertSign", c.KeyUsage)
	}
	if c.Subject.CommonName != "test-ca" {
		t.Errorf("CommonName = %q", c.Subject.CommonName)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if !c.NotBefore.Before(time.Now()) || c.NotAfter.Before(time.Now().Add(300*24*time.Hour)) {
		t.Errorf("validity %v..%v does not cover now plus most of a year", c.NotBefore, c.NotAfter)
	}
	if _, err := tls.X509KeyPair(ca.CertPEM, ca.KeyPEM); err != nil {
		t.Errorf("CA cert and key do not match: %v", err)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("CA has no SubjectKeyId")
	}
}

func TestServingCert(t *testing.T) {
	ca := mustCA(t, "serving-ca")
	other := mustCA(t, "other-ca")
	sc, err := ca.NewServingCert(ServingOptions{
		CommonName: "svc",
		DNSNames:   []string{"svc.ns.svc", "localhost"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
	})
	if err != nil {
		t.Fatalf("NewServingCert: %v", err)
	}
	if _, err := tls.X509KeyPair(sc.CertPEM, sc.KeyPEM); err != nil {
		t.Fatalf("cert and key do not match: %v", err)
	}
	for _, name := range []string{"svc.ns.svc", "localhost", "127.0.0.1"} {
		_, err := sc.Cert.Verify(x509.VerifyOptions{
			DNSName:   name,
			Roots:     ca.Pool(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("verify as server %q: %v", name, err)
		}
	}
	if err := sc.Cert.VerifyHostname("kubernetes.default.svc"); err == nil {
		t.Error("certificate unexpectedly valid for a name it was not issued for")
	}
	if _, err := sc.Cert.Verify(x509.VerifyOptions{Roots: other.Pool()}); err == nil {
		t.Error("certificate verified against an unrelated CA")
	}
	if _, err := sc.Cert.Verify(x509.VerifyOptions{
		Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err == nil {
		t.Error("serving certificate verified for client auth")
	}
	if sc.Cert.IsCA {
		t.Error("leaf certificate is a CA")
	}
	if !slices.Equal(sc.Cert.AuthorityKeyId, ca.Cert.SubjectKeyId) {
		t.Error("AuthorityKeyId does not point at the issuing CA")
	}

	if _, err := ca.NewServingCert(ServingOptions{CommonName: "nameless"}); err == nil {
		t.Error("serving certificate without SANs was accepted")
	}
}

func TestClientCert(t *testing.T) {
	ca := mustCA(t, "client-ca")
	cc, err := ca.NewClientCert("alice", "dev", "qa")
	if err != nil {
		t.Fatalf("NewClientCert: %v", err)
	}
	if got := cc.Cert.Subject.CommonName; got != "alice" {
		t.Errorf("CommonName = %q, want alice", got)
	}
	// DER sorts the values of a SET OF, so the order of groups is not preserved; it
	// does not matter to Kubernetes either.
	if got := slices.Sorted(slices.Values(cc.Cert.Subject.Organization)); !slices.Equal(got, []string{"dev", "qa"}) {
		t.Errorf("Organization = %q, want [dev qa]", got)
	}
	if _, err := cc.Cert.Verify(x509.VerifyOptions{
		Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		t.Errorf("verify as client: %v", err)
	}
	if _, err := cc.Cert.Verify(x509.VerifyOptions{
		Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err == nil {
		t.Error("client certificate verified for server auth")
	}
	if _, err := tls.X509KeyPair(cc.CertPEM, cc.KeyPEM); err != nil {
		t.Errorf("cert and key do not match: %v", err)
	}
	if _, err := ca.NewClientCert(""); err == nil {
		t.Error("client certificate without a user was accepted")
	}
}

// A leaf must not outlive its CA, and a CA limited to path length zero must not be
// able to issue a working intermediate.
func TestLeafBoundedByCA(t *testing.T) {
	ca := mustCA(t, "ca")
	cc, err := ca.NewClientCert("bob")
	if err != nil {
		t.Fatal(err)
	}
	if cc.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v is after CA NotAfter %v", cc.Cert.NotAfter, ca.Cert.NotAfter)
	}
	if !ca.Cert.MaxPathLenZero || ca.Cert.MaxPathLen != 0 {
		t.Errorf("MaxPathLen=%d MaxPathLenZero=%v, want 0/true", ca.Cert.MaxPathLen, ca.Cert.MaxPathLenZero)
	}
}

func TestNewKeyPair(t *testing.T) {
	kp, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.PrivatePEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("private key PEM block = %v", block)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode(kp.PublicPEM)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM block = %v", block)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.(*ecdsa.PrivateKey).PublicKey.Equal(pub) {
		t.Error("public key does not belong to the private key")
	}
}

func TestWriteFilesAndParse(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, "ca")
	cc, err := ca.NewClientCert("carol")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "sub", "carol.key")
	// A pre-existing, world-readable key file must end up private.
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := cc.WriteFiles(filepath.Join(dir, "sub"), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if keyFile != keyPath {
		t.Errorf("keyFile = %q, want %q", keyFile, keyPath)
	}
	for path, want := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Errorf("written files do not load as a key pair: %v", err)
	}

	bundle := append(append([]byte{}, ca.CertPEM...), cc.CertPEM...)
	certs, err := ParseCertsPEM(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(ca.Cert) || !certs[1].Equal(cc.Cert) {
		t.Errorf("ParseCertsPEM returned %d certificates, want the CA and the leaf", len(certs))
	}
	if _, err := ParseCertsPEM([]byte("garbage")); err == nil {
		t.Error("ParseCertsPEM accepted garbage")
	}
	if _, err := ParseCertsPEM(cc.KeyPEM); err == nil {
		t.Error("ParseCertsPEM accepted a PEM without certificates")
	}
}
