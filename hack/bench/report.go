package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clusterview/clusterview/internal/latency"
)

// Report is everything one run measured; it is printed as a table and
// written as JSON.
type Report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Versions Versions  `json:"versions"`
	Size     Size      `json:"size"`
	Settings Settings  `json:"settings"`

	Load   *LoadResult `json:"load,omitempty"`
	Rows   []Row       `json:"rows"`
	Misses []string    `json:"misses"`
	// PhaseRSS is each process's memory at the end of each phase.
	PhaseRSS []PhaseRSS `json:"phaseRSS,omitempty"`
	// PhaseMachine is what the machine did during each phase, after a
	// calibration before any process started (see machine.go).
	PhaseMachine []PhaseMachine `json:"phaseMachine,omitempty"`
	// MissingPeers are the peers that could not be measured.
	MissingPeers []string            `json:"missingPeers,omitempty"`
	Freshness    []FreshnessResult   `json:"freshness,omitempty"`
	Reads        []ReadSummary       `json:"reads,omitempty"`
	Commands     map[string]Timing   `json:"commands,omitempty"`
	Naive        *recount            `json:"naiveRecount,omitempty"`
	Answers      map[string]string   `json:"answers,omitempty"`
	Processes    map[string]ProcJSON `json:"processes,omitempty"`
	GoBench      []goBenchmark       `json:"goBenchmarks,omitempty"`
	Usage        *UsageResult        `json:"usage,omitempty"`
	History      *HistoryResult      `json:"history,omitempty"`
	Skipped      []string            `json:"skipped,omitempty"`
	Profiles     []string            `json:"profiles,omitempty"`
	Error        string              `json:"error,omitempty"`

	// phase is the phase being measured; addRow stamps it on each row.
	phase string
}

type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpuModel"`
	MemTotal string `json:"memTotal"`
	Kernel   string `json:"kernel"`
	LoadAvg  string `json:"loadAvgAtStart"`
}

type Versions struct {
	Go          string            `json:"go"`
	Clusterview string            `json:"clusterview"`
	Tools       map[string]string `json:"tools"`
}

type Size struct {
	Nodes      int `json:"nodes"`
	Pods       int `json:"pods"`
	Namespaces int `json:"namespaces"`
}

type Settings struct {
	PodChanges        int     `json:"podChangesPerPhase"`
	NodeChanges       int     `json:"nodeChangesPerPhase"`
	ProbeInterval     string  `json:"probeInterval"`
	IdleProbeInterval string  `json:"idleProbeInterval"`
	IdleMeanInterval  string  `json:"idleMeanInterval"`
	ChurnRate         float64 `json:"churnRate"`
	Reads             int     `json:"readsPerRequest"`
	Repeat            int     `json:"commandRepeats"`
	NaiveRuns         int     `json:"naiveRuns"`
	RestWindow        string  `json:"restWindow"`
	// Skipped are the phases --skip left out.
	SkippedPhases    []string `json:"skippedPhases,omitempty"`
	UsageNodes       int      `json:"usageNodes,omitempty"`
	UsageChanges     int      `json:"usageChanges,omitempty"`
	HistoryWindow    string   `json:"historyWindow,omitempty"`
	HistoryChurnRate float64  `json:"historyChurnRate,omitempty"`
	// ClusterviewFlags are the flags --clusterview-flag added to
	// clusterview's command line: a run with any is not one of the
	// defaults'.
	ClusterviewFlags []string `json:"clusterviewFlags,omitempty"`
}

type LoadResult struct {
	Duration         string  `json:"duration"`
	Seconds          float64 `json:"seconds"`
	ObjectsPerSecond float64 `json:"objectsPerSecond"`
	WritesPerSecond  float64 `json:"writesPerSecond"`
	Summary          string  `json:"summary"`
	// CatchUp is how long after the load finished the ClusterSummary
	// counted every object.
	CatchUpSeconds float64 `json:"catchUpSeconds"`
}

// Row is one line of the table: a clusterview figure, its peer measured in
// the same run, their ratio and the target.
type Row struct {
	// Phase is the part of the run that measured the row.
	Phase       string   `json:"phase,omitempty"`
	Metric      string   `json:"metric"`
	Value       string   `json:"value"`
	Peer        string   `json:"peer,omitempty"`
	Ratio       string   `json:"ratio,omitempty"`
	RatioValue  *float64 `json:"ratioValue,omitempty"`
	Target      string   `json:"target,omitempty"`
	Met         *bool    `json:"met,omitempty"`
	MissedBy    string   `json:"missedBy,omitempty"`
	ValueNumber float64  `json:"valueNumber"`
	Unit        string   `json:"unit"`
}

type Stats struct {
	N       int     `json:"n"`
	Missing int     `json:"missing,omitempty"`
	P50ms   float64 `json:"p50Ms"`
	P99ms   float64 `json:"p99Ms"`
	MaxMs   float64 `json:"maxMs"`
}

func statsOf(ds []time.Duration, missing int) Stats {
	var mx time.Duration
	for _, d := range ds {
		mx = max(mx, d)
	}
	return Stats{N: len(ds), Missing: missing, P50ms: ms(latency.Percentile(ds, 50)), P99ms: ms(latency.Percentile(ds, 99)), MaxMs: ms(mx)}
}

type FreshnessResult struct {
	Phase    string  `json:"phase"`
	Changes  int     `json:"changes"`
	Duration float64 `json:"durationSeconds"`
	// Views are latencies from the write's acknowledgement (clamped at 0),
	// ViewsFromSent from the moment the write was sent.
	Views         map[string]Stats    `json:"views"`
	ViewsFromSent map[string]Stats    `json:"viewsFromSent"`
	Churn         *churnStats         `json:"churn,omitempty"`
	Samples       map[string][]Sample `json:"samples"`
}

type ReadSummary struct {
	Request   string `json:"request"`
	Items     int    `json:"items"`
	Stats     Stats  `json:"stats"`
	Peer      string `json:"peer"`
	PeerItems int    `json:"peerItems"`
	PeerStats Stats  `json:"peerStats"`
}

type Timing struct {
	Runs        int     `json:"runs"`
	MedianMs    float64 `json:"medianMs"`
	MinMs       float64 `json:"minMs"`
	MaxMs       float64 `json:"maxMs"`
	OutputBytes int     `json:"outputBytes"`
}

func timingOf(r cmdResult) Timing {
	t := Timing{Runs: len(r.Samples), MedianMs: ms(latency.Percentile(r.Samples, 50)), OutputBytes: r.OutputBytes}
	if len(r.Samples) > 0 {
		t.MinMs, t.MaxMs = math.Inf(1), 0
		for _, d := range r.Samples {
			t.MinMs, t.MaxMs = math.Min(t.MinMs, ms(d)), math.Max(t.MaxMs, ms(d))
		}
	}
	return t
}

type ProcJSON struct {
	PeakRSSMiB float64            `json:"peakRSSMiB"`
	RSSMiB     float64            `json:"rssMiB"`
	CPUSeconds map[string]float64 `json:"cpuSeconds"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

func fmtMs(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// ratio describes value/peer for figures where smaller is better.
func ratio(value, peer float64) (string, *float64) {
	if peer <= 0 || value <= 0 {
		return "n/a", nil
	}
	r := value / peer
	f := func(x float64) string {
		if x >= 100 {
			return fmt.Sprintf("%.0f", x)
		}
		return fmt.Sprintf("%.3g", x)
	}
	switch {
	case r < 1:
		return fmt.Sprintf("%s× (%s× less)", f(r), f(1/r)), &r
	case r > 1:
		return fmt.Sprintf("%s×", f(r)), &r
	default:
		return "1×", &r
	}
}

// PhaseRSS is a process's memory read at the end of one phase of the run.
type PhaseRSS struct {
	Phase     string  `json:"phase"`
	Process   string  `json:"process"`
	PeakBytes int64   `json:"peakBytes"`
	RSSBytes  int64   `json:"rssBytes"`
	PeakMiB   float64 `json:"peakMiB"`
	RSSMiB    float64 `json:"rssMiB"`
	// AnonMiB and FileMiB split RSSMiB into anonymous and file-backed
	// pages (see procStat).
	AnonMiB float64 `json:"anonMiB"`
	FileMiB float64 `json:"fileMiB"`
	// FileMiBByFile splits FileMiB by the file mapped (readFileRSS),
	// clusterview's only: "binary", "etcd database" or the file's base
	// name.
	FileMiBByFile map[string]float64 `json:"fileMiBByFile,omitempty"`
	// HeapInuseMiB is the Go heap in use (go_memstats_heap_inuse_bytes of
	// clusterview's /metrics), when it could be read.
	HeapInuseMiB float64 `json:"heapInuseMiB,omitempty"`
}

// peakPhase names the phase that set a process's peak: the first at whose
// end its VmHWM, which never falls, had reached hwm.
func (r *Report) peakPhase(process string, hwm int64) string {
	for _, p := range r.PhaseRSS {
		if p.Process == process && p.PeakBytes >= hwm {
			return p.Phase
		}
	}
	return "unknown"
}

func (r *Report) addRow(row Row) {
	if row.Phase == "" {
		row.Phase = r.phase
	}
	r.Rows = append(r.Rows, row)
}

// target marks row as meeting or missing a target; missedBy explains a miss.
func (r *Report) target(row *Row, target string, met bool, missedBy string) {
	row.Target = target
	row.Met = &met
	if !met {
		row.MissedBy = missedBy
		r.Misses = append(r.Misses, fmt.Sprintf("%s: %s (target %s): %s", row.Metric, row.Value, target, missedBy))
	}
}

func (r *Report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\nclusterview scale benchmark, %s: %d nodes, %d pods, %d namespaces\n", r.Started.Format(runTimeLayout), r.Size.Nodes, r.Size.Pods, r.Size.Namespaces)
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s, Linux %s, load average at start %s\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemTotal, r.Machine.Kernel, r.Machine.LoadAvg)
	fmt.Fprintf(w, "versions: clusterview %s, %s, %s\n", r.Versions.Clusterview, r.Versions.Go, toolVersions(r.Versions.Tools))
	if r.Load != nil {
		fmt.Fprintf(w, "load: %s\n", r.Load.Summary)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tCLUSTERVIEW\tPEER (SAME RUN)\tRATIO\tTARGET\tRESULT")
	for _, row := range r.Rows {
		result := ""
		if row.Met != nil {
			result = "met"
			if !*row.Met {
				result = "MISS: " + row.MissedBy
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Metric, row.Value, row.Peer, row.Ratio, row.Target, result)
	}
	tw.Flush()
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "\nnot measured:")
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	if len(r.Misses) > 0 {
		fmt.Fprintln(w, "\ntargets missed:")
		for _, m := range r.Misses {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	} else if slices.ContainsFunc(r.Rows, func(row Row) bool { return row.Met != nil }) {
		fmt.Fprintln(w, "\nevery target measured was met")
	}
	for k, v := range r.Answers {
		fmt.Fprintf(w, "answer check, %s: %s\n", k, v)
	}
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "profile: %s\n", p)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "\nrun stopped early: %s\n", r.Error)
	}
}

func toolVersions(m map[string]string) string {
	var parts []string
	for _, k := range []string{"kube-apiserver", "etcd", "kubectl", "kube-state-metrics", "kube-capacity", "metrics-server", "kwok"} {
		if v, ok := m[k]; ok {
			parts = append(parts, k+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}

func (r *Report) writeJSON(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.Started.UTC().Format("20060102T150405Z")+".json")
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(data, '\n'), 0o644)
}
