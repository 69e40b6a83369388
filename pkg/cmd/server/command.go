package server

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"
)

// defaultGOGC is the garbage collector's target percentage when the GOGC
// environment variable is unset. clusterview's heap is mostly long-lived
// records (the informers' stores and the summary engine, about 150 MB at
// 150,000 pods) while nearly everything it allocates dies young (decoded
// watch events, responses). At Go's default of 100 the heap grows to twice
// the long-lived part between collections, which at that size was 460 MiB
// of peak RSS; 50 caps the headroom at half of it, for collections twice as
// often (docs/performance.md has both runs). GOGC, and GOMEMLIMIT as the
// Deployment sets it, still apply.
const defaultGOGC = 50

// NewCommand returns the clusterview-apiserver command with every flag.
func NewCommand(ctx context.Context) *cobra.Command {
	o := NewOptions()
	logging := logsapi.NewLoggingConfiguration()
	cmd := &cobra.Command{
		Use:   "clusterview-apiserver",
		Short: "Serve cluster summaries and node and namespace metrics under clusterview.io/v1beta1",
		Long: `clusterview-apiserver is an aggregated Kubernetes API server. Registered with a
kube-apiserver through an APIService, it serves ClusterSummary objects (stored in
its own etcd, or an embedded one when --etcd-servers is empty) whose status
summarises the cluster's nodes, pods, namespaces, quotas and workloads.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logsapi.ValidateAndApply(logging, nil); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			gogc, source := os.Getenv("GOGC"), "environment"
			if gogc == "" {
				debug.SetGCPercent(defaultGOGC)
				gogc, source = strconv.Itoa(defaultGOGC), "default"
			}
			klog.FromContext(cmd.Context()).Info("Garbage collector target", "gogc", gogc, "source", source)
			return o.Run(cmd.Context())
		},
	}
	cmd.SetContext(ctx)
	fs := cmd.Flags()
	o.AddFlags(fs)
	logsapi.AddFlags(logging, fs)
	return cmd
}
