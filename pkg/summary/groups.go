package summary

import (
	v1 "k8s.io/api/core/v1"

	"cmp"
	"slices"
)

// OtherGroupValue is the group that sums the groups beyond
// Selection.MaxGroups. Like NoGroupValue it cannot be a label value, so it
// never collides with a real group.
const OtherGroupValue = "<other>"

// groupRows turns the accumulated groups into rows sorted by value. When
// there are more than max (max > 0), it keeps the max-1 groups with the most
// nodes (ties broken by value) and sums the rest into one OtherGroupValue
// group, so a summary grouped by a label with one value per node stays a
// bounded size; folded lists the values summed in it.
func (e *Engine) groupRows(groups map[string]*groupAcc, max int, want []v1.ResourceName) (rows []GroupTotals, folded []string) {
	if len(groups) == 0 {
		return nil, nil
	}
	values := make([]string, 0, len(groups))
	for v := range groups {
		values = append(values, v)
	}
	if max > 0 && len(values) > max {
		slices.SortFunc(values, func(a, b string) int {
			if c := cmp.Compare(groups[b].nodes.Total, groups[a].nodes.Total); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		rest := values[max-1:]
		other := &groupAcc{vec: make([]ResourceTotals, len(e.res.names))}
		for _, v := range rest {
			other.add(groups[v])
		}
		values = append(values[:max-1], OtherGroupValue)
		groups[OtherGroupValue] = other
		folded = slices.Clone(rest)
	}
	slices.Sort(values)
	rows = make([]GroupTotals, len(values))
	for i, v := range values {
		g := groups[v]
		rows[i] = GroupTotals{Value: v, Nodes: g.nodes, Pods: g.pods, Resources: e.rows(g.vec, want)}
	}
	return rows, folded
}

// add sums another group into g.
func (g *groupAcc) add(o *groupAcc) {
	n, on := &g.nodes, &o.nodes
	n.Total += on.Total
	n.Ready += on.Ready
	n.NotReady += on.NotReady
	n.Unschedulable += on.Unschedulable
	n.MemoryPressure += on.MemoryPressure
	n.DiskPressure += on.DiskPressure
	n.PIDPressure += on.PIDPressure
	p, op := &g.pods, &o.pods
	p.Total += op.Total
	p.Pending += op.Pending
	p.Running += op.Running
	p.Succeeded += op.Succeeded
	p.Failed += op.Failed
	p.Unknown += op.Unknown
	p.Unscheduled += op.Unscheduled
	p.ContainerRestarts += op.ContainerRestarts
	p.CrashLooping += op.CrashLooping
	for i := range o.vec {
		r, or := &g.vec[i], &o.vec[i]
		r.Capacity += or.Capacity
		r.Allocatable += or.Allocatable
		r.Requests += or.Requests
		r.Limits += or.Limits
		r.PodsWithoutLimit += or.PodsWithoutLimit
	}
}

// foldHeadroom is the headroom of the OtherGroupValue group: per shape, Fits
// and LargestFit summed and maximised over the folded groups, and LimitedBy
// of the folded group where the shape fits most (ties by value).
func foldHeadroom(byGroup map[string][]Headroom, folded []string) []Headroom {
	values := slices.Sorted(slices.Values(folded))
	var out []Headroom
	best := []int64{}
	for _, v := range values {
		for i, h := range byGroup[v] {
			if i == len(out) {
				out = append(out, Headroom{Name: h.Name})
				best = append(best, -1)
			}
			o := &out[i]
			o.Fits += h.Fits
			if h.Fits > best[i] {
				best[i] = h.Fits
				o.LimitedBy = h.LimitedBy
			}
			for _, f := range h.LargestFit {
				j := slices.IndexFunc(o.LargestFit, func(g ResourceFigure) bool { return g.Name == f.Name })
				if j < 0 {
					o.LargestFit = append(o.LargestFit, f)
				} else if f.Value > o.LargestFit[j].Value {
					o.LargestFit[j].Value = f.Value
				}
			}
		}
	}
	return out
}
