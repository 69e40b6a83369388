// Package apiserver assembles the clusterview API server from a completed
// configuration: the generic API server from k8s.io/apiserver, the
// clusterview.io API group with its storage, and the start-up work that runs
// once the server listens.
package apiserver

import (
	"context"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	restclient "k8s.io/client-go/rest"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/pkg/history"
	clustersummarystorage "github.com/clusterview/clusterview/pkg/registry/clusterview/clustersummary"
	"github.com/clusterview/clusterview/pkg/registry/clusterview/namespacesummary"
	"github.com/clusterview/clusterview/pkg/registry/clusterview/nodesummary"
	"github.com/clusterview/clusterview/pkg/summary"
)

// ExtraConfig is the configuration that is clusterview's own.
type ExtraConfig struct {
	// BootstrapTimeout bounds the creation of the default ClusterSummary at start-up.
	BootstrapTimeout time.Duration
	// CoreClientConfig reaches the cluster's kube-apiserver, whose nodes,
	// pods, namespaces, quotas and workloads the summaries describe. Nil
	// runs the server standalone: it serves and stores ClusterSummaries but
	// computes no status and serves no node or namespace summaries.
	CoreClientConfig *restclient.Config
	// StatusUpdateInterval is the shortest time between two status writes
	// of one ClusterSummary.
	StatusUpdateInterval time.Duration
	// StatusWritesPerSecond is the budget of status writes of all
	// ClusterSummaries together.
	StatusWritesPerSecond float64
	// StatusWorkers is how many ClusterSummaries the status controller
	// syncs at once; zero means clustersummarystatus.DefaultWorkers.
	StatusWorkers int
	// MaxStatusGroups caps status.groups of every ClusterSummary; zero
	// means clustersummarystatus.DefaultMaxGroups.
	MaxStatusGroups int
	// UsageInterval is how often usage is read from the resource metrics
	// API; zero means never.
	UsageInterval time.Duration
	// LeaderElection decides which replica writes statuses and records history.
	LeaderElection componentbaseconfig.LeaderElectionConfiguration
	// History is how ClusterSummary history is recorded and kept.
	History HistoryConfig
}

// Config is the server's configuration before defaults are filled in.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config with its defaults filled in. Only Complete can
// make one, so New never sees a half-built configuration.
type CompletedConfig struct {
	*completedConfig
}

// Server is the running clusterview API server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
	// Engine holds the live tallies that summaries are computed from.
	Engine *summary.Engine
	// History stores ClusterSummary history in etcd.
	History *history.Store
	// historyEtcd is History's client, closed once the server has stopped.
	historyEtcd io.Closer
}

// Complete fills in the defaults of cfg.
func (cfg *Config) Complete() CompletedConfig {
	extra := cfg.ExtraConfig
	if extra.BootstrapTimeout == 0 {
		extra.BootstrapTimeout = time.Minute
	}
	if extra.StatusUpdateInterval == 0 {
		extra.StatusUpdateInterval = clustersummarystatus.DefaultInterval
	}
	if extra.StatusWritesPerSecond == 0 {
		extra.StatusWritesPerSecond = clustersummarystatus.DefaultWritesPerSecond
	}
	if extra.StatusWorkers == 0 {
		extra.StatusWorkers = clustersummarystatus.DefaultWorkers
	}
	if extra.MaxStatusGroups == 0 {
		extra.MaxStatusGroups = clustersummarystatus.DefaultMaxGroups
	}
	return CompletedConfig{&completedConfig{
		GenericConfig: cfg.GenericConfig.Complete(),
		ExtraConfig:   &extra,
	}}
}

// New builds the server: the generic server, the clusterview.io group with
// its storage, and the post-start hook that creates the default summary.
func (c completedConfig) New() (*Server, error) {
	genericServer, err := c.GenericConfig.New("clusterview-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating the generic API server: %w", err)
	}
	// Revisions start at the wall clock so that a resourceVersion handed out
	// before a restart is always older than anything after it: clients get
	// 410 Gone and relist instead of a silently wrong replay.
	engine := summary.New(summary.Options{InitialRevision: uint64(time.Now().UnixNano())})
	etcdClient, err := history.NewEtcdClient(c.ExtraConfig.History.Etcd)
	if err != nil {
		return nil, err
	}
	s := &Server{GenericAPIServer: genericServer, Engine: engine, History: history.NewStore(etcdClient, c.ExtraConfig.History.Prefix), historyEtcd: etcdClient}

	clusterSummaries, clusterSummaryStatus, err := clustersummarystorage.NewREST(scheme.Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	raw, rollup := c.ExtraConfig.History.Tiers()
	// The history subresource's query parameters are our own type: decode
	// them with our scheme, which also holds the meta/v1 options.
	group := genericapiserver.NewDefaultAPIGroupInfo(clusterview.GroupName, scheme.Scheme, runtime.NewParameterCodec(scheme.Scheme), scheme.Codecs)
	storage := liveSummaryStorage(engine)
	storage["clustersummaries"] = clusterSummaries
	storage["clustersummaries/status"] = clusterSummaryStatus
	// Authorized apart from the summary: clustersummaries/history.
	storage["clustersummaries/history"] = clustersummarystorage.NewHistoryREST(clusterSummaries, s.History, raw, rollup)
	group.VersionedResourcesStorageMap[v1beta1.SchemeGroupVersion.Version] = storage
	if err := genericServer.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing the %s API group: %w", clusterview.GroupName, err)
	}

	loopback := c.GenericConfig.LoopbackClientConfig
	if c.ExtraConfig.CoreClientConfig != nil {
		if err := s.installSummaryRuntime(c.ExtraConfig, loopback); err != nil {
			return nil, err
		}
	}
	timeout := c.ExtraConfig.BootstrapTimeout
	err = genericServer.AddPostStartHook("clusterview-default-summary", func(hookCtx genericapiserver.PostStartHookContext) error {
		client, err := clientset.NewForConfig(loopback)
		if err != nil {
			return fmt.Errorf("creating the loopback client: %w", err)
		}
		return EnsureDefaultClusterSummary(hookCtx, client, timeout)
	})
	if err != nil {
		return nil, fmt.Errorf("adding the default-summary hook: %w", err)
	}
	return s, nil
}

// liveSummaryStorage returns the storage of the resources served live from
// engine: read-only, nothing in etcd. Without a core API (standalone) they
// are empty.
func liveSummaryStorage(engine *summary.Engine) map[string]rest.Storage {
	return map[string]rest.Storage{
		"nodesummaries":      nodesummary.NewREST(engine),
		"namespacesummaries": namespacesummary.NewREST(engine),
	}
}

// installSummaryRuntime keeps summaries live: informers feed the engine
// once the server runs, /readyz waits for them, and the status controller
// runs under leader election.
func (s *Server) installSummaryRuntime(extra *ExtraConfig, loopback *restclient.Config) error {
	r := &summaryRuntime{engine: s.Engine, history: s.History, extra: extra, loopback: loopback}
	if err := s.GenericAPIServer.AddReadyzChecks(r.readyzCheck()); err != nil {
		return fmt.Errorf("adding the informer readiness check: %w", err)
	}
	if err := s.GenericAPIServer.AddPostStartHook("clusterview-informers", func(ctx genericapiserver.PostStartHookContext) error {
		return r.startInformers(ctx)
	}); err != nil {
		return fmt.Errorf("adding the informers hook: %w", err)
	}
	if err := s.GenericAPIServer.AddPostStartHook("clusterview-status-controller", func(ctx genericapiserver.PostStartHookContext) error {
		return r.runStatusController(ctx)
	}); err != nil {
		return fmt.Errorf("adding the status controller hook: %w", err)
	}
	return nil
}

// Run serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting requests, drains those in flight and closes watches.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		if err := s.historyEtcd.Close(); err != nil {
			klog.FromContext(ctx).Error(err, "Closing the history store's etcd client")
		}
	}()
	return s.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// EnsureDefaultClusterSummary creates the ClusterSummary named "cluster",
// with no selectors, unless it exists. An existing object is left exactly as
// it is, whatever a user changed in it. It retries until timeout because the
// hook can run before storage answers.
func EnsureDefaultClusterSummary(ctx context.Context, client clientset.Interface, timeout time.Duration) error {
	logger := klog.FromContext(ctx)
	summary := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: v1beta1.DefaultClusterSummaryName}}
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, lastErr = client.ClusterviewV1beta1().ClusterSummaries().Create(ctx, summary, metav1.CreateOptions{FieldManager: "clusterview-apiserver"})
		switch {
		case lastErr == nil:
			logger.Info("Created the default ClusterSummary", "name", summary.Name)
			return true, nil
		case apierrors.IsAlreadyExists(lastErr):
			return true, nil
		default:
			logger.V(2).Info("Retrying creation of the default ClusterSummary", "err", lastErr)
			return false, nil
		}
	})
	if err != nil {
		return fmt.Errorf("creating the default ClusterSummary %q: %w (last error: %v)", summary.Name, err, lastErr)
	}
	return nil
}
