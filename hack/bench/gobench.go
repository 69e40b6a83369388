package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
)

// goBenchmark is one line of `go test -bench` output.
type goBenchmark struct {
	Name        string  `json:"name"`
	Iterations  int64   `json:"iterations"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	// Extra holds custom metrics (b.ReportMetric), by unit.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// steadyPodUpdate is the benchmark of a pod update that changes nothing the
// engine counts: the bulk of a busy cluster's pod events.
const steadyPodUpdate = "BenchmarkPodUpdateSteady"

// The memory benchmarks, and the transform that runs before the engine.
const (
	retainedMemory  = "BenchmarkRetainedMemory"
	podUsageOf      = "BenchmarkPodUsageOf"
	podFeedRetained = "BenchmarkPodFeedRetained"
)

// The read benchmarks: 5,000 NodeSummaries and 1,000 NamespaceSummaries
// listed as JSON and as a Table against the core lists of the same objects
// (x-peer), and the peers alone. (BenchmarkHeadroom, what 8 headroom shapes
// add to a status write over 5,000 nodes, runs with ./pkg/summary/'s.)
const (
	listNodeSummaries      = "BenchmarkListNodeSummaries"
	listNamespaceSummaries = "BenchmarkListNamespaceSummaries"
	listCorePeers          = "BenchmarkListCore"
	headroomCost           = "BenchmarkHeadroom"
)

// replaceUsage is one usage round handed to the engine at the full size,
// with the longest read made during it.
const replaceUsage = "BenchmarkReplaceUsage"

// readPodMetrics is one usage round's PodMetrics list at the full size,
// streamed as the poller reads it, against the typed client's List.
const readPodMetrics = "BenchmarkReadPodMetrics"

// goBenchPackages are the packages whose benchmarks run, each with the
// -bench regexp of the ones that do.
var goBenchPackages = []struct{ pkg, bench string }{
	{"./pkg/summary/", "."},
	{"./pkg/summary/feed/", "."},
	{"./pkg/summary/usagefeed/", "^" + readPodMetrics + "$"},
	{"./pkg/registry/clusterview/nodesummary/", "^(" + listNodeSummaries + "|" + listCorePeers + "Nodes)$"},
	{"./pkg/registry/clusterview/namespacesummary/", "^(" + listNamespaceSummaries + "|" + listCorePeers + "Namespaces)$"},
}

// runGoBenchmarks runs the Go benchmarks of the summary engine, its
// informer feed and the live summaries' reads, and parses them.
func runGoBenchmarks(ctx context.Context, root string, out io.Writer) ([]goBenchmark, time.Duration, error) {
	start := time.Now()
	var res []goBenchmark
	for _, p := range goBenchPackages {
		r, err := runGoBenchmarkPackage(ctx, root, p.pkg, p.bench, out)
		if err != nil {
			return nil, time.Since(start), err
		}
		res = append(res, r...)
	}
	return res, time.Since(start), nil
}

// runGoBenchmarkPackage runs the benchmarks of one package that match bench.
func runGoBenchmarkPackage(ctx context.Context, root, pkg, bench string, out io.Writer) ([]goBenchmark, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", bench, "-benchmem", pkg)
	cmd.Dir = root
	var stdout bytes.Buffer
	progress := newPrefixWriter(out, "  [go bench] ")
	defer progress.Flush()
	cmd.Stdout = io.MultiWriter(&stdout, progress)
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %w", bench, pkg, err)
	}
	return parseGoBench(stdout.String()), nil
}

func parseGoBench(s string) []goBenchmark {
	var res []goBenchmark
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		iters, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop the GOMAXPROCS suffix
			}
		}
		b := goBenchmark{Name: name, Iterations: iters, BytesPerOp: -1, AllocsPerOp: -1, Extra: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				b.NsPerOp = v
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			default:
				b.Extra[f[i+1]] = v
			}
		}
		res = append(res, b)
	}
	return res
}

// prefixWriter prefixes every line written to it, holding back a partial
// line until it is complete (go test prints a benchmark's name before
// running it), so progress lines stay whole.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func newPrefixWriter(w io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{w: w, prefix: prefix}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(p.w, p.prefix+string(p.buf[:i+1])); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// Flush writes a pending partial line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		io.WriteString(p.w, p.prefix+string(p.buf)+"\n")
		p.buf = nil
	}
}

// statusInterval is the most often one summary's status is written, the
// budget headroom's cost is judged against.
const statusInterval = clustersummarystatus.DefaultInterval

// goBenchNamed returns the benchmark called name.
func goBenchNamed(res []goBenchmark, name string) (goBenchmark, bool) {
	for _, gb := range res {
		if gb.Name == name {
			return gb, true
		}
	}
	return goBenchmark{}, false
}
