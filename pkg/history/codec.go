package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Agg is a figure over an interval: how many samples it holds, their
// minimum, maximum and sum. A raw sample v is Agg{1, v, v, v}. Keeping the
// sum and count rather than a mean makes merging exact: a coarser step's
// mean is the sum of sums over the sum of counts.
type Agg struct {
	Count, Min, Max, Sum int64
}

// Of returns the Agg of one sample.
func Of(v int64) Agg { return Agg{Count: 1, Min: v, Max: v, Sum: v} }

// Merge adds b to a.
func (a Agg) Merge(b Agg) Agg {
	if a.Count == 0 {
		return b
	}
	if b.Count == 0 {
		return a
	}
	return Agg{Count: a.Count + b.Count, Min: min(a.Min, b.Min), Max: max(a.Max, b.Max), Sum: a.Sum + b.Sum}
}

// Row is every figure at one time. Figures absent from a row (not yet
// reported, or a group that did not exist then) are absent from Values:
// nothing is filled in.
type Row struct {
	// Time is in Unix milliseconds, on the resolution (or rollup) grid.
	Time   int64
	Values map[string]Agg
}

// chunkVersion is the first byte of every encoded chunk.
const chunkVersion = 1

// A chunk's width is how many integers each figure takes in a row: raw
// rows store the value alone, rollup rows the whole Agg.
const (
	rawWidth    = 1
	rollupWidth = 4
)

// encodeChunk writes rows (sorted by time) compactly: a header with the
// union of figure names, then per row the time delta, a presence bitmap and,
// per present figure and component, the zig-zag varint delta from that
// figure's previous value. Figures that do not move cost one byte per
// component, so a steady summary costs a few bytes per figure per row. New
// figures (a new resource, a new group, a new kind of figure) only add a
// name to the header: the format needs no change for them.
func encodeChunk(width int, rows []Row) []byte {
	names := fieldNames(rows)
	index := make(map[string]int, len(names))
	buf := []byte{chunkVersion, byte(width)}
	buf = binary.AppendUvarint(buf, uint64(len(names)))
	for i, n := range names {
		index[n] = i
		buf = binary.AppendUvarint(buf, uint64(len(n)))
		buf = append(buf, n...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(rows)))
	prev := make([]int64, len(names)*width)
	var prevTime int64
	bitmap := make([]byte, (len(names)+7)/8)
	for _, r := range rows {
		buf = binary.AppendVarint(buf, r.Time-prevTime)
		prevTime = r.Time
		clear(bitmap)
		for n := range r.Values {
			i := index[n]
			bitmap[i/8] |= 1 << (i % 8)
		}
		buf = append(buf, bitmap...)
		for i, n := range names {
			a, ok := r.Values[n]
			if !ok {
				continue
			}
			for c, v := range components(a, width) {
				buf = binary.AppendVarint(buf, v-prev[i*width+c])
				prev[i*width+c] = v
			}
		}
	}
	return buf
}

// components lists what a row stores of a for the chunk's width.
func components(a Agg, width int) []int64 {
	if width == rawWidth {
		return []int64{a.Sum}
	}
	return []int64{a.Count, a.Min, a.Max, a.Sum}
}

func fieldNames(rows []Row) []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range rows {
		for n := range r.Values {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

var errTruncated = errors.New("history chunk is truncated")

type reader struct {
	buf []byte
	err error
}

func (r *reader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }

func (r *reader) varint() int64 { return readVarint(r, binary.Varint) }

// readVarint decodes the next number with decode (binary.Uvarint or
// binary.Varint). After the first error, every read returns zero and r.err
// keeps that error.
func readVarint[T uint64 | int64](r *reader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.buf)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(len(r.buf)) < n {
		r.err = errTruncated
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

// decodeChunk reads what encodeChunk wrote.
func decodeChunk(data []byte) (width int, rows []Row, err error) {
	r := &reader{buf: data}
	head := r.bytes(2)
	if r.err != nil {
		return 0, nil, r.err
	}
	if head[0] != chunkVersion {
		return 0, nil, fmt.Errorf("history chunk version %d is not %d", head[0], chunkVersion)
	}
	width = int(head[1])
	if width != rawWidth && width != rollupWidth {
		return 0, nil, fmt.Errorf("history chunk width %d is neither %d nor %d", width, rawWidth, rollupWidth)
	}
	nNames := r.uvarint()
	if nNames > uint64(len(data)) {
		return 0, nil, errTruncated
	}
	names := make([]string, 0, nNames)
	for range nNames {
		names = append(names, string(r.bytes(r.uvarint())))
	}
	nRows := r.uvarint()
	if r.err != nil || nRows > uint64(len(data)) {
		return 0, nil, errTruncated
	}
	prev := make([]int64, len(names)*width)
	var prevTime int64
	rows = make([]Row, 0, nRows)
	vals := make([]int64, width)
	for range nRows {
		prevTime += r.varint()
		bitmap := r.bytes(uint64((len(names) + 7) / 8))
		row := Row{Time: prevTime, Values: make(map[string]Agg, len(names))}
		for i, n := range names {
			if r.err != nil || bitmap[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			for c := range width {
				prev[i*width+c] += r.varint()
				vals[c] = prev[i*width+c]
			}
			if width == rawWidth {
				row.Values[n] = Of(vals[0])
			} else {
				row.Values[n] = Agg{Count: vals[0], Min: vals[1], Max: vals[2], Sum: vals[3]}
			}
		}
		if r.err != nil {
			return 0, nil, r.err
		}
		rows = append(rows, row)
	}
	return width, rows, nil
}
