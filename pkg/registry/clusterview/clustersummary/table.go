package clustersummary

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/table"
)

// tableConvertor prints the columns of `kubectl get clustersummaries`. Until
// the server has computed a status, the computed columns read <unknown>.
var tableConvertor = table.Convertor[*clusterview.ClusterSummary]{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Nodes", Type: "string", Description: "Ready nodes / selected nodes."},
		{Name: "Running", Type: "string", Description: "Pods in phase Running."},
		{Name: "Pending", Type: "string", Description: "Pods in phase Pending, scheduled or not."},
		{Name: "CPU Req", Type: "string", Description: "CPU requested by pods bound to the selected nodes, as a percentage of their allocatable CPU."},
		{Name: "Mem Req", Type: "string", Description: "Memory requested by pods bound to the selected nodes, as a percentage of their allocatable memory."},
		{Name: "Degraded", Type: "string", Description: "Status of the Degraded condition."},
		table.AgeColumn,
		{Name: "Unscheduled", Type: "string", Priority: 1, Description: "Pending pods not bound to a node."},
		{Name: "Restarts", Type: "string", Priority: 1, Description: "Sum of the container restart counts."},
		{Name: "CrashLooping", Type: "string", Priority: 1, Description: "Pods with a container in CrashLoopBackOff."},
		{Name: "Namespaces", Type: "string", Priority: 1, Description: "Selected namespaces."},
		{Name: "Ready", Type: "string", Priority: 1, Description: "Status of the Ready condition."},
		{Name: "Reason", Type: "string", Priority: 1, Description: "Reason of the Degraded condition."},
	},
	Row:   clusterSummaryRow,
	Extra: fitsColumns,
}

// maxFitsColumns is how many headroom shapes the wide table shows.
const maxFitsColumns = 3

// fitsColumns adds, for `-o wide`, one column per headroom shape: the first
// three names in the order the printed summaries list them. A summary
// without that shape shows <none>; one whose status is not computed yet
// shows <unknown>.
func fitsColumns(objs []*clusterview.ClusterSummary) []table.ExtraColumn[*clusterview.ClusterSummary] {
	var cols []table.ExtraColumn[*clusterview.ClusterSummary]
	seen := map[string]bool{}
	for _, cs := range objs {
		for _, shape := range cs.Spec.Headroom {
			if len(cols) == maxFitsColumns {
				return cols
			}
			if seen[shape.Name] {
				continue
			}
			seen[shape.Name] = true
			cols = append(cols, table.ExtraColumn[*clusterview.ClusterSummary]{
				Definition: metav1.TableColumnDefinition{Name: "Fits:" + shape.Name, Type: "string", Priority: 1,
					Description: "How many more pods of the headroom shape " + shape.Name + " fit on the selected nodes."},
				Cell: func(cs *clusterview.ClusterSummary) interface{} { return fitsCell(cs, shape.Name) },
			})
		}
	}
	return cols
}

func fitsCell(cs *clusterview.ClusterSummary, shape string) string {
	for _, h := range cs.Status.Headroom {
		if h.Name == shape {
			return strconv.FormatInt(h.Fits, 10)
		}
	}
	for _, s := range cs.Spec.Headroom {
		if s.Name == shape {
			return table.Unknown
		}
	}
	return table.None
}

func clusterSummaryRow(cs *clusterview.ClusterSummary) []interface{} {
	st := &cs.Status
	nodes, running, pending, unscheduled, restarts, crashLooping, namespaces := table.Unknown, table.Unknown, table.Unknown, table.Unknown, table.Unknown, table.Unknown, table.Unknown
	if st.Nodes != nil {
		nodes = fmt.Sprintf("%d/%d", st.Nodes.Ready, st.Nodes.Total)
	}
	if st.Pods != nil {
		running = strconv.FormatInt(st.Pods.Running, 10)
		pending = strconv.FormatInt(st.Pods.Pending, 10)
		unscheduled = strconv.FormatInt(st.Pods.Unscheduled, 10)
		restarts = strconv.FormatInt(st.Pods.ContainerRestarts, 10)
		crashLooping = strconv.FormatInt(st.Pods.CrashLooping, 10)
	}
	if st.LastUpdateTime != nil {
		namespaces = strconv.FormatInt(st.Namespaces, 10)
	}
	degraded, reason := conditionCells(st.Conditions, "Degraded")
	ready, _ := conditionCells(st.Conditions, "Ready")
	return []interface{}{
		cs.Name,
		nodes,
		running,
		pending,
		table.RequestPercent(st.Resources, corev1.ResourceCPU),
		table.RequestPercent(st.Resources, corev1.ResourceMemory),
		degraded,
		table.Age(cs.CreationTimestamp),
		unscheduled,
		restarts,
		crashLooping,
		namespaces,
		ready,
		reason,
	}
}

// conditionCells returns a condition's status and reason, or Unknown when
// the server has not set it yet.
func conditionCells(conditions []metav1.Condition, condType string) (status, reason string) {
	c := meta.FindStatusCondition(conditions, condType)
	if c == nil {
		return string(metav1.ConditionUnknown), ""
	}
	return string(c.Status), c.Reason
}
