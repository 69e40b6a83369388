// Package framework is the shared harness of the integration tests: it runs
// clusterview-apiserver in-process on loopback, on its own (embedded etcd,
// no kube-apiserver) or behind a real kube-apiserver's aggregation layer.
package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/pkg/cmd/server"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

// StandaloneServer is a clusterview-apiserver running in the test process
// with its embedded etcd and no kube-apiserver.
type StandaloneServer struct {
	// Config reaches the server as its loopback client: user system:apiserver
	// in group system:masters.
	Config *rest.Config
	// Client is the generated clientset on Config.
	Client clientset.Interface
	// URL is the server's https address.
	URL string

	stop func()
}

// StartStandalone starts a standalone server with its etcd data in dataDir
// and waits until it is ready. The server stops at the end of the test, or
// earlier through Stop.
//
// A standalone server has no kube-apiserver to delegate to, so it runs with
// what the generic server offers on its own: authentication and
// authorization lookups are optional (only its loopback identity, in
// system:masters, is authorized), there are no admission plugins and no API
// priority and fairness (both need a kube-apiserver's informers), and no core
// API informers. The aggregated tests cover delegated security.
func StartStandalone(t *testing.T, dataDir string) *StandaloneServer {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	o := server.NewOptions()
	o.DataDir = dataDir
	ro := o.RecommendedOptions
	ro.SecureServing.Listener = listener
	ro.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	ro.SecureServing.ServerCert.CertDirectory = filepath.Join(dataDir, "certs")
	ro.Authentication.RemoteKubeConfigFileOptional = true
	ro.Authorization.RemoteKubeConfigFileOptional = true
	ro.CoreAPI = nil
	ro.Admission = nil
	ro.Features.EnablePriorityAndFairness = false
	if err := o.Complete(); err != nil {
		t.Fatalf("completing options: %v", err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("validating options: %v", err)
	}
	srv, cleanup, err := o.NewServer(ctx)
	if err != nil {
		cancel()
		t.Fatalf("building the server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	s := &StandaloneServer{
		Config: rest.CopyConfig(srv.GenericAPIServer.LoopbackClientConfig),
		URL:    "https://" + listener.Addr().String(),
	}
	var once bool
	s.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("server stopped with an error: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("server did not stop within 60s")
		}
		cleanup()
	}
	t.Cleanup(s.stop)

	s.Client, err = clientset.NewForConfig(s.Config)
	if err != nil {
		t.Fatalf("creating the clientset: %v", err)
	}
	if err := waitReady(ctx, s.Config, 60*time.Second); err != nil {
		s.stop()
		t.Fatalf("server not ready: %v", err)
	}
	return s
}

// Stop shuts the server down and waits for it, then closes its etcd.
func (s *StandaloneServer) Stop() { s.stop() }

// waitReady polls /readyz until it answers 200.
func waitReady(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%w (last answer: %s)", err, last)
	}
	return nil
}
