package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"

	"github.com/clusterview/clusterview/pkg/controller/clustersummaryhistory"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions"
	"github.com/clusterview/clusterview/pkg/history"
	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summary/feed"
	"github.com/clusterview/clusterview/pkg/summary/usagefeed"
)

// summaryRuntime owns what keeps summaries live: the core informers that
// feed the engine, and the status controller under leader election.
type summaryRuntime struct {
	engine   *summary.Engine
	history  *history.Store
	extra    *ExtraConfig
	loopback *rest.Config
	// synced is set once the informers are registered; nil means not yet.
	synced atomic.Pointer[func() bool]
}

var engineEvents = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "clusterview", Subsystem: "engine", Name: "events_total",
	Help:           "Informer and pod feed notifications applied to the summary engine, by object kind and event type.",
	StabilityLevel: metrics.ALPHA,
}, []string{"kind", "type"})

// Resource-name gauges: what the engine tracks, and what pods hold beyond
// it (see summary.UntrackedResources), refreshed every resourceNamesPeriod.
var (
	trackedResourceNames = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "clusterview", Subsystem: "engine", Name: "tracked_resource_names",
		Help:           "Resource names the summary engine counts on their own: cpu, memory, ephemeral-storage, pods, and those some node advertises or some ClusterSummary's spec.resources names.",
		StabilityLevel: metrics.ALPHA,
	})
	untrackedResourceNames = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "clusterview", Subsystem: "engine", Name: "untracked_resource_names",
		Help:           "Resource names pods request that no node advertises and no ClusterSummary names: not counted in any summary.",
		StabilityLevel: metrics.ALPHA,
	})
	untrackedResourcePods = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "clusterview", Subsystem: "engine", Name: "untracked_resource_pods",
		Help:           "Pods requesting some resource name no node advertises and no ClusterSummary names.",
		StabilityLevel: metrics.ALPHA,
	})
)

const resourceNamesPeriod = 15 * time.Second

// reportResourceNames refreshes the resource-name gauges until ctx ends.
func (r *summaryRuntime) reportResourceNames(ctx context.Context) {
	wait.UntilWithContext(ctx, func(context.Context) {
		u := r.engine.UntrackedResources()
		trackedResourceNames.Set(float64(r.engine.TrackedResources()))
		untrackedResourceNames.Set(float64(u.Names))
		untrackedResourcePods.Set(float64(u.Pods))
	}, resourceNamesPeriod)
}

func init() {
	legacyregistry.MustRegister(engineEvents, trackedResourceNames, untrackedResourceNames, untrackedResourcePods)
	clustersummarystatus.RegisterMetrics()
}

// informersSynced reports whether the engine has received the initial list
// of every informer.
func (r *summaryRuntime) informersSynced() bool {
	f := r.synced.Load()
	return f != nil && (*f)()
}

// readyzCheck fails until the engine holds the whole cluster, so no client
// is served partial summaries.
func (r *summaryRuntime) readyzCheck() healthz.HealthChecker {
	return healthz.NamedCheck("clusterview-informers-synced", func(*http.Request) error {
		if !r.informersSynced() {
			return errors.New("the node, pod, namespace, quota and workload informers have not synced yet")
		}
		return nil
	})
}

// startInformers feeds the engine from the cluster until ctx ends.
func (r *summaryRuntime) startInformers(ctx context.Context) error {
	cfg := rest.CopyConfig(r.extra.CoreClientConfig)
	// Protobuf halves what kube-apiserver sends and what we decode at scale.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the core API client: %w", err)
	}
	// Resync 0: the engine applies deltas and gains nothing from replays.
	factory := informers.NewSharedInformerFactory(kube, 0)
	synced, err := feed.Register(ctx, kube, factory, r.engine, countEvents)
	if err != nil {
		return err
	}
	r.synced.Store(&synced)
	factory.Start(ctx.Done())
	go r.reportResourceNames(ctx)
	if r.extra.UsageInterval > 0 {
		metrics, err := metricsclient.NewForConfig(usagefeed.ClientConfig(r.extra.CoreClientConfig))
		if err != nil {
			return fmt.Errorf("creating the resource metrics API client: %w", err)
		}
		go usagefeed.New(metrics.MetricsV1beta1(), r.engine, r.extra.UsageInterval).Run(ctx)
	}
	return nil
}

// countEvents counts the notifications of each kind that feed the engine,
// for /metrics.
func countEvents(kind string) cache.ResourceEventHandler {
	added, updated, deleted := engineEvents.WithLabelValues(kind, "add"), engineEvents.WithLabelValues(kind, "update"), engineEvents.WithLabelValues(kind, "delete")
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { added.Inc() },
		UpdateFunc: func(any, any) { updated.Inc() },
		DeleteFunc: func(any) { deleted.Inc() },
	}
}

// runStatusController writes statuses and records history while this replica leads, until ctx
// ends. Losing the lease stops the controller and rejoins the election; the
// API keeps serving either way.
func (r *summaryRuntime) runStatusController(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	client, err := clientset.NewForConfig(r.loopback)
	if err != nil {
		return fmt.Errorf("creating the loopback client: %w", err)
	}
	lead := func(ctx context.Context) {
		// A fresh informer and queue per term: a stopped workqueue cannot restart.
		factory := cvinformers.NewSharedInformerFactory(client, 0)
		c, err := clustersummarystatus.New(r.engine, r.informersSynced, client, factory.Clusterview().V1beta1().ClusterSummaries(),
			clustersummarystatus.Options{Interval: r.extra.StatusUpdateInterval, WritesPerSecond: r.extra.StatusWritesPerSecond, MaxGroups: r.extra.MaxStatusGroups})
		if err != nil {
			logger.Error(err, "Creating the status controller")
			return
		}
		raw, rollup := r.extra.History.Tiers()
		recorder, err := clustersummaryhistory.New(r.history, factory.Clusterview().V1beta1().ClusterSummaries(), raw, rollup, clock.RealClock{})
		if err != nil {
			logger.Error(err, "Creating the history recorder")
			return
		}
		factory.Start(ctx.Done())
		var wg sync.WaitGroup
		wg.Go(func() { recorder.Run(ctx) })
		c.Run(ctx, r.extra.StatusWorkers)
		wg.Wait()
		factory.Shutdown()
	}
	le := r.extra.LeaderElection
	if !le.LeaderElect {
		go lead(ctx)
		return nil
	}
	kube, err := kubernetes.NewForConfig(r.extra.CoreClientConfig)
	if err != nil {
		return fmt.Errorf("creating the leader election client: %w", err)
	}
	hostname, _ := os.Hostname()
	identity := hostname + "_" + uuid.NewString()
	lock, err := resourcelock.New(le.ResourceLock, le.ResourceNamespace, le.ResourceName, kube.CoreV1(), kube.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return fmt.Errorf("creating the leader election lock: %w", err)
	}
	go func() {
		for ctx.Err() == nil {
			leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
				Lock:            lock,
				LeaseDuration:   le.LeaseDuration.Duration,
				RenewDeadline:   le.RenewDeadline.Duration,
				RetryPeriod:     le.RetryPeriod.Duration,
				ReleaseOnCancel: true,
				Name:            "clusterview-status",
				Callbacks: leaderelection.LeaderCallbacks{
					OnStartedLeading: func(ctx context.Context) {
						logger.Info("Leading: writing ClusterSummary statuses", "identity", identity)
						lead(ctx)
					},
					OnStoppedLeading: func() { logger.Info("Stopped leading", "identity", identity) },
					OnNewLeader: func(leader string) {
						if leader != identity {
							logger.Info("Another replica writes statuses", "leader", leader)
						}
					},
				},
			})
		}
	}()
	return nil
}
