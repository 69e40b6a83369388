package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The part of docs/performance.md between these markers is generated from
// the run reports committed under docs/bench/ (make bench-doc), and a test
// fails when it differs from what they render: the doc cannot drift from
// the runs it cites.
const (
	docBegin = "<!-- BEGIN generated from docs/bench/*.json by `make bench-doc`; do not edit by hand -->"
	docEnd   = "<!-- END generated -->"
)

// loadReports reads every run report in dir, oldest first (their names are
// their start times).
func loadReports(dir string) ([]*Report, []string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(paths)
	var reps []*Report
	var names []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		var r Report
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		reps = append(reps, &r)
		names = append(names, filepath.Base(p))
	}
	return reps, names, nil
}

// renderRuns writes the generated section: the latest run of each size in
// full, one table per phase, then one line of headline figures per run.
func renderRuns(w io.Writer, reps []*Report, names []string) {
	latest := map[Size]int{}
	for i, r := range reps {
		latest[r.Size] = i
	}
	var order []int
	for _, i := range latest {
		order = append(order, i)
	}
	// Largest size first.
	slices.SortFunc(order, func(a, b int) int { return reps[b].Size.Pods - reps[a].Size.Pods })
	for _, i := range order {
		renderRun(w, reps[i], "docs/bench/"+names[i])
		renderLeftOut(w, reps, names, i)
	}
	fmt.Fprintf(w, "### Every committed run\n\n")
	fmt.Fprintln(w, "| run | clusterview | size (nodes / pods) | load average at start | misses | peak RSS | ClusterSummary freshness p99, idle / churn (from send) | list nodesummaries p99 vs list nodes | usage freshness p50/p99 after the read, ClusterSummary | history for 30 days, no groups |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for i, r := range reps {
		clusterview := r.Versions.Clusterview
		if len(r.Settings.ClusterviewFlags) > 0 {
			clusterview += " `" + strings.Join(r.Settings.ClusterviewFlags, " ") + "`"
		}
		fmt.Fprintf(w, "| `%s` | %s | %d / %d | %s | %d | %s | %s / %s | %s | %s | %s |\n", names[i], mdCell(clusterview), r.Size.Nodes, r.Size.Pods,
			r.Machine.LoadAvg, len(r.Misses), r.headline("peak RSS (VmHWM)"), r.headline("freshness idle, ClusterSummary", "from send"),
			r.headline("freshness churn", "ClusterSummary", "from send"), r.ratioOf("read: list nodesummaries"),
			r.headline("usage freshness, ClusterSummary", "after clusterview's read"), r.headline("history, no groups", "stored for 30 days"))
	}
	fmt.Fprintln(w)
}

// headline is the value of the first row whose metric contains every part.
func (r *Report) headline(parts ...string) string {
	if row := r.rowWith(parts); row != nil {
		return mdCell(row.Value)
	}
	return "n/a"
}

// ratioOf is the ratio of that row, where it has one.
func (r *Report) ratioOf(parts ...string) string {
	if row := r.rowWith(parts); row != nil && row.Ratio != "" {
		return mdCell(row.Ratio)
	}
	return "n/a"
}

func (r *Report) rowWith(parts []string) *Row {
	for i := range r.Rows {
		if containsAll(r.Rows[i].Metric, parts) {
			return &r.Rows[i]
		}
	}
	return nil
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// runTimeLayout is how the bench's output and the doc print a run's start.
const runTimeLayout = "2006-01-02 15:04 MST"

// renderLeftOut writes, for the phases that reps[latest] left out (--skip,
// or a stop), the tables of the latest earlier run of the same size that
// measured them, each under the name of the run it comes from: a partial
// run does not hide the last figures of what it did not measure.
func renderLeftOut(w io.Writer, reps []*Report, names []string, latest int) {
	have := reps[latest].phases()
	for j := latest - 1; j >= 0; j-- {
		if reps[j].Size != reps[latest].Size {
			continue
		}
		var from []string
		for _, ph := range reps[j].phases() {
			if !slices.Contains(have, ph) {
				from = append(from, ph)
				have = append(have, ph)
			}
		}
		if len(from) == 0 {
			continue
		}
		r := reps[j]
		fmt.Fprintf(w, "#### Left out of that run, from `docs/bench/%s` (clusterview %s, started %s)\n\n", names[j], r.Versions.Clusterview,
			r.Started.UTC().Format(runTimeLayout))
		renderPhases(w, r, from)
		fmt.Fprintf(w, "%d of that run's misses are in these phases.\n\n", r.missesIn(from))
	}
}

// phases are the phases r has rows in, in the order they ran.
func (r *Report) phases() []string {
	var phases []string
	for _, row := range r.Rows {
		if !slices.Contains(phases, row.Phase) {
			phases = append(phases, row.Phase)
		}
	}
	return phases
}

// missesIn counts r's missed rows in phases.
func (r *Report) missesIn(phases []string) int {
	n := 0
	for _, row := range r.Rows {
		if row.Met != nil && !*row.Met && slices.Contains(phases, row.Phase) {
			n++
		}
	}
	return n
}

// renderRun writes one run: its facts, then a table per phase.
func renderRun(w io.Writer, r *Report, source string) {
	fmt.Fprintf(w, "### %d nodes, %d pods, %d namespaces: `%s`\n\n", r.Size.Nodes, r.Size.Pods, r.Size.Namespaces, source)
	fmt.Fprintf(w, "Started %s, took %s. Machine: %d CPUs (%s), %s, Linux %s, load average at start %s. "+
		"Versions: clusterview %s, %s, %s.\n\n",
		r.Started.UTC().Format(runTimeLayout), r.Finished.Sub(r.Started).Round(1e9), r.Machine.CPUs, r.Machine.CPUModel,
		r.Machine.MemTotal, r.Machine.Kernel, r.Machine.LoadAvg, r.Versions.Clusterview, r.Versions.Go, toolVersions(r.Versions.Tools))
	if len(r.Settings.ClusterviewFlags) > 0 {
		fmt.Fprintf(w, "clusterview ran with these flags added: `%s`.\n\n", strings.Join(r.Settings.ClusterviewFlags, " "))
	}
	if len(r.Settings.SkippedPhases) > 0 {
		fmt.Fprintf(w, "Phases left out (`--skip`): %s.\n\n", strings.Join(r.Settings.SkippedPhases, ", "))
	}
	if r.Load != nil {
		fmt.Fprintf(w, "Load: %s\n\n", r.Load.Summary)
	}
	renderPhases(w, r, r.phases())
	renderMachine(w, r)
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "Not measured:")
		fmt.Fprintln(w)
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "- %s\n", s)
		}
		fmt.Fprintln(w)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "The run stopped early: %s\n\n", r.Error)
	}
	fmt.Fprintf(w, "%d row(s) missed their target.\n\n", len(r.Misses))
}

// renderPhases writes a table per phase of r's rows in phases.
func renderPhases(w io.Writer, r *Report, phases []string) {
	for _, ph := range phases {
		name := ph
		if name == "" {
			name = "other"
		}
		fmt.Fprintf(w, "**%s**\n\n", name)
		fmt.Fprintln(w, "| metric | clusterview | peer (same run) | ratio | target | result |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
		for _, row := range r.Rows {
			if row.Phase != ph {
				continue
			}
			result := ""
			if row.Met != nil {
				result = "met"
				if !*row.Met {
					result = "**MISS**: " + row.MissedBy
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdCell(row.Metric), mdCell(row.Value), mdCell(row.Peer), mdCell(row.Ratio),
				mdCell(row.Target), mdCell(result))
		}
		fmt.Fprintln(w)
	}
}

// renderMachine writes what the machine did in each phase of r, for runs
// that measured it: a slower or busier machine slows every figure, the
// peers' too.
func renderMachine(w io.Writer, r *Report) {
	if len(r.PhaseMachine) == 0 {
		return
	}
	fmt.Fprintf(w, "**the machine, per phase** (CPU time from /proc/stat since the end of the phase before; "+
		"calibration at the end of the phase, with the cluster still running, on one thread: SHA-256 over %d MiB, "+
		"and %d dependent reads at random in %d MiB)\n", calibrationBlocks, calibrationSteps, calibrationWalkEntries*4>>20)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| phase | wall | busy CPUs | steal | SHA-256 CPU / wall | memory walk CPU / wall |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, pm := range r.PhaseMachine {
		wall, busy, steal := "", "", ""
		if pm.WallSeconds > 0 {
			wall = fmt.Sprintf("%.0f s", pm.WallSeconds)
			busy = fmt.Sprintf("%.2f of %d", pm.BusyCores, r.Machine.CPUs)
			steal = fmt.Sprintf("%.1f %%", pm.StealPercent)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdCell(pm.Phase), wall, busy, steal,
			cpuWall(pm.CalibrationCPUMs, pm.CalibrationWallMs), cpuWall(pm.MemoryWalkCPUMs, pm.MemoryWalkWallMs))
	}
	fmt.Fprintln(w)
}

// cpuWall prints a calibration's CPU and wall time, or says it was not
// measured (runs before the memory walk existed).
func cpuWall(cpuMs, wallMs float64) string {
	if cpuMs <= 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.0f ms / %.0f ms", cpuMs, wallMs)
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// renderedDoc returns doc with its generated section replaced by what the
// reports in dir render.
func renderedDoc(doc []byte, dir string) ([]byte, error) {
	begin, end := bytes.Index(doc, []byte(docBegin)), bytes.Index(doc, []byte(docEnd))
	if begin < 0 || end < begin {
		return nil, fmt.Errorf("the doc has no %q ... %q section", docBegin, docEnd)
	}
	reps, names, err := loadReports(dir)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(doc[:begin+len(docBegin)])
	out.WriteString("\n\n")
	renderRuns(&out, reps, names)
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// updateDoc rewrites the generated section of the doc at path.
func updateDoc(path, dir string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := renderedDoc(doc, dir)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
