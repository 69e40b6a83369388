package server

import (
	"context"

	"github.com/spf13/cobra"
	logsapi "k8s.io/component-base/logs/api/v1"
)

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
			return o.Run(cmd.Context())
		},
	}
	cmd.SetContext(ctx)
	fs := cmd.Flags()
	o.AddFlags(fs)
	logsapi.AddFlags(logging, fs)
	return cmd
}
