// Command bench is `make bench`: clusterview's scale and speed benchmark.
//
// It starts a local control plane (internal/localcluster), runs
// clusterview-apiserver as a separate process behind kube-apiserver's
// aggregator, fills the cluster with a synthetic cluster of NODES nodes and
// PODS pods (internal/clusterfill) and measures, always through
// kube-apiserver:
//
//  1. freshness: acknowledged pod/node status change -> first watch event of
//     the NodeSummary, NamespaceSummary and ClusterSummary "cluster" that
//     reflects it, idle and under churn, against kube-apiserver's own watch
//     of the changed object;
//  2. read latency of list nodesummaries, get clustersummary cluster and
//     list namespacesummaries -A, against built-in requests of the same shape;
//  3. peers on the same control plane: kube-capacity vs kubectl get
//     nodesummaries, kube-state-metrics' memory vs clusterview's, and the
//     naive client-side recount (kubectl get pods -A -o json + Go);
//  4. clusterview's CPU and memory while loading and at rest, and the summary
//     engine's cost per event from its Go benchmarks;
//  5. usage (usage.go): a real metrics-server scraping kwok-simulated
//     kubelets, usage freshness after clusterview's read and from the
//     metrics API, memory per pod and peak RSS with usage on;
//  6. history (history.go): bytes written to and stored in clusterview's
//     etcd per summary, extrapolated to the default settings, and the CPU of
//     recording.
//
// It prints one table and writes it with all raw figures to
// _output/bench/<timestamp>.json. See docs/performance.md.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/internal/latency"
	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

type options struct {
	nodes, pods, namespaces int
	// clusterviewFlags are added to clusterview's command line.
	clusterviewFlags        []string
	concurrency             int
	seed                    int64
	podChanges, nodeChanges int
	probeInterval           time.Duration
	idleProbeInterval       time.Duration
	idleMeanInterval        time.Duration
	churnRate               float64
	reads                   int
	repeat                  int
	naiveRuns               int
	rest                    time.Duration
	pprof                   bool
	skipGoBench             bool
	keep                    bool
	allowMissingPeers       bool
	binary                  string
	out                     string
	// skip holds the phases --skip leaves out.
	skip             map[string]bool
	usageNodes       int
	usageChanges     int
	historyWindow    time.Duration
	historyChurnRate float64
}

// Phases that --skip can leave out, in the order they run.
const (
	phaseFreshness = "freshness"
	phaseMany      = "many"
	phaseUsage     = "usage"
	phaseReads     = "reads"
	phasePeers     = "peers"
	phaseColdStart = "coldstart"
	phaseHistory   = "history"
)

var skippablePhases = []string{phaseFreshness, phaseMany, phaseUsage, phaseReads, phasePeers, phaseColdStart, phaseHistory}

// parseSkip parses --skip: a comma-separated list of skippablePhases.
// Skipping freshness skips many, which reuses its probes and watches.
func parseSkip(v string) (map[string]bool, error) {
	skip := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(skippablePhases, p) {
			return nil, fmt.Errorf("--skip: unknown phase %q (phases: %s)", p, strings.Join(skippablePhases, ", "))
		}
		skip[p] = true
	}
	if skip[phaseFreshness] {
		skip[phaseMany] = true
	}
	return skip, nil
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: %s=%q is not a positive integer\n", name, v)
			os.Exit(2)
		}
		return n
	}
	return def
}

func main() {
	var o options
	flag.IntVar(&o.nodes, "nodes", envInt("NODES", clusterfill.DefaultSyntheticNodes), "Synthetic nodes (env NODES).")
	flag.IntVar(&o.pods, "pods", envInt("PODS", clusterfill.DefaultSyntheticPods), "Synthetic pods (env PODS).")
	flag.IntVar(&o.namespaces, "namespaces", envInt("NAMESPACES", clusterfill.DefaultSyntheticNamespaces), "Synthetic namespaces (env NAMESPACES).")
	flag.IntVar(&o.concurrency, "concurrency", clusterfill.DefaultConcurrency, "Requests in flight while loading.")
	flag.Int64Var(&o.seed, "seed", 1, "Seed of the synthetic cluster and the churn.")
	flag.IntVar(&o.podChanges, "pod-changes", 0, "Pod status changes per freshness phase (idle, churn); 0: 200 at full size, 100 below it.")
	flag.IntVar(&o.nodeChanges, "node-changes", -1, "Node status changes per freshness phase (idle, churn); -1: 100 at full size, 25 below it.")
	flag.DurationVar(&o.probeInterval, "probe-interval", 100*time.Millisecond, "Time between two freshness changes under churn.")
	flag.DurationVar(&o.idleMeanInterval, "idle-mean-interval", time.Second,
		"Mean time between two freshness changes in the idle phase, drawn at random (exponential), so that changes land inside clusterview's --status-update-interval as often as real ones do.")
	flag.DurationVar(&o.idleProbeInterval, "idle-probe-interval", 1250*time.Millisecond,
		"Time between two freshness changes in the spaced idle phase (the method of earlier runs, kept as a second set of rows). Longer than clusterview's --status-update-interval (250ms), so that every change finds the cluster idle: nothing changed since the ClusterSummary's last status write.")
	flag.Float64Var(&o.churnRate, "churn-rate", 50, "Background changes per second in the churn phase.")
	flag.IntVar(&o.reads, "reads", 100, "Requests timed per read request (and as many of its peer).")
	flag.IntVar(&o.repeat, "repeat", 3, "Timed runs of kubectl and kube-capacity (after one warm-up run each).")
	flag.IntVar(&o.naiveRuns, "naive-runs", 1, "Timed runs of the naive recount (kubectl get pods -A -o json + Go), the slowest step at full size.")
	flag.DurationVar(&o.rest, "rest", 20*time.Second, "At-rest window over which CPU use is measured.")
	flag.BoolVar(&o.pprof, "pprof", false, "Save clusterview's CPU profile (during each churn phase: one summary, then 100) and heap profile (after each) next to the JSON, and a heap profile at the end of every phase that raised its peak RSS (heap-peak-<phase>).")
	flag.BoolVar(&o.skipGoBench, "skip-go-bench", false, "Do not run the summary engine's Go benchmarks.")
	flag.BoolVar(&o.allowMissingPeers, "allow-missing-peers", false, "Do not fail the run when a peer (kube-capacity, kube-state-metrics) could not be built or run.")
	flag.BoolVar(&o.keep, "keep", false, "Keep the run directory (control plane data and logs) after a successful run.")
	flag.StringVar(&o.binary, "clusterview-binary", "_output/bin/clusterview-apiserver", "clusterview-apiserver binary (make build).")
	flag.Func("clusterview-flag", "A flag added to clusterview's command line (repeatable), e.g. --clusterview-flag=--watch-cache-sizes=clustersummaries.clusterview.io#0; the report records them.",
		func(v string) error { o.clusterviewFlags = append(o.clusterviewFlags, v); return nil })
	flag.StringVar(&o.out, "out", "_output/bench", "Directory for the JSON report, profiles and the run directory.")
	skip := flag.String("skip", "", "Comma-separated phases to leave out: "+strings.Join(skippablePhases, ", ")+" (freshness implies many). The load always runs.")
	flag.IntVar(&o.usageNodes, "usage-nodes", 0, "Usage phase: synthetic nodes whose kubelet kwok plays (the first by name); 0: all of them. Above 1000 it gets there in four steps and stays at the largest one metrics-server and clusterview kept up with.")
	flag.IntVar(&o.usageChanges, "usage-changes", 15, "Usage phase: changes of the probe pods' memory use timed for usage freshness.")
	flag.DurationVar(&o.historyWindow, "history-window", 90*time.Second, "History phase: length of each of its two windows (history disabled, then recorded every 1s).")
	flag.Float64Var(&o.historyChurnRate, "history-churn-rate", 10, "History phase: background changes per second in both windows, so that recorded figures move.")
	renderDoc := flag.String("render-doc", "", "Only regenerate the generated section of this doc (docs/performance.md) from the run reports in --reports, then exit.")
	reportsDir := flag.String("reports", "docs/bench", "Committed run reports that --render-doc renders.")
	klog.InitFlags(nil)
	flag.Parse()
	if *renderDoc != "" {
		if err := updateDoc(*renderDoc, *reportsDir); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	// The idle phase spaces its changes by more than a second, so its
	// length grows with the count: the quick size takes fewer.
	full := o.pods >= clusterfill.DefaultSyntheticPods
	if o.podChanges == 0 {
		o.podChanges = map[bool]int{true: 200, false: 100}[full]
	}
	if o.nodeChanges == -1 {
		o.nodeChanges = map[bool]int{true: 100, false: 25}[full]
	}
	var err error
	if o.skip, err = parseSkip(*skip); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	if o.nodes <= 0 || o.pods <= 0 || o.namespaces <= 0 || o.podChanges <= 0 || o.nodeChanges < 0 || o.idleProbeInterval <= 0 || o.idleMeanInterval <= 0 || o.probeInterval <= 0 || o.reads <= 0 || o.repeat <= 0 || o.naiveRuns <= 0 || o.churnRate <= 0 ||
		o.usageNodes < 0 || o.usageChanges <= 0 || o.historyWindow <= 0 || o.historyChurnRate <= 0 {
		fmt.Fprintln(os.Stderr, "bench: sizes, counts and rates must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// A second Ctrl-C kills at once; the children die with us (Pdeathsig).
		stop()
	}()
	misses, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if misses > 0 {
		// A wrong answer, a peer not measured or a target missed fails
		// the run: the bench is a judge, not only a report.
		fmt.Fprintf(os.Stderr, "bench: %d MISS(es); see the table\n", misses)
		os.Exit(1)
	}
}

// bench holds what the phases share.
type bench struct {
	o       options
	root    string
	runDir  string
	out     io.Writer
	rep     *Report
	cluster *localcluster.Cluster
	cv      *localcluster.Process
	ksm     *localcluster.Process
	kube    kubernetes.Interface // protobuf (clusterfill.TuneConfig): for loading and churn
	// kubeJSON reads as JSON, like clusterview's clientset: for the reads.
	kubeJSON kubernetes.Interface
	cvc      clientset.Interface
	cvPort   int
	// directMu guards directTransport, shared by the requests that reach
	// clusterview directly (directClient).
	directMu        sync.Mutex
	directTransport *http.Transport
	caPEM           []byte
	// auditLog is kube-apiserver's audit log of clusterview's reads of the
	// resource metrics API (usage phase).
	auditLog string
	began    time.Time
	fresh    *freshness

	// Whether clusterview serves these resources (they were being wired
	// while this benchmark was written; it measures what is there).
	nodeSummaries, namespaceSummaries bool

	// clusterview's CPU while loading, kube-apiserver's, the load's wall
	// time and clusterview's peak RSS right after it.
	loadCPU, loadAPICPU time.Duration
	loadWall            time.Duration
	loadHWM             int64
	// churnCPU is clusterview's CPU (cores) in the churn phase, with one
	// ClusterSummary: the peer of the 100-summary phase.
	churnCPU float64
	// machine follows the machine's CPU time from phase to phase.
	machine machineClock
}

func (b *bench) step(format string, args ...any) {
	fmt.Fprintf(b.out, "[%6.1fs] %s\n", time.Since(b.began).Seconds(), fmt.Sprintf(format, args...))
}

// run runs the benchmark and returns how many rows missed their target.
func run(ctx context.Context, o options) (misses int, retErr error) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		return 0, err
	}
	if err := os.Chdir(root); err != nil {
		return 0, err
	}
	b := &bench{o: o, root: root, out: os.Stdout, began: time.Now()}
	b.rep = &Report{
		Started:  time.Now(),
		Machine:  machineFacts(),
		Versions: Versions{Go: runtime.Version(), Clusterview: gitDescribe(root), Tools: map[string]string{}},
		Size:     Size{Nodes: o.nodes, Pods: o.pods, Namespaces: o.namespaces},
		Settings: Settings{PodChanges: o.podChanges, NodeChanges: o.nodeChanges, ProbeInterval: o.probeInterval.String(), IdleProbeInterval: o.idleProbeInterval.String(), IdleMeanInterval: o.idleMeanInterval.String(),
			ChurnRate: o.churnRate, Reads: o.reads, Repeat: o.repeat, NaiveRuns: o.naiveRuns, RestWindow: o.rest.String(),
			UsageNodes: o.usageNodes, UsageChanges: o.usageChanges, HistoryWindow: o.historyWindow.String(), HistoryChurnRate: o.historyChurnRate,
			ClusterviewFlags: o.clusterviewFlags},
		Commands: map[string]Timing{}, Answers: map[string]string{}, Processes: map[string]ProcJSON{},
	}
	outDir, err := filepath.Abs(o.out)
	if err != nil {
		return 0, err
	}
	b.runDir = filepath.Join(outDir, b.rep.Started.UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(b.runDir, 0o755); err != nil {
		return 0, err
	}
	for _, p := range skippablePhases {
		if o.skip[p] {
			b.rep.Settings.SkippedPhases = append(b.rep.Settings.SkippedPhases, p)
		}
	}
	b.step("clusterview scale benchmark: %d nodes, %d pods, %d namespaces; run directory %s", o.nodes, o.pods, o.namespaces, b.runDir)

	// Whatever happens, stop in order and write what was measured.
	defer func() {
		b.stopAll()
		if retErr != nil {
			b.rep.Error = retErr.Error()
		}
		b.rep.Finished = time.Now()
		b.rep.printTable(b.out)
		path, err := b.rep.writeJSON(outDir)
		if err != nil {
			retErr = errors.Join(retErr, err)
		} else {
			fmt.Fprintf(b.out, "\nreport: %s (took %v)\n", path, time.Since(b.began).Round(time.Second))
		}
		misses = len(b.rep.Misses)
		if retErr == nil && !o.keep {
			_ = os.RemoveAll(b.runDir)
		} else {
			fmt.Fprintf(b.out, "run directory kept: %s\n", b.runDir)
		}
	}()

	if err := b.prepare(ctx); err != nil {
		return 0, err
	}
	// After the builds and before the first process: the machine at rest.
	b.rep.PhaseMachine = append(b.rep.PhaseMachine, b.machine.atStart())
	if err := b.startAll(ctx); err != nil {
		return 0, err
	}
	if err := b.load(ctx); err != nil {
		return 0, err
	}
	// The freshness watches serve both freshness phases: the 100-summary
	// phase judges "cluster" and kube-apiserver's watch as well.
	wctx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()
	if !o.skip[phaseFreshness] {
		if err := b.freshness(wctx); err != nil {
			return 0, err
		}
	}
	if !o.skip[phaseMany] {
		if err := b.manyPhase(wctx); err != nil {
			return 0, err
		}
	}
	stopWatches()
	for _, p := range []struct {
		name string
		run  func(context.Context) error
	}{
		{phaseUsage, b.usagePhase}, {phaseReads, b.reads}, {phasePeers, b.peers}, {phaseColdStart, b.coldStart}, {phaseHistory, b.historyPhase},
	} {
		if o.skip[p.name] {
			continue
		}
		if err := p.run(ctx); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// prepare builds what is missing and runs the Go benchmarks while the
// machine is otherwise quiet.
func (b *bench) prepare(ctx context.Context) error {
	b.step("building the control plane if needed (hack/build-tools.sh all)")
	ensure := localcluster.EnsureUsageBinaries
	if b.o.skip[phaseUsage] {
		ensure = localcluster.EnsureBinaries
	}
	binDir, err := ensure(ctx, klog.Background().WithName("build-tools").V(1))
	if err != nil {
		return err
	}
	for _, peer := range []string{"kube-state-metrics", "kube-capacity"} {
		b.step("building %s if needed (hack/build-tools.sh %s)", peer, peer)
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(b.root, "hack", "build-tools.sh"), peer)
		pw := newPrefixWriter(b.out, "  ")
		cmd.Stdout, cmd.Stderr = pw, pw
		err := cmd.Run()
		pw.Flush()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.peerMissing(peer, fmt.Sprintf("could not be built (%v); see the lines above", err))
		}
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl", "kube-state-metrics", "kube-capacity"} {
		if v := stampVersion(binDir, name); v != "" {
			b.rep.Versions.Tools[name] = v
		}
	}
	if _, err := os.Stat(b.o.binary); err != nil {
		return fmt.Errorf("%s: %w (run make build)", b.o.binary, err)
	}
	if !b.o.skipGoBench {
		b.step("running the summary engine's Go benchmarks (go test -run '^$' -bench . -benchmem ./pkg/summary/)")
		res, took, err := runGoBenchmarks(ctx, b.root, b.out)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.rep.Skipped = append(b.rep.Skipped, "engine Go benchmarks: "+err.Error())
		} else {
			b.step("Go benchmarks done in %v", took.Round(time.Second))
			b.rep.GoBench = res
			b.rep.phase = "engine (Go benchmarks)"
			b.engineRows()
		}
	}
	return nil
}

func (b *bench) startAll(ctx context.Context) error {
	b.step("starting etcd and kube-apiserver")
	var err error
	// kube-apiserver logs clusterview's reads of the resource metrics API
	// for the usage phase; kwok and metrics-server start only there.
	var extra []string
	if !b.o.skip[phaseUsage] {
		if extra, b.auditLog, err = auditArgs(b.runDir); err != nil {
			return err
		}
	}
	b.cluster, err = localcluster.Start(ctx, localcluster.Options{Dir: filepath.Join(b.runDir, "cluster"), StopTimeout: 30 * time.Second, ExtraAPIServerArgs: extra})
	if err != nil {
		return err
	}
	if err := b.cluster.ApplyClusterviewRBAC(ctx); err != nil {
		return err
	}
	admin := b.cluster.AdminConfig()
	if b.kube, err = kubernetes.NewForConfig(clusterfill.TuneConfig(admin)); err != nil {
		return err
	}
	if b.cvc, err = clientset.NewForConfig(unthrottled(admin)); err != nil {
		return err
	}
	// The read phase's peers read JSON, as clusterview's clientset does.
	// The core clientset of this client-go asks for protobuf first unless
	// told otherwise, which loads the cluster faster (b.kube) but is no
	// like-for-like peer for a read.
	if b.kubeJSON, err = kubernetes.NewForConfig(jsonOnly(unthrottled(admin))); err != nil {
		return err
	}

	if b.cvPort, err = freePort(); err != nil {
		return err
	}
	_, _, caPEM := b.cluster.ClusterviewServing()
	b.caPEM = caPEM
	b.step("starting clusterview-apiserver on 127.0.0.1:%d", b.cvPort)
	b.cv, err = localcluster.StartProcess(localcluster.ProcessOptions{
		Name:    "clusterview-apiserver",
		Path:    b.o.binary,
		Args:    append(append(b.cluster.ClusterviewFlags(filepath.Join(b.runDir, "clusterview-etcd")), "--secure-port="+strconv.Itoa(b.cvPort)), b.o.clusterviewFlags...),
		LogPath: filepath.Join(b.runDir, "clusterview.log"),
	})
	if err != nil {
		return err
	}
	if err := b.cluster.RegisterClusterview(ctx, b.cvPort); err != nil {
		return err
	}
	if err := b.cluster.WaitForClusterviewAvailable(ctx, 3*time.Minute); err != nil {
		return fmt.Errorf("%w (clusterview log: %s)", err, b.cv.Options().LogPath)
	}
	// The server creates ClusterSummary "cluster" at its first start.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cs, err := b.cvc.ClusterviewV1beta1().ClusterSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		if err == nil && cs.Status.Pods != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clustersummary %s has no computed status after 2m (last error: %v; clusterview log: %s)", v1beta1.DefaultClusterSummaryName, err, b.cv.Options().LogPath)
		}
		if err := b.cv.ExitError(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	b.step("clusterview is available through kube-apiserver (pid %d)", b.cv.PID())
	one := metav1.ListOptions{Limit: 1}
	_, err = b.cvc.ClusterviewV1beta1().NodeSummaries().List(ctx, one)
	if b.nodeSummaries = err == nil; !b.nodeSummaries {
		b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("NodeSummary (freshness, list nodesummaries, kubectl get nodesummaries vs kube-capacity): not served: %v", err))
	}
	_, err = b.cvc.ClusterviewV1beta1().NamespaceSummaries("").List(ctx, one)
	if b.namespaceSummaries = err == nil; !b.namespaceSummaries {
		b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("NamespaceSummary (freshness, list namespacesummaries -A): not served: %v", err))
	}
	return nil
}

// stopAll stops clusterview, kube-state-metrics, kube-apiserver and etcd,
// in that order.
func (b *bench) stopAll() {
	if b.cv == nil && b.ksm == nil && b.cluster == nil {
		return
	}
	b.step("stopping clusterview, kube-state-metrics, kube-apiserver and etcd")
	for _, p := range []*localcluster.Process{b.cv, b.ksm} {
		if p == nil {
			continue
		}
		if err := p.Stop(20 * time.Second); err != nil {
			fmt.Fprintf(b.out, "stopping %s: %v\n", p.Options().Name, err)
		}
	}
	if b.cluster != nil {
		if err := b.cluster.Stop(); err != nil {
			fmt.Fprintf(b.out, "stopping the control plane: %v\n", err)
		}
	}
	b.cv, b.ksm, b.cluster = nil, nil, nil
}

func (b *bench) load(ctx context.Context) error {
	b.rep.phase = "load"
	b.step("loading the synthetic cluster: %d nodes, %d pods in %d namespaces (%d writers)", b.o.nodes, b.o.pods, b.o.namespaces, b.o.concurrency)
	cvUse := beginUsage(b.cv.PID())
	apiPID := b.cluster.KubeAPIServer().PID()
	apiUse := beginUsage(apiPID)
	report, err := clusterfill.Synthetic(ctx, b.kube, clusterfill.SyntheticOptions{
		Nodes: b.o.nodes, Pods: b.o.pods, Namespaces: b.o.namespaces, Concurrency: b.o.concurrency,
		Progress: newPrefixWriter(b.out, "  "), ProgressInterval: 2 * time.Second, Seed: b.o.seed,
	})
	if err != nil {
		return err
	}
	b.step("%s", report)
	b.rep.Load = &LoadResult{Duration: report.Duration.Round(time.Millisecond).String(), Seconds: report.Duration.Seconds(),
		ObjectsPerSecond: report.ObjectsPerSecond, WritesPerSecond: report.WritesPerSecond, Summary: report.String()}

	// Probe objects for the freshness phases, then wait until clusterview
	// counts everything: the end of clusterview's loading work.
	b.step("creating the freshness probe node and %d probe pods", probePhases*b.o.podChanges)
	loaded := time.Now()
	f, err := setupProbes(ctx, b.kube, probePhases*b.o.podChanges)
	if err != nil {
		return err
	}
	f.cv, f.out = b.cvc, b.out
	if b.nodeSummaries {
		f.views = append(f.views, viewNodeSummary)
	}
	if b.namespaceSummaries {
		f.views = append(f.views, viewNamespaceSummary)
	}
	f.views = append(f.views, viewClusterSummary)
	b.fresh = f
	b.step("waiting until ClusterSummary %q counts every pod and node", v1beta1.DefaultClusterSummaryName)
	if err := f.waitForBaseline(ctx, int64(b.o.pods+probePhases*b.o.podChanges), int64(b.o.nodes+1), 10*time.Minute); err != nil {
		return err
	}
	b.rep.Load.CatchUpSeconds = time.Since(loaded).Seconds()
	cvCPU, cvNow, wall := cvUse.since(b.cv.PID())
	apiCPU, _, _ := apiUse.since(apiPID)
	b.step("clusterview caught up %.1fs after the load; it used %.1f CPU-s while loading (kube-apiserver %.1f CPU-s), peak RSS %.0f MiB",
		b.rep.Load.CatchUpSeconds, cvCPU.Seconds(), apiCPU.Seconds(), mib(cvNow.HWM))
	b.loadCPU, b.loadAPICPU, b.loadWall, b.loadHWM = cvCPU, apiCPU, wall, cvNow.HWM

	row := Row{Metric: "load: synthetic cluster written", Value: fmt.Sprintf("%.1f s (%.0f objects/s)", report.Duration.Seconds(), report.ObjectsPerSecond),
		ValueNumber: report.Duration.Seconds(), Unit: "s"}
	b.rep.addRow(row)
	row = Row{Metric: "clusterview CPU while loading", Value: fmt.Sprintf("%.1f CPU-s", cvCPU.Seconds()), ValueNumber: cvCPU.Seconds(), Unit: "CPU-s"}
	if apiPID != 0 {
		row.Peer = fmt.Sprintf("kube-apiserver %.1f CPU-s", apiCPU.Seconds())
		row.Ratio, row.RatioValue = ratio(cvCPU.Seconds(), apiCPU.Seconds())
	}
	b.rep.addRow(row)
	b.phaseRSS("load")
	b.rep.addRow(Row{Metric: "clusterview peak RSS after loading", Value: fmt.Sprintf("%.0f MiB", mib(cvNow.HWM)), ValueNumber: mib(cvNow.HWM), Unit: "MiB",
		Peer: "(kube-state-metrics below)"})
	return nil
}

func (b *bench) freshness(ctx context.Context) error {
	f := b.fresh
	// The watches run until ctx ends, through the phases after this one.
	f.startWatches(ctx)
	// Every watch starts with the current state; wait for it.
	deadline := time.Now().Add(time.Minute)
	for {
		ready := true
		for _, v := range append(slices.Clone(f.views), viewKube) {
			if p, n := f.recorders[v].max(); p < 0 && n < 0 {
				ready = false
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("freshness watches delivered no initial state within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The setup above kept the ClusterSummary changing, so its status
	// controller may still hold a write back: idle starts one probe
	// interval after the last of it.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.o.idleProbeInterval):
	}
	// The idle phase's changes come at random (exponential, mean
	// --idle-mean-interval), so they land inside the status interval as
	// often as real changes do. The spaced phase is the method of earlier
	// runs, kept as a second set of rows for comparison: spaced past the
	// status interval, every change meets an idle ClusterSummary.
	b.step("freshness, idle: %d pod and %d node status changes at random, mean interval %v", b.o.podChanges, b.o.nodeChanges, b.o.idleMeanInterval)
	b.rep.phase = "freshness, idle"
	idle, err := f.runPhase(ctx, "idle", b.o.podChanges, b.o.nodeChanges, poisson(b.o.idleMeanInterval, b.o.seed))
	if err != nil {
		return err
	}
	b.freshRows(idle, time.Second, time.Second)
	b.phaseRSS("freshness, idle")
	b.step("freshness, idle, spaced (earlier runs' method): %d pod and %d node status changes, one every %v", b.o.podChanges, b.o.nodeChanges, b.o.idleProbeInterval)
	b.rep.phase = "freshness, idle, spaced"
	spaced, err := f.runPhase(ctx, "idle, spaced", b.o.podChanges, b.o.nodeChanges, every(b.o.idleProbeInterval))
	if err != nil {
		return err
	}
	b.freshRows(spaced, time.Second, time.Second)
	b.phaseRSS("freshness, idle, spaced")

	b.rep.phase = "freshness, churn"
	b.step("freshness under churn: %.0f changes/s of synthetic pods and nodes in the background", b.o.churnRate)
	c, profiled, err := b.runUnderChurn(ctx, f, "churn", b.o.seed, "", nil)
	if err != nil {
		return err
	}
	churned := c.res
	// Issue 13's target for ClusterSummary under churn is 500 ms; the
	// live views keep 2 s.
	b.freshRows(churned, 2*time.Second, 500*time.Millisecond)
	b.churnCPU = c.cpu.Seconds() / c.wall.Seconds()
	b.rep.addRow(Row{Metric: "clusterview CPU under churn, 1 ClusterSummary", Value: fmt.Sprintf("%.2f cores", b.churnCPU), ValueNumber: b.churnCPU, Unit: "cores"})
	if c.writesErr[0] == nil && c.writesErr[1] == nil {
		// Only "cluster" exists in this phase: every write is its own.
		rate := c.writes / c.wall.Seconds()
		row := Row{Metric: "status writes under churn, 1 ClusterSummary (/metrics)", Value: fmt.Sprintf("%.1f writes/s", rate), ValueNumber: rate, Unit: "writes/s",
			Peer: "budget --status-update-interval"}
		b.rep.target(&row, fmt.Sprintf("≤ %.0f/s per summary", perSummaryWriteBudget), rate <= perSummaryWriteBudget*1.05,
			fmt.Sprintf("%.1f writes/s over the budget", rate-perSummaryWriteBudget))
		b.rep.addRow(row)
	} else {
		b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("status writes of the churn phase: %v %v", c.writesErr[0], c.writesErr[1]))
	}
	b.phaseRSS("freshness, churn")
	profiled()
	return nil
}

// profilePhase starts, with --pprof, a CPU profile of clusterview that
// covers a churn phase's probes; the returned func waits for it and then
// takes a heap profile. Profiles are named cpu<suffix> and heap<suffix>.
func (b *bench) profilePhase(ctx context.Context, suffix string) (finish func()) {
	if !b.o.pprof {
		return func() {}
	}
	expected := time.Duration(b.o.podChanges+b.o.nodeChanges)*b.o.probeInterval + 2*time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.profile(ctx, "profile?seconds="+strconv.Itoa(int(min(expected, 60*time.Second).Seconds())), "cpu"+suffix)
	}()
	return func() {
		<-done
		b.profile(ctx, "heap", "heap"+suffix)
	}
}

// freshRows adds a phase's freshness rows: per view, latency from the
// moment the change was sent (the figure judged, target for the live
// views, clusterTarget for ClusterSummary), and, as a second row, from the
// write's acknowledgement, the method of earlier runs, which leaves out the
// write's own time and so reads lower.
func (b *bench) freshRows(res *phaseResult, target, clusterTarget time.Duration) {
	fr := FreshnessResult{Phase: res.Name, Changes: len(res.Probes), Duration: res.Duration.Seconds(),
		Views: map[string]Stats{}, ViewsFromSent: map[string]Stats{}, Churn: res.ChurnStats, Samples: map[string][]Sample{}}
	for _, v := range append(slices.Clone(b.fresh.views), viewKube) {
		fr.Samples[string(v)] = res.Samples[v]
		fr.Views[string(v)] = statsOf(res.Latencies[v], res.Missing[v])
		fr.ViewsFromSent[string(v)] = statsOf(res.FromSent[v], res.Missing[v])
	}
	b.rep.Freshness = append(b.rep.Freshness, fr)
	// The peer is kube-apiserver's own watch of the changed pod or node,
	// timed from the write's start: from its acknowledgement it is mostly
	// zero, as the watch event tends to arrive before the response.
	peer := fr.ViewsFromSent[string(viewKube)]
	label := res.Name
	if res.ChurnStats != nil {
		label = fmt.Sprintf("churn %.0f/s", res.ChurnStats.Achieved)
	}
	for _, v := range b.fresh.views {
		t := target
		if v == viewClusterSummary {
			t = clusterTarget
		}
		for _, method := range []struct {
			name  string
			stats Stats
		}{{"from send", fr.ViewsFromSent[string(v)]}, {"from ack, earlier method", fr.Views[string(v)]}} {
			s := method.stats
			row := Row{Metric: fmt.Sprintf("freshness %s, %s p50/p99 (n=%d), %s", label, v, s.N, method.name),
				Value: fmt.Sprintf("%s / %s", fmtMs(s.P50ms), fmtMs(s.P99ms)), ValueNumber: s.P99ms, Unit: "ms (p99)",
				Peer: fmt.Sprintf("kube-apiserver watch %s / %s (from send)", fmtMs(peer.P50ms), fmtMs(peer.P99ms))}
			if s.Missing > 0 {
				row.Value += fmt.Sprintf(", %d never seen", s.Missing)
			}
			row.Ratio, row.RatioValue = ratio(s.P99ms, peer.P99ms)
			met := s.Missing == 0 && s.N > 0 && s.P99ms <= ms(t)
			missed := fmt.Sprintf("p99 %.0f ms over (%.2f× the target)", s.P99ms-ms(t), s.P99ms/ms(t))
			if s.Missing > 0 {
				missed = fmt.Sprintf("%d of %d changes not seen within %v", s.Missing, s.Missing+s.N, seenTimeout)
			}
			b.rep.target(&row, "p99 ≤ "+fmtMs(ms(t)), met, missed)
			b.rep.addRow(row)
		}
	}
}

func (b *bench) reads(ctx context.Context) error {
	b.rep.phase = "reads"
	b.step("read latency through kube-apiserver: %d requests each, alternating with a built-in request of the same shape", b.o.reads)
	var cases []readCase
	for _, rc := range readCases(b.cvc, b.kubeJSON, b.kube) {
		if (strings.Contains(rc.Name, "nodesummaries") && !b.nodeSummaries) || (strings.Contains(rc.Name, "namespacesummaries") && !b.namespaceSummaries) {
			continue
		}
		cases = append(cases, rc)
	}
	res, err := measureReads(ctx, b.out, cases, b.o.reads)
	if err != nil {
		return err
	}
	// The aggregation hop's own cost: clusterview's do-nothing request
	// minus kube-apiserver's, at the median. Every other read is also shown
	// net of it.
	var hop float64
	hopFound := false
	for _, r := range res {
		if strings.Contains(r.Name, "aggregation hop") {
			hop = ms(latency.Percentile(r.Samples, 50)) - ms(latency.Percentile(r.PeerSamples, 50))
			hopFound = true
		}
	}
	for _, r := range res {
		s, p := statsOf(r.Samples, 0), statsOf(r.PeerSamples, 0)
		b.rep.Reads = append(b.rep.Reads, ReadSummary{Request: r.Name, Items: r.Items, Stats: s, Peer: r.Peer, PeerItems: r.PeerItems, PeerStats: p})
		row := Row{Metric: fmt.Sprintf("read: %s (%d items) p50/p99", r.Name, r.Items), Value: fmt.Sprintf("%s / %s", fmtMs(s.P50ms), fmtMs(s.P99ms)),
			ValueNumber: s.P99ms, Unit: "ms (p99)",
			Peer: fmt.Sprintf("%s (%d) %s / %s", r.Peer, r.PeerItems, fmtMs(p.P50ms), fmtMs(p.P99ms))}
		row.Ratio, row.RatioValue = ratio(s.P99ms, p.P99ms)
		if hopFound && !strings.Contains(r.Name, "aggregation hop") {
			row.Peer += fmt.Sprintf("; p50 net of the aggregation hop (%s): %s", fmtMs(hop), fmtMs(s.P50ms-hop))
		}
		switch {
		case strings.HasPrefix(r.Name, "get "):
			b.rep.target(&row, "p99 ≤ 50 ms", s.P99ms <= 50, fmt.Sprintf("p99 %.1f ms over (%.2f× the target)", s.P99ms-50, s.P99ms/50))
		case strings.HasSuffix(r.Name, earlierReadMethod):
			b.rep.target(&row, "p99 ≤ the core list's p99 (core as protobuf, the earlier method)", s.P99ms <= p.P99ms,
				fmt.Sprintf("p99 %.1f ms over the core list's (%.2f×)", s.P99ms-p.P99ms, s.P99ms/p.P99ms))
		case strings.HasPrefix(r.Name, "list "):
			// Both read as JSON (b.kubeJSON and clusterview's clientset): the same protocol.
			b.rep.target(&row, "p99 ≤ the core list's p99 (both JSON)", s.P99ms <= p.P99ms,
				fmt.Sprintf("p99 %.1f ms over the core list's (%.2f×)", s.P99ms-p.P99ms, s.P99ms/p.P99ms))
		}
		b.rep.addRow(row)
	}
	b.phaseRSS("reads")
	return nil
}

func (b *bench) peers(ctx context.Context) error {
	b.rep.phase = "peers"
	c := cli{kubeconfig: b.cluster.AdminKubeconfig(), kubectl: b.cluster.KubectlPath(), cacheDir: filepath.Join(b.runDir, "kubectl-cache"), out: b.out}
	binDir := filepath.Dir(b.cluster.KubectlPath())

	// kube-state-metrics: memory once synced, CPU at rest next to clusterview.
	if ksmPath, ok := b.ksmBinary(); ok {
		if err := b.runKSM(ctx, ksmPath); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.peerMissing("kube-state-metrics", err.Error())
		}
	} else {
		b.peerMissing("kube-state-metrics", "binary not built")
		b.restOnly(ctx)
	}
	// kube-state-metrics' figures are recorded (or it failed): at full size
	// it holds about 5 GiB that kube-capacity and the naive recount need.
	b.stopKSM("kube-capacity and the naive recount need the memory")
	b.stopUsage(ctx)

	// kube-capacity vs kubectl get nodesummaries: the same answer, node allocation.
	var nodeSummaries cmdResult
	if b.nodeSummaries {
		var err error
		nodeSummaries, err = c.timeCommand(ctx, true, b.o.repeat, "kubectl get nodesummaries", c.kubectl, "--cache-dir", c.cacheDir, "get", "nodesummaries")
		if err != nil {
			return err
		}
		b.rep.Commands["kubectl get nodesummaries"] = timingOf(nodeSummaries)
	}
	kcPath := filepath.Join(binDir, "kube-capacity")
	_, statErr := os.Stat(kcPath)
	var kubeCapacityJSON []byte
	switch {
	case !b.nodeSummaries:
		// Reported as skipped when discovered.
	case statErr == nil && b.rep.Versions.Tools["kube-capacity"] != "":
		// kube-capacity keeps no cache, so no warm-up run: at full size one
		// run takes minutes. JSON output, so that the last run's answer can
		// be checked against clusterview's.
		kc, err := c.timeCommand(ctx, false, b.o.repeat, "kube-capacity -o json", kcPath, "--kubeconfig", c.kubeconfig, "-o", "json")
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.peerMissing("kube-capacity", err.Error())
		} else {
			b.rep.Commands["kube-capacity"] = timingOf(kc)
			ns, k := latency.Percentile(nodeSummaries.Samples, 50), latency.Percentile(kc.Samples, 50)
			row := Row{Metric: "node allocation: kubectl get nodesummaries (median wall)", Value: fmtMs(ms(ns)), ValueNumber: ms(ns), Unit: "ms",
				Peer: "kube-capacity " + fmtMs(ms(k))}
			row.Ratio, row.RatioValue = ratio(ms(ns), ms(k))
			speedup := ms(k) / ms(ns)
			b.rep.target(&row, "≥ 20× faster", speedup >= 20, fmt.Sprintf("%.1f× faster, %.1f× short of 20×", speedup, 20/speedup))
			b.rep.addRow(row)
			kubeCapacityJSON = kc.lastOutput
		}
	default:
		b.peerMissing("kube-capacity", "binary not built (see hack/build-tools.sh kube-capacity)")
	}

	// The naive baseline against kubectl get clustersummary.
	cs, err := c.timeCommand(ctx, true, b.o.repeat, "kubectl get clustersummary cluster -o yaml", c.kubectl, "--cache-dir", c.cacheDir, "get", "clustersummary", v1beta1.DefaultClusterSummaryName, "-o", "yaml")
	if err != nil {
		return err
	}
	b.rep.Commands["kubectl get clustersummary cluster -o yaml"] = timingOf(cs)
	var naive []time.Duration
	var last *recount
	for i := range b.o.naiveRuns {
		avail := memAvailable()
		b.step("naive recount %d/%d: kubectl get pods -A -o json, decoded one pod at a time and aggregated in Go; MemAvailable %s", i+1, b.o.naiveRuns, avail)
		r, err := c.naiveRecount(ctx, avail)
		if err != nil {
			return err
		}
		naive = append(naive, r.Took)
		last = r
		fmt.Fprintf(b.out, "  [peers] naive recount: run %d/%d %v (kubectl %v, %.0f MiB of JSON)\n", i+1, b.o.naiveRuns,
			r.Took.Round(time.Millisecond), r.KubectlTook.Round(time.Millisecond), float64(r.OutputBytes)/(1<<20))
	}
	b.rep.Naive = last
	b.rep.Commands["naive recount"] = timingOf(cmdResult{Command: "naive recount", Samples: naive, OutputBytes: int(last.OutputBytes)})
	csMed, nvMed := latency.Percentile(cs.Samples, 50), latency.Percentile(naive, 50)
	row := Row{Metric: "cluster totals: kubectl get clustersummary cluster (median wall)", Value: fmtMs(ms(csMed)), ValueNumber: ms(csMed), Unit: "ms",
		Peer: "naive recount " + fmtMs(ms(nvMed))}
	row.Ratio, row.RatioValue = ratio(ms(csMed), ms(nvMed))
	b.rep.addRow(row)
	// Both peers are judged against one read of the status: the churn
	// phase is over, so it is the answer both had to find.
	status, err := b.cvc.ClusterviewV1beta1().ClusterSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
	if err == nil && status.Status.Pods == nil {
		err = errors.New("clustersummary cluster has no status")
	}
	if err != nil {
		b.answerRow("naive recount", false, "not compared: "+err.Error())
		if kubeCapacityJSON != nil {
			b.answerRow("kube-capacity", false, "not compared: "+err.Error())
		}
		return nil
	}
	b.checkNaiveAnswer(status, last)
	if kubeCapacityJSON != nil {
		b.checkCapacityAnswer(status, kubeCapacityJSON, last)
	}
	return nil
}

// stopKSM stops kube-state-metrics, if it runs, once its figures are
// recorded; why says what needs it gone. Nothing after uses the process:
// phaseRSS and stopAll skip it once nil, and the cold start compares with
// its recorded figures.
func (b *bench) stopKSM(why string) {
	if b.ksm == nil {
		return
	}
	rss := "RSS not read"
	if st, err := readProc(b.ksm.PID()); err == nil {
		rss = fmt.Sprintf("RSS %.0f MiB", mib(st.RSS))
	}
	b.step("stopping kube-state-metrics (%s): its figures are recorded, and %s", rss, why)
	if err := b.ksm.Stop(20 * time.Second); err != nil {
		// Not fatal: it only holds memory, and stopAll tries again at
		// the end.
		fmt.Fprintf(b.out, "  [%s] stopping kube-state-metrics: %v\n", b.rep.phase, err)
		return
	}
	b.ksm = nil
}

// stopUsage stops the resource metrics pipeline, if the usage phase started
// it, once the usage and reads phases are done. At full size kwok and
// metrics-server held 5.9 GiB, and with them resident the naive recount's
// kubectl was killed for want of memory (run 20261207T021115Z). The
// phases after peers (cold start, history) run without usage, as every run
// before the usage phase existed did.
func (b *bench) stopUsage(ctx context.Context) {
	if len(b.pipelineProcesses()) == 0 {
		return
	}
	_, held := b.pipelineRSS()
	b.step("stopping the resource metrics pipeline (RSS: %s): the usage figures are recorded, and kube-capacity and the naive recount need the memory", held)
	if err := b.cluster.StopUsage(ctx); err != nil {
		// Not fatal: the processes only hold memory, and the cluster's
		// Stop tries again at the end for one that did not stop.
		fmt.Fprintf(b.out, "  [peers] stopping the resource metrics pipeline: %v\n", err)
	}
}

// ksmBinary is the kube-state-metrics binary next to the control plane's,
// and whether it is there and its version was stamped when it was built.
func (b *bench) ksmBinary() (string, bool) {
	path := filepath.Join(filepath.Dir(b.cluster.KubectlPath()), "kube-state-metrics")
	_, err := os.Stat(path)
	return path, err == nil && b.rep.Versions.Tools["kube-state-metrics"] != ""
}

// startKSM starts kube-state-metrics with the pod and node collectors,
// logging to logName in the run directory, and waits until it exposes every
// pod and node: its initial sync, timed from the start, and the size of the
// scrape that showed it. The process it returns, nil only when it did not
// start, is the caller's to stop, also with an error.
func (b *bench) startKSM(ctx context.Context, path, logName string) (*localcluster.Process, time.Duration, int64, error) {
	ports, err := localcluster.FreePorts(2)
	if err != nil {
		return nil, 0, 0, err
	}
	b.step("starting kube-state-metrics (--resources=pods,nodes) on 127.0.0.1:%d", ports[0])
	started := time.Now()
	proc, err := localcluster.StartProcess(localcluster.ProcessOptions{
		Name:    "kube-state-metrics",
		Path:    path,
		LogPath: filepath.Join(b.runDir, logName),
		Args: []string{
			"--kubeconfig=" + b.cluster.AdminKubeconfig(),
			"--resources=pods,nodes",
			"--host=127.0.0.1", "--port=" + strconv.Itoa(ports[0]),
			"--telemetry-host=127.0.0.1", "--telemetry-port=" + strconv.Itoa(ports[1]),
		},
	})
	if err != nil {
		return nil, 0, 0, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])
	// Synced means every pod and node the cluster has: the counts of
	// ClusterSummary cluster, which the answer rows check against an
	// independent recount, include the probes of every phase so far.
	wantPods, wantNodes := int64(b.o.pods+probePhases*b.o.podChanges), int64(b.o.nodes+1)
	if cs, err := b.cvc.ClusterviewV1beta1().ClusterSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{}); err == nil && cs.Status.Pods != nil && cs.Status.Nodes != nil {
		wantPods, wantNodes = cs.Status.Pods.Total, cs.Status.Nodes.Total
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		if err := proc.ExitError(); err != nil {
			return proc, 0, 0, err
		}
		scrapeStart := time.Now()
		pods, nodes, n, err := ksmScrape(ctx, url)
		took := time.Since(scrapeStart)
		if err == nil && int64(pods) == wantPods && int64(nodes) == wantNodes {
			return proc, time.Since(started), n, nil
		}
		if time.Now().After(deadline) {
			return proc, 0, 0, fmt.Errorf("not synced after 15m: last scrape %d pods, %d nodes (want %d, %d), err %v", pods, nodes, wantPods, wantNodes, err)
		}
		fmt.Fprintf(b.out, "  [kube-state-metrics] %v: %d/%d pods, %d/%d nodes exposed\n", time.Since(started).Round(time.Second), pods, wantPods, nodes, wantNodes)
		// A full scrape is expensive at scale: wait at least twice as long
		// as the last one took, so polling stays a minor share of its work.
		select {
		case <-ctx.Done():
			return proc, 0, 0, ctx.Err()
		case <-time.After(max(2*time.Second, 2*took)):
		}
	}
}

// runKSM starts kube-state-metrics with the pod and node collectors, waits
// until it exposes every pod and node, and compares memory and at-rest CPU.
func (b *bench) runKSM(ctx context.Context, path string) error {
	var (
		syncTook time.Duration
		size     int64
		err      error
	)
	b.ksm, syncTook, size, err = b.startKSM(ctx, path, "kube-state-metrics.log")
	if err != nil {
		return err
	}
	b.step("kube-state-metrics exposes every pod and node after %v (%.0f MiB per scrape)", syncTook.Round(100*time.Millisecond), float64(size)/(1<<20))
	ksmSync, _ := readProc(b.ksm.PID())

	b.step("at rest: measuring CPU of clusterview and kube-state-metrics over %v", b.o.rest)
	cvUse, ksmUse := beginUsage(b.cv.PID()), beginUsage(b.ksm.PID())
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.o.rest):
	}
	cvRest, cvNow, wall := cvUse.since(b.cv.PID())
	ksmRest, ksmNow, _ := ksmUse.since(b.ksm.PID())
	perMin := func(d time.Duration) float64 { return d.Seconds() / wall.Minutes() }

	b.rep.Processes["clusterview-apiserver"] = ProcJSON{PeakRSSMiB: mib(cvNow.HWM), RSSMiB: mib(cvNow.RSS), CPUSeconds: map[string]float64{
		"loading": b.loadCPU.Seconds(), "restPerMinute": perMin(cvRest), "total": cvNow.CPU.Seconds()}}
	b.rep.Processes["kube-state-metrics"] = ProcJSON{PeakRSSMiB: mib(ksmNow.HWM), RSSMiB: mib(ksmNow.RSS), CPUSeconds: map[string]float64{
		"initialSync": ksmSync.CPU.Seconds(), "restPerMinute": perMin(ksmRest), "total": ksmNow.CPU.Seconds()}}
	b.rep.Processes["kube-state-metrics"].CPUSeconds["syncSeconds"] = syncTook.Seconds()

	b.phaseRSS("peers, at rest")
	row := Row{Metric: "peak RSS (VmHWM) once both synced",
		Value:       fmt.Sprintf("%.0f MiB (set in phase %q)", mib(cvNow.HWM), b.rep.peakPhase("clusterview-apiserver", cvNow.HWM)),
		ValueNumber: mib(cvNow.HWM), Unit: "MiB",
		Peer: fmt.Sprintf("kube-state-metrics %.0f MiB (set in phase %q)", mib(ksmNow.HWM), b.rep.peakPhase("kube-state-metrics", ksmNow.HWM))}
	row.Ratio, row.RatioValue = ratio(mib(cvNow.HWM), mib(ksmNow.HWM))
	r := mib(cvNow.HWM) / mib(ksmNow.HWM)
	var miss []string
	if r > 0.5 {
		miss = append(miss, fmt.Sprintf("%.2f× kube-state-metrics' (%.0f MiB over 0.5×)", r, mib(cvNow.HWM)-0.5*mib(ksmNow.HWM)))
	}
	if mib(cvNow.HWM) > 400 {
		miss = append(miss, fmt.Sprintf("%.0f MiB over 400 MiB", mib(cvNow.HWM)-400))
	}
	b.rep.target(&row, "≤ 0.5× peer and ≤ 400 MiB", len(miss) == 0, strings.Join(miss, "; "))
	b.rep.addRow(row)
	if m := b.rssMakeup(cvNow.HWM); m != "" {
		b.rep.addRow(Row{Metric: "clusterview RSS makeup (/proc/<pid>/status, /metrics)", Value: m, ValueNumber: mib(cvNow.HWM), Unit: "MiB"})
	}
	row = Row{Metric: "RSS (VmRSS) at rest", Value: fmt.Sprintf("%.0f MiB", mib(cvNow.RSS)), ValueNumber: mib(cvNow.RSS), Unit: "MiB",
		Peer: fmt.Sprintf("kube-state-metrics %.0f MiB", mib(ksmNow.RSS))}
	row.Ratio, row.RatioValue = ratio(mib(cvNow.RSS), mib(ksmNow.RSS))
	b.rep.addRow(row)
	row = Row{Metric: "CPU at rest", Value: fmt.Sprintf("%.3f CPU-s/min", perMin(cvRest)), ValueNumber: perMin(cvRest), Unit: "CPU-s/min",
		Peer: fmt.Sprintf("kube-state-metrics %.3f CPU-s/min", perMin(ksmRest))}
	row.Ratio, row.RatioValue = ratio(perMin(cvRest), perMin(ksmRest))
	b.rep.addRow(row)
	row = Row{Metric: "CPU to ingest the cluster", Value: fmt.Sprintf("%.1f CPU-s (incremental, while loading)", b.loadCPU.Seconds()), ValueNumber: b.loadCPU.Seconds(), Unit: "CPU-s",
		Peer: fmt.Sprintf("kube-state-metrics %.1f CPU-s (initial list + 1st scrape, %.1f s)", ksmSync.CPU.Seconds(), syncTook.Seconds())}
	row.Ratio, row.RatioValue = ratio(b.loadCPU.Seconds(), ksmSync.CPU.Seconds())
	b.rep.addRow(row)
	return nil
}

// restOnly measures clusterview at rest when kube-state-metrics is missing.
func (b *bench) restOnly(ctx context.Context) {
	cvUse := beginUsage(b.cv.PID())
	select {
	case <-ctx.Done():
		return
	case <-time.After(b.o.rest):
	}
	cpu, now, wall := cvUse.since(b.cv.PID())
	b.rep.Processes["clusterview-apiserver"] = ProcJSON{PeakRSSMiB: mib(now.HWM), RSSMiB: mib(now.RSS), CPUSeconds: map[string]float64{
		"loading": b.loadCPU.Seconds(), "restPerMinute": cpu.Seconds() / wall.Minutes(), "total": now.CPU.Seconds()}}
	b.phaseRSS("at rest")
	row := Row{Metric: "peak RSS (VmHWM)", Value: fmt.Sprintf("%.0f MiB (set in phase %q)", mib(now.HWM), b.rep.peakPhase("clusterview-apiserver", now.HWM)),
		ValueNumber: mib(now.HWM), Unit: "MiB", Peer: "n/a"}
	b.rep.target(&row, "≤ 400 MiB", mib(now.HWM) <= 400, fmt.Sprintf("%.0f MiB over 400 MiB", mib(now.HWM)-400))
	b.rep.addRow(row)
}

// phaseRSS reads the memory of clusterview and, while it runs (in the
// peers phase, until stopKSM), kube-state-metrics at the end of a phase,
// so that the report can say which phase set each peak, and what the
// machine did during the phase (machineClock). With --pprof it
// also saves clusterview's heap profile when the phase raised its peak, as
// heap-peak-<phase>. The profile is taken at the end of the phase, not at
// the moment of the peak: it shows what stays live (the heap the collector's
// headroom grows from), not a short burst of garbage.
func (b *bench) phaseRSS(phase string) {
	defer func(prevPeak int64) {
		if b.o.pprof && b.cv != nil && b.clusterviewPeak() > prevPeak {
			b.profile(context.Background(), "heap", "heap-peak-"+phaseFileName(phase))
		}
	}(b.clusterviewPeak())
	for _, p := range []struct {
		name string
		proc *localcluster.Process
	}{{"clusterview-apiserver", b.cv}, {"kube-state-metrics", b.ksm}} {
		if p.proc == nil {
			continue
		}
		st, err := readProc(p.proc.PID())
		if err != nil {
			continue
		}
		r := PhaseRSS{Phase: phase, Process: p.name, PeakBytes: st.HWM, RSSBytes: st.RSS,
			PeakMiB: mib(st.HWM), RSSMiB: mib(st.RSS), AnonMiB: mib(st.RSSAnon), FileMiB: mib(st.RSSFile)}
		if p.proc == b.cv {
			if v, err := b.clusterviewMetric(context.Background(), "go_memstats_heap_inuse_bytes"); err == nil {
				r.HeapInuseMiB = v / (1 << 20)
			}
			r.FileMiBByFile = fileRSSByRole(p.proc.PID())
		}
		b.rep.PhaseRSS = append(b.rep.PhaseRSS, r)
	}
	if pm, ok := b.machine.phaseEnd(phase); ok {
		b.rep.PhaseMachine = append(b.rep.PhaseMachine, pm)
	}
}

// The names fileRSSByRole gives the two mapped files that matter.
const (
	fileBinary       = "binary"
	fileEtcdDatabase = "etcd database"
)

// fileRSSByRole reads clusterview's file-backed RSS per mapped file and
// names the two that matter: its own binary and the embedded etcd's
// database (member/snap/db). Nil when smaps cannot be read.
func fileRSSByRole(pid int) map[string]float64 {
	byFile, err := readFileRSS(pid)
	if err != nil {
		return nil
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	out := map[string]float64{}
	for path, n := range byFile {
		role := filepath.Base(path)
		switch {
		case path == exe:
			role = fileBinary
		case strings.HasSuffix(path, filepath.Join("member", "snap", "db")):
			role = fileEtcdDatabase
		}
		out[role] += mib(n)
	}
	return out
}

// clusterviewPeak is clusterview's VmHWM at the end of the last phase
// phaseRSS read, 0 before the first.
func (b *bench) clusterviewPeak() int64 {
	for i := len(b.rep.PhaseRSS) - 1; i >= 0; i-- {
		if p := b.rep.PhaseRSS[i]; p.Process == "clusterview-apiserver" {
			return p.PeakBytes
		}
	}
	return 0
}

// phaseFileName turns a phase's name ("freshness, churn, 100
// ClusterSummaries") into a part of a file name
// ("freshness-churn-100-ClusterSummaries").
func phaseFileName(phase string) string {
	return strings.Join(strings.FieldsFunc(phase, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), "-")
}

// rssMakeup says what clusterview's RSS was made of at the end of the
// phase that set its peak: the Go heap in use, the rest of the anonymous
// pages (mostly the heap's headroom between collections), and the pages
// mapped from files, split into the binary and the embedded etcd's
// database.
func (b *bench) rssMakeup(hwm int64) string {
	phase := b.rep.peakPhase("clusterview-apiserver", hwm)
	for _, p := range b.rep.PhaseRSS {
		if p.Process == "clusterview-apiserver" && p.Phase == phase {
			heap := "Go heap in use not read"
			if p.HeapInuseMiB > 0 {
				heap = fmt.Sprintf("Go heap in use %.0f MiB", p.HeapInuseMiB)
			}
			files := ""
			if p.FileMiBByFile != nil {
				files = fmt.Sprintf(" (binary %.0f MiB, etcd database %.0f MiB)", p.FileMiBByFile[fileBinary], p.FileMiBByFile[fileEtcdDatabase])
			}
			return fmt.Sprintf("at the end of %q: RSS %.0f MiB = anonymous %.0f MiB (%s) + file-backed %.0f MiB%s", phase, p.RSSMiB, p.AnonMiB, heap, p.FileMiB, files)
		}
	}
	return ""
}

// peerMissing records a peer that could not be measured. Without
// --allow-missing-peers that is a MISS: a run that compares with nothing
// proves nothing.
func (b *bench) peerMissing(peer, reason string) {
	b.rep.Skipped = append(b.rep.Skipped, peer+": "+reason)
	if b.o.allowMissingPeers || slices.Contains(b.rep.MissingPeers, peer) {
		return
	}
	b.rep.MissingPeers = append(b.rep.MissingPeers, peer)
	row := Row{Metric: "peer measured: " + peer, Value: "not measured", Unit: "verdict"}
	b.rep.target(&row, "measured (or --allow-missing-peers)", false, reason)
	b.rep.addRow(row)
}

// answerRow records whether a peer's answer agrees with clusterview's: a
// row whose target is agreement, so that a wrong answer is a MISS and fails
// the run like any other.
func (b *bench) answerRow(peer string, agree bool, detail string) {
	verdict := "agree"
	if !agree {
		verdict = "DIFFER"
	}
	b.rep.Answers[peer+" vs clusterview"] = verdict + ": " + detail
	row := Row{Metric: "answer: " + peer + " vs clusterview", Value: verdict, Peer: detail, Unit: "verdict"}
	b.rep.target(&row, "identical", agree, detail)
	b.rep.addRow(row)
}

// checkCapacityAnswer compares kube-capacity's totals with clusterview's.
// kube-capacity v0.8.0 ignores pod-level resources (it predates them), so
// its requests are checked against the recount's container-rule figures,
// and clusterview's against the recount's scheduler-rule figures in
// checkNaiveAnswer; nodes are compared directly.
func (b *bench) checkCapacityAnswer(cs *v1beta1.ClusterSummary, kubeCapacityJSON []byte, r *recount) {
	const peer = "kube-capacity"
	cpu, mem, nodes, err := kubeCapacityTotals(kubeCapacityJSON)
	if err != nil {
		b.answerRow(peer, false, "not compared: "+err.Error())
		return
	}
	// kube-capacity prints memory rounded to Mi.
	memMi := func(v int64) int64 { return int64(math.Round(mib(v))) }
	agree := nodes == int(cs.Status.Nodes.Total) && cpu == r.CPUMilliContainerRule && memMi(mem) == memMi(r.MemBytesContainerRule)
	b.answerRow(peer, agree, fmt.Sprintf("nodes %d vs clusterview %d; by the container rule (no pod-level resources), cpu requests %dm vs recount %dm, memory requests %dMi vs recount %dMi",
		nodes, cs.Status.Nodes.Total, cpu, r.CPUMilliContainerRule, memMi(mem), memMi(r.MemBytesContainerRule)))
}

// checkNaiveAnswer compares the naive recount with ClusterSummary
// "cluster": every figure both compute. The churn phase ended before, so any
// difference is a bug.
func (b *bench) checkNaiveAnswer(cs *v1beta1.ClusterSummary, r *recount) {
	const peer = "naive recount"
	p := cs.Status.Pods
	var cvCPU, cvMem int64
	for _, res := range cs.Status.Resources {
		switch res.Name {
		case "cpu":
			cvCPU = res.Requests.MilliValue()
		case "memory":
			cvMem = res.Requests.Value()
		}
	}
	agree := r.Pods == p.Total && r.Running == p.Running && r.Pending == p.Pending && r.Succeeded == p.Succeeded && r.Failed == p.Failed &&
		r.Restarts == p.ContainerRestarts && r.CPUMilli == cvCPU && r.MemBytes == cvMem
	b.answerRow(peer, agree, fmt.Sprintf("pods %d/%d, running %d/%d, pending %d/%d, succeeded %d/%d, failed %d/%d, restarts %d/%d, cpu requests %dm/%dm, memory requests %d/%d bytes (recount/clusterview; %d pods with pod-level resources, %d with overhead)",
		r.Pods, p.Total, r.Running, p.Running, r.Pending, p.Pending, r.Succeeded, p.Succeeded, r.Failed, p.Failed, r.Restarts, p.ContainerRestarts, r.CPUMilli, cvCPU, r.MemBytes, cvMem,
		r.PodLevelResources, r.Overhead))
}

func (b *bench) engineRows() {
	for _, gb := range b.rep.GoBench {
		if gb.Name != steadyPodUpdate {
			continue
		}
		row := Row{Metric: "engine: steady-state pod update (" + gb.Name + ")", Value: fmt.Sprintf("%.0f ns/op, %.0f allocs/op", gb.NsPerOp, gb.AllocsPerOp),
			ValueNumber: gb.NsPerOp, Unit: "ns/op", Peer: "target 1000 ns/op, 0 allocs/op"}
		row.Ratio, row.RatioValue = ratio(gb.NsPerOp, 1000)
		var miss []string
		if gb.NsPerOp > 1000 {
			miss = append(miss, fmt.Sprintf("%.0f ns over (%.2f×)", gb.NsPerOp-1000, gb.NsPerOp/1000))
		}
		if gb.AllocsPerOp > 0 {
			miss = append(miss, fmt.Sprintf("%.0f allocs/op over 0", gb.AllocsPerOp))
		}
		b.rep.target(&row, "≤ 1 µs, 0 allocs", len(miss) == 0, strings.Join(miss, "; "))
		b.rep.addRow(row)
	}
	for _, gb := range b.rep.GoBench {
		if gb.Name == steadyPodUpdate || !strings.HasPrefix(gb.Name, "BenchmarkPodUpdate") {
			continue
		}
		b.rep.addRow(Row{Metric: "engine: " + gb.Name, Value: fmt.Sprintf("%.0f ns/op, %.0f allocs/op", gb.NsPerOp, gb.AllocsPerOp),
			ValueNumber: gb.NsPerOp, Unit: "ns/op"})
	}
	for _, gb := range b.rep.GoBench {
		switch gb.Name {
		case podUsageOf:
			b.rep.addRow(Row{Metric: "feed: pod transform to its record (" + gb.Name + ")", Value: fmt.Sprintf("%.0f ns/op, %.0f allocs/op", gb.NsPerOp, gb.AllocsPerOp),
				ValueNumber: gb.NsPerOp, Unit: "ns/op"})
		case podFeedRetained:
			// Pods are kept by the engine alone; the peer keeps each
			// PodRecord in an informer store as well, as the feed did
			// before (the row "feed: pod informer store, heap per pod" of
			// earlier runs measured that store alone).
			row := Row{Metric: "feed: heap per pod, engine included (" + gb.Name + ")", Value: fmt.Sprintf("%.0f B", gb.Extra["B/pod"]),
				ValueNumber: gb.Extra["B/pod"], Unit: "B", Peer: fmt.Sprintf("with an informer store of PodRecords %.0f B", gb.Extra["informer-B/pod"])}
			row.Ratio, row.RatioValue = ratio(gb.Extra["B/pod"], gb.Extra["informer-B/pod"])
			b.rep.addRow(row)
		case retainedMemory:
			// Pods share their shape of amounts (pkg/summary/shapes.go),
			// so the worst case, no two pods alike, is shown next to it.
			value := fmt.Sprintf("%.0f B/pod, %.0f B/node", gb.Extra["B/pod"], gb.Extra["B/node"])
			if d, ok := gb.Extra["distinct-B/pod"]; ok {
				value += fmt.Sprintf("; %.0f B/pod when no two pods ask for the same amounts", d)
			}
			b.rep.addRow(Row{Metric: "engine: heap per pod and per node (" + gb.Name + ")", Value: value,
				ValueNumber: gb.Extra["B/pod"], Unit: "B"})
		}
		switch {
		case strings.HasPrefix(gb.Name, listNodeSummaries+"/"), strings.HasPrefix(gb.Name, listNamespaceSummaries+"/"):
			// In-process, no HTTP: the server's list path and serializer
			// against the core list of the same objects through the same
			// serializer, CPU time of each side in the same loop.
			row := Row{Metric: "read, in process: " + gb.Name, Value: fmt.Sprintf("%.1f ms CPU/op, %.1f MiB/op, %.0f allocs/op", gb.Extra["cpu-ns/op"]/1e6, gb.BytesPerOp/(1<<20), gb.AllocsPerOp),
				ValueNumber: gb.Extra["cpu-ns/op"] / 1e6, Unit: "ms CPU/op", Peer: fmt.Sprintf("core list, same serializer %.1f ms CPU/op", gb.Extra["peer-cpu-ns/op"]/1e6)}
			row.Ratio, row.RatioValue = ratio(gb.Extra["cpu-ns/op"], gb.Extra["peer-cpu-ns/op"])
			b.rep.addRow(row)
		case gb.Name == readPodMetrics+"/streamed":
			// The typed List holds every decoded item at once; its row is
			// the peer.
			peer, ok := goBenchNamed(b.rep.GoBench, readPodMetrics+"/typed-list")
			row := Row{Metric: "usage: one round's PodMetrics list at 150,000 pods, heap held per pod (" + gb.Name + ")",
				Value:       fmt.Sprintf("%.0f B/pod held, %.0f MiB allocated", gb.Extra["held-B/pod"], gb.BytesPerOp/(1<<20)),
				ValueNumber: gb.Extra["held-B/pod"], Unit: "B"}
			if ok {
				row.Peer = fmt.Sprintf("typed List %.0f B/pod held, %.0f MiB allocated", peer.Extra["held-B/pod"], peer.BytesPerOp/(1<<20))
				row.Ratio, row.RatioValue = ratio(gb.Extra["held-B/pod"], peer.Extra["held-B/pod"])
			}
			b.rep.addRow(row)
		case strings.HasPrefix(gb.Name, replaceUsage+"/"):
			// A round takes the engine's write lock a chunk at a time: the
			// longest read during it against the whole round.
			wait := gb.Extra["max-read-wait-ms"]
			row := Row{Metric: "usage: one round into the engine at 150,000 pods, longest read during it (" + gb.Name + ")",
				Value: fmt.Sprintf("%.1f ms", wait), ValueNumber: wait, Unit: "ms", Peer: fmt.Sprintf("the round %.1f ms", gb.NsPerOp/1e6)}
			row.Ratio, row.RatioValue = ratio(wait, gb.NsPerOp/1e6)
			b.rep.addRow(row)
		case strings.HasPrefix(gb.Name, headroomCost+"/"):
			added := gb.Extra["added-ns/write"]
			row := Row{Metric: "headroom: 8 shapes over 5,000 nodes, added to one status computation (" + gb.Name + ")", Value: fmt.Sprintf("%.2f ms/write (%.2f%% of the interval)", added/1e6, gb.Extra["interval-%"]),
				ValueNumber: added / 1e6, Unit: "ms", Peer: fmt.Sprintf("no shapes %.2f ms", gb.Extra["base-ns/op"]/1e6)}
			budget := float64(statusInterval.Nanoseconds())
			b.rep.target(&row, "within the status interval ("+statusInterval.String()+")", added <= budget,
				fmt.Sprintf("%.0f ms over", (added-budget)/1e6))
			b.rep.addRow(row)
		}
	}
}

// coldStart restarts clusterview on the loaded cluster, the case of a
// restart or a new replica, and times it to Ready (/readyz, which waits for
// the informers) and counts the CPU it used to get there, against the CPU
// kube-state-metrics used for its own initial sync: the sync of the peers
// phase, which ran beside kwok and metrics-server (the earlier method), and
// a second one run in this phase just before the restart, on the machine
// the restart gets.
func (b *bench) coldStart(ctx context.Context) error {
	b.rep.phase = "cold start"
	sameMachine := b.ksmSyncBeforeRestart(ctx)
	b.step("cold start: restarting clusterview on the loaded cluster")
	ready, err := b.restartClusterview(ctx, "")
	if err != nil {
		return err
	}
	st, err := readProc(b.cv.PID())
	if err != nil {
		return err
	}
	b.step("clusterview ready %.1fs after a restart, using %.1f CPU-s", ready.Seconds(), st.CPU.Seconds())
	row := Row{Metric: "cold start on the loaded cluster: start to Ready", Value: fmt.Sprintf("%.1f s", ready.Seconds()), ValueNumber: ready.Seconds(), Unit: "s"}
	b.rep.target(&row, "≤ 20 s", ready <= 20*time.Second, fmt.Sprintf("%.1f s over", ready.Seconds()-20))
	b.rep.addRow(row)
	cpuRow := func(metric, peerName string, peer float64) {
		row := Row{Metric: metric, Value: fmt.Sprintf("%.1f CPU-s", st.CPU.Seconds()), ValueNumber: st.CPU.Seconds(), Unit: "CPU-s"}
		if peer > 0 {
			row.Peer = fmt.Sprintf("%s %.1f CPU-s", peerName, peer)
			row.Ratio, row.RatioValue = ratio(st.CPU.Seconds(), peer)
			b.rep.target(&row, "≤ 1.0× the peer", st.CPU.Seconds() <= peer, fmt.Sprintf("%.2f× the peer", st.CPU.Seconds()/peer))
		}
		b.rep.addRow(row)
	}
	var earlier float64
	if ksm, ok := b.rep.Processes["kube-state-metrics"]; ok {
		earlier = ksm.CPUSeconds["initialSync"]
	}
	// The row's name is the earlier runs': the history table finds it so.
	cpuRow("cold start: CPU to Ready", "kube-state-metrics' initial sync in the peers phase (the earlier method)", earlier)
	if sameMachine > 0 {
		cpuRow("cold start: CPU to Ready, against a sync on the same machine", "kube-state-metrics' initial sync in this phase, just before the restart", sameMachine)
	}
	b.phaseRSS("cold start")
	return nil
}

// ksmSyncBeforeRestart runs kube-state-metrics' initial sync once more, in
// the cold start phase, and returns its CPU-s; 0 when it is not built or
// failed (a missing peer). The peers phase's sync runs while kwok and
// metrics-server still run, and the restart after they stop: a peer measured
// on a busier machine than clusterview. This one runs on the machine the
// restart gets, and stops before it.
func (b *bench) ksmSyncBeforeRestart(ctx context.Context) float64 {
	path, ok := b.ksmBinary()
	if !ok {
		b.peerMissing("kube-state-metrics (cold start)", "binary not built")
		return 0
	}
	// b.ksm is the one handle on a running kube-state-metrics: stopAll
	// stops it if the bench ends before stopKSM does. The peers phase's
	// process is gone unless stopping it failed; then it is tried again.
	b.stopKSM("a second one starts")
	var took time.Duration
	var err error
	b.ksm, took, _, err = b.startKSM(ctx, path, "kube-state-metrics-cold-start.log")
	var st procStat
	if err == nil {
		st, err = readProc(b.ksm.PID())
	}
	b.stopKSM("clusterview's restart gets the machine to itself")
	if err != nil {
		if ctx.Err() == nil {
			b.peerMissing("kube-state-metrics (cold start)", err.Error())
		}
		return 0
	}
	b.step("kube-state-metrics' initial sync before the restart: %v, %.1f CPU-s", took.Round(100*time.Millisecond), st.CPU.Seconds())
	if ksm, ok := b.rep.Processes["kube-state-metrics"]; ok {
		ksm.CPUSeconds["initialSyncColdStartPhase"] = st.CPU.Seconds()
	} else {
		b.rep.Processes["kube-state-metrics"] = ProcJSON{PeakRSSMiB: mib(st.HWM), CPUSeconds: map[string]float64{"initialSyncColdStartPhase": st.CPU.Seconds()}}
	}
	return st.CPU.Seconds()
}

// directGet GETs path from clusterview on its own loopback port, past the
// aggregator, with the admin's client certificate; a status other than 200
// is an error that quotes the start of the body. The caller closes the
// body of the response it gets.
func (b *bench) directGet(ctx context.Context, path string, timeout time.Duration) (*http.Response, error) {
	client, err := b.directClient(timeout)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", b.cvPort, path), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// directClient reaches clusterview on its own loopback port, past the
// aggregator, with the admin's client certificate.
func (b *bench) directClient(timeout time.Duration) (*http.Client, error) {
	b.directMu.Lock()
	defer b.directMu.Unlock()
	if b.directTransport == nil {
		admin := b.cluster.AdminConfig()
		cert, err := tls.X509KeyPair(admin.CertData, admin.KeyData)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(b.caPEM)
		// One transport for every direct request, so that polls reuse
		// their connection instead of opening one each.
		b.directTransport = &http.Transport{TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"}}
	}
	return &http.Client{Timeout: timeout, Transport: b.directTransport}, nil
}

// profile saves one of clusterview's /debug/pprof endpoints, fetched
// directly from clusterview with the admin's client certificate (system:
// masters), trusting clusterview's serving CA.
func (b *bench) profile(ctx context.Context, endpoint, name string) {
	resp, err := b.directGet(ctx, "/debug/pprof/"+endpoint, 2*time.Minute)
	if err != nil {
		b.rep.Skipped = append(b.rep.Skipped, "pprof "+name+": "+err.Error())
		return
	}
	defer resp.Body.Close()
	path := filepath.Join(filepath.Dir(b.runDir), b.rep.Started.UTC().Format("20060102T150405Z")+"-"+name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		b.rep.Skipped = append(b.rep.Skipped, "pprof: "+err.Error())
		return
	}
	defer func() {
		if err := f.Close(); err != nil {
			b.rep.Skipped = append(b.rep.Skipped, "pprof: "+err.Error())
		}
	}()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.rep.Skipped = append(b.rep.Skipped, "pprof: "+err.Error())
		return
	}
	b.rep.Profiles = append(b.rep.Profiles, path)
	b.step("saved clusterview's %s profile: %s (go tool pprof %s %s)", name, path, b.o.binary, path)
}

// jsonOnly makes cfg send and accept JSON only.
func jsonOnly(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType, c.AcceptContentTypes = kruntime.ContentTypeJSON, kruntime.ContentTypeJSON
	return c
}

func unthrottled(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst, c.RateLimiter = -1, 0, nil
	return c
}

func freePort() (int, error) {
	ps, err := localcluster.FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// stampVersion reads the version hack/build-tools.sh recorded for a binary.
func stampVersion(binDir, name string) string {
	data, err := os.ReadFile(filepath.Join(binDir, ".stamps", name))
	if err != nil {
		return ""
	}
	// "# <name> <version> built <date> with <go>"
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "#" && f[1] == name {
			return f[2]
		}
	}
	return ""
}

func machineFacts() Machine {
	m := Machine{CPUs: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb, err := meminfoKB("MemTotal"); err == nil {
		m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// gitDescribe is the checkout's commit, marked +dirty when the tree has
// uncommitted changes (the binary may include them).
func gitDescribe(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	v := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		v += "+dirty"
	}
	return v
}
