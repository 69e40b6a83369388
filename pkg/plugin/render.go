package plugin

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// blocks are the eight levels of a sparkline cell; a space is a gap.
var blocks = []rune("▁▂▃▄▅▆▇█")

// RenderOptions sizes and colours the output.
type RenderOptions struct {
	// Width is the terminal width in columns.
	Width int
	// Color adds ANSI colours: only on a terminal, never with NO_COLOR.
	Color bool
}

// unitOf names the unit a figure is displayed in.
func unitOf(figure string) string {
	switch {
	case strings.HasPrefix(figure, "resources.cpu."):
		return "cores"
	case strings.HasPrefix(figure, "resources.memory.") || strings.HasPrefix(figure, "resources.ephemeral-storage."):
		return "bytes"
	case strings.HasPrefix(figure, "resources.pods."):
		return "pods"
	case strings.HasPrefix(figure, "resources."):
		return "units"
	case strings.HasPrefix(figure, "nodes."):
		return "nodes"
	case figure == "pods.containerRestarts":
		return "restarts"
	default:
		return "pods"
	}
}

// formatValue prints v in the figure's unit, short enough for a column.
func formatValue(v float64, unit string) string {
	switch unit {
	case "bytes":
		for _, u := range []struct {
			s string
			f float64
		}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
			if math.Abs(v) >= u.f {
				return fmt.Sprintf("%.1f%s", v/u.f, u.s)
			}
		}
		return fmt.Sprintf("%.0fB", v)
	case "cores":
		return fmt.Sprintf("%.2f", v)
	default:
		if v == math.Trunc(v) {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.1f", v)
	}
}

// RenderHistory writes one line per series: its name, a sparkline of its
// means over the window (one cell per equal slice of the window; a slice
// without samples is a blank, never interpolated), its minimum, maximum and
// current (newest) value, and its unit.
func RenderHistory(w io.Writer, h *v1beta1.ClusterSummaryHistory, group string, opts RenderOptions) error {
	var series []v1beta1.HistorySeries
	for _, s := range h.Series {
		if s.Group == group {
			series = append(series, s)
		}
	}
	if len(series) == 0 {
		where := ""
		if group != "" {
			where = fmt.Sprintf(" in group %q", group)
		}
		_, err := fmt.Fprintf(w, "No history of %s%s between %s and %s.\n", h.Name, where,
			h.Since.UTC().Format(time.RFC3339), h.Until.UTC().Format(time.RFC3339))
		return err
	}
	nameWidth := 0
	for _, s := range series {
		nameWidth = max(nameWidth, len(s.Figure))
	}
	type line struct {
		name, spark, lo, hi, now, unit string
	}
	lines := make([]line, 0, len(series))
	loW, hiW, nowW := 3, 3, 3
	for _, s := range series {
		unit := unitOf(s.Figure)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range s.Points {
			lo = min(lo, p.Min.AsApproximateFloat64())
			hi = max(hi, p.Max.AsApproximateFloat64())
		}
		l := line{name: s.Figure, unit: unit, lo: "-", hi: "-", now: "-"}
		if len(s.Points) > 0 {
			l.lo, l.hi = formatValue(lo, unit), formatValue(hi, unit)
			l.now = formatValue(s.Points[len(s.Points)-1].Mean.AsApproximateFloat64(), unit)
		}
		loW, hiW, nowW = max(loW, len(l.lo)), max(hiW, len(l.hi)), max(nowW, len(l.now))
		lines = append(lines, l)
	}
	// name  spark  min X  max Y  now Z unit
	fixed := nameWidth + 2 + 2 + len("min ") + loW + 2 + len("max ") + hiW + 2 + len("now ") + nowW + 1 + len("restarts")
	sparkWidth := max(opts.Width-fixed, 10)
	for i, s := range series {
		lines[i].spark = sparkline(s.Points, h.Since.Time, h.Until.Time, h.Step.Duration, sparkWidth)
	}
	if _, err := fmt.Fprintf(w, "%s: %s to %s, step %s (%s)\n", h.Name,
		h.Since.UTC().Format(time.RFC3339), h.Until.UTC().Format(time.RFC3339), h.Step.Duration, h.Tier); err != nil {
		return err
	}
	for _, l := range lines {
		spark := l.spark
		if opts.Color {
			spark = "\x1b[36m" + spark + "\x1b[0m"
		}
		if _, err := fmt.Fprintf(w, "%-*s  %s  min %*s  max %*s  now %*s %s\n", nameWidth, l.name, spark, loW, l.lo, hiW, l.hi, nowW, l.now, l.unit); err != nil {
			return err
		}
	}
	return nil
}

// sparkline draws the points' means over [since, until) in width cells.
// A point covers its step: it fills every cell that starts within it, so a
// blank cell is a step without samples, whatever the terminal's width.
func sparkline(points []v1beta1.HistoryPoint, since, until time.Time, step time.Duration, width int) string {
	sums := make([]float64, width)
	counts := make([]int, width)
	cell := float64(until.Sub(since)) / float64(width)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range points {
		start := float64(p.Time.Sub(since)) / cell
		first := int(math.Floor(start))
		last := max(first, int(math.Ceil(start+float64(step)/cell))-1)
		v := p.Mean.AsApproximateFloat64()
		for i := max(first, 0); i <= min(last, width-1); i++ {
			sums[i] += v
			counts[i]++
		}
	}
	for i := range sums {
		if counts[i] > 0 {
			sums[i] /= float64(counts[i])
			lo, hi = min(lo, sums[i]), max(hi, sums[i])
		}
	}
	var b strings.Builder
	b.Grow(width * utf8.UTFMax)
	for i := range sums {
		switch {
		case counts[i] == 0:
			b.WriteRune(' ')
		case hi-lo <= 1e-9*max(math.Abs(hi), math.Abs(lo)):
			// Flat. Averaging a cell's points in floating point can differ
			// from a single point's value by rounding: that is no change.
			b.WriteRune(blocks[0])
		default:
			level := int((sums[i] - lo) / (hi - lo) * float64(len(blocks)-1))
			b.WriteRune(blocks[level])
		}
	}
	return b.String()
}
