package clustersummary

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/history"
)

func TestHistoryParsePicksTierAndStep(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 7, 0, time.UTC)
	r := &HistoryREST{
		raw:    history.RawTier(time.Minute, 24*time.Hour),
		rollup: history.RollupTier(15*time.Minute, 30*24*time.Hour),
		now:    func() time.Time { return now },
	}
	for _, c := range []struct {
		opts         clusterview.ClusterSummaryHistoryOptions
		tier         string
		step         time.Duration
		since, until time.Time
		fields       int
	}{
		// Default: the last hour, at the resolution, from raw samples.
		{clusterview.ClusterSummaryHistoryOptions{}, "raw", time.Minute, now.Add(-time.Hour).Truncate(time.Minute), now, 0},
		// 6 h in at most 360 points: 1 m steps.
		{clusterview.ClusterSummaryHistoryOptions{Since: "6h"}, "raw", time.Minute, now.Add(-6 * time.Hour).Truncate(time.Minute), now, 0},
		// A 2 m step is rounded to the resolution's multiple and stays raw.
		{clusterview.ClusterSummaryHistoryOptions{Since: "3h", Step: "90s"}, "raw", 2 * time.Minute, now.Add(-3 * time.Hour).Truncate(2 * time.Minute), now, 0},
		// Beyond the raw retention, rollups, whatever the step.
		{clusterview.ClusterSummaryHistoryOptions{Since: "48h", Step: "1m"}, "rollup", 15 * time.Minute, now.Add(-48 * time.Hour).Truncate(15 * time.Minute), now, 0},
		// A week: 7d/360 = 28 m, rounded up to 30 m rollups.
		{clusterview.ClusterSummaryHistoryOptions{Since: "168h", Fields: []string{"pods.running,nodes.ready", "resources.nvidia.com/gpu.requests"}}, "rollup", 30 * time.Minute, now.Add(-168 * time.Hour).Truncate(30 * time.Minute), now, 3},
		// Older than the rollup retention: clamped to it.
		{clusterview.ClusterSummaryHistoryOptions{Since: "2026-01-01T00:00:00Z", Until: "2026-06-01T11:00:00Z", Step: "1h"}, "rollup", time.Hour, now.Add(-30 * 24 * time.Hour).Truncate(time.Hour).Add(time.Hour), time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC), 0},
	} {
		q, err := r.parse(&c.opts)
		if err != nil {
			t.Errorf("%+v: %v", c.opts, err)
			continue
		}
		if q.tier.Name != c.tier || q.step != c.step || !q.since.Equal(c.since) || !q.until.Equal(c.until) || len(q.fields) != c.fields {
			t.Errorf("%+v: tier %s step %s window [%s, %s) %d fields; want %s %s [%s, %s) %d", c.opts, q.tier.Name, q.step, q.since, q.until, len(q.fields),
				c.tier, c.step, c.since, c.until, c.fields)
		}
	}
}

func TestHistoryParseNamesTheBadParameter(t *testing.T) {
	r := &HistoryREST{
		raw:    history.RawTier(time.Minute, 24*time.Hour),
		rollup: history.RollupTier(15*time.Minute, 30*24*time.Hour),
		now:    time.Now,
	}
	for _, c := range []struct {
		opts  clusterview.ClusterSummaryHistoryOptions
		param string
	}{
		{clusterview.ClusterSummaryHistoryOptions{Since: "yesterday"}, "since:"},
		{clusterview.ClusterSummaryHistoryOptions{Since: "-1h"}, "since:"},
		{clusterview.ClusterSummaryHistoryOptions{Until: "2026-13-01T00:00:00Z"}, "until:"},
		{clusterview.ClusterSummaryHistoryOptions{Since: "1h", Until: "2h"}, "since ("},
		{clusterview.ClusterSummaryHistoryOptions{Step: "0s"}, "step:"},
		{clusterview.ClusterSummaryHistoryOptions{Step: "often"}, "step:"},
		{clusterview.ClusterSummaryHistoryOptions{Fields: []string{"pods.running", "pods.sleeping"}}, "fields[1]:"},
		{clusterview.ClusterSummaryHistoryOptions{Fields: []string{"resources.cpu.wishes"}}, "fields[0]:"},
	} {
		_, err := r.parse(&c.opts)
		if !apierrors.IsBadRequest(err) || !strings.HasPrefix(err.Error(), c.param) {
			t.Errorf("%+v: %v, want 400 starting %q", c.opts, err, c.param)
		}
	}
}
