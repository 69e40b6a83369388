package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPerformanceDocIsGenerated fails when docs/performance.md's generated
// section is not what the committed run reports render: run make bench-doc.
func TestPerformanceDocIsGenerated(t *testing.T) {
	doc, err := os.ReadFile("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := renderedDoc(doc, "../../docs/bench")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("docs/performance.md's generated section is stale: run make bench-doc")
	}
}

// TestRenderRun checks the renderer on a report it makes: phases become
// tables, a miss is shown as such, and pipes in cells are escaped.
func TestRenderRun(t *testing.T) {
	dir := t.TempDir()
	met, missed := true, false
	r := &Report{Started: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 4, 10, 6, 0, 0, time.UTC),
		Size: Size{Nodes: 5, Pods: 50, Namespaces: 2}, Machine: Machine{CPUs: 2, LoadAvg: "0.10"},
		Settings: Settings{ClusterviewFlags: []string{"--watch-cache-sizes=clustersummaries.clusterview.io#100"}},
		Rows: []Row{
			{Phase: "reads", Metric: "read: list nodesummaries (5 items) p50/p99", Value: "1 ms / 2 ms", Peer: "list nodes (5) 1 ms / 1 ms", Ratio: "2.00×",
				Target: "p99 ≤ the core list's p99 (both JSON)", Met: &missed, MissedBy: "p99 1.0 ms over"},
			{Phase: "peers", Metric: "answer: naive recount vs clusterview", Value: "agree", Peer: "a|b", Target: "identical", Met: &met},
			{Phase: "usage", Metric: "usage freshness, ClusterSummary p50/p99 (n=15), after clusterview's read (audit log)", Value: "139 ms / 219 ms",
				Target: "p99 ≤ 1000 ms", Met: &met},
			{Phase: "history", Metric: "history, no groups (cluster): bytes stored for 30 days (extrapolated from 54 samples at 1s)", Value: "0.57 MiB",
				Target: "≤ 2 MiB per summary", Met: &met},
		},
		PhaseMachine: []PhaseMachine{
			{Phase: phaseBeforeStart, CalibrationCPUMs: 250, CalibrationWallMs: 251},
			{Phase: "reads", WallSeconds: 120, BusyCores: 1.5, StealPercent: 2.25, CalibrationCPUMs: 260, CalibrationWallMs: 390, MemoryWalkCPUMs: 200, MemoryWalkWallMs: 310},
		},
		Misses: []string{"one"}}
	if _, err := r.writeJSON(dir); err != nil {
		t.Fatal(err)
	}
	doc := []byte("# Perf\n\n" + docBegin + "\nold\n" + docEnd + "\n\ntail\n")
	out, err := renderedDoc(doc, dir)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"### 5 nodes, 50 pods, 2 namespaces: `docs/bench/20261204T100000Z.json`",
		"**reads**", "**peers**", "**usage**", "**history**",
		"| history, no groups (cluster): bytes stored for 30 days (extrapolated from 54 samples at 1s) | 0.57 MiB |  |  | ≤ 2 MiB per summary | met |",
		"| read: list nodesummaries (5 items) p50/p99 | 1 ms / 2 ms | list nodes (5) 1 ms / 1 ms | 2.00× | p99 ≤ the core list's p99 (both JSON) | **MISS**: p99 1.0 ms over |",
		`| answer: naive recount vs clusterview | agree | a\|b |  | identical | met |`,
		"| before start (no process running) |  |  |  | 250 ms / 251 ms | not measured |",
		"| reads | 120 s | 1.50 of 2 | 2.2 % | 260 ms / 390 ms | 200 ms / 310 ms |",
		"1 row(s) missed their target.",
		"clusterview ran with these flags added: `--watch-cache-sizes=clustersummaries.clusterview.io#100`.",
		"| `20261204T100000Z.json` |",
		"| 139 ms / 219 ms | 0.57 MiB |\n",
		"\n" + docEnd + "\n\ntail\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered doc lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old") {
		t.Errorf("the old generated section survived:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "20261204T100000Z.json")); err != nil {
		t.Fatal(err)
	}
}

// TestRenderLeftOutPhases checks that a partial run does not hide what it
// left out: the phases only an earlier run of the same size measured are
// shown from that run, under its name, and the phases the latest run has
// are not repeated from the earlier one.
func TestRenderLeftOutPhases(t *testing.T) {
	dir := t.TempDir()
	met, missed := true, false
	size := Size{Nodes: 5, Pods: 50, Namespaces: 2}
	earlier := &Report{Started: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC), Size: size,
		Versions: Versions{Clusterview: "aaaaaaa"},
		Rows: []Row{
			{Phase: "reads", Metric: "read: old figure", Value: "9 ms", Met: &met},
			{Phase: "usage", Metric: "usage freshness, ClusterSummary p50/p99, after clusterview's read", Value: "3 s / 4 s", Target: "p99 ≤ 1000 ms", Met: &missed, MissedBy: "p99 3 s over"},
		}}
	latest := &Report{Started: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC), Size: size,
		Versions: Versions{Clusterview: "bbbbbbb"}, Settings: Settings{SkippedPhases: []string{"usage"}},
		Rows: []Row{{Phase: "reads", Metric: "read: new figure", Value: "1 ms", Met: &met}}}
	other := &Report{Started: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC),
		Size: Size{Nodes: 1, Pods: 10, Namespaces: 1}, Rows: []Row{{Phase: "history", Metric: "history: other size", Value: "1 MiB"}}}
	for _, r := range []*Report{earlier, latest, other} {
		if _, err := r.writeJSON(dir); err != nil {
			t.Fatal(err)
		}
	}
	out, err := renderedDoc([]byte(docBegin+"\n"+docEnd+"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"#### Left out of that run, from `docs/bench/20261204T100000Z.json` (clusterview aaaaaaa, started 2026-12-04 10:00 UTC)\n\n**usage**",
		"| usage freshness, ClusterSummary p50/p99, after clusterview's read | 3 s / 4 s |  |  | p99 ≤ 1000 ms | **MISS**: p99 3 s over |",
		"1 of that run's misses are in these phases.",
		"| read: new figure | 1 ms |",
		"Phases left out (`--skip`): usage.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered doc lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"read: old figure", "Left out of that run, from `docs/bench/20261206"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("rendered doc has %q:\n%s", unwanted, got)
		}
	}
}
