package history

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/types"
)

// Tier is one of the two kinds of stored history.
type Tier struct {
	// Name is the tier's key segment: "raw" or "rollup".
	Name string
	// Interval is the time between two rows: the recording resolution for
	// raw samples, the rollup interval for rollups.
	Interval time.Duration
	// Retention is how long rows are kept.
	Retention time.Duration
	width     int
}

// RowsPerChunk is how many rows one etcd value holds at most: an hour of
// samples at the default one-minute resolution, a day of 15-minute rollups.
const (
	rawRowsPerChunk    = 60
	rollupRowsPerChunk = 96
)

// RawTier is the tier of samples taken every resolution.
func RawTier(resolution, retention time.Duration) Tier {
	return Tier{Name: "raw", Interval: resolution, Retention: retention, width: rawWidth}
}

// RollupTier is the tier of per-interval rollups of raw samples.
func RollupTier(interval, retention time.Duration) Tier {
	return Tier{Name: "rollup", Interval: interval, Retention: retention, width: rollupWidth}
}

// ChunkSpan is the time one chunk covers.
func (t Tier) ChunkSpan() time.Duration {
	if t.width == rawWidth {
		return rawRowsPerChunk * t.Interval
	}
	return rollupRowsPerChunk * t.Interval
}

// Align returns the start of the interval of the tier's grid holding at.
func (t Tier) Align(at time.Time) time.Time { return at.Truncate(t.Interval) }

// Summary names whose history a key holds: the UID keeps a summary
// re-created under the same name from inheriting its predecessor's history.
type Summary struct {
	Name string
	UID  types.UID
}

// Store reads and writes history in etcd under Prefix.
type Store struct {
	client *clientv3.Client
	prefix string
}

// NewStore returns a store that keeps history under prefix (which should
// end with "/") through client.
func NewStore(client *clientv3.Client, prefix string) *Store {
	return &Store{client: client, prefix: prefix}
}

// historyPrefix is where the whole history of one summary lives.
func (s *Store) historyPrefix(sum Summary) string {
	return s.prefix + sum.Name + "/" + string(sum.UID) + "/"
}

func (s *Store) tierPrefix(sum Summary, tier Tier) string {
	return s.historyPrefix(sum) + tier.Name + "/"
}

// chunkKey names a chunk by its start in Unix milliseconds, zero-padded so
// that etcd's byte order is time order and a range delete trims by time.
func (s *Store) chunkKey(sum Summary, tier Tier, start time.Time) string {
	return s.tierPrefix(sum, tier) + fmt.Sprintf("%016d", start.UnixMilli())
}

// Write adds row to the tier's chunk for its time unless a row for that
// time is already stored, and reports whether it wrote. The
// read-check-write is a compare-and-swap on the chunk's revision: two
// writers (a leader and its successor during a handover) never store the
// same time twice, and a retry after a failure never duplicates.
func (s *Store) Write(ctx context.Context, sum Summary, tier Tier, row Row) (bool, error) {
	at := time.UnixMilli(row.Time)
	key := s.chunkKey(sum, tier, at.Truncate(tier.ChunkSpan()))
	for {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return false, fmt.Errorf("reading history chunk %s: %w", key, err)
		}
		var rows []Row
		var cmp clientv3.Cmp
		if len(resp.Kvs) == 0 {
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		} else {
			kv := resp.Kvs[0]
			if _, rows, err = decodeChunk(kv.Value); err != nil {
				return false, fmt.Errorf("decoding history chunk %s: %w", key, err)
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)
		}
		i, found := slices.BinarySearchFunc(rows, row.Time, func(r Row, t int64) int { return int(r.Time - t) })
		if found {
			return false, nil
		}
		rows = slices.Insert(rows, i, row)
		txn, err := s.client.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(encodeChunk(tier.width, rows)))).Commit()
		if err != nil {
			return false, fmt.Errorf("writing history chunk %s: %w", key, err)
		}
		if txn.Succeeded {
			return true, nil
		}
		// Someone else wrote the chunk meanwhile: read it again.
	}
}

// Read returns the tier's rows with from <= time < until, sorted by time.
func (s *Store) Read(ctx context.Context, sum Summary, tier Tier, from, until time.Time) ([]Row, error) {
	// A chunk starting before from may hold rows after it; two spans back
	// also covers chunks written when the interval was longer.
	start := s.chunkKey(sum, tier, from.Add(-2*tier.ChunkSpan()))
	end := s.chunkKey(sum, tier, until)
	resp, err := s.client.Get(ctx, start, clientv3.WithRange(end))
	if err != nil {
		return nil, fmt.Errorf("reading %s history of %s: %w", tier.Name, sum.Name, err)
	}
	var out []Row
	for _, kv := range resp.Kvs {
		_, rows, err := decodeChunk(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("decoding history chunk %s: %w", kv.Key, err)
		}
		for _, r := range rows {
			if r.Time >= from.UnixMilli() && r.Time < until.UnixMilli() {
				out = append(out, r)
			}
		}
	}
	// Chunks of different spans (after a resolution change) may overlap:
	// sort, and keep the first row of any time.
	slices.SortStableFunc(out, func(a, b Row) int { return int(a.Time - b.Time) })
	return slices.CompactFunc(out, func(a, b Row) bool { return a.Time == b.Time }), nil
}

// Trim deletes the tier's chunks that hold nothing newer than its
// retention before now. A chunk is deleted whole, so rows outlive their
// retention by up to one chunk span; readers never serve them.
func (s *Store) Trim(ctx context.Context, sum Summary, tier Tier, now time.Time) error {
	// A chunk starting at c ends at c+span: expired when c+span <= now-retention.
	end := s.chunkKey(sum, tier, now.Add(-tier.Retention-tier.ChunkSpan()+time.Millisecond))
	if _, err := s.client.Delete(ctx, s.tierPrefix(sum, tier), clientv3.WithRange(end)); err != nil {
		return fmt.Errorf("trimming %s history of %s: %w", tier.Name, sum.Name, err)
	}
	return nil
}

// Delete removes the whole history of sum.
func (s *Store) Delete(ctx context.Context, sum Summary) error {
	if _, err := s.client.Delete(ctx, s.historyPrefix(sum), clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("deleting the history of %s (uid %s): %w", sum.Name, sum.UID, err)
	}
	return nil
}

// DeleteOthers removes the history of every summary not in keep, such as
// those deleted while no replica was recording.
func (s *Store) DeleteOthers(ctx context.Context, keep map[Summary]bool) error {
	resp, err := s.client.Get(ctx, s.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("listing stored histories: %w", err)
	}
	done := map[Summary]bool{}
	for _, kv := range resp.Kvs {
		parts := strings.SplitN(strings.TrimPrefix(string(kv.Key), s.prefix), "/", 3)
		if len(parts) < 3 {
			continue
		}
		sum := Summary{Name: parts[0], UID: types.UID(parts[1])}
		if keep[sum] || done[sum] {
			continue
		}
		done[sum] = true
		if err := s.Delete(ctx, sum); err != nil {
			return err
		}
	}
	return nil
}

// Size returns the bytes of keys and values stored for sum, the figure
// operators size etcd with.
func (s *Store) Size(ctx context.Context, sum Summary) (int64, error) {
	resp, err := s.client.Get(ctx, s.historyPrefix(sum), clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("reading the history of %s: %w", sum.Name, err)
	}
	var n int64
	for _, kv := range resp.Kvs {
		n += int64(len(kv.Key) + len(kv.Value))
	}
	return n, nil
}

// Rollup computes one rollup row from raw rows: per figure, the merge of
// its samples. It returns false when rows is empty: a gap stays a gap.
func Rollup(at time.Time, rows []Row) (Row, bool) {
	if len(rows) == 0 {
		return Row{}, false
	}
	out := Row{Time: at.UnixMilli(), Values: map[string]Agg{}}
	for _, r := range rows {
		for k, a := range r.Values {
			out.Values[k] = out.Values[k].Merge(a)
		}
	}
	return out, true
}

// Resample merges rows into buckets of step aligned on the Unix epoch,
// one row per non-empty bucket: steps without data stay absent.
func Resample(rows []Row, step time.Duration) []Row {
	var out []Row
	stepMs := step.Milliseconds()
	for _, r := range rows {
		b := r.Time - r.Time%stepMs
		if n := len(out); n > 0 && out[n-1].Time == b {
			for k, a := range r.Values {
				out[n-1].Values[k] = out[n-1].Values[k].Merge(a)
			}
			continue
		}
		vals := make(map[string]Agg, len(r.Values))
		for k, a := range r.Values {
			vals[k] = a
		}
		out = append(out, Row{Time: b, Values: vals})
	}
	return out
}
