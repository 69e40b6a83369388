package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/clusterview/clusterview/pkg/summary
BenchmarkRetainedMemory-2     	920670703	         1.181 ns/op	       861.4 B/node	       215.0 B/pod	       0 B/op	       0 allocs/op
BenchmarkPodUpdateSteady-2    	 3305424	       390.8 ns/op	       0 B/op	       0 allocs/op
BenchmarkCluster/all-grouped-2         	    3960	    384645 ns/op	   45168 B/op	      23 allocs/op
BenchmarkListNodeSummaries/table-2        	       4	 317518185 ns/op	 313459368 peer-ns/op	  25940889 peer-resp-B	   4637343 resp-B	         1.013 x-peer	43307384 B/op	  420027 allocs/op
PASS
ok  	github.com/clusterview/clusterview/pkg/summary	31.825s
`
	got := parseGoBench(out)
	if len(got) != 4 {
		t.Fatalf("parsed %d benchmarks, want 4: %+v", len(got), got)
	}
	if b := got[1]; b.Name != "BenchmarkPodUpdateSteady" || b.NsPerOp != 390.8 || b.AllocsPerOp != 0 || b.BytesPerOp != 0 || b.Iterations != 3305424 {
		t.Errorf("steady: %+v", b)
	}
	if b := got[0]; b.Extra["B/pod"] != 215 || b.Extra["B/node"] != 861.4 {
		t.Errorf("custom metrics: %+v", b.Extra)
	}
	if b := got[2]; b.Name != "BenchmarkCluster/all-grouped" || b.AllocsPerOp != 23 {
		t.Errorf("sub-benchmark: %+v", b)
	}
	if b := got[3]; b.Name != listNodeSummaries+"/table" || b.NsPerOp != 317518185 || b.Extra["x-peer"] != 1.013 || b.Extra["peer-ns/op"] != 313459368 || b.AllocsPerOp != 420027 {
		t.Errorf("read benchmark: %+v", b)
	}
}

func TestPodRequest(t *testing.T) {
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	always := corev1.ContainerRestartPolicyAlways
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "sidecar", Resources: req("100m"), RestartPolicy: &always},
			{Name: "init", Resources: req("2")},
		},
		Containers: []corev1.Container{{Name: "a", Resources: req("250m")}, {Name: "b", Resources: req("500m")}},
		Overhead:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
	}
	// max(250+500+100, 2000+100) + 10
	if got := podRequest(&spec, corev1.ResourceCPU, true); got != 2110 {
		t.Errorf("cpu = %dm, want 2110m", got)
	}
	spec.InitContainers = spec.InitContainers[:1]
	if got := podRequest(&spec, corev1.ResourceCPU, true); got != 860 {
		t.Errorf("cpu without init = %dm, want 860m", got)
	}
	if got := podRequest(&spec, corev1.ResourceMemory, false); got != 0 {
		t.Errorf("memory = %d, want 0", got)
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		v, p float64
		want string
	}{
		{10, 200, "0.05× (20× less)"},
		{300, 1, "300×"},
		{2, 1, "2×"},
		{1, 0, "n/a"},
	} {
		if got, _ := ratio(c.v, c.p); got != c.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", c.v, c.p, got, c.want)
		}
	}
}

// TestEngineRowsReadAndHeadroom checks the rows made from the read and
// headroom benchmarks: the CPU ratio against the core list, and headroom
// judged against the status interval.
func TestEngineRowsReadAndHeadroom(t *testing.T) {
	b := &bench{rep: &Report{}}
	b.rep.GoBench = []goBenchmark{
		{Name: listNodeSummaries + "/table", BytesPerOp: 2 << 20, AllocsPerOp: 10,
			Extra: map[string]float64{"cpu-ns/op": 120e6, "peer-cpu-ns/op": 100e6}},
		{Name: headroomCost + "/8-shapes", Extra: map[string]float64{"added-ns/write": 2e6, "base-ns/op": 1e4, "interval-%": 0.8}},
		{Name: headroomCost + "/8-shapes-grouped", Extra: map[string]float64{"added-ns/write": 300e6, "base-ns/op": 1e4, "interval-%": 120}},
	}
	b.engineRows()
	if len(b.rep.Rows) != 3 {
		t.Fatalf("rows = %+v, want 3", b.rep.Rows)
	}
	if r := b.rep.Rows[0]; r.RatioValue == nil || *r.RatioValue != 1.2 || r.Met != nil {
		t.Errorf("read row = %+v, want ratio 1.2 and no target", r)
	}
	if r := b.rep.Rows[1]; r.Met == nil || !*r.Met {
		t.Errorf("headroom row within the interval = %+v, want met", r)
	}
	if r := b.rep.Rows[2]; r.Met == nil || *r.Met || len(b.rep.Misses) != 1 {
		t.Errorf("headroom row over the interval = %+v (misses %v), want one miss", r, b.rep.Misses)
	}
}

// The PodMetrics round row reports the heap held per pod against the typed
// List of the same run.
func TestEngineRowPodMetricsRound(t *testing.T) {
	b := &bench{rep: &Report{}}
	b.rep.GoBench = []goBenchmark{
		{Name: readPodMetrics + "/streamed", BytesPerOp: 160 << 20, Extra: map[string]float64{"held-B/pod": 136}},
		{Name: readPodMetrics + "/typed-list", BytesPerOp: 740 << 20, Extra: map[string]float64{"held-B/pod": 2272}},
	}
	b.engineRows()
	if len(b.rep.Rows) != 1 {
		t.Fatalf("rows = %+v, want 1", b.rep.Rows)
	}
	r := b.rep.Rows[0]
	if r.ValueNumber != 136 || r.RatioValue == nil || *r.RatioValue != 136.0/2272 || !strings.Contains(r.Peer, "2272 B/pod") {
		t.Errorf("row = %+v, want 136 B against the typed List's 2272", r)
	}
}

// The usage round row reports the longest read during a round against the
// round itself.
func TestEngineRowUsageRound(t *testing.T) {
	b := &bench{rep: &Report{}}
	b.rep.GoBench = []goBenchmark{{Name: replaceUsage + "/changed", NsPerOp: 64e6, Extra: map[string]float64{"max-read-wait-ms": 1.6}}}
	b.engineRows()
	if len(b.rep.Rows) != 1 {
		t.Fatalf("rows = %+v, want 1", b.rep.Rows)
	}
	if r := b.rep.Rows[0]; r.ValueNumber != 1.6 || r.RatioValue == nil || *r.RatioValue != 0.025 || !strings.Contains(r.Peer, "64.0 ms") {
		t.Errorf("row = %+v, want 1.6 ms against a round of 64 ms", r)
	}
}
