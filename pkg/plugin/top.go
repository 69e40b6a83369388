package plugin

import (
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// topColumn is one resource's requests in a top table.
type topColumn struct {
	title    string
	resource corev1.ResourceName
}

var topColumns = []topColumn{{"CPU REQ", corev1.ResourceCPU}, {"MEM REQ", corev1.ResourceMemory}}

// topRow is one node or namespace: per column, the requested amount and
// the fraction of the bar it fills.
type topRow struct {
	name     string
	values   []float64
	fraction []float64
	pods     string
}

// sortKeys are the values of --sort-by.
var sortKeys = []string{"name", "cpu", "memory"}

// nodeRows turns NodeSummaries into rows whose bars are requests over allocatable.
func nodeRows(items []v1beta1.NodeSummary) []topRow {
	rows := make([]topRow, 0, len(items))
	for _, n := range items {
		r := topRow{name: n.Name, pods: fmt.Sprintf("%d/%d", n.Pods.Total, n.PodCapacity)}
		for _, c := range topColumns {
			req, alloc := 0.0, 0.0
			for _, u := range n.Resources {
				if u.Name == c.resource {
					req = u.Requests.AsApproximateFloat64()
					if u.Allocatable != nil {
						alloc = u.Allocatable.AsApproximateFloat64()
					}
				}
			}
			r.values = append(r.values, req)
			r.fraction = append(r.fraction, ratio(req, alloc))
		}
		rows = append(rows, r)
	}
	return rows
}

// namespaceRows turns NamespaceSummaries into rows whose bars compare each
// namespace's requests with the largest namespace's.
func namespaceRows(items []v1beta1.NamespaceSummary) []topRow {
	rows := make([]topRow, 0, len(items))
	largest := make([]float64, len(topColumns))
	for _, ns := range items {
		r := topRow{name: ns.Name, pods: fmt.Sprint(ns.Pods.Total)}
		for i, c := range topColumns {
			req := 0.0
			for _, u := range ns.Resources {
				if u.Name == c.resource {
					req = u.Requests.AsApproximateFloat64()
				}
			}
			r.values = append(r.values, req)
			largest[i] = max(largest[i], req)
		}
		rows = append(rows, r)
	}
	for i := range rows {
		for c := range topColumns {
			rows[i].fraction = append(rows[i].fraction, ratio(rows[i].values[c], largest[c]))
		}
	}
	return rows
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// sortRows orders rows by key: by name, or by the column's bar, fullest first.
func sortRows(rows []topRow, key string) error {
	col := -1
	switch key {
	case "", "name":
	case "cpu":
		col = 0
	case "memory":
		col = 1
	default:
		return fmt.Errorf("--sort-by must be one of %s, not %q", strings.Join(sortKeys, ", "), key)
	}
	slices.SortStableFunc(rows, func(a, b topRow) int {
		if col >= 0 && a.fraction[col] != b.fraction[col] {
			if a.fraction[col] > b.fraction[col] {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return nil
}

// renderTop writes the rows as a table with a bar per column, sized to
// the terminal width.
func renderTop(w io.Writer, title string, rows []topRow, opts RenderOptions) error {
	nameW := len(title)
	for _, r := range rows {
		nameW = max(nameW, len(r.name))
	}
	// NAME  [bar] pct value  [bar] pct value  PODS
	const valueW, pctW = 8, 4
	barW := max((opts.Width-nameW-2-len(topColumns)*(2+pctW+1+valueW+2)-6)/len(topColumns), 5)
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", nameW, title)
	for _, c := range topColumns {
		fmt.Fprintf(&b, "  %-*s", barW+2+pctW+1+valueW, c.title)
	}
	b.WriteString("  PODS\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s", nameW, r.name)
		for i, c := range topColumns {
			unit := "cores"
			if c.resource == corev1.ResourceMemory {
				unit = "bytes"
			}
			fmt.Fprintf(&b, "  %s %*s %*s", bar(r.fraction[i], barW, opts.Color), pctW, fmt.Sprintf("%.0f%%", 100*r.fraction[i]), valueW, formatValue(r.values[i], unit))
		}
		fmt.Fprintf(&b, "  %s\n", r.pods)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// bar is a [####....] gauge of width cells filled to fraction (capped at full).
func bar(fraction float64, width int, color bool) string {
	filled := min(int(fraction*float64(width)+0.5), width)
	fill := strings.Repeat("█", filled)
	if color {
		c := "32" // green
		switch {
		case fraction >= 0.9:
			c = "31"
		case fraction >= 0.7:
			c = "33"
		}
		fill = "\x1b[" + c + "m" + fill + "\x1b[0m"
	}
	return "[" + fill + strings.Repeat("·", width-filled) + "]"
}
