// Package clustersummarystatus keeps every ClusterSummary's status equal to
// what the summary engine computes for its spec. It writes through the status
// subresource, only when the status changed, at most once per object per
// interval and within a write budget shared by all objects, however fast the
// cluster changes and however many summaries there are.
package clustersummarystatus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions/clusterview/v1beta1"
	cvlisters "github.com/clusterview/clusterview/pkg/generated/listers/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/summary"
)

// Engine is what the controller reads from the summary engine.
type Engine interface {
	Cluster(sel summary.Selection) summary.ClusterTotals
	Revision() uint64
	Wait(afterRev uint64) <-chan struct{}
	// SetSummaryResources has the engine track the resources a spec names
	// even when no node advertises them (see package summary).
	SetSummaryResources(owner string, names []corev1.ResourceName)
}

// Default write budget: a summary's status is written at most four times a
// second, and all summaries together at most DefaultWritesPerSecond times a
// second. Four a second keeps a change visible within half a second (one
// interval plus the write) at any rate of change; the shared budget bounds
// what a hundred busy summaries cost etcd, at one write per summary per
// second each when all are dirty at once.
const (
	DefaultInterval        = 250 * time.Millisecond
	DefaultWritesPerSecond = 100
)

// WriteBurst is how many status writes the shared budget lets through at
// once after a quiet spell: one second's worth, so that a change touching
// every summary is written without waiting for tokens, while over any
// window W the writes stay below writesPerSecond×W + WriteBurst.
func WriteBurst(writesPerSecond float64) int {
	return max(1, int(writesPerSecond))
}

// DefaultWorkers is how many summaries are synced at once. A sync spends
// most of its time waiting for its status write to reach etcd, so the
// budget above, not the CPU, must be what limits a hundred busy summaries:
// two workers at tens of milliseconds per write cap all summaries together
// at about fifty writes a second on a loaded machine.
const DefaultWorkers = 8

// Default backoff of a summary whose status write failed: the first retry
// after 100 ms (a conflict is usually resolved by then, once the informer
// has the newer object), doubling per consecutive failure up to 5 minutes.
// Each summary backs off on its own; the others keep their interval.
const (
	DefaultRetryBase = 100 * time.Millisecond
	DefaultRetryMax  = 5 * time.Minute
	// writeTimeout bounds one status write, so that a write that hangs
	// holds a worker for a bounded time.
	writeTimeout = 30 * time.Second
	// maxFailureMessage bounds the error quoted in the Ready condition.
	maxFailureMessage = 1024
)

// Options are the controller's knobs; zero values take the defaults.
type Options struct {
	// Interval is the shortest time between two status writes of one
	// summary; changes within it are coalesced into one write.
	Interval time.Duration
	// WritesPerSecond is the budget of status writes of all summaries
	// together (token bucket, burst of one second's worth).
	WritesPerSecond float64
	// MaxGroups caps status.groups; see summary.Selection.MaxGroups.
	MaxGroups int
	// RetryBase and RetryMax bound the per-summary exponential backoff of
	// failed status writes.
	RetryBase, RetryMax time.Duration
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.WritesPerSecond <= 0 {
		o.WritesPerSecond = DefaultWritesPerSecond
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = DefaultMaxGroups
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax < o.RetryBase {
		o.RetryMax = max(DefaultRetryMax, o.RetryBase)
	}
	return o
}

// Controller computes and writes ClusterSummary statuses.
type Controller struct {
	engine   Engine
	client   clientset.Interface
	lister   cvlisters.ClusterSummaryLister
	synced   []cache.InformerSynced
	engineOK func() bool
	interval time.Duration
	// maxGroups caps status.groups; see summary.Selection.MaxGroups.
	maxGroups int
	// writes is the budget shared by all summaries' status writes.
	writes flowcontrol.RateLimiter
	clock  clock.Clock
	queue  workqueue.TypedRateLimitingInterface[string]
	// backoff counts each summary's consecutive failed syncs and gives the
	// delay before its next attempt; the queue uses it for AddRateLimited.
	backoff workqueue.TypedRateLimiter[string]

	mu sync.Mutex
	// lastWrite is when each object's status was last written, to space
	// writes by interval.
	lastWrite map[string]time.Time
	// dirtySince is when the engine first changed after each object's last
	// sync: the start of the freshness measurement.
	dirtySince map[string]time.Time
	// retryAt is, for each object whose last sync failed, the earliest
	// time of the next attempt: engine changes do not bring it forward.
	retryAt map[string]time.Time
}

// New returns a controller. engineSynced reports whether the informers
// feeding the engine have synced; until then statuses say Ready=False.
func New(engine Engine, engineSynced func() bool, client clientset.Interface, informer cvinformers.ClusterSummaryInformer, opts Options) (*Controller, error) {
	opts = opts.withDefaults()
	backoff := workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.RetryBase, opts.RetryMax)
	c := &Controller{
		engine:     engine,
		client:     client,
		lister:     informer.Lister(),
		synced:     []cache.InformerSynced{informer.Informer().HasSynced},
		engineOK:   engineSynced,
		interval:   opts.Interval,
		maxGroups:  opts.MaxGroups,
		writes:     flowcontrol.NewTokenBucketRateLimiter(float32(opts.WritesPerSecond), WriteBurst(opts.WritesPerSecond)),
		clock:      clock.RealClock{},
		queue:      workqueue.NewTypedRateLimitingQueueWithConfig(backoff, workqueue.TypedRateLimitingQueueConfig[string]{Name: "clustersummary-status"}),
		backoff:    backoff,
		lastWrite:  map[string]time.Time{},
		dirtySince: map[string]time.Time{},
		retryAt:    map[string]time.Time{},
	}
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) { c.enqueue(obj) },
		UpdateFunc: func(old, obj interface{}) {
			// A new spec (generation) needs a sync now. So does a status
			// anyone else wrote, so that it is put right at once rather than
			// at the next engine change: no status write, whoever is allowed
			// to make it, leaves a figure that is not the engine's. Our own
			// writes come back here too and cost one comparison. Engine
			// changes arrive through followEngine.
			o, n := old.(*v1beta1.ClusterSummary), obj.(*v1beta1.ClusterSummary)
			switch {
			case o.Generation != n.Generation:
				c.enqueue(obj)
			case !apiequality.Semantic.DeepEqual(&o.Status, &n.Status):
				// Within the object's interval and backoff, like an engine change.
				c.mu.Lock()
				c.schedule(n.Name, c.clock.Now())
				c.mu.Unlock()
			}
		},
		DeleteFunc: func(obj interface{}) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.forget(key)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watching ClusterSummaries: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	delete(c.lastWrite, key)
	delete(c.dirtySince, key)
	delete(c.retryAt, key)
	c.mu.Unlock()
	c.queue.Forget(key)
	c.engine.SetSummaryResources(key, nil)
	deleteSummaryMetrics(key)
	writeFailures.DeleteLabelValues(key)
	retryDelay.DeleteLabelValues(key)
}

// Run syncs statuses until ctx ends. Only the leader runs it.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx).WithName("clustersummary-status")
	ctx = klog.NewContext(ctx, logger)
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	if !cache.WaitForNamedCacheSync("clustersummary-status", ctx.Done(), c.synced...) {
		return
	}
	logger.Info("Starting", "interval", c.interval, "writesPerSecond", c.writes.QPS(), "workers", workers)
	// Statuses computed before the engine synced say Ready=False; resync
	// everything once it has.
	go func() {
		if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) { return c.engineOK(), nil }); err == nil {
			c.enqueueAll(ctx)
		}
	}()
	go c.followEngine(ctx)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	// Another replica's controller pins what the specs name from now on.
	if objs, err := c.lister.List(labels.Everything()); err == nil {
		for _, cs := range objs {
			c.engine.SetSummaryResources(cs.Name, nil)
		}
	}
	logger.Info("Stopped")
}

// followEngine enqueues every summary whenever the engine's revision moves,
// scheduled no earlier than interval after that summary's last write. The
// workqueue merges repeated requests, so a burst of events costs one sync.
func (c *Controller) followEngine(ctx context.Context) {
	rev := c.engine.Revision()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.engine.Wait(rev):
		}
		rev = c.engine.Revision()
		c.enqueueAll(ctx)
		// Bound how often a busy cluster makes us walk the object list.
		select {
		case <-ctx.Done():
			return
		case <-c.clock.After(c.interval / 10):
		}
	}
}

func (c *Controller) enqueueAll(ctx context.Context) {
	objs, err := c.lister.List(labels.Everything())
	if err != nil {
		klog.FromContext(ctx).Error(err, "Listing ClusterSummaries")
		return
	}
	// The default summary first. A change that touches every summary at
	// once (a usage round, a zone going NotReady) queues all of them, and the
	// workqueue serves keys in the order they were added: queued first, the
	// summary `kubectl get clustersummaries` readers look at is written
	// within one write instead of somewhere in a round of all of them, at
	// the cost of one write's delay to the others.
	if i := slices.IndexFunc(objs, func(cs *v1beta1.ClusterSummary) bool { return cs.Name == v1beta1.DefaultClusterSummaryName }); i > 0 {
		objs[0], objs[i] = objs[i], objs[0]
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cs := range objs {
		key := cs.Name
		if _, dirty := c.dirtySince[key]; !dirty {
			c.dirtySince[key] = now
		}
		c.schedule(key, now)
	}
}

// schedule queues a sync of key no earlier than interval after its last
// write and than its backoff allows. The caller holds c.mu.
func (c *Controller) schedule(key string, now time.Time) {
	delay := max(c.interval-now.Sub(c.lastWrite[key]), c.retryAt[key].Sub(now))
	if delay > 0 {
		c.queue.AddAfter(key, delay)
	} else {
		c.queue.Add(key)
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		c.retryLater(ctx, key, err)
	}
	return true
}

// retryLater schedules the next sync of a summary whose sync failed, after
// its own exponential backoff, and makes the failure visible: in /metrics,
// and, unless the write merely conflicted, in its Ready condition.
func (c *Controller) retryLater(ctx context.Context, key string, err error) {
	delay := c.backoff.When(key)
	failures := c.backoff.NumRequeues(key)
	c.mu.Lock()
	c.retryAt[key] = c.clock.Now().Add(delay)
	c.mu.Unlock()
	c.queue.AddAfter(key, delay)
	writeFailures.WithLabelValues(key).Set(float64(failures))
	retryDelay.WithLabelValues(key).Set(delay.Seconds())
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		klog.FromContext(ctx).V(2).Info("Status write conflicted; retrying", "clusterSummary", key, "retryIn", delay)
		return
	}
	utilruntime.HandleErrorWithContext(ctx, err, "Syncing ClusterSummary status", "clusterSummary", key, "failures", failures, "retryIn", delay)
	c.reportFailure(ctx, key, err, failures, delay)
}

// reportFailure writes Ready=False with reason StatusWriteFailed over the
// stored status, so that readers know its figures are not current. When
// the computed status itself is what the server refuses (too large,
// invalid), this small change still goes through; when the server refuses
// every write, only /metrics can tell, and the next success replaces it.
func (c *Controller) reportFailure(ctx context.Context, key string, cause error, failures int, delay time.Duration) {
	cs, err := c.lister.Get(key)
	if err != nil || !c.writes.TryAccept() {
		return
	}
	msg := cause.Error()
	if len(msg) > maxFailureMessage {
		msg = msg[:maxFailureMessage] + "..."
	}
	written := cs.DeepCopy()
	apimeta.SetStatusCondition(&written.Status.Conditions, metav1.Condition{
		Type: v1beta1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: cs.Generation, Reason: ReasonStatusWriteFailed,
		Message: fmt.Sprintf("the figures below are from %s: writing the current status failed %d %s in a row, next attempt in %s: %s",
			lastUpdate(cs), failures, plural(int64(failures), "time", "times"), delay.Round(time.Millisecond), msg),
	})
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	_, err = c.client.ClusterviewV1beta1().ClusterSummaries().UpdateStatus(ctx, written, metav1.UpdateOptions{FieldManager: FieldManager})
	statusWrites.WithLabelValues(writeResult(err)).Inc()
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Could not report the failed status write either", "clusterSummary", key, "err", err)
	}
}

func lastUpdate(cs *v1beta1.ClusterSummary) string {
	if cs.Status.LastUpdateTime == nil {
		return "no successful write yet"
	}
	return cs.Status.LastUpdateTime.UTC().Format(time.RFC3339)
}

// FieldManager is the manager name of every status write of the
// controller, as managedFields records it.
const FieldManager = "clusterview-status-controller"

// sync computes one status and writes it if it differs from the stored one.
func (c *Controller) sync(ctx context.Context, key string) error {
	cs, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	now := c.clock.Now()
	c.engine.SetSummaryResources(key, cs.Spec.Resources)
	status, err := ComputeStatus(cs, c.engine, c.engineOK(), c.maxGroups)
	if err != nil {
		return err
	}
	// Keep transition times of unchanged conditions and compare everything
	// but the write time.
	status.Conditions = mergeConditions(cs.Status.Conditions, status.Conditions, metav1.NewTime(now))
	status.LastUpdateTime = cs.Status.LastUpdateTime
	c.mu.Lock()
	since, dirty := c.dirtySince[key]
	last := c.lastWrite[key]
	c.mu.Unlock()
	recordSummaryMetrics(key, &status)
	if apiequality.Semantic.DeepEqual(&status, &cs.Status) {
		c.markSynced(key, since, dirty, now, false)
		return nil
	}
	// At most one write per object per interval, except for a new spec,
	// whose status should say at once that it was seen. The object stays
	// dirty until the deferred sync.
	if wait := c.interval - now.Sub(last); wait > 0 && cs.Status.ObservedGeneration == cs.Generation {
		c.queue.AddAfter(key, wait)
		return nil
	}
	// Within the shared budget. A summary that had to wait for it is
	// computed again, so that what is written is as fresh as the write.
	if !c.writes.TryAccept() {
		waited := c.clock.Now()
		if err := c.writes.Wait(ctx); err != nil {
			return fmt.Errorf("waiting for the status write budget: %w", err)
		}
		budgetWait.Observe(c.clock.Since(waited).Seconds())
		if status, err = ComputeStatus(cs, c.engine, c.engineOK(), c.maxGroups); err != nil {
			return err
		}
		now = c.clock.Now()
		status.Conditions = mergeConditions(cs.Status.Conditions, status.Conditions, metav1.NewTime(now))
	}
	written := cs.DeepCopy()
	lastUpdate := metav1.NewTime(now)
	status.LastUpdateTime = &lastUpdate
	written.Status = status
	writeCtx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if _, err := c.client.ClusterviewV1beta1().ClusterSummaries().UpdateStatus(writeCtx, written, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		statusWrites.WithLabelValues(writeResult(err)).Inc()
		return fmt.Errorf("writing the status of ClusterSummary %q: %w", key, err)
	}
	statusWrites.WithLabelValues("success").Inc()
	c.markSynced(key, since, dirty, c.clock.Now(), true)
	klog.FromContext(ctx).V(4).Info("Wrote status", "clusterSummary", key, "generation", cs.Generation)
	return nil
}

// markSynced records that key's status reflects the engine as of at: it is no
// longer dirty, its freshness is observed, and a write starts its interval.
func (c *Controller) markSynced(key string, since time.Time, dirty bool, at time.Time, wrote bool) {
	if dirty {
		freshness.Observe(at.Sub(since).Seconds())
	}
	// Its status is what it should be: any backoff is over.
	c.backoff.Forget(key)
	writeFailures.DeleteLabelValues(key)
	retryDelay.DeleteLabelValues(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	// The next engine change marks it dirty again (enqueueAll).
	delete(c.dirtySince, key)
	delete(c.retryAt, key)
	if wrote {
		c.lastWrite[key] = at
	}
}

func writeResult(err error) string {
	switch {
	case apierrors.IsConflict(err):
		return "conflict"
	case apierrors.IsNotFound(err):
		return "not_found"
	default:
		return "error"
	}
}

// mergeConditions returns want with the LastTransitionTime of every
// condition whose status did not change taken from have.
func mergeConditions(have, want []metav1.Condition, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(want))
	for _, w := range want {
		w.LastTransitionTime = now
		for _, h := range have {
			if h.Type == w.Type && h.Status == w.Status {
				w.LastTransitionTime = h.LastTransitionTime
			}
		}
		out = append(out, w)
	}
	return out
}
