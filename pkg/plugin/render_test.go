package plugin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// fixtureHistory is 20 one-minute points with a gap at minutes 8-11.
func fixtureHistory() *v1beta1.ClusterSummaryHistory {
	since := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	h := &v1beta1.ClusterSummaryHistory{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Since:      metav1.NewTime(since), Until: metav1.NewTime(since.Add(20 * time.Minute)),
		Step: metav1.Duration{Duration: time.Minute}, Tier: v1beta1.HistoryTierRaw,
	}
	add := func(group, figure string, value func(i int) resource.Quantity) {
		s := v1beta1.HistorySeries{Group: group, Figure: figure}
		for i := range 20 {
			if i >= 8 && i < 12 {
				continue
			}
			v := value(i)
			s.Points = append(s.Points, v1beta1.HistoryPoint{Time: metav1.NewTime(since.Add(time.Duration(i) * time.Minute)), Samples: 1, Min: v, Mean: v, Max: v})
		}
		h.Series = append(h.Series, s)
	}
	add("", "nodes.ready", func(int) resource.Quantity { return *resource.NewQuantity(9, resource.DecimalSI) })
	add("", "pods.running", func(i int) resource.Quantity { return *resource.NewQuantity(int64(30+i%7), resource.DecimalSI) })
	add("", "pods.containerRestarts", func(i int) resource.Quantity { return *resource.NewQuantity(int64(2*i), resource.DecimalSI) })
	add("", "resources.cpu.requests", func(i int) resource.Quantity {
		return *resource.NewMilliQuantity(int64(4000+250*i), resource.DecimalSI)
	})
	add("", "resources.memory.requests", func(i int) resource.Quantity { return *resource.NewQuantity(int64(6+i/5)<<30, resource.BinarySI) })
	add("zone-a", "pods.running", func(i int) resource.Quantity { return *resource.NewQuantity(int64(10+i%3), resource.DecimalSI) })
	return h
}

func TestRenderHistoryGolden(t *testing.T) {
	for _, c := range []struct {
		file  string
		group string
		width int
	}{
		{"history-80.golden", "", 80},
		{"history-120.golden", "", 120},
		{"history-zone-a.golden", "zone-a", 80},
		{"history-missing-group.golden", "zone-z", 80},
	} {
		var out bytes.Buffer
		if err := RenderHistory(&out, fixtureHistory(), c.group, RenderOptions{Width: c.width}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "\x1b[") {
			t.Errorf("%s: colours without Color", c.file)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[1:] {
			if n := len([]rune(line)); n > c.width {
				t.Errorf("%s: a %d-column line is wider than %d: %q", c.file, n, c.width, line)
			}
		}
		golden(t, c.file, out.Bytes())
	}
	var colored bytes.Buffer
	if err := RenderHistory(&colored, fixtureHistory(), "", RenderOptions{Width: 80, Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colored.String(), "\x1b[36m") {
		t.Error("no colour with Color")
	}
}

func TestRenderTopGolden(t *testing.T) {
	q := resource.MustParse
	ptr := func(s string) *resource.Quantity { v := q(s); return &v }
	nodes := []v1beta1.NodeSummary{
		{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}, PodCapacity: 110, Pods: v1beta1.PodCounts{Total: 40},
			Resources: []v1beta1.ResourceUsage{
				{Name: "cpu", Allocatable: ptr("4"), Requests: q("3500m"), Usage: ptr("1200m")},
				{Name: "memory", Allocatable: ptr("16Gi"), Requests: q("4Gi"), Usage: ptr("6Gi")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, PodCapacity: 110, Pods: v1beta1.PodCounts{Total: 12},
			Resources: []v1beta1.ResourceUsage{
				{Name: "cpu", Allocatable: ptr("4"), Requests: q("1"), Usage: ptr("3800m")},
				{Name: "memory", Allocatable: ptr("16Gi"), Requests: q("12Gi"), Usage: ptr("2Gi")}}},
		// No metrics yet: usage unknown.
		{ObjectMeta: metav1.ObjectMeta{Name: "node-d-no-usage"}, PodCapacity: 110, Pods: v1beta1.PodCounts{Total: 3},
			Resources: []v1beta1.ResourceUsage{
				{Name: "cpu", Allocatable: ptr("2"), Requests: q("1500m")},
				{Name: "memory", Allocatable: ptr("8Gi"), Requests: q("1Gi")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-c-without-allocatable"}},
	}
	for _, c := range []struct {
		file, sortBy string
		width        int
	}{
		{"top-nodes-name.golden", "name", 100},
		{"top-nodes-cpu.golden", "cpu", 100},
		{"top-nodes-memory.golden", "memory", 100},
		{"top-nodes-cpu-usage.golden", "cpu-usage", 100},
		{"top-nodes-narrow.golden", "memory-usage", 60},
	} {
		table := nodeTable(nodes)
		if err := table.sortRows(c.sortBy); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := table.render(&out, RenderOptions{Width: c.width}); err != nil {
			t.Fatal(err)
		}
		if c.width >= 100 {
			checkWidth(t, c.file, out.String(), c.width)
		}
		golden(t, c.file, out.Bytes())
	}
	if table := nodeTable(nodes); table.sortRows("cpu-idle") == nil {
		t.Error("top nodes sorted by cpu-idle, which NodeSummaries do not report")
	}

	namespaces := []v1beta1.NamespaceSummary{
		{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Pods: v1beta1.PodCounts{Total: 20}, Resources: []v1beta1.ResourceUsage{
			{Name: "cpu", Requests: q("2"), Usage: ptr("1500m"), Idle: ptr("700m")},
			{Name: "memory", Requests: q("1Gi"), Usage: ptr("3Gi"), Idle: ptr("0")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Pods: v1beta1.PodCounts{Total: 5}, Resources: []v1beta1.ResourceUsage{
			{Name: "cpu", Requests: q("500m"), Usage: ptr("100m"), Idle: ptr("400m")},
			{Name: "memory", Requests: q("4Gi"), Usage: ptr("1Gi"), Idle: ptr("3Gi")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ci"}, Pods: v1beta1.PodCounts{Total: 1}, Resources: []v1beta1.ResourceUsage{
			{Name: "cpu", Requests: q("1")}, {Name: "memory", Requests: q("512Mi")}}},
	}
	for _, c := range []struct{ file, sortBy string }{
		{"top-namespaces-cpu.golden", "cpu"},
		{"top-namespaces-cpu-idle.golden", "cpu-idle"},
		{"top-namespaces-memory-idle.golden", "memory-idle"},
	} {
		table := namespaceTable(namespaces)
		if err := table.sortRows(c.sortBy); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := table.render(&out, RenderOptions{Width: 110}); err != nil {
			t.Fatal(err)
		}
		checkWidth(t, c.file, out.String(), 110)
		golden(t, c.file, out.Bytes())
	}
	table := namespaceTable(namespaces)
	if err := table.sortRows("cpu-idleness"); err == nil || !strings.Contains(err.Error(), "--sort-by") || !strings.Contains(err.Error(), "memory-idle") {
		t.Errorf("an unknown sort key: %v", err)
	}
}

// checkWidth fails when a line is wider than width columns.
func checkWidth(t *testing.T, file, out string, width int) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := len([]rune(line)); n > width {
			t.Errorf("%s: a %d-column line is wider than %d: %q", file, n, width, line)
		}
	}
}

func TestUsageBar(t *testing.T) {
	for _, c := range []struct {
		requested, used float64
		want            string
	}{
		{0.5, 0.2, "[██░░░·····]"},
		{0.2, 0.5, "[█████·····]"}, // usage beyond requests: no ░
		{0, 0, "[··········]"},
		{1.5, 2, "[██████████]"}, // capped
	} {
		if got := usageBar(c.requested, c.used, 10, false); got != c.want {
			t.Errorf("usageBar(%v, %v) = %s, want %s", c.requested, c.used, got, c.want)
		}
	}
	if got := usageBar(0.5, 0.95, 10, true); !strings.Contains(got, "\x1b[31m") {
		t.Errorf("a 95%% used bar is not red: %q", got)
	}
}

// TestFlatSeriesDrawsFlat: when cells average different numbers of equal
// points, rounding must not draw a flat figure as a moving one.
func TestFlatSeriesDrawsFlat(t *testing.T) {
	since := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	v := resource.MustParse("13160m")
	var points []v1beta1.HistoryPoint
	for i := range 48 {
		points = append(points, v1beta1.HistoryPoint{Time: metav1.NewTime(since.Add(time.Duration(i) * 5 * time.Second)), Samples: 1, Min: v, Mean: v, Max: v})
	}
	got := sparkline(points, since, since.Add(4*time.Minute), 5*time.Second, 25)
	if want := strings.Repeat(string(blocks[0]), 25); got != want {
		t.Errorf("a constant 13.16 draws %q", got)
	}
}
