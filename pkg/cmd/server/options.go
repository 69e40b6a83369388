// Package server turns command-line flags into a running clusterview API
// server: Options (every flag, in one struct) → Config → CompletedConfig →
// Server, the same steps k8s.io/apiserver's own servers take.
package server

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	componentbaseconfig "k8s.io/component-base/config"
	componentbaseoptions "k8s.io/component-base/config/options"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
	"github.com/clusterview/clusterview/pkg/embeddedetcd"
	"github.com/clusterview/clusterview/pkg/generated/openapi"
	"github.com/clusterview/clusterview/pkg/summary/usagefeed"
)

// etcdPathPrefix is where clusterview's objects live in etcd, apart from any
// other user of a shared etcd.
const etcdPathPrefix = "/registry/clusterview.io"

// DefaultEtcdCompactionInterval is how often clusterview compacts its etcd
// unless --etcd-compaction-interval says otherwise (see NewOptions).
const DefaultEtcdCompactionInterval = time.Minute

// Options holds every flag of clusterview-apiserver.
type Options struct {
	// RecommendedOptions are the generic server's flags: secure serving,
	// delegated authentication and authorization, audit, admission, API
	// priority and fairness, etcd, and the core API kubeconfig.
	RecommendedOptions *genericoptions.RecommendedOptions

	// DataDir is where the embedded etcd keeps its data when no
	// --etcd-servers are given.
	DataDir string
	// StatusUpdateInterval is the shortest time between two status writes
	// of one ClusterSummary.
	StatusUpdateInterval time.Duration
	// StatusWritesPerSecond is the budget of status writes of all
	// ClusterSummaries together.
	StatusWritesPerSecond float64
	// StatusWorkers is how many ClusterSummaries are synced at once.
	StatusWorkers int
	// MaxStatusGroups caps status.groups of every ClusterSummary.
	MaxStatusGroups int
	// UsageInterval is how often usage is read from the resource metrics
	// API (metrics.k8s.io); zero turns reading usage off.
	UsageInterval time.Duration
	// LeaderElection decides which replica writes ClusterSummary statuses.
	LeaderElection componentbaseconfig.LeaderElectionConfiguration
	// History is how ClusterSummary history is recorded and kept.
	History apiserver.HistoryConfig
	// ShutdownWatchTerminationGracePeriod bounds how long a shutting-down
	// server waits for the watches it ends to drain. Zero would leave open
	// watches to hold the shutdown until --request-timeout runs out.
	ShutdownWatchTerminationGracePeriod time.Duration
}

// NewOptions returns the default options.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions(
			etcdPathPrefix,
			scheme.Codecs.LegacyCodec(v1beta1.SchemeGroupVersion),
		),
		DataDir:                             "clusterview-data",
		StatusUpdateInterval:                clustersummarystatus.DefaultInterval,
		StatusWritesPerSecond:               clustersummarystatus.DefaultWritesPerSecond,
		StatusWorkers:                       clustersummarystatus.DefaultWorkers,
		MaxStatusGroups:                     clustersummarystatus.DefaultMaxGroups,
		UsageInterval:                       usagefeed.DefaultInterval,
		ShutdownWatchTerminationGracePeriod: 10 * time.Second,
		History: apiserver.HistoryConfig{
			Resolution:      time.Minute,
			RawRetention:    24 * time.Hour,
			RollupInterval:  15 * time.Minute,
			RollupRetention: 30 * 24 * time.Hour,
		},
		// A survivor takes over at most LeaseDuration + 2 × 2.2 ×
		// RetryPeriod after the leader dies (client-go checks every
		// RetryPeriod with up to 120% jitter, from when it last saw the
		// Lease change): 14.4 s, inside the 15 s we promise. The renew
		// deadline leaves the leader 8 s of kube-apiserver trouble before
		// it steps down, 2 s before anyone else may take over.
		LeaderElection: componentbaseconfig.LeaderElectionConfiguration{
			LeaderElect:       true,
			LeaseDuration:     metav1.Duration{Duration: 10 * time.Second},
			RenewDeadline:     metav1.Duration{Duration: 8 * time.Second},
			RetryPeriod:       metav1.Duration{Duration: 1 * time.Second},
			ResourceLock:      resourcelock.LeasesResourceLock,
			ResourceName:      "clusterview-apiserver",
			ResourceNamespace: "clusterview-system",
		},
	}
	// No watch cache for ClusterSummaries. There are few of them, each
	// read by a handful of watchers, but every status write stores a
	// large new version, and the cacher keeps each decoded version for
	// its 75 s event window: in the bench's 100-summary phase that window
	// was half of the live heap. Watches and lists of ClusterSummaries are
	// served from etcd instead. --watch-cache-sizes replaces this default.
	o.RecommendedOptions.Etcd.WatchCacheSizes = []string{
		schema.GroupResource{Group: v1beta1.GroupName, Resource: "clustersummaries"}.String() + "#0",
	}
	// Compact every minute rather than kube-apiserver's five. Nearly every
	// revision in this etcd is a ClusterSummary status rewritten up to four
	// times a second, and etcd keeps each one until the compaction after
	// next: at 100 busy summaries that was ten minutes of statuses, which
	// the embedded etcd's memory-mapped database held in RSS. A watch
	// resumed from a version older than a minute or two gets 410 Gone and
	// relists, which costs about as much as those few objects.
	// --etcd-compaction-interval replaces this default.
	o.RecommendedOptions.Etcd.StorageConfig.CompactionInterval = DefaultEtcdCompactionInterval
	// Store objects as v1beta1 whatever version a client used.
	o.RecommendedOptions.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(
		v1beta1.SchemeGroupVersion, schema.GroupKind{Group: v1beta1.GroupName})
	return o
}

// AddFlags registers every option on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(fs)
	utilfeature.DefaultMutableFeatureGate.AddFlag(fs)
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir,
		"Directory of the embedded etcd, used when --etcd-servers is empty. Objects survive restarts on the same directory.")
	fs.DurationVar(&o.StatusUpdateInterval, "status-update-interval", o.StatusUpdateInterval,
		"Shortest time between two status writes of one ClusterSummary; changes within it are coalesced into one write.")
	fs.Float64Var(&o.StatusWritesPerSecond, "status-writes-per-second", o.StatusWritesPerSecond,
		"Budget of ClusterSummary status writes per second, shared by all summaries: when many change at once, each waits its turn (first in, first out) and is written with what it counts after the wait.")
	fs.IntVar(&o.StatusWorkers, "concurrent-status-syncs", o.StatusWorkers,
		"How many ClusterSummaries the status controller syncs at once. A sync mostly waits for its write, so this bounds the write rate of many busy summaries before --status-writes-per-second does.")
	fs.IntVar(&o.MaxStatusGroups, "max-status-groups", o.MaxStatusGroups,
		"Most entries in a ClusterSummary's status.groups. Beyond it the groups with the fewest nodes are summed in one \"<other>\" group and the GroupsTruncated condition is True; "+
			"the default keeps the largest status validation allows within etcd's 1.5 MiB request limit.")
	fs.DurationVar(&o.UsageInterval, "usage-interval", o.UsageInterval,
		"How often to read node and pod usage from the resource metrics API (metrics.k8s.io, served by metrics-server): one list of NodeMetrics and one of PodMetrics per round. Usage older than 3 intervals is not reported. 0 turns usage off.")
	componentbaseoptions.BindLeaderElectionFlags(&o.LeaderElection, fs)
	fs.DurationVar(&o.History.Resolution, "history-resolution", o.History.Resolution,
		"Time between two recorded samples of every ClusterSummary's status figures (at least 1s). Samples are taken at multiples of it since the Unix epoch.")
	fs.DurationVar(&o.History.RawRetention, "history-raw-retention", o.History.RawRetention,
		"How long raw samples are kept. At least two --history-rollup-interval, since rollups are computed from raw samples.")
	fs.DurationVar(&o.History.RollupInterval, "history-rollup-interval", o.History.RollupInterval,
		"Interval of the history rollups (count, min, mean, max of the samples in it). A multiple of --history-resolution.")
	fs.DurationVar(&o.History.RollupRetention, "history-rollup-retention", o.History.RollupRetention,
		"How long history rollups are kept.")
	fs.DurationVar(&o.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.ShutdownWatchTerminationGracePeriod,
		"On SIGTERM, end open watches and wait at most this long for them to drain, so a replica stops well within a pod's termination grace period.")
}

// embeddedEtcd reports whether the server runs its own etcd.
func (o *Options) embeddedEtcd() bool {
	return o.RecommendedOptions.Etcd != nil && len(o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList) == 0
}

// Complete fills in values derived from other options.
func (o *Options) Complete() error {
	if o.DataDir != "" {
		abs, err := filepath.Abs(o.DataDir)
		if err != nil {
			return fmt.Errorf("resolving --data-dir: %w", err)
		}
		o.DataDir = abs
	}
	return nil
}

// Validate checks the options for errors a user must fix.
func (o *Options) Validate() error {
	var errs []error
	if o.embeddedEtcd() {
		if o.DataDir == "" {
			errs = append(errs, fmt.Errorf("--data-dir is required when --etcd-servers is empty"))
		}
		// The embedded etcd's address is known only once it runs; validate
		// the other etcd options against a stand-in.
		transport := &o.RecommendedOptions.Etcd.StorageConfig.Transport
		transport.ServerList = []string{"http://127.0.0.1:2379"}
		defer func() { transport.ServerList = nil }()
	}
	if o.ShutdownWatchTerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-watch-termination-grace-period must not be negative, not %s", o.ShutdownWatchTerminationGracePeriod))
	}
	if o.UsageInterval < 0 {
		errs = append(errs, fmt.Errorf("--usage-interval must not be negative, not %s", o.UsageInterval))
	}
	if o.StatusUpdateInterval <= 0 {
		errs = append(errs, fmt.Errorf("--status-update-interval must be positive, not %s", o.StatusUpdateInterval))
	}
	if o.StatusWritesPerSecond <= 0 {
		errs = append(errs, fmt.Errorf("--status-writes-per-second must be positive, not %g", o.StatusWritesPerSecond))
	}
	if o.StatusWorkers < 1 {
		errs = append(errs, fmt.Errorf("--concurrent-status-syncs must be positive, not %d", o.StatusWorkers))
	}
	if o.MaxStatusGroups < 1 || o.MaxStatusGroups > clustersummarystatus.DefaultMaxGroups {
		errs = append(errs, fmt.Errorf("--max-status-groups must be between 1 and %d, not %d", clustersummarystatus.DefaultMaxGroups, o.MaxStatusGroups))
	}
	errs = append(errs, o.History.Validate()...)
	if le := o.LeaderElection; le.LeaderElect {
		if le.ResourceLock != resourcelock.LeasesResourceLock {
			errs = append(errs, fmt.Errorf("--leader-elect-resource-lock must be %q, not %q", resourcelock.LeasesResourceLock, le.ResourceLock))
		}
		if le.LeaseDuration.Duration <= le.RenewDeadline.Duration || le.RenewDeadline.Duration <= le.RetryPeriod.Duration || le.RetryPeriod.Duration <= 0 {
			errs = append(errs, fmt.Errorf("leader election needs lease duration > renew deadline > retry period > 0, got %s, %s, %s",
				le.LeaseDuration.Duration, le.RenewDeadline.Duration, le.RetryPeriod.Duration))
		}
	}
	errs = append(errs, o.RecommendedOptions.Validate()...)
	return utilerrors.NewAggregate(errs)
}

// Config builds the server configuration. When the server runs its own etcd,
// Config starts it; the returned stop function stops it and must be called
// once the server has shut down.
func (o *Options) Config(ctx context.Context) (*apiserver.Config, func(), error) {
	stop := func() {}
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts(
		"localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, stop, fmt.Errorf("creating self-signed certificates: %w", err)
	}

	if o.embeddedEtcd() {
		etcd, err := embeddedetcd.Start(ctx, embeddedetcd.Options{DataDir: o.DataDir})
		if err != nil {
			return nil, stop, err
		}
		o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = etcd.Endpoints()
		stop = etcd.Close
	}

	serverConfig := genericapiserver.NewRecommendedConfig(scheme.Codecs)
	namer := openapinamer.NewDefinitionNamer(scheme.Scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIConfig.Info.Title = "clusterview"
	serverConfig.OpenAPIConfig.Info.Version = v1beta1.SchemeGroupVersion.Version
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "clusterview"
	serverConfig.OpenAPIV3Config.Info.Version = v1beta1.SchemeGroupVersion.Version
	serverConfig.FeatureGate = utilfeature.DefaultFeatureGate
	serverConfig.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()

	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		stop()
		return nil, func() {}, fmt.Errorf("applying the server options: %w", err)
	}
	serverConfig.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchTerminationGracePeriod
	// History lives in the same etcd as the objects, beside them.
	o.History.Etcd = o.RecommendedOptions.Etcd.StorageConfig.Transport
	o.History.Prefix = o.RecommendedOptions.Etcd.StorageConfig.Prefix + "/history/"
	return &apiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: apiserver.ExtraConfig{
			// The core API's client: set from --kubeconfig (or the in-cluster
			// config) by RecommendedOptions; nil when that option is disabled.
			CoreClientConfig:      serverConfig.ClientConfig,
			StatusUpdateInterval:  o.StatusUpdateInterval,
			StatusWritesPerSecond: o.StatusWritesPerSecond,
			StatusWorkers:         o.StatusWorkers,
			MaxStatusGroups:       o.MaxStatusGroups,
			UsageInterval:         o.UsageInterval,
			LeaderElection:        o.LeaderElection,
			History:               o.History,
		},
	}, stop, nil
}

// NewServer starts what the server depends on (the embedded etcd, when
// used) and builds the server without starting it. cleanup releases those
// dependencies and must be called after the server has shut down.
func (o *Options) NewServer(ctx context.Context) (server *apiserver.Server, cleanup func(), err error) {
	config, cleanup, err := o.Config(ctx)
	if err != nil {
		return nil, cleanup, err
	}
	server, err = config.Complete().New()
	if err != nil {
		cleanup()
		return nil, func() {}, err
	}
	return server, cleanup, nil
}

// Run starts the server and blocks until ctx is cancelled and the server
// has shut down.
func (o *Options) Run(ctx context.Context) error {
	server, cleanup, err := o.NewServer(ctx)
	if err != nil {
		return err
	}
	// Stop etcd only after the server has drained its requests and watches.
	defer cleanup()
	klog.FromContext(ctx).Info("Starting clusterview-apiserver", "embeddedEtcd", o.embeddedEtcd())
	return server.Run(ctx)
}
