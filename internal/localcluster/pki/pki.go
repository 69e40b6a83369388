// Package pki mints the throwaway certificate authorities, certificates and keys a
// local Kubernetes control plane needs, using only crypto/x509.
//
// Everything here is meant for short-lived test and development clusters bound to
// loopback: keys are ECDSA P-256 (fast to generate, accepted by etcd, kube-apiserver
// and the aggregator alike), certificates are valid for a year, and nothing is ever
// rotated. Do not use it for anything that leaves the machine.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	// Validity is how long every certificate minted here stays valid. A year is far
	// beyond any test run yet short enough that a forgotten cluster directory does
	// not hold a long-lived credential.
	Validity = 365 * 24 * time.Hour
	// backdate moves NotBefore into the past so that small clock differences between
	// the processes (or a VM that resumed) do not reject a certificate minted just now.
	backdate = time.Hour
)

// CA is a certificate authority held in memory.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// CertPEM is Cert in PEM form, suitable for a --client-ca-file or a caBundle.
	CertPEM []byte
	// KeyPEM is the CA's private key in PKCS#8 PEM form.
	KeyPEM []byte

	key crypto.Signer
}

// CertKey is a leaf certificate and its private key.
type CertKey struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA creates a self-signed certificate authority with the given common name.
func NewCA(commonName string) (*CA, error) {
	ck, key, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// A CA that may only sign leaves keeps a leaked leaf key from minting more CAs.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}, nil, nil)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: ck.Cert, CertPEM: ck.CertPEM, KeyPEM: ck.KeyPEM, key: key}, nil
}

// ServingOptions describes a TLS server certificate.
type ServingOptions struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
}

// NewServingCert signs a TLS server certificate for the given names. At least one DNS
// name or IP is required, since modern TLS clients ignore the common name.
func (ca *CA) NewServingCert(opts ServingOptions) (*CertKey, error) {
	if len(opts.DNSNames) == 0 && len(opts.IPs) == 0 {
		return nil, errors.New("serving certificate needs at least one DNS name or IP address")
	}
	return ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: opts.CommonName},
		DNSNames:    opts.DNSNames,
		IPAddresses: opts.IPs,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// NewClientCert signs a TLS client certificate. Kubernetes' x509 authenticator maps
// the common name to the user name and each organization to a group, so that is how
// user and groups are encoded.
func (ca *CA) NewClientCert(user string, groups ...string) (*CertKey, error) {
	if user == "" {
		return nil, errors.New("client certificate needs a user name")
	}
	return ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// Pool returns a certificate pool holding only this CA, for verifying its leaves.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

func (ca *CA) sign(tmpl *x509.Certificate) (*CertKey, error) {
	tmpl.BasicConstraintsValid = true
	ck, _, err := issue(tmpl, ca.Cert, ca.key)
	return ck, err
}

// issue gives tmpl a fresh key, a random serial and the validity window, and
// signs it with parentKey, or self-signs it when parent is nil. It returns
// the certificate and its private key.
func issue(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*CertKey, crypto.Signer, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(Validity)
	what := fmt.Sprintf("self-signing certificate %q", tmpl.Subject.CommonName)
	if parent == nil {
		parent, parentKey = tmpl, key
	} else {
		what = fmt.Sprintf("signing certificate %q with CA %q", tmpl.Subject.CommonName, parent.Subject.CommonName)
		if tmpl.NotAfter.After(parent.NotAfter) {
			// A leaf outliving its issuer only produces confusing verification errors later.
			tmpl.NotAfter = parent.NotAfter
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return &CertKey{Cert: cert, CertPEM: encodeCert(der), KeyPEM: keyPEM}, key, nil
}

// KeyPair is a bare key pair, such as the service-account token signing key.
type KeyPair struct {
	// PrivatePEM is the private key in PKCS#8 PEM form (--service-account-signing-key-file).
	PrivatePEM []byte
	// PublicPEM is the public key in PKIX PEM form (--service-account-key-file).
	PublicPEM []byte
}

// NewKeyPair creates an ECDSA P-256 key pair; kube-apiserver signs service-account
// tokens with it as ES256.
func NewKeyPair() (*KeyPair, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return &KeyPair{
		PrivatePEM: keyPEM,
		PublicPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}, nil
}

// WriteFiles writes the certificate and key into dir as <name>.crt and <name>.key and
// returns both paths. The key file is readable by the owner only.
func (ck *CertKey) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := WriteFile(certFile, ck.CertPEM, false); err != nil {
		return "", "", err
	}
	if err := WriteFile(keyFile, ck.KeyPEM, true); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// WriteFile writes data to path, creating parent directories. Secret files get mode
// 0600, everything else 0644.
func WriteFile(path string, data []byte, secret bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	mode := os.FileMode(0o644)
	if secret {
		mode = 0o600
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// WriteFile keeps the mode of an existing file; make sure a key never stays
	// world-readable because an older file happened to be.
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", path, err)
	}
	return nil
}

// ParseCertsPEM decodes every CERTIFICATE block in data.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := bytes.TrimSpace(data); len(rest) > 0; rest = bytes.TrimSpace(rest) {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("trailing data that is not PEM")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate found")
	}
	return certs, nil
}

func newKey() (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating ECDSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding private key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newSerial() (*big.Int, error) {
	// 128 random bits: unique without bookkeeping, and positive as RFC 5280 requires.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
