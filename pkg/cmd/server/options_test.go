package server

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// TestClusterSummariesHaveNoWatchCacheByDefault pins the default that keeps
// the cacher's event window of large status versions out of the heap, and
// checks that the upstream flag still overrides it.
func TestClusterSummariesHaveNoWatchCacheByDefault(t *testing.T) {
	clusterSummaries := schema.GroupResource{Group: "clusterview.io", Resource: "clustersummaries"}
	for _, tc := range []struct {
		args      []string
		wantSize  int
		wantFound bool
	}{
		{args: nil, wantSize: 0, wantFound: true},
		{args: []string{"--watch-cache-sizes=clustersummaries.clusterview.io#100"}, wantSize: 100, wantFound: true},
		{args: []string{"--watch-cache-sizes=pods#0"}, wantFound: false},
	} {
		o := parsedOptions(t, tc.args)
		sizes, err := genericoptions.ParseWatchCacheSizes(o.RecommendedOptions.Etcd.WatchCacheSizes)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		size, found := sizes[clusterSummaries]
		if found != tc.wantFound || size != tc.wantSize {
			t.Errorf("%v: clustersummaries watch cache size = %d (set: %t), want %d (set: %t)", tc.args, size, found, tc.wantSize, tc.wantFound)
		}
	}
}

// TestEtcdCompactionIntervalDefault pins the shorter compaction interval
// that keeps rewritten statuses out of etcd's database, and checks that the
// upstream flag still overrides it.
func TestEtcdCompactionIntervalDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{args: nil, want: DefaultEtcdCompactionInterval},
		{args: []string{"--etcd-compaction-interval=5m"}, want: 5 * time.Minute},
	} {
		o := parsedOptions(t, tc.args)
		if got := o.RecommendedOptions.Etcd.StorageConfig.CompactionInterval; got != tc.want {
			t.Errorf("%v: compaction interval = %s, want %s", tc.args, got, tc.want)
		}
	}
}

// parsedOptions is NewOptions with args parsed by the server's flags.
func parsedOptions(t *testing.T, args []string) *Options {
	t.Helper()
	o := NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return o
}
