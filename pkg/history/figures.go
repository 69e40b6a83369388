package history

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// groupSeparator joins a group name and a figure name in a stored figure
// key. Group names are label values, which never contain it.
const groupSeparator = "/"

type resourceFigure struct {
	name string
	get  func(*v1beta1.ResourceUsage) *resource.Quantity
}

// resourceFigures lists the per-resource figures a sample records. A new
// per-resource figure is one more entry here: chunks carry figure names, so
// stored history needs no migration.
var resourceFigures = []resourceFigure{
	{"allocatable", func(r *v1beta1.ResourceUsage) *resource.Quantity { return r.Allocatable }},
	{"requests", func(r *v1beta1.ResourceUsage) *resource.Quantity { return &r.Requests }},
	{"limits", func(r *v1beta1.ResourceUsage) *resource.Quantity { return &r.Limits }},
	// Absent while usage is unavailable: the sample then lacks them.
	{"usage", func(r *v1beta1.ResourceUsage) *resource.Quantity { return r.Usage }},
	{"idle", func(r *v1beta1.ResourceUsage) *resource.Quantity { return r.Idle }},
}

// Figures returns the figures of a computed status, keyed by figure name
// ("nodes.ready", "pods.running", "resources.cpu.requests") and, for each
// group, by "<group>/<figure name>". A status never computed (no node
// counts) has no figures: nothing is recorded rather than zeros.
func Figures(status *v1beta1.ClusterSummaryStatus) map[string]int64 {
	if status.Nodes == nil || status.Pods == nil {
		return nil
	}
	out := map[string]int64{}
	addCounts(out, "", status.Nodes, status.Pods, status.Resources)
	for i := range status.Groups {
		g := &status.Groups[i]
		addCounts(out, g.Name+groupSeparator, &g.Nodes, &g.Pods, g.Resources)
	}
	return out
}

func addCounts(out map[string]int64, prefix string, n *v1beta1.NodeCounts, p *v1beta1.PodCounts, resources []v1beta1.ResourceUsage) {
	// In the order of countFigures.
	for i, v := range []int64{
		n.Total, n.Ready, n.NotReady, n.Unschedulable, n.MemoryPressure, n.DiskPressure, n.PIDPressure,
		p.Total, p.Pending, p.Running, p.Succeeded, p.Failed, p.Unknown, p.Unscheduled, p.ContainerRestarts, p.CrashLooping,
	} {
		out[prefix+countFigures[i]] = v
	}
	for i := range resources {
		r := &resources[i]
		for _, f := range resourceFigures {
			if q := f.get(r); q != nil {
				name := "resources." + string(r.Name) + "." + f.name
				out[prefix+name] = toStored(name, q)
			}
		}
	}
}

// SplitKey splits a stored figure key into its group ("" for the whole
// summary) and figure name.
func SplitKey(key string) (group, figure string) {
	if g, f, ok := strings.Cut(key, groupSeparator); ok {
		return g, f
	}
	return "", key
}

// milliScaled reports whether a figure is stored in thousandths: CPU,
// whose requests are commonly fractions of a core. Everything else is
// stored in whole units, so memory in bytes cannot overflow int64 sums.
func milliScaled(figure string) bool {
	return strings.HasPrefix(figure, "resources."+string(corev1.ResourceCPU)+".")
}

func toStored(figure string, q *resource.Quantity) int64 {
	if milliScaled(figure) {
		return q.MilliValue()
	}
	return q.Value()
}

// Quantity turns a stored value of figure back into a quantity.
func Quantity(figure string, v int64) resource.Quantity {
	if milliScaled(figure) {
		return *resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	if strings.HasPrefix(figure, "resources.") && !strings.HasPrefix(figure, "resources."+string(corev1.ResourcePods)+".") {
		return *resource.NewQuantity(v, resource.BinarySI)
	}
	return *resource.NewQuantity(v, resource.DecimalSI)
}

// Mean is the mean of a as a quantity in figure's units, exact to a
// thousandth of a stored unit.
func Mean(figure string, a Agg) resource.Quantity {
	if a.Count == 0 {
		return resource.Quantity{}
	}
	whole, rest := a.Sum/a.Count, a.Sum%a.Count
	q := Quantity(figure, whole)
	frac := rest * 1000 / a.Count
	if milliScaled(figure) {
		// Thousandths of a millicore are below a quantity's precision.
		return q
	}
	q.Add(*resource.NewMilliQuantity(frac, resource.DecimalSI))
	return q
}

// countFigures are the figures every sample holds, whatever the resources.
var countFigures = []string{
	"nodes.total", "nodes.ready", "nodes.notReady", "nodes.unschedulable",
	"nodes.memoryPressure", "nodes.diskPressure", "nodes.pidPressure",
	"pods.total", "pods.pending", "pods.running", "pods.succeeded", "pods.failed",
	"pods.unknown", "pods.unscheduled", "pods.containerRestarts", "pods.crashLooping",
}

// ValidFigure reports whether name is a figure a sample can hold: one of
// the node and pod counts, or resources.<resource>.<per-resource figure>.
func ValidFigure(name string) bool {
	if slices.Contains(countFigures, name) {
		return true
	}
	rest, ok := strings.CutPrefix(name, "resources.")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, ".")
	if i <= 0 {
		return false
	}
	return slices.ContainsFunc(resourceFigures, func(f resourceFigure) bool { return f.name == rest[i+1:] })
}
