package framework

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/clusterview/clusterview/internal/localcluster"
)

const (
	// etcdClusterAttempts is how often StartEtcdCluster retries with fresh
	// ports when another process took one before etcd bound it.
	etcdClusterAttempts = 3
	etcdStopGrace       = 10 * time.Second
)

// EtcdCluster is a multi-member etcd cluster: one etcd process per member,
// all on 127.0.0.1, peers talking plain HTTP. It is what clusterview's
// replicas share through --etcd-servers in the HA tests.
type EtcdCluster struct {
	Members []*EtcdMember
	binary  string
	dir     string
}

// EtcdMember is one member of an EtcdCluster.
type EtcdMember struct {
	Name      string
	ClientURL string
	PeerURL   string
	DataDir   string

	restartable
}

// StartEtcdCluster starts an n-member cluster of the etcd binary under dir
// and waits until every member reports healthy. fsync stays on: these
// members are where the tests check that acknowledged writes survive.
func StartEtcdCluster(ctx context.Context, binary, dir string, n int, timeout time.Duration) (*EtcdCluster, error) {
	var lastErr error
	for attempt := 1; attempt <= etcdClusterAttempts; attempt++ {
		c, err := startEtcdClusterOnce(ctx, binary, dir, n, timeout)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func startEtcdClusterOnce(ctx context.Context, binary, dir string, n int, timeout time.Duration) (_ *EtcdCluster, retErr error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	ports, err := localcluster.FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &EtcdCluster{binary: binary, dir: dir}
	var initial []string
	for i := range n {
		name := fmt.Sprintf("member-%d", i)
		m := &EtcdMember{
			Name:        name,
			ClientURL:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i]),
			PeerURL:     "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
			restartable: restartable{name: "etcd " + name, logName: name, binary: binary, logDir: filepath.Join(dir, "logs")},
		}
		m.DataDir = filepath.Join(dir, m.Name)
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			c.Stop()
		}
	}()
	for _, m := range c.Members {
		m.args = []string{
			"--name=" + m.Name,
			"--data-dir=" + m.DataDir,
			"--listen-client-urls=" + m.ClientURL,
			"--advertise-client-urls=" + m.ClientURL,
			"--listen-peer-urls=" + m.PeerURL,
			"--initial-advertise-peer-urls=" + m.PeerURL,
			"--initial-cluster=" + strings.Join(initial, ","),
			"--initial-cluster-state=new",
			"--initial-cluster-token=clusterview-ha",
			"--log-level=warn",
		}
		if err := m.start(); err != nil {
			return nil, err
		}
	}
	// Members wait for each other to elect a leader, so wait for all at once.
	if err := c.WaitHealthy(ctx, timeout); err != nil {
		return nil, err
	}
	return c, nil
}

// Endpoints are the members' client URLs, for --etcd-servers.
func (c *EtcdCluster) Endpoints() []string {
	var urls []string
	for _, m := range c.Members {
		urls = append(urls, m.ClientURL)
	}
	return urls
}

// WaitHealthy polls until every running member answers /health with
// health=true (it has a leader and no alarm), or timeout.
func (c *EtcdCluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, m := range c.Members {
			if err := m.exitError(); err != nil {
				return false, err
			}
			if last = m.Healthy(ctx); last != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		var tails []string
		for _, m := range c.Members {
			tails = append(tails, m.Name+":\n"+localcluster.LogTail(m.logPath(), 10))
		}
		return fmt.Errorf("etcd cluster not healthy: %w (last: %v)\n%s", err, last, strings.Join(tails, "\n"))
	}
	return nil
}

// Leader returns the member that currently leads, according to the members'
// own etcd_server_is_leader metric.
func (c *EtcdCluster) Leader(ctx context.Context) (*EtcdMember, error) {
	var leaders []*EtcdMember
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		body, err := haHTTPGet(ctx, m.ClientURL+"/metrics")
		if err != nil {
			return nil, fmt.Errorf("%s /metrics: %w", m.Name, err)
		}
		if strings.Contains(body, "\netcd_server_is_leader 1\n") {
			leaders = append(leaders, m)
		}
	}
	if len(leaders) != 1 {
		return nil, fmt.Errorf("%d members claim to lead, want 1", len(leaders))
	}
	return leaders[0], nil
}

// Stop stops every member, SIGKILLing those that ignore SIGTERM.
func (c *EtcdCluster) Stop() {
	var wg sync.WaitGroup
	for _, m := range c.Members {
		wg.Go(func() {
			if err := m.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping etcd %s: %v\n", m.Name, err)
			}
		})
	}
	wg.Wait()
}

// Running reports whether the member's process is alive.
func (m *EtcdMember) Running() bool { return m.running() }

// Kill SIGKILLs the member and waits until it is gone: a crash, without any
// chance to flush or hand over leadership.
func (m *EtcdMember) Kill() error { return m.kill() }

// Stop stops the member with SIGTERM (SIGKILL after a grace period).
func (m *EtcdMember) Stop() error { return m.stop(etcdStopGrace) }

// Restart starts a stopped member again on the same ports and data
// directory; it rejoins the cluster it was part of.
func (m *EtcdMember) Restart(ctx context.Context, timeout time.Duration) error {
	if m.Running() {
		return fmt.Errorf("%s is still running", m.Name)
	}
	if err := m.start(); err != nil {
		return err
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := m.exitError(); err != nil {
			return false, err
		}
		last = m.Healthy(ctx)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("%s not healthy after restart: %w (last: %v)", m.Name, err, last)
	}
	return nil
}

// Healthy checks the member's /health endpoint.
func (m *EtcdMember) Healthy(ctx context.Context) error {
	body, err := haHTTPGet(ctx, m.ClientURL+"/health")
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	if !strings.Contains(body, `"health":"true"`) {
		return fmt.Errorf("%s /health: %s", m.Name, strings.TrimSpace(body))
	}
	return nil
}

// CountKeys counts the keys under prefix in this member's own copy of the
// data (a serializable read, answered locally without asking the leader),
// through etcd's JSON gateway.
func (m *EtcdMember) CountKeys(ctx context.Context, prefix string) (int64, error) {
	end := []byte(prefix)
	end[len(end)-1]++
	reqBody, _ := json.Marshal(map[string]any{
		"key":          base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end":    base64.StdEncoding.EncodeToString(end),
		"count_only":   true,
		"serializable": true,
	})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.ClientURL+"/v3/kv/range", bytes.NewReader(reqBody))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s range: %s: %s", m.Name, resp.Status, raw)
	}
	var out struct {
		Count string `json:"count"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, fmt.Errorf("%s range: %w: %s", m.Name, err, raw)
	}
	if out.Count == "" {
		return 0, nil // proto3 JSON omits zero values
	}
	return strconv.ParseInt(out.Count, 10, 64)
}

// haHTTPGet gets url with a 5 s timeout and returns the body of a 200 answer.
func haHTTPGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}
