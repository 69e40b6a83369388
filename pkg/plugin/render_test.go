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
			Resources: []v1beta1.ResourceUsage{{Name: "cpu", Allocatable: ptr("4"), Requests: q("3500m")}, {Name: "memory", Allocatable: ptr("16Gi"), Requests: q("4Gi")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, PodCapacity: 110, Pods: v1beta1.PodCounts{Total: 12},
			Resources: []v1beta1.ResourceUsage{{Name: "cpu", Allocatable: ptr("4"), Requests: q("1")}, {Name: "memory", Allocatable: ptr("16Gi"), Requests: q("12Gi")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-c-without-allocatable"}},
	}
	for _, c := range []struct{ file, sortBy string }{{"top-nodes-name.golden", "name"}, {"top-nodes-cpu.golden", "cpu"}, {"top-nodes-memory.golden", "memory"}} {
		rows := nodeRows(nodes)
		if err := sortRows(rows, c.sortBy); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := renderTop(&out, "NODE", rows, RenderOptions{Width: 90}); err != nil {
			t.Fatal(err)
		}
		golden(t, c.file, out.Bytes())
	}
	namespaces := []v1beta1.NamespaceSummary{
		{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Pods: v1beta1.PodCounts{Total: 20}, Resources: []v1beta1.ResourceUsage{{Name: "cpu", Requests: q("2")}, {Name: "memory", Requests: q("1Gi")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Pods: v1beta1.PodCounts{Total: 5}, Resources: []v1beta1.ResourceUsage{{Name: "cpu", Requests: q("500m")}, {Name: "memory", Requests: q("4Gi")}}},
	}
	rows := namespaceRows(namespaces)
	if err := sortRows(rows, "cpu"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := renderTop(&out, "NAMESPACE", rows, RenderOptions{Width: 90}); err != nil {
		t.Fatal(err)
	}
	golden(t, "top-namespaces-cpu.golden", out.Bytes())
	if err := sortRows(rows, "cpu-idle"); err == nil || !strings.Contains(err.Error(), "--sort-by") {
		t.Errorf("an unknown sort key: %v", err)
	}
}
