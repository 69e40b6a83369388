package plugin

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// topResource is one resource a top table shows.
type topResource struct {
	title    string
	name     corev1.ResourceName
	unit     string
	sortName string // the --sort-by prefix: cpu, cpu-usage, cpu-idle
}

var topResources = []topResource{
	{"CPU", corev1.ResourceCPU, "cores", "cpu"},
	{"MEMORY", corev1.ResourceMemory, "bytes", "memory"},
}

// topCell is one resource of one row. Usage and idle are nil where the
// summary has none (usage unavailable; idle never in a NodeSummary).
type topCell struct {
	requests    float64
	usage, idle *float64
	// scale is what a full bar stands for: the node's allocatable, or the
	// largest namespace's requests or usage.
	scale float64
}

func (c topCell) requestFraction() float64 { return ratio(c.requests, c.scale) }

func (c topCell) usageFraction() float64 {
	if c.usage == nil {
		return 0
	}
	return ratio(*c.usage, c.scale)
}

// topRow is one node or namespace: a cell per topResources entry.
type topRow struct {
	name  string
	cells []topCell
	pods  string
}

// topTable is what `top` renders.
type topTable struct {
	title string // NODE or NAMESPACE
	rows  []topRow
	// idle is whether the rows carry idle (namespaces do, nodes never).
	idle bool
}

func floatOf(q *resource.Quantity) *float64 {
	if q == nil {
		return nil
	}
	v := q.AsApproximateFloat64()
	return &v
}

// cellOf reads resource r of a summary's resources.
func cellOf(resources []v1beta1.ResourceUsage, r corev1.ResourceName) (c topCell, allocatable float64) {
	for i := range resources {
		u := &resources[i]
		if u.Name != r {
			continue
		}
		c.requests, c.usage, c.idle = u.Requests.AsApproximateFloat64(), floatOf(u.Usage), floatOf(u.Idle)
		if u.Allocatable != nil {
			allocatable = u.Allocatable.AsApproximateFloat64()
		}
	}
	return c, allocatable
}

// nodeTable turns NodeSummaries into rows whose bars are requests and
// usage over allocatable.
func nodeTable(items []v1beta1.NodeSummary) topTable {
	t := topTable{title: "NODE", rows: make([]topRow, 0, len(items))}
	for _, n := range items {
		r := topRow{name: n.Name, pods: fmt.Sprintf("%d/%d", n.Pods.Total, n.PodCapacity)}
		for _, res := range topResources {
			c, alloc := cellOf(n.Resources, res.name)
			c.scale = alloc
			r.cells = append(r.cells, c)
		}
		t.rows = append(t.rows, r)
	}
	return t
}

// namespaceTable turns NamespaceSummaries into rows whose bars compare each
// namespace's requests and usage with the largest namespace's.
func namespaceTable(items []v1beta1.NamespaceSummary) topTable {
	t := topTable{title: "NAMESPACE", rows: make([]topRow, 0, len(items)), idle: true}
	largest := make([]float64, len(topResources))
	for _, ns := range items {
		r := topRow{name: ns.Name, pods: fmt.Sprint(ns.Pods.Total)}
		for i, res := range topResources {
			c, _ := cellOf(ns.Resources, res.name)
			largest[i] = max(largest[i], c.requests)
			if c.usage != nil {
				largest[i] = max(largest[i], *c.usage)
			}
			r.cells = append(r.cells, c)
		}
		t.rows = append(t.rows, r)
	}
	for i := range t.rows {
		for c := range topResources {
			t.rows[i].cells[c].scale = largest[c]
		}
	}
	return t
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// sortKeys are the values of --sort-by: name, then per resource its
// requests bar, its usage bar and its idle amount.
func sortKeys() []string {
	keys := []string{"name"}
	for _, r := range topResources {
		keys = append(keys, r.sortName, r.sortName+"-usage", r.sortName+"-idle")
	}
	return keys
}

// sortRows orders the rows by key: by name, or fullest (most idle) first,
// rows without the figure last, ties by name.
func (t *topTable) sortRows(key string) error {
	if key == "" || key == "name" {
		slices.SortStableFunc(t.rows, func(a, b topRow) int { return strings.Compare(a.name, b.name) })
		return nil
	}
	var value func(topCell) *float64
	col := -1
	for i, r := range topResources {
		switch key {
		case r.sortName:
			value = func(c topCell) *float64 { f := c.requestFraction(); return &f }
		case r.sortName + "-usage":
			value = func(c topCell) *float64 {
				if c.usage == nil {
					return nil
				}
				f := c.usageFraction()
				return &f
			}
		case r.sortName + "-idle":
			if !t.idle {
				return fmt.Errorf("--sort-by %s: %s summaries report no idle amount (only namespaces do); sort by %s or %s-usage", key, strings.ToLower(t.title), r.sortName, r.sortName)
			}
			value = func(c topCell) *float64 { return c.idle }
		default:
			continue
		}
		col = i
		break
	}
	if col < 0 {
		return fmt.Errorf("--sort-by must be one of %s, not %q", strings.Join(sortKeys(), ", "), key)
	}
	slices.SortStableFunc(t.rows, func(a, b topRow) int {
		va, vb := value(a.cells[col]), value(b.cells[col])
		switch {
		case va != nil && vb == nil:
			return -1
		case va == nil && vb != nil:
			return 1
		case va != nil && *va != *vb:
			return -cmp.Compare(*va, *vb)
		}
		return strings.Compare(a.name, b.name)
	})
	return nil
}

// render writes the table: per resource a bar (█ in use, ░ requested
// beyond use, · the rest), the requests and the usage with their share of
// the bar, and for namespaces the idle amount. The figures' columns are as
// wide as their widest entry; the bars share what is left of the width,
// five cells at least: on a terminal narrower than the other columns,
// lines wrap as kubectl's tables do.
func (t *topTable) render(w io.Writer, opts RenderOptions) error {
	// Per resource, the text columns after its bar.
	headers := []string{"REQ", "", "USE", ""}
	// The spaces before each: a value and its percentage stay together.
	seps := []string{" ", " ", "  ", " "}
	if t.idle {
		headers, seps = append(headers, "IDLE"), append(seps, "  ")
	}
	n := len(topResources)
	text := make([][][]string, len(t.rows)) // row, resource, column
	widths := make([][]int, n)
	for i := range widths {
		widths[i] = make([]int, len(headers))
		for j, h := range headers {
			widths[i][j] = len(h)
		}
	}
	nameW, podsW := len(t.title), len("PODS")
	for ri, r := range t.rows {
		nameW, podsW = max(nameW, len(r.name)), max(podsW, len(r.pods))
		text[ri] = make([][]string, n)
		for i, res := range topResources {
			c := r.cells[i]
			cols := []string{formatValue(c.requests, res.unit), percent(c.requests, c.scale), "-", ""}
			if c.usage != nil {
				cols[2], cols[3] = formatValue(*c.usage, res.unit), percent(*c.usage, c.scale)
			}
			if t.idle {
				idle := "-"
				if c.idle != nil {
					idle = formatValue(*c.idle, res.unit)
				}
				cols = append(cols, idle)
			}
			for j, s := range cols {
				widths[i][j] = max(widths[i][j], len(s))
			}
			text[ri][i] = cols
		}
	}
	fixed := nameW + 2 + podsW
	for i := range n {
		fixed += 2 + 2 // "  [" and "]"
		for j, w := range widths[i] {
			fixed += len(seps[j]) + w
		}
	}
	barW := max((opts.Width-fixed)/n, 5)

	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", nameW, t.title)
	for i, res := range topResources {
		fmt.Fprintf(&b, "  %-*s", barW+2, res.title)
		for j, h := range headers {
			fmt.Fprintf(&b, "%s%*s", seps[j], widths[i][j], h)
		}
	}
	b.WriteString("  PODS\n")
	for ri, r := range t.rows {
		fmt.Fprintf(&b, "%-*s", nameW, r.name)
		for i := range topResources {
			c := r.cells[i]
			fmt.Fprintf(&b, "  %s", usageBar(c.requestFraction(), c.usageFraction(), barW, opts.Color))
			for j, s := range text[ri][i] {
				fmt.Fprintf(&b, "%s%*s", seps[j], widths[i][j], s)
			}
		}
		fmt.Fprintf(&b, "  %s\n", r.pods)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func percent(v, scale float64) string {
	if scale <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v/scale)
}

// usageBar is a [██░░····] gauge of width cells: █ up to the usage, ░ up
// to the requests, · beyond; both capped at full. With colour, the used
// part is green, yellow from 70% and red from 90%.
func usageBar(requested, used float64, width int, color bool) string {
	cells := func(f float64) int { return min(max(int(f*float64(width)+0.5), 0), width) }
	usedN := cells(used)
	requestedN := max(cells(requested)-usedN, 0)
	fill := strings.Repeat("█", usedN)
	if color && usedN > 0 {
		c := "32" // green
		switch {
		case used >= 0.9:
			c = "31"
		case used >= 0.7:
			c = "33"
		}
		fill = "\x1b[" + c + "m" + fill + "\x1b[0m"
	}
	return "[" + fill + strings.Repeat("░", requestedN) + strings.Repeat("·", width-usedN-requestedN) + "]"
}
