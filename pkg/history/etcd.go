package history

import (
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

// NewEtcdClient connects to the etcd the API server stores its objects in,
// with the same endpoints and TLS credentials (--etcd-servers,
// --etcd-certfile, --etcd-keyfile, --etcd-cafile).
func NewEtcdClient(c storagebackend.TransportConfig) (*clientv3.Client, error) {
	var cfg clientv3.Config
	if c.CertFile != "" || c.KeyFile != "" || c.TrustedCAFile != "" {
		tlsConfig, err := (&transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.TrustedCAFile}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("loading the etcd client TLS credentials: %w", err)
		}
		cfg.TLS = tlsConfig
	}
	cfg.Endpoints = c.ServerList
	cfg.DialTimeout = 20 * time.Second
	cfg.DialKeepAliveTime = 30 * time.Second
	cfg.DialKeepAliveTimeout = 10 * time.Second
	// etcd's client logs through zap; errors reach us as returned errors.
	cfg.Logger = zap.NewNop()
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v for history: %w", c.ServerList, err)
	}
	return client, nil
}
