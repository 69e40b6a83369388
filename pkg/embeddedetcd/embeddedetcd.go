// Package embeddedetcd runs a single-member etcd inside the clusterview
// process, so that one binary can serve on its own without an etcd cluster.
// It listens on loopback only; production deployments use --etcd-servers.
package embeddedetcd

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"
)

// The in-memory raft log of the single member: a snapshot every
// RaftSnapshotCount entries, after which RaftCatchUpEntries are kept.
const (
	RaftSnapshotCount  = 1000
	RaftCatchUpEntries = 100
)

// Server is a running embedded etcd.
type Server struct {
	etcd *embed.Etcd
}

// Options configures the embedded etcd.
type Options struct {
	// DataDir holds etcd's write-ahead log and database. Objects survive a
	// restart of the server on the same DataDir.
	DataDir string
	// StartTimeout bounds how long Start waits for etcd to serve.
	StartTimeout time.Duration
}

// Start starts etcd on free loopback ports and waits until it serves
// requests or ctx or the timeout ends.
func Start(ctx context.Context, opts Options) (*Server, error) {
	logger := klog.FromContext(ctx).WithName("embedded-etcd")
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data dir %q: %w", opts.DataDir, err)
	}

	// Port 0 lets the kernel pick free ports, so several servers (tests, HA
	// replicas on one machine) never collide. The member's stored peer URL is
	// only used between members, and there is just one.
	loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg := embed.NewConfig()
	cfg.Name = "clusterview"
	cfg.Dir = opts.DataDir
	cfg.ListenClientUrls = []url.URL{loopback}
	cfg.AdvertiseClientUrls = []url.URL{loopback}
	cfg.ListenPeerUrls = []url.URL{loopback}
	cfg.AdvertisePeerUrls = []url.URL{loopback}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	// The API server compacts etcd itself (--etcd-compaction-interval), as
	// kube-apiserver does, so etcd's own compactor stays off.
	cfg.AutoCompactionRetention = "0"
	// etcd keeps the raft entries since its last snapshot in memory, plus
	// SnapshotCatchUpEntries more for slow followers: 15,000 entries by
	// default. Every status write is an entry the size of its object, so at
	// a hundred writes a second that log held 17 of the 93 MB of heap in
	// use after the 100-summary phase of bench run 20261205T075802Z, and
	// it grows until the 15,000th entry. A single member has no follower
	// to catch up and its snapshots are small (the data is in the
	// backend), so it keeps a tenth of that.
	cfg.SnapshotCount = RaftSnapshotCount
	cfg.SnapshotCatchUpEntries = RaftCatchUpEntries

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %q: %w", opts.DataDir, err)
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("waiting for embedded etcd: %w", ctx.Err())
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within %s", timeout)
	}
	s := &Server{etcd: e}
	logger.Info("Embedded etcd is serving", "dataDir", opts.DataDir, "endpoints", s.Endpoints())
	return s, nil
}

// Endpoints returns the client URLs etcd listens on.
func (s *Server) Endpoints() []string {
	endpoints := make([]string, 0, len(s.etcd.Clients))
	for _, l := range s.etcd.Clients {
		endpoints = append(endpoints, "http://"+l.Addr().String())
	}
	return endpoints
}

// Err reports a fatal error of the running etcd.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops etcd, flushing its data to disk.
func (s *Server) Close() { s.etcd.Close() }
