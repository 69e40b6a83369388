package clustersummary

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/history"
)

// maxPoints bounds the points of a series when the request names no step.
const maxPoints = 360

// HistoryREST is the history subresource: a read of the recorded history
// of one ClusterSummary. It is authorized as clustersummaries/history, apart
// from reading the summary itself.
type HistoryREST struct {
	summaries   *genericregistry.Store
	history     *history.Store
	raw, rollup history.Tier
	now         func() time.Time
}

var (
	_ rest.GetterWithOptions = &HistoryREST{}
	_ rest.TableConvertor    = &HistoryREST{}
)

// NewHistoryREST serves the history kept in store of the summaries in
// summaries.
func NewHistoryREST(summaries *REST, store *history.Store, raw, rollup history.Tier) *HistoryREST {
	return &HistoryREST{summaries: summaries.Store, history: store, raw: raw, rollup: rollup, now: time.Now}
}

// New returns an empty ClusterSummaryHistory.
func (r *HistoryREST) New() runtime.Object { return &clusterview.ClusterSummaryHistory{} }

// Destroy does nothing: the etcd client belongs to the server.
func (r *HistoryREST) Destroy() {}

// NewGetOptions declares the query parameters: since, until, step, fields.
func (r *HistoryREST) NewGetOptions() (runtime.Object, bool, string) {
	return &clusterview.ClusterSummaryHistoryOptions{}, false, ""
}

// historyQuery is a validated request.
type historyQuery struct {
	since, until time.Time
	step         time.Duration
	tier         history.Tier
	fields       map[string]bool
}

// Get reads the history of the named summary. A summary that does not
// exist answers 404; a summary re-created under the same name has only its
// own history.
func (r *HistoryREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*clusterview.ClusterSummaryHistoryOptions)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("history options of type %T", options))
	}
	q, err := r.parse(opts)
	if err != nil {
		return nil, err
	}
	obj, err := r.summaries.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	cs := obj.(*clusterview.ClusterSummary)
	sum := history.Summary{Name: cs.Name, UID: cs.UID}
	rows, err := r.read(ctx, sum, q)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out := &clusterview.ClusterSummaryHistory{
		ObjectMeta: metav1.ObjectMeta{Name: cs.Name, UID: cs.UID, CreationTimestamp: cs.CreationTimestamp},
		Since:      metav1.NewTime(q.since), Until: metav1.NewTime(q.until),
		Step: metav1.Duration{Duration: q.step},
		Tier: clusterview.HistoryTierRaw,
	}
	if q.tier.Name == r.rollup.Name {
		out.Tier = clusterview.HistoryTierRollup
	}
	out.Series = series(history.Resample(rows, q.step), q.fields)
	return out, nil
}

// parse validates the query parameters and picks the tier: raw samples
// for steps shorter than the rollup interval over a window the raw tier
// still holds, rollups otherwise. Every error names its parameter.
func (r *HistoryREST) parse(opts *clusterview.ClusterSummaryHistoryOptions) (*historyQuery, error) {
	now := r.now()
	q := &historyQuery{until: now}
	var err error
	if opts.Until != "" {
		if q.until, err = parseTime("until", opts.Until, now); err != nil {
			return nil, err
		}
	}
	q.since = q.until.Add(-time.Hour)
	if opts.Since != "" {
		if q.since, err = parseTime("since", opts.Since, now); err != nil {
			return nil, err
		}
	}
	if !q.since.Before(q.until) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("since (%s) must be before until (%s)", q.since.Format(time.RFC3339), q.until.Format(time.RFC3339)))
	}
	q.step = max(q.until.Sub(q.since)/maxPoints, r.raw.Interval)
	if opts.Step != "" {
		if q.step, err = time.ParseDuration(opts.Step); err != nil || q.step <= 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("step: %q is not a positive duration such as 5m", opts.Step))
		}
	}
	if q.step < r.rollup.Interval && !q.since.Before(now.Add(-r.raw.Retention)) {
		q.tier = r.raw
	} else {
		q.tier = r.rollup
	}
	q.step = roundUp(q.step, q.tier.Interval)
	// Whole steps only, and nothing older than the tier keeps, even if its
	// chunk has not been trimmed yet.
	q.since = q.since.Truncate(q.step)
	if horizon := now.Add(-q.tier.Retention); q.since.Before(horizon) {
		q.since = horizon.Truncate(q.step).Add(q.step)
	}
	for i, f := range opts.Fields {
		for _, name := range strings.Split(f, ",") {
			if !history.ValidFigure(name) {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("fields[%d]: %q is not a recorded figure, such as nodes.ready, pods.running or resources.cpu.requests", i, name))
			}
			if q.fields == nil {
				q.fields = map[string]bool{}
			}
			q.fields[name] = true
		}
	}
	return q, nil
}

// parseTime reads a duration before now ("6h") or an RFC 3339 time.
func parseTime(param, value string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, nil
	}
	return time.Time{}, apierrors.NewBadRequest(fmt.Sprintf("%s: %q is neither a duration before now such as 6h nor an RFC 3339 time", param, value))
}

func roundUp(d, unit time.Duration) time.Duration {
	return (d + unit - 1) / unit * unit
}

// read returns the rows of the query's tier. Rollups of the intervals the
// recorder has not rolled up yet (the current one, at least) are computed
// from the raw samples, so the newest part of a long window is not missing.
func (r *HistoryREST) read(ctx context.Context, sum history.Summary, q *historyQuery) ([]history.Row, error) {
	rows, err := r.history.Read(ctx, sum, q.tier, q.since, q.until)
	if err != nil || q.tier.Name != r.rollup.Name {
		return rows, err
	}
	tail := q.since
	if n := len(rows); n > 0 {
		tail = time.UnixMilli(rows[n-1].Time).Add(r.rollup.Interval)
	}
	if horizon := r.now().Add(-r.raw.Retention); tail.Before(horizon) {
		tail = r.rollup.Align(horizon).Add(r.rollup.Interval)
	}
	if !tail.Before(q.until) {
		return rows, nil
	}
	raw, err := r.history.Read(ctx, sum, r.raw, tail, q.until)
	if err != nil {
		return nil, err
	}
	return append(rows, raw...), nil
}

// series turns resampled rows into one series per stored figure key.
func series(rows []history.Row, fields map[string]bool) []clusterview.HistorySeries {
	byKey := map[string]*clusterview.HistorySeries{}
	for _, row := range rows {
		for key, a := range row.Values {
			group, figure := history.SplitKey(key)
			if fields != nil && !fields[figure] {
				continue
			}
			s := byKey[key]
			if s == nil {
				s = &clusterview.HistorySeries{Figure: figure, Group: group}
				byKey[key] = s
			}
			s.Points = append(s.Points, clusterview.HistoryPoint{
				Time:    metav1.NewTime(time.UnixMilli(row.Time)),
				Samples: a.Count,
				Min:     history.Quantity(figure, a.Min),
				Mean:    history.Mean(figure, a),
				Max:     history.Quantity(figure, a.Max),
			})
		}
	}
	out := make([]clusterview.HistorySeries, 0, len(byKey))
	for _, s := range byKey {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b clusterview.HistorySeries) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Figure, b.Figure)
	})
	return out
}

// historyColumns are the columns of `kubectl get --raw`-free table output:
// one row per series.
var historyColumns = []metav1.TableColumnDefinition{
	{Name: "Group", Type: "string", Description: "The status.groups entry; empty for the whole summary."},
	{Name: "Figure", Type: "string", Description: "The status figure."},
	{Name: "Points", Type: "integer", Description: "Steps holding at least one sample."},
	{Name: "Min", Type: "string", Description: "Smallest sample in the window."},
	{Name: "Max", Type: "string", Description: "Largest sample in the window."},
	{Name: "Last", Type: "string", Description: "Mean of the newest step."},
}

// ConvertToTable prints one row per series.
func (r *HistoryREST) ConvertToTable(_ context.Context, object runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	h, ok := object.(*clusterview.ClusterSummaryHistory)
	if !ok {
		return nil, fmt.Errorf("cannot print %T as a ClusterSummaryHistory table", object)
	}
	t := &metav1.Table{ColumnDefinitions: historyColumns}
	for _, s := range h.Series {
		if len(s.Points) == 0 {
			continue
		}
		lo, hi := s.Points[0].Min, s.Points[0].Max
		for _, p := range s.Points[1:] {
			if p.Min.Cmp(lo) < 0 {
				lo = p.Min
			}
			if p.Max.Cmp(hi) > 0 {
				hi = p.Max
			}
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []interface{}{
			s.Group, s.Figure, int64(len(s.Points)), lo.String(), hi.String(), s.Points[len(s.Points)-1].Mean.String(),
		}})
	}
	return t, nil
}
