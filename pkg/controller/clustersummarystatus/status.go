package clustersummarystatus

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/summary"
	"github.com/clusterview/clusterview/pkg/summaryapi"
)

// Reasons of the Ready and Degraded conditions.
const (
	ReasonComputed           = "StatusComputed"
	ReasonInformersNotSynced = "InformersNotSynced"
	ReasonInvalidSelector    = "InvalidSelector"
	ReasonStatusWriteFailed  = "StatusWriteFailed"
	ReasonAsExpected         = "AsExpected"
	ReasonNodesNotReady      = "NodesNotReady"
	ReasonNodesUnderPressure = "NodesUnderPressure"
	ReasonPodsCrashLooping   = "PodsCrashLooping"
	ReasonAllGroupsShown     = "AllGroupsShown"
	ReasonTooManyGroups      = "TooManyGroups"
	// Reasons of the UsageAvailable condition.
	ReasonMetricsAPIRead        = "MetricsAPIRead"
	ReasonMetricsAPIUnavailable = "MetricsAPIUnavailable"
)

// DefaultMaxGroups is the default of --max-status-groups. With it, the
// largest status validation allows stays well inside etcd's 1.5 MiB request
// limit (see TestWorstCaseStatusFitsInEtcd).
const DefaultMaxGroups = 16

// ComputeStatus returns the status cs should have now, without
// LastUpdateTime and with fresh condition transition times. Until the
// engine's informers have synced the status carries only Ready=False:
// partial counts would read as real ones. maxGroups caps status.groups (see
// summary.Selection.MaxGroups).
func ComputeStatus(cs *v1beta1.ClusterSummary, engine Engine, engineSynced bool, maxGroups int) (v1beta1.ClusterSummaryStatus, error) {
	if !engineSynced {
		return v1beta1.ClusterSummaryStatus{
			ObservedGeneration: cs.Status.ObservedGeneration,
			Conditions: []metav1.Condition{{
				Type: v1beta1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: cs.Generation,
				Reason: ReasonInformersNotSynced, Message: "waiting for the node, pod, namespace, quota and workload informers to sync",
			}},
		}, nil
	}
	sel, err := selection(&cs.Spec)
	if err != nil {
		// Validation rejects bad selectors; an object stored before a rule
		// existed still gets a status that says what is wrong.
		return v1beta1.ClusterSummaryStatus{
			ObservedGeneration: cs.Generation,
			Conditions: []metav1.Condition{{
				Type: v1beta1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: cs.Generation,
				Reason: ReasonInvalidSelector, Message: err.Error(),
			}},
		}, nil
	}
	sel.MaxGroups = maxGroups
	totals := engine.Cluster(sel)
	internal := summaryapi.ClusterStatus(totals)
	var status v1beta1.ClusterSummaryStatus
	if err := v1beta1.Convert_clusterview_ClusterSummaryStatus_To_v1beta1_ClusterSummaryStatus(&internal, &status, nil); err != nil {
		return status, fmt.Errorf("converting the status of %q: %w", cs.Name, err)
	}
	status.ObservedGeneration = cs.Generation
	status.Conditions = []metav1.Condition{
		{
			Type: v1beta1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: cs.Generation,
			Reason: ReasonComputed, Message: fmt.Sprintf("computed from synced informers for generation %d", cs.Generation),
		},
		degradedCondition(&totals, cs.Generation),
		usageCondition(&totals, cs.Generation),
	}
	if c, ok := headroomLowCondition(cs.Spec.Headroom, status.Headroom, cs.Generation); ok {
		status.Conditions = append(status.Conditions, c)
	}
	if sel.GroupByNodeLabel != "" {
		status.Conditions = append(status.Conditions, groupsTruncatedCondition(&totals, sel.GroupByNodeLabel, cs.Generation))
	}
	return status, nil
}

// groupsTruncatedCondition says whether status.groups shows every value of
// the grouping label, and where to find the figures of folded groups.
func groupsTruncatedCondition(t *summary.ClusterTotals, label string, generation int64) metav1.Condition {
	if t.FoldedGroups == 0 {
		return metav1.Condition{
			Type: v1beta1.ConditionGroupsTruncated, Status: metav1.ConditionFalse, ObservedGeneration: generation,
			Reason: ReasonAllGroupsShown, Message: fmt.Sprintf("status.groups has one entry per value of %s", label),
		}
	}
	return metav1.Condition{
		Type: v1beta1.ConditionGroupsTruncated, Status: metav1.ConditionTrue, ObservedGeneration: generation,
		Reason: ReasonTooManyGroups,
		Message: fmt.Sprintf("%s has %d values, more than the server's --max-status-groups=%d: the %d groups with the fewest nodes are summed in group %q; "+
			"NodeSummary objects have the per-node figures (kubectl get nodesummaries -l %s=VALUE)",
			label, len(t.Groups)-1+t.FoldedGroups, len(t.Groups), t.FoldedGroups, summary.OtherGroupValue, label),
	}
}

// usageCondition says whether resources[].usage and idle are set.
func usageCondition(t *summary.ClusterTotals, generation int64) metav1.Condition {
	if t.UsageAvailable {
		return metav1.Condition{
			Type: v1beta1.ConditionUsageAvailable, Status: metav1.ConditionTrue, ObservedGeneration: generation,
			Reason: ReasonMetricsAPIRead, Message: "usage is current: read from the resource metrics API (metrics.k8s.io)",
		}
	}
	return metav1.Condition{
		Type: v1beta1.ConditionUsageAvailable, Status: metav1.ConditionFalse, ObservedGeneration: generation,
		Reason: ReasonMetricsAPIUnavailable,
		Message: "the resource metrics API (metrics.k8s.io, served by metrics-server) has not answered within 3 usage intervals, " +
			"or usage reading is off (--usage-interval=0); the server log says why",
	}
}

func selection(spec *v1beta1.ClusterSummarySpec) (summary.Selection, error) {
	nodes, err := selector(spec.NodeSelector)
	if err != nil {
		return summary.Selection{}, fmt.Errorf("spec.nodeSelector: %w", err)
	}
	namespaces, err := selector(spec.NamespaceSelector)
	if err != nil {
		return summary.Selection{}, fmt.Errorf("spec.namespaceSelector: %w", err)
	}
	resources := spec.Resources
	if len(resources) == 0 {
		resources = v1beta1.DefaultResources
	}
	return summary.Selection{
		NodeSelector:      nodes,
		NamespaceSelector: namespaces,
		GroupByNodeLabel:  spec.GroupByNodeLabel,
		Resources:         resources,
		Headroom:          shapes(spec.Headroom),
	}, nil
}

// selector converts an API selector; absent selects everything.
func selector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// degradedCondition is True when selected nodes are not ready or under
// pressure or selected pods crash-loop; its message names them.
func degradedCondition(t *summary.ClusterTotals, generation int64) metav1.Condition {
	var reasons, parts []string
	if n := t.Nodes.NotReady; n > 0 {
		reasons = append(reasons, ReasonNodesNotReady)
		parts = append(parts, fmt.Sprintf("%d of %d %s not ready%s", n, t.Nodes.Total, plural(t.Nodes.Total, "node", "nodes"), names(t.NotReadyNodes, n)))
	}
	if p := t.Nodes.MemoryPressure + t.Nodes.DiskPressure + t.Nodes.PIDPressure; p > 0 {
		reasons = append(reasons, ReasonNodesUnderPressure)
		parts = append(parts, fmt.Sprintf("nodes under pressure: %d memory, %d disk, %d PID", t.Nodes.MemoryPressure, t.Nodes.DiskPressure, t.Nodes.PIDPressure))
	}
	if n := t.Pods.CrashLooping; n > 0 {
		reasons = append(reasons, ReasonPodsCrashLooping)
		parts = append(parts, fmt.Sprintf("%d %s crash-looping%s", n, plural(n, "pod", "pods"), names(t.CrashLoopingPods, n)))
	}
	if len(reasons) == 0 {
		return metav1.Condition{
			Type: v1beta1.ConditionDegraded, Status: metav1.ConditionFalse, ObservedGeneration: generation,
			Reason: ReasonAsExpected, Message: "all selected nodes are ready without pressure and no selected pod is crash-looping",
		}
	}
	// The first reason is the most severe; the message lists all of them.
	return metav1.Condition{
		Type: v1beta1.ConditionDegraded, Status: metav1.ConditionTrue, ObservedGeneration: generation,
		Reason: reasons[0], Message: strings.Join(parts, "; "),
	}
}

// names renders ": a, b, c" plus how many more were left out.
func names(list []string, total int64) string {
	if len(list) == 0 {
		return ""
	}
	s := ": " + strings.Join(list, ", ")
	if more := total - int64(len(list)); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
