package namespacesummary

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/table"
)

// tableConvertor prints the columns of `kubectl get namespacesummaries`:
// what each namespace runs and what it asks for. A limit column reads like
// "2 (+3 unbounded)" when some pods set no limit: the sum is then only a
// lower bound (see table.Limit).
var tableConvertor = table.Convertor[*clusterview.NamespaceSummary]{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Pods", Type: "integer", Description: "Pods in the namespace, in any phase, scheduled or not."},
		{Name: "Restarts", Type: "integer", Description: "Sum of the restart counts of the namespace's containers."},
		{Name: "CPU Req", Type: "string", Description: "CPU requested by the namespace's pods."},
		{Name: "Mem Req", Type: "string", Description: "Memory requested by the namespace's pods."},
		{Name: "CPU Use", Type: "string", Description: "CPU used by the namespace's pods (sum of their PodMetrics); <unknown> while the resource metrics API is unavailable."},
		{Name: "Mem Use", Type: "string", Description: "Memory used by the namespace's pods (sum of their PodMetrics working set); <unknown> while the resource metrics API is unavailable."},
		{Name: "CPU Lim", Type: "string", Description: "Sum of the pods' CPU limits, and how many pods have none."},
		{Name: "Mem Lim", Type: "string", Description: "Sum of the pods' memory limits, and how many pods have none."},
		table.AgeColumn,
		{Name: "Running", Type: "integer", Priority: 1, Description: "Pods in phase Running."},
		{Name: "Pending", Type: "integer", Priority: 1, Description: "Pods in phase Pending, scheduled or not."},
		{Name: "Failed", Type: "integer", Priority: 1, Description: "Pods in phase Failed."},
		{Name: "CrashLooping", Type: "integer", Priority: 1, Description: "Pods with a container in CrashLoopBackOff."},
		{Name: "Quotas", Type: "string", Priority: 1, Description: "ResourceQuotas in the namespace, and how many have a resource used up to its hard limit."},
		{Name: "CPU Idle", Type: "string", Priority: 1, Description: "CPU requested but unused: the sum over the pods with usage of max(0, request - usage)."},
		{Name: "Mem Idle", Type: "string", Priority: 1, Description: "Memory requested but unused: the sum over the pods with usage of max(0, request - usage)."},
	},
	Row: namespaceSummaryRow,
}

func namespaceSummaryRow(ns *clusterview.NamespaceSummary) []interface{} {
	cpu := table.Usage(ns.Resources, corev1.ResourceCPU)
	mem := table.Usage(ns.Resources, corev1.ResourceMemory)
	return []interface{}{
		ns.Name,
		ns.Pods.Total,
		ns.Pods.ContainerRestarts,
		table.Amount(cpu.Name, cpu.Requests),
		table.Amount(mem.Name, mem.Requests),
		table.Use(cpu),
		table.Use(mem),
		table.Limit(cpu),
		table.Limit(mem),
		table.Age(ns.CreationTimestamp),
		ns.Pods.Running,
		ns.Pods.Pending,
		ns.Pods.Failed,
		ns.Pods.CrashLooping,
		quotasCell(ns.Quotas),
		table.Idle(cpu),
		table.Idle(mem),
	}
}

// quotasCell counts the quotas and those at their limit: a quota with some
// resource whose usage reached a non-zero hard limit. A hard limit of zero
// forbids a resource outright and is not a quota running out.
func quotasCell(quotas []clusterview.QuotaUsage) string {
	if len(quotas) == 0 {
		return "0"
	}
	full := 0
	for _, q := range quotas {
		for name, hard := range q.Hard {
			if used, ok := q.Used[name]; ok && !hard.IsZero() && used.Cmp(hard) >= 0 {
				full++
				break
			}
		}
	}
	if full == 0 {
		return strconv.Itoa(len(quotas))
	}
	return fmt.Sprintf("%d (%d at limit)", len(quotas), full)
}
