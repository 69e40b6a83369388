// Package plugin is kubectl-clusterview, the kubectl plugin that draws
// clusterview's figures in a terminal: `history` sparklines of a
// ClusterSummary's recorded figures and `top` bars of the live node and
// namespace summaries. Standard kubectl flags come from k8s.io/cli-runtime.
package plugin

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/pkg/generated/clientset/versioned/scheme"
	"github.com/clusterview/clusterview/pkg/historyclient"
)

// defaultWidth is used when the output is not a terminal.
const defaultWidth = 100

// options are the flags every subcommand shares.
type options struct {
	config  *genericclioptions.ConfigFlags
	print   *genericclioptions.PrintFlags
	streams genericiooptions.IOStreams
}

// NewCommand returns the kubectl-clusterview command.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{
		config:  genericclioptions.NewConfigFlags(true),
		print:   genericclioptions.NewPrintFlags("").WithTypeSetter(scheme.Scheme),
		streams: streams,
	}
	cmd := &cobra.Command{
		Use:          "kubectl-clusterview",
		Short:        "Draw clusterview's figures: history sparklines and top bars",
		SilenceUsage: true,
	}
	o.config.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(o.historyCommand(), o.topCommand())
	return cmd
}

func (o *options) client() (clientset.Interface, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return clientset.NewForConfig(cfg)
}

// renderOptions sizes the output to the terminal; colours only on a
// terminal and never with NO_COLOR set.
func (o *options) renderOptions() RenderOptions {
	opts := RenderOptions{Width: defaultWidth}
	if f, ok := o.streams.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			opts.Width = w
		}
		_, noColor := os.LookupEnv("NO_COLOR")
		opts.Color = !noColor
	}
	return opts
}

// printObject prints obj as -o asks; it reports false when no -o was given.
func (o *options) printObject(obj runtime.Object) (bool, error) {
	if o.print.OutputFormat == nil || *o.print.OutputFormat == "" {
		return false, nil
	}
	printer, err := o.print.ToPrinter()
	if err != nil {
		return true, err
	}
	return true, printer.PrintObj(obj, o.streams.Out)
}

func (o *options) historyCommand() *cobra.Command {
	var q v1beta1.ClusterSummaryHistoryOptions
	var group string
	cmd := &cobra.Command{
		Use:   "history [NAME]",
		Short: "One sparkline per recorded figure of a ClusterSummary (default: cluster)",
		Example: `  kubectl clusterview history --since 6h
  kubectl clusterview history prod-by-zone --since 24h --group eu-west-1a
  kubectl clusterview history --since 2h --fields pods.running,resources.cpu.requests -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := v1beta1.DefaultClusterSummaryName
			if len(args) == 1 {
				name = args[0]
			}
			client, err := o.client()
			if err != nil {
				return err
			}
			h, err := historyclient.Get(cmd.Context(), client, name, &q)
			if err != nil {
				return err
			}
			if printed, err := o.printObject(h); printed {
				return err
			}
			return RenderHistory(o.streams.Out, h, group, o.renderOptions())
		},
	}
	cmd.Flags().StringVar(&q.Since, "since", "1h", "Start of the window: a duration before now (6h) or an RFC 3339 time.")
	cmd.Flags().StringVar(&q.Until, "until", "", "End of the window: a duration before now or an RFC 3339 time. Default: now.")
	cmd.Flags().StringVar(&q.Step, "step", "", "Time one point covers, such as 5m. Default: chosen by the server.")
	cmd.Flags().StringSliceVar(&q.Fields, "fields", nil, "Figures to show, such as pods.running,resources.cpu.requests. Default: all.")
	cmd.Flags().StringVar(&group, "group", "", "Show the figures of this status.groups entry instead of the whole summary.")
	o.print.AddFlags(cmd)
	return cmd
}

func (o *options) topCommand() *cobra.Command {
	var sortBy string
	cmd := &cobra.Command{
		Use:   "top nodes|namespaces",
		Short: "Requests and usage of every node or namespace as bars, from the live NodeSummaries and NamespaceSummaries",
		Long: `Requests and usage of every node or namespace as bars, from the live NodeSummaries
and NamespaceSummaries. A bar is █ in use, ░ requested beyond use, · the rest; for
a node the whole bar is its allocatable amount, for a namespace the largest
namespace's requests or usage. USE is "-" while usage is unavailable.`,
		Example: `  kubectl clusterview top nodes --sort-by cpu-usage
  kubectl clusterview top namespaces --sort-by cpu-idle
  kubectl clusterview top namespaces -n shop -o yaml`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"nodes", "namespaces"},
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := o.client()
			if err != nil {
				return err
			}
			var table topTable
			var list runtime.Object
			switch args[0] {
			case "nodes", "node", "no":
				l, err := client.ClusterviewV1beta1().NodeSummaries().List(cmd.Context(), metav1.ListOptions{})
				if err != nil {
					return err
				}
				table, list = nodeTable(l.Items), l
			case "namespaces", "namespace", "ns":
				ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
				if err != nil {
					return err
				}
				if !cmd.Flags().Changed("namespace") {
					ns = metav1.NamespaceAll
				}
				l, err := client.ClusterviewV1beta1().NamespaceSummaries(ns).List(cmd.Context(), metav1.ListOptions{})
				if err != nil {
					return err
				}
				table, list = namespaceTable(l.Items), l
			default:
				return fmt.Errorf("top shows nodes or namespaces, not %q", args[0])
			}
			if err := table.sortRows(sortBy); err != nil {
				return err
			}
			if printed, err := o.printObject(list); printed {
				return err
			}
			return table.render(o.streams.Out, o.renderOptions())
		},
	}
	cmd.Flags().StringVar(&sortBy, "sort-by", "name", "Order: "+strings.Join(sortKeys(), ", ")+
		". cpu and memory put the fullest requests bar first, *-usage the fullest usage bar, *-idle the largest idle amount (namespaces only).")
	o.print.AddFlags(cmd)
	return cmd
}
