package framework

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// replicaStopGrace is how long Stop waits after SIGTERM before SIGKILL.
const replicaStopGrace = 90 * time.Second

// BuildClusterview compiles cmd/apiserver into outDir/clusterview-apiserver
// with the go command and returns the binary's path. The HA harness builds
// its own copy rather than reuse _output/bin/clusterview-apiserver, which
// `make build` or a benchmark may be replacing or running at the same time.
func BuildClusterview(ctx context.Context, repoRoot, outDir string) (string, error) {
	return GoBuild(ctx, repoRoot, "./cmd/apiserver", filepath.Join(outDir, "clusterview-apiserver"))
}

// GoBuild compiles the main package pkg of the module at repoRoot into bin
// with the go command ($GO if set) and returns bin.
func GoBuild(ctx context.Context, repoRoot, pkg, bin string) (string, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, pkg)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// Replica is one clusterview-apiserver process of a replicated deployment,
// serving on a fixed loopback port that survives restarts.
type Replica struct {
	// Name is "a" or "b"; log files are named after it.
	Name string
	// Port is the secure port on 127.0.0.1.
	Port int
	// Config reaches this replica directly, without kube-apiserver, as the
	// admin: its client certificate is signed by the cluster CA, which
	// clusterview trusts through the extension-apiserver-authentication
	// ConfigMap, and the CA is clusterview's serving CA.
	Config *rest.Config

	restartable
}

// newReplica prepares a replica without starting it.
func newReplica(name string, port int, binary string, args []string, logDir string, cfg *rest.Config) *Replica {
	return &Replica{Name: name, Port: port, Config: cfg, restartable: restartable{
		name: "clusterview replica " + name, logName: "replica-" + name, binary: binary, args: args, logDir: logDir}}
}

// Host is the replica's https URL.
func (r *Replica) Host() string { return "https://127.0.0.1:" + strconv.Itoa(r.Port) }

// Start runs a new process of the replica on its port. It does not wait
// for readiness; see WaitReady.
func (r *Replica) Start() error { return r.start() }

// LogPath is the log file of the current (or last) process.
func (r *Replica) LogPath() string { return r.logPath() }

// Running reports whether the replica's process is alive.
func (r *Replica) Running() bool { return r.running() }

// Pid is the current process id, 0 if never started.
func (r *Replica) Pid() int {
	if p := r.process(); p != nil {
		return p.PID()
	}
	return 0
}

// Kill SIGKILLs the replica and waits until the process is gone.
func (r *Replica) Kill() error { return r.kill() }

// Signal sends sig to the replica's process and returns at once.
func (r *Replica) Signal(sig syscall.Signal) error {
	p := r.process()
	if p == nil {
		return errors.New("replica " + r.Name + " never started")
	}
	return p.Signal(sig)
}

// WaitExit waits up to timeout for the process to exit. It returns the exit
// code (-1 when a signal ended it) and whether the process exited.
func (r *Replica) WaitExit(timeout time.Duration) (code int, exited bool) {
	p := r.process()
	if p == nil {
		return -1, true
	}
	if !p.WaitExit(timeout) {
		return -1, false
	}
	return p.ExitCode(), true
}

// Stop shuts the replica down with SIGTERM (SIGKILL after a grace period).
func (r *Replica) Stop() error { return r.stop(replicaStopGrace) }

// WaitReady polls the replica's /readyz until it answers 200 or timeout; it
// fails at once if the process exits.
func (r *Replica) WaitReady(ctx context.Context, timeout time.Duration) error {
	client, err := rest.HTTPClientFor(r.Config)
	if err != nil {
		return err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if !r.running() {
			return false, fmt.Errorf("replica %s is not running: %v", r.Name, r.exitError())
		}
		reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, r.Host()+"/readyz?verbose=true", nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		last = resp.Status + ": " + failingReadyz(string(body))
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("replica %s not ready: %w (last answer: %s); last lines of %s:\n%s",
			r.Name, err, last, r.LogPath(), localcluster.LogTail(r.LogPath(), 20))
	}
	return nil
}

func failingReadyz(body string) string {
	var failing []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "[-]") {
			failing = append(failing, strings.TrimSpace(line))
		}
	}
	return strings.Join(failing, "; ")
}

// Metrics scrapes the replica's /metrics as the admin and returns the
// samples whose metric name is name, keyed by their label set as written
// ("{result=\"success\"}", or "" without labels).
func (r *Replica) Metrics(ctx context.Context, name string) (map[string]float64, error) {
	client, err := rest.HTTPClientFor(r.Config)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.Host()+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("replica %s /metrics: %s", r.Name, resp.Status)
	}
	return parseMetricSamples(resp.Body, name)
}

// parseMetricSamples reads Prometheus text exposition and keeps the samples
// of one metric.
func parseMetricSamples(in io.Reader, name string) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // a longer metric name sharing the prefix
		}
		labels := ""
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[:end+1], rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		out[labels] = v
	}
	return out, sc.Err()
}

// leadingIdentity matches the line the status controller logs when this
// process wins the election (pkg/apiserver/summaries.go).
var leadingIdentity = regexp.MustCompile(`"Leading: writing ClusterSummary statuses" identity="([^"]+)"`)

// LeaderIdentities returns the leader-election identities the current
// process has logged as its own when it started leading. An identity is
// hostname_uuid, fresh per process: it names the process, not the replica.
func (r *Replica) LeaderIdentities() []string {
	data, err := os.ReadFile(r.LogPath())
	if err != nil {
		return nil
	}
	var ids []string
	for _, m := range leadingIdentity.FindAllStringSubmatch(string(data), -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// LogTail returns the last n lines of the current process's log.
func (r *Replica) LogTail(n int) string { return localcluster.LogTail(r.LogPath(), n) }

// LogLines counts the lines of the current process's log containing substr.
func (r *Replica) LogLines(substr string) int {
	data, err := os.ReadFile(r.LogPath())
	if err != nil {
		return 0
	}
	return strings.Count(string(data), substr)
}
