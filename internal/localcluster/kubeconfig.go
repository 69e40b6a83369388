package localcluster

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	kubeconfigCluster = "localcluster"
	// Client-side throttling at client-go's defaults (5 QPS) only slows tests down
	// against a private apiserver, which has its own priority and fairness anyway.
	clientQPS   = 100
	clientBurst = 200
)

// restConfigFor returns a client configuration authenticating with a client
// certificate and trusting only caPEM.
func restConfigFor(host string, caPEM, certPEM, keyPEM []byte) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   caPEM,
			CertData: certPEM,
			KeyData:  keyPEM,
		},
		QPS:   clientQPS,
		Burst: clientBurst,
	}
}

// pollingConfig returns a copy of cfg without client-side rate limiting, for clients
// that poll until a deadline. A rate limiter fails a request early when its wait
// would cross the deadline, and that error would then replace the last real
// observation in the timeout message; polling at pollInterval needs no limiter.
func pollingConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.RateLimiter = nil
	cfg.QPS = -1 // negative disables client-go's default token bucket
	return cfg
}

// writeKubeconfig writes a self-contained kubeconfig (certificates embedded, so the
// file can be copied elsewhere) for user at path, with mode 0600.
func writeKubeconfig(path, user string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[kubeconfigCluster] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
	}
	kc.Contexts[kubeconfigCluster] = &clientcmdapi.Context{
		Cluster:  kubeconfigCluster,
		AuthInfo: user,
	}
	kc.CurrentContext = kubeconfigCluster
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
