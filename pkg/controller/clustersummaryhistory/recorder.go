// Package clustersummaryhistory records the history of every ClusterSummary:
// on the leader only, every resolution it samples each recorded summary's
// status figures into the raw tier, rolls completed intervals into the
// rollup tier, trims both to their retention, and deletes the history of
// deleted summaries. Storage itself is package history's.
package clustersummaryhistory

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions/clusterview/v1beta1"
	cvlisters "github.com/clusterview/clusterview/pkg/generated/listers/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/history"
)

// Recorder samples ClusterSummary statuses into the history store.
type Recorder struct {
	store   *history.Store
	lister  cvlisters.ClusterSummaryLister
	synced  cache.InformerSynced
	raw     history.Tier
	rollup  history.Tier
	clock   clock.Clock
	deleted chan history.Summary
	// rolledUntil is, per summary, the end of the last interval this term
	// has rolled up; absent until the first tick looks it up in etcd.
	rolledUntil map[history.Summary]time.Time
}

// New returns a recorder fed by informer. raw.Interval is the resolution.
func New(store *history.Store, informer cvinformers.ClusterSummaryInformer, raw, rollup history.Tier, clk clock.Clock) (*Recorder, error) {
	r := &Recorder{
		store: store, lister: informer.Lister(), synced: informer.Informer().HasSynced,
		raw: raw, rollup: rollup, clock: clk,
		deleted:     make(chan history.Summary, 100),
		rolledUntil: map[history.Summary]time.Time{},
	}
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if cs, ok := obj.(*v1beta1.ClusterSummary); ok {
				// A full channel only delays the deletion to the next sweep.
				select {
				case r.deleted <- history.Summary{Name: cs.Name, UID: cs.UID}:
				default:
				}
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watching ClusterSummary deletions: %w", err)
	}
	return r, nil
}

// Run records until ctx ends. Samples are taken at the multiples of the
// resolution since the Unix epoch, so every replica agrees on sample times
// and a successor's write of a time already stored is a no-op.
func (r *Recorder) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("history")
	ctx = klog.NewContext(ctx, logger)
	if !cache.WaitForCacheSync(ctx.Done(), r.synced) {
		return
	}
	logger.Info("Recording ClusterSummary history", "resolution", r.raw.Interval, "rawRetention", r.raw.Retention,
		"rollupInterval", r.rollup.Interval, "rollupRetention", r.rollup.Retention)
	r.sweep(ctx)
	for {
		next := r.raw.Align(r.clock.Now()).Add(r.raw.Interval)
		timer := r.clock.NewTimer(next.Sub(r.clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case sum := <-r.deleted:
			timer.Stop()
			if err := r.store.Delete(ctx, sum); err != nil {
				logger.Error(err, "Deleting the history of a deleted ClusterSummary", "name", sum.Name)
			}
		case <-timer.C():
			r.tick(ctx, next)
			if next.Equal(r.rollup.Align(next)) {
				r.sweep(ctx)
			}
		}
	}
}

// tick records the sample of time at for every summary.
func (r *Recorder) tick(ctx context.Context, at time.Time) {
	logger := klog.FromContext(ctx)
	summaries, err := r.lister.List(labels.Everything())
	if err != nil {
		logger.Error(err, "Listing ClusterSummaries")
		return
	}
	for _, cs := range summaries {
		if cs.Spec.DisableHistory {
			continue
		}
		sum := history.Summary{Name: cs.Name, UID: cs.UID}
		if err := r.record(ctx, sum, &cs.Status, at); err != nil {
			logger.Error(err, "Recording history", "name", cs.Name)
		}
	}
}

// record writes one sample and the rollups of intervals it completes.
func (r *Recorder) record(ctx context.Context, sum history.Summary, status *v1beta1.ClusterSummaryStatus, at time.Time) error {
	if figures := history.Figures(status); figures != nil {
		row := history.Row{Time: at.UnixMilli(), Values: make(map[string]history.Agg, len(figures))}
		for k, v := range figures {
			row.Values[k] = history.Of(v)
		}
		if _, err := r.store.Write(ctx, sum, r.raw, row); err != nil {
			return err
		}
	}
	return r.rollUp(ctx, sum, at)
}

// rollUp writes the rollup of every complete interval before at that the
// raw tier still holds and the rollup tier lacks.
func (r *Recorder) rollUp(ctx context.Context, sum history.Summary, at time.Time) error {
	until, ok := r.rolledUntil[sum]
	if !ok {
		// First tick of this term: continue after the last stored rollup,
		// within what the raw tier still holds.
		from := r.rollup.Align(at.Add(-r.raw.Retention)).Add(r.rollup.Interval)
		rows, err := r.store.Read(ctx, sum, r.rollup, from, at)
		if err != nil {
			return err
		}
		until = from
		if n := len(rows); n > 0 {
			until = time.UnixMilli(rows[n-1].Time).Add(r.rollup.Interval)
		}
	}
	for ; !until.Add(r.rollup.Interval).After(at); until = until.Add(r.rollup.Interval) {
		raw, err := r.store.Read(ctx, sum, r.raw, until, until.Add(r.rollup.Interval))
		if err != nil {
			return err
		}
		if row, ok := history.Rollup(until, raw); ok {
			if _, err := r.store.Write(ctx, sum, r.rollup, row); err != nil {
				return err
			}
		}
		r.rolledUntil[sum] = until.Add(r.rollup.Interval)
	}
	r.rolledUntil[sum] = until
	return nil
}

// sweep trims every recorded history to its retention and deletes the
// history of summaries that no longer exist, including those deleted while
// no replica was leading.
func (r *Recorder) sweep(ctx context.Context) {
	logger := klog.FromContext(ctx)
	summaries, err := r.lister.List(labels.Everything())
	if err != nil {
		logger.Error(err, "Listing ClusterSummaries")
		return
	}
	keep := make(map[history.Summary]bool, len(summaries))
	now := r.clock.Now()
	for _, cs := range summaries {
		sum := history.Summary{Name: cs.Name, UID: cs.UID}
		keep[sum] = true
		for _, tier := range []history.Tier{r.raw, r.rollup} {
			if err := r.store.Trim(ctx, sum, tier, now); err != nil {
				logger.Error(err, "Trimming history", "name", cs.Name)
			}
		}
	}
	if err := r.store.DeleteOthers(ctx, keep); err != nil {
		logger.Error(err, "Deleting the history of deleted ClusterSummaries")
	}
	for sum := range r.rolledUntil {
		if !keep[sum] {
			delete(r.rolledUntil, sum)
		}
	}
}
