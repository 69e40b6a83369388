package nodesummary

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/registry/table"
)

// ZoneLabel is the well-known node label the wide table shows.
const ZoneLabel = corev1.LabelTopologyZone

// tableConvertor prints the columns of `kubectl get nodesummaries`: how full
// each node is, by what its pods request against what it can allocate.
var tableConvertor = table.Convertor[*clusterview.NodeSummary]{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Ready", Type: "string", Description: "Whether the node's Ready condition is True."},
		{Name: "CPU Req", Type: "string", Description: "CPU requested by the pods bound to the node."},
		{Name: "CPU Alloc", Type: "string", Description: "The node's allocatable CPU."},
		{Name: "CPU%", Type: "string", Description: "CPU requests as a percentage of allocatable CPU."},
		{Name: "Mem Req", Type: "string", Description: "Memory requested by the pods bound to the node."},
		{Name: "Mem Alloc", Type: "string", Description: "The node's allocatable memory."},
		{Name: "Mem%", Type: "string", Description: "Memory requests as a percentage of allocatable memory."},
		{Name: "CPU Use", Type: "string", Description: "The node's CPU usage from the resource metrics API (as kubectl top node shows), and its percentage of allocatable CPU; <unknown> while unavailable."},
		{Name: "Mem Use", Type: "string", Description: "The node's memory usage from the resource metrics API (working set, as kubectl top node shows), and its percentage of allocatable memory; <unknown> while unavailable."},
		{Name: "Pods", Type: "string", Description: "Pods holding a slot on the node (not Succeeded or Failed) / the node's allocatable pods."},
		{Name: "Free CPU", Type: "string", Description: "Allocatable CPU not requested by the node's pods."},
		{Name: "Free Mem", Type: "string", Description: "Allocatable memory not requested by the node's pods."},
		table.AgeColumn,
		{Name: "Unschedulable", Type: "string", Priority: 1, Description: "Whether the node is cordoned."},
		{Name: "Pressure", Type: "string", Priority: 1, Description: "The node's pressure conditions that are True."},
		{Name: "Restarts", Type: "integer", Priority: 1, Description: "Sum of the restart counts of the containers on the node."},
		{Name: "CrashLooping", Type: "integer", Priority: 1, Description: "Pods on the node with a container in CrashLoopBackOff."},
		{Name: "Zone", Type: "string", Priority: 1, Description: "The node's " + ZoneLabel + " label."},
	},
	Row: nodeSummaryRow,
}

func nodeSummaryRow(n *clusterview.NodeSummary) []interface{} {
	cpu := table.Usage(n.Resources, corev1.ResourceCPU)
	mem := table.Usage(n.Resources, corev1.ResourceMemory)

	// The scheduler stops counting a pod against the node's pod capacity
	// once it has finished, so neither does this column.
	used := n.Pods.Total - n.Pods.Succeeded - n.Pods.Failed
	podCapacity := table.Unknown
	if n.PodCapacity > 0 {
		podCapacity = strconv.FormatInt(n.PodCapacity, 10)
	}

	var pressure []string
	if n.MemoryPressure {
		pressure = append(pressure, "Memory")
	}
	if n.DiskPressure {
		pressure = append(pressure, "Disk")
	}
	if n.PIDPressure {
		pressure = append(pressure, "PID")
	}
	zone, ok := n.Labels[ZoneLabel]
	if !ok {
		zone = table.None
	}

	return []interface{}{
		n.Name,
		table.Bool(n.Ready),
		table.Amount(cpu.Name, cpu.Requests),
		table.AmountPtr(cpu.Name, cpu.Allocatable),
		table.Percent(cpu.Requests, cpu.Allocatable),
		table.Amount(mem.Name, mem.Requests),
		table.AmountPtr(mem.Name, mem.Allocatable),
		table.Percent(mem.Requests, mem.Allocatable),
		table.Use(cpu),
		table.Use(mem),
		fmt.Sprintf("%d/%s", used, podCapacity),
		table.AmountPtr(cpu.Name, cpu.Free),
		table.AmountPtr(mem.Name, mem.Free),
		table.Age(n.CreationTimestamp),
		table.Bool(n.Unschedulable),
		table.List(pressure),
		n.Pods.ContainerRestarts,
		n.Pods.CrashLooping,
		zone,
	}
}
