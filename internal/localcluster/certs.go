package localcluster

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/clusterview/clusterview/internal/localcluster/pki"
)

// Names shared by the certificates, RBAC objects and the APIService registration.
const (
	// ClusterviewNamespace holds clusterview's Service, leader-election leases and
	// namespaced RBAC.
	ClusterviewNamespace = "clusterview-system"
	// ClusterviewService is the ExternalName Service the APIService points at.
	ClusterviewService = "clusterview-apiserver"
	// ClusterviewUser is the user name in clusterview's client certificate.
	ClusterviewUser = "clusterview-apiserver"
	// AdminUser is the user name in the admin client certificate; it is a member of
	// system:masters.
	AdminUser = "localcluster-admin"
	// FrontProxyClientName is the common name of the certificate kube-apiserver's
	// aggregator presents to aggregated API servers; it must appear in
	// --requestheader-allowed-names.
	FrontProxyClientName = "front-proxy-client"

	// Group, Version and APIServiceName identify clusterview's API.
	Group          = "clusterview.io"
	Version        = "v1beta1"
	APIServiceName = Version + "." + Group

	// serviceClusterIPRange is required by kube-apiserver although nothing is ever
	// routed there; serviceClusterIP is the address it allocates to the "kubernetes"
	// Service, which conventionally appears in the serving certificate.
	serviceClusterIPRange = "10.96.0.0/16"
	serviceClusterIP      = "10.96.0.1"
	serviceAccountIssuer  = "https://kubernetes.default.svc.cluster.local"
)

// ClusterviewServingDNSNames are the DNS names in clusterview's serving certificate.
// The first is what the aggregator verifies; localhost lets developers and tests talk
// to clusterview directly.
var ClusterviewServingDNSNames = []string{
	ClusterviewService + "." + ClusterviewNamespace + ".svc",
	ClusterviewService + "." + ClusterviewNamespace + ".svc.cluster.local",
	ClusterviewService + "." + ClusterviewNamespace,
	"localhost",
}

// loopbackIPs are the addresses every serving certificate covers.
var loopbackIPs = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}

// clusterPKI is every credential one local cluster uses, and where it was written.
type clusterPKI struct {
	// ca signs kube-apiserver's serving certificate and all client certificates it
	// accepts (--client-ca-file).
	ca *pki.CA
	// frontProxyCA signs only the aggregator's client certificate; aggregated servers
	// trust request headers solely from clients it signed. Keeping it separate from ca
	// stops ordinary clients from asserting arbitrary identities via headers.
	frontProxyCA *pki.CA
	// clusterviewServingCA signs clusterview's serving certificate; its PEM is the
	// APIService caBundle, so it vouches for nothing else.
	clusterviewServingCA *pki.CA

	apiserverServing   *pki.CertKey
	admin              *pki.CertKey
	frontProxyClient   *pki.CertKey
	clusterviewServing *pki.CertKey
	clusterviewClient  *pki.CertKey
	serviceAccount     *pki.KeyPair

	files pkiFiles
}

// pkiFiles are the paths of the files handed to processes.
type pkiFiles struct {
	caCert                      string
	frontProxyCACert            string
	apiserverCert, apiserverKey string
	frontProxyClientCert        string
	frontProxyClientKey         string
	serviceAccountKey           string
	serviceAccountPub           string
	clusterviewServingCACert    string
	clusterviewServingCert      string
	clusterviewServingKey       string
	clusterviewClientCert       string
	clusterviewClientKey        string
}

// newClusterPKI generates a complete, fresh set of credentials.
func newClusterPKI() (*clusterPKI, error) {
	var p clusterPKI
	var err error
	if p.ca, err = pki.NewCA("localcluster-ca"); err != nil {
		return nil, err
	}
	if p.frontProxyCA, err = pki.NewCA("localcluster-front-proxy-ca"); err != nil {
		return nil, err
	}
	if p.clusterviewServingCA, err = pki.NewCA("clusterview-serving-ca"); err != nil {
		return nil, err
	}
	if p.apiserverServing, err = p.ca.NewServingCert(pki.ServingOptions{
		CommonName: "kube-apiserver",
		DNSNames: []string{
			"localhost",
			"kubernetes",
			"kubernetes.default",
			"kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		IPs: append([]net.IP{net.ParseIP(serviceClusterIP)}, loopbackIPs...),
	}); err != nil {
		return nil, err
	}
	if p.admin, err = p.ca.NewClientCert(AdminUser, "system:masters"); err != nil {
		return nil, err
	}
	if p.frontProxyClient, err = p.frontProxyCA.NewClientCert(FrontProxyClientName); err != nil {
		return nil, err
	}
	if p.clusterviewServing, err = p.clusterviewServingCA.NewServingCert(pki.ServingOptions{
		CommonName: ClusterviewService,
		DNSNames:   ClusterviewServingDNSNames,
		IPs:        loopbackIPs,
	}); err != nil {
		return nil, err
	}
	if p.clusterviewClient, err = p.ca.NewClientCert(ClusterviewUser); err != nil {
		return nil, err
	}
	if p.serviceAccount, err = pki.NewKeyPair(); err != nil {
		return nil, err
	}
	return &p, nil
}

// write stores the files processes need under dir. CA private keys stay in memory:
// nothing in the cluster signs certificates, and UserConfig mints in-process.
func (p *clusterPKI) write(dir string) error {
	f := &p.files
	var err error
	writeCA := func(name string, ca *pki.CA) (string, error) {
		path := filepath.Join(dir, name+".crt")
		return path, pki.WriteFile(path, ca.CertPEM, false)
	}
	if f.caCert, err = writeCA("ca", p.ca); err != nil {
		return err
	}
	if f.frontProxyCACert, err = writeCA("front-proxy-ca", p.frontProxyCA); err != nil {
		return err
	}
	if f.clusterviewServingCACert, err = writeCA("clusterview-serving-ca", p.clusterviewServingCA); err != nil {
		return err
	}
	if f.apiserverCert, f.apiserverKey, err = p.apiserverServing.WriteFiles(dir, "kube-apiserver"); err != nil {
		return err
	}
	if f.frontProxyClientCert, f.frontProxyClientKey, err = p.frontProxyClient.WriteFiles(dir, "front-proxy-client"); err != nil {
		return err
	}
	if f.clusterviewServingCert, f.clusterviewServingKey, err = p.clusterviewServing.WriteFiles(dir, "clusterview-serving"); err != nil {
		return err
	}
	if f.clusterviewClientCert, f.clusterviewClientKey, err = p.clusterviewClient.WriteFiles(dir, "clusterview-client"); err != nil {
		return err
	}
	// The admin certificate is written for people poking at the cluster with curl;
	// the admin kubeconfig embeds it anyway.
	if _, _, err = p.admin.WriteFiles(dir, "admin"); err != nil {
		return err
	}
	f.serviceAccountKey = filepath.Join(dir, "service-account.key")
	if err := pki.WriteFile(f.serviceAccountKey, p.serviceAccount.PrivatePEM, true); err != nil {
		return err
	}
	f.serviceAccountPub = filepath.Join(dir, "service-account.pub")
	if err := pki.WriteFile(f.serviceAccountPub, p.serviceAccount.PublicPEM, false); err != nil {
		return err
	}
	return nil
}

// mintClient signs a client certificate for user and groups with the cluster CA.
func (p *clusterPKI) mintClient(user string, groups ...string) (*pki.CertKey, error) {
	ck, err := p.ca.NewClientCert(user, groups...)
	if err != nil {
		return nil, fmt.Errorf("minting client certificate for %q: %w", user, err)
	}
	return ck, nil
}
