package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterview/clusterview/internal/jsonlist"
)

// cli runs the benchmark's command-line peers against the admin kubeconfig.
type cli struct {
	kubeconfig string
	kubectl    string
	cacheDir   string
	out        io.Writer
}

// cmdResult is one command timed repeatedly.
type cmdResult struct {
	Command string
	Samples []time.Duration
	// OutputBytes is the size of the last run's standard output.
	OutputBytes int
	lastOutput  []byte
}

// commandTimeout bounds any one command-line peer run; the slowest, the
// naive recount at 150,000 pods, takes a few minutes.
const commandTimeout = 20 * time.Minute

func (c cli) command(ctx context.Context, path string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	return cmd
}

// timeCommand runs path repeat times, timing each run from start to exit,
// after one untimed warm-up run (kubectl's discovery cache) if warmUp.
func (c cli) timeCommand(ctx context.Context, warmUp bool, repeat int, label, path string, args ...string) (cmdResult, error) {
	r := cmdResult{Command: label}
	timeout := time.Duration(repeat+1) * commandTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	first := 0
	if !warmUp {
		first = 1
	}
	for i := first; i <= repeat; i++ {
		var stdout, stderr bytes.Buffer
		cmd := c.command(ctx, path, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		avail := memAvailable()
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return r, commandFailed(ctx, label, err, timeout, avail, stderr.String())
		}
		d := time.Since(start)
		r.OutputBytes = stdout.Len()
		r.lastOutput = stdout.Bytes()
		if i > 0 {
			r.Samples = append(r.Samples, d)
		}
		fmt.Fprintf(c.out, "  [peers] %s: run %d/%d %v%s\n", label, i, repeat, d.Round(time.Millisecond),
			map[bool]string{true: " (warm-up, not counted)", false: ""}[i == 0])
	}
	return r, nil
}

// commandFailed is the error of a command-line peer that failed: its
// label, its error, why it was killed if a signal ended it (see
// killReason) and the last lines of its stderr.
func commandFailed(ctx context.Context, label string, err error, timeout time.Duration, memAvail, stderr string) error {
	if why := killReason(ctx, err, timeout, memAvail); why != "" {
		return fmt.Errorf("%s: %w (%s): %s", label, err, why, strings.TrimSpace(lastLines(stderr, 5)))
	}
	return fmt.Errorf("%s: %w: %s", label, err, strings.TrimSpace(lastLines(stderr, 5)))
}

// killReason says why a command ended by a signal was killed, or "" if err
// is not a death by signal. exec.CommandContext kills with SIGKILL when ctx
// ends, and so does the kernel's OOM killer; both show as "signal: killed",
// so only ctx tells them apart. memAvail is MemAvailable when the command
// started, the best hint at the OOM killer the bench has without reading
// the kernel log.
func killReason(ctx context.Context, err error, timeout time.Duration, memAvail string) string {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return ""
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		return ""
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("killed by the bench's %v timeout", timeout)
	case ctx.Err() != nil:
		// Ctrl-C or SIGTERM: the terminal's signal or the bench's own kill.
		return "killed because the bench was interrupted"
	default:
		return fmt.Sprintf("killed by a signal, not the bench's timeout (the kernel's OOM killer is the usual cause); MemAvailable was %s when it started", memAvail)
	}
}

// memAvailable is the kernel's estimate of the memory available for new
// work (/proc/meminfo MemAvailable), for the record of a command that may
// run the machine out of it.
func memAvailable() string {
	kb, err := meminfoKB("MemAvailable")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/(1<<10))
}

// meminfoKB reads one field of /proc/meminfo, in kB.
func meminfoKB(field string) (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo %s: %w", field, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no %s", field)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubeCapacityTotals parses kube-capacity -o json output and returns its
// cluster CPU and memory requests and its node count, for checking that it
// answers what clusterview answers.
func kubeCapacityTotals(data []byte) (cpuMilli, memBytes int64, nodes int, err error) {
	var out struct {
		Nodes         []json.RawMessage `json:"nodes"`
		ClusterTotals struct {
			CPU    struct{ Requests string } `json:"cpu"`
			Memory struct{ Requests string } `json:"memory"`
		} `json:"clusterTotals"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return 0, 0, 0, fmt.Errorf("parsing kube-capacity -o json: %w", err)
	}
	cpu, err1 := resource.ParseQuantity(out.ClusterTotals.CPU.Requests)
	mem, err2 := resource.ParseQuantity(out.ClusterTotals.Memory.Requests)
	if err1 != nil || err2 != nil {
		return 0, 0, 0, fmt.Errorf("parsing kube-capacity totals %q, %q", out.ClusterTotals.CPU.Requests, out.ClusterTotals.Memory.Requests)
	}
	return cpu.MilliValue(), mem.Value(), len(out.Nodes), nil
}

// recount is the naive client-side answer: every pod fetched as JSON with
// kubectl and aggregated in Go.
type recount struct {
	Pods      int64 `json:"pods"`
	Running   int64 `json:"running"`
	Pending   int64 `json:"pending"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Restarts  int64 `json:"restarts"`
	// CPU (millicores) and memory (bytes) requests of the pods bound to a
	// node and not finished, as the scheduler counts them.
	CPUMilli int64 `json:"cpuRequestsMilli"`
	MemBytes int64 `json:"memoryRequestsBytes"`
	// The same figures by the container rule alone, which ignores
	// pod-level resources: what kube-capacity v0.8.0 (kubectl's resource
	// helper of Kubernetes 1.29) computes, so that its answer can be checked
	// too.
	CPUMilliContainerRule int64 `json:"cpuRequestsMilliContainerRule"`
	MemBytesContainerRule int64 `json:"memoryRequestsBytesContainerRule"`
	// Pods with pod-level resources and with an overhead, to show that the
	// recount met them.
	PodLevelResources int64 `json:"podsWithPodLevelResources"`
	Overhead          int64 `json:"podsWithOverhead"`
	Nodes             int   `json:"nodesWithPods"`
	// Took is the whole recount; KubectlTook the part until kubectl exited
	// (listing and printing, overlapped with decoding).
	Took        time.Duration `json:"-"`
	KubectlTook time.Duration `json:"-"`
	Seconds     float64       `json:"seconds"`
	KubectlSecs float64       `json:"kubectlSeconds"`
	OutputBytes int64         `json:"outputBytes"`
}

// naiveRecount runs kubectl get pods -A -o json and recounts its output as
// it arrives. memAvail is MemAvailable read just before, quoted if kubectl
// is killed.
func (c cli) naiveRecount(ctx context.Context, memAvail string) (*recount, error) {
	const label = "kubectl get pods -A -o json"
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	start := time.Now()
	cmd := c.command(ctx, c.kubectl, "--cache-dir", c.cacheDir, "get", "pods", "-A", "-o", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	counter := &countingReader{r: bufio.NewReaderSize(stdout, 1<<20)}
	r, decErr := recountPods(counter)
	// Read to the end whatever happened, so that kubectl is never blocked
	// on a full pipe and exits.
	_, _ = io.Copy(io.Discard, counter)
	waitErr := cmd.Wait()
	kubectlDone := time.Since(start)
	if waitErr != nil {
		return nil, commandFailed(ctx, label, waitErr, commandTimeout, memAvail, stderr.String())
	}
	if decErr != nil {
		return nil, fmt.Errorf("decoding %s: %w", label, decErr)
	}
	r.OutputBytes = counter.n
	r.Took = time.Since(start)
	r.KubectlTook = kubectlDone
	r.Seconds, r.KubectlSecs = r.Took.Seconds(), kubectlDone.Seconds()
	return r, nil
}

// recountPods reads a pod list as kubectl get -o json prints it and counts
// it one pod at a time: at 150,000 pods the whole list decoded is several
// GiB, on top of kubectl's own copy, and the bench must not be what runs
// the machine out of memory.
func recountPods(rd io.Reader) (*recount, error) {
	r := &recount{}
	nodes := map[string]bool{}
	err := jsonlist.EachItem(json.NewDecoder(rd), func(dec *json.Decoder) error {
		// A new Pod for each item: decoding into a used one would keep the
		// previous pod's map entries.
		var p corev1.Pod
		if err := dec.Decode(&p); err != nil {
			return err
		}
		r.add(&p, nodes)
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.Nodes = len(nodes)
	return r, nil
}

// add counts one pod; nodes collects the nodes of the pods whose requests
// count.
func (r *recount) add(p *corev1.Pod, nodes map[string]bool) {
	r.Pods++
	switch p.Status.Phase {
	case corev1.PodRunning:
		r.Running++
	case corev1.PodPending:
		r.Pending++
	case corev1.PodSucceeded:
		r.Succeeded++
	case corev1.PodFailed:
		r.Failed++
	}
	for _, cs := range p.Status.InitContainerStatuses {
		r.Restarts += int64(cs.RestartCount)
	}
	for _, cs := range p.Status.ContainerStatuses {
		r.Restarts += int64(cs.RestartCount)
	}
	if p.Spec.Resources != nil && len(p.Spec.Resources.Requests) > 0 {
		r.PodLevelResources++
	}
	if len(p.Spec.Overhead) > 0 {
		r.Overhead++
	}
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return
	}
	nodes[p.Spec.NodeName] = true
	r.CPUMilli += podRequest(&p.Spec, corev1.ResourceCPU, true)
	r.MemBytes += podRequest(&p.Spec, corev1.ResourceMemory, false)
	r.CPUMilliContainerRule += containerRuleRequest(&p.Spec, corev1.ResourceCPU, true)
	r.MemBytesContainerRule += containerRuleRequest(&p.Spec, corev1.ResourceMemory, false)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// quantityOf is one resource of a list in the unit the bench compares:
// millicores or base units.
func quantityOf(rl corev1.ResourceList, name corev1.ResourceName, milli bool) int64 {
	q, ok := rl[name]
	if !ok {
		return 0
	}
	if milli {
		return q.MilliValue()
	}
	return q.Value()
}

// podRequest is the scheduler's view of a pod's request for one resource:
// the pod-level request (spec.resources) when the pod sets one for it,
// else the container rule; plus overhead. Written from the Kubernetes
// documentation, independently of pkg/summary, so that the two can be
// compared.
func podRequest(spec *corev1.PodSpec, name corev1.ResourceName, milli bool) int64 {
	if spec.Resources != nil {
		if _, ok := spec.Resources.Requests[name]; ok {
			return quantityOf(spec.Resources.Requests, name, milli) + quantityOf(spec.Overhead, name, milli)
		}
	}
	return containerRuleRequest(spec, name, milli)
}

// containerRuleRequest is a pod's request for one resource from its
// containers alone: app containers plus sidecars (restartable init
// containers), or the largest regular init container plus the sidecars
// started before it, if larger; plus overhead.
func containerRuleRequest(spec *corev1.PodSpec, name corev1.ResourceName, milli bool) int64 {
	val := func(rl corev1.ResourceList) int64 { return quantityOf(rl, name, milli) }
	var sum, sidecars, initMax int64
	for _, c := range spec.Containers {
		sum += val(c.Resources.Requests)
	}
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars += val(c.Resources.Requests)
			continue
		}
		initMax = max(initMax, val(c.Resources.Requests)+sidecars)
	}
	return max(sum+sidecars, initMax) + val(spec.Overhead)
}

// ksmScrape fetches kube-state-metrics' /metrics and counts the pod and
// node info series.
func ksmScrape(ctx context.Context, url string) (pods, nodes int, size int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	cr := &countingReader{r: resp.Body}
	sc := bufio.NewScanner(cr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("kube_pod_info{")):
			pods++
		case bytes.HasPrefix(line, []byte("kube_node_info{")):
			nodes++
		}
	}
	return pods, nodes, cr.n, sc.Err()
}
