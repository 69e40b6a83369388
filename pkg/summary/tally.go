package summary

import (
	"math/bits"

	v1 "k8s.io/api/core/v1"
)

// phase is a pod phase as an index into counts.phases.
type phase uint8

const (
	phasePending phase = iota
	phaseRunning
	phaseSucceeded
	phaseFailed
	phaseUnknown
	numPhases
)

func phaseOf(p v1.PodPhase) phase {
	switch p {
	case v1.PodPending:
		return phasePending
	case v1.PodRunning:
		return phaseRunning
	case v1.PodSucceeded:
		return phaseSucceeded
	case v1.PodFailed:
		return phaseFailed
	default:
		return phaseUnknown
	}
}

// counts are the pod figures that need no resource vector.
type counts struct {
	phases       [numPhases]int32
	unscheduled  int32
	crashLooping int32
	restarts     int64
}

func (c *counts) total() int32 {
	var n int32
	for _, v := range c.phases {
		n += v
	}
	return n
}

func (c *counts) addTo(p *PodCounts) { c.addTimes(p, 1) }

// addTimes adds the counts k times: k = -1 takes them away again.
func (c *counts) addTimes(p *PodCounts, k int64) {
	p.Total += k * int64(c.total())
	p.Pending += k * int64(c.phases[phasePending])
	p.Running += k * int64(c.phases[phaseRunning])
	p.Succeeded += k * int64(c.phases[phaseSucceeded])
	p.Failed += k * int64(c.phases[phaseFailed])
	p.Unknown += k * int64(c.phases[phaseUnknown])
	p.Unscheduled += k * int64(c.unscheduled)
	p.ContainerRestarts += k * c.restarts
	p.CrashLooping += k * int64(c.crashLooping)
}

// resSum is one resource's pod figures in a tally.
type resSum struct {
	requests     int64
	limits       int64
	withoutLimit int32
}

// tally aggregates a set of pods. res is indexed by resID and only grows as
// far as the highest resource its pods have used, so a steady-state update
// never allocates.
type tally struct {
	counts
	res []resSum
}

func (t *tally) resAt(id resID) *resSum {
	if int(id) >= len(t.res) {
		t.res = append(t.res, make([]resSum, int(id)+1-len(t.res))...)
	}
	return &t.res[id]
}

// apply adds (sign=+1) or subtracts (sign=-1) one pod record.
func (t *tally) apply(r *podRec, sign int32) {
	t.phases[r.phase] += sign
	if r.flags&podUnscheduled != 0 {
		t.unscheduled += sign
	}
	if r.flags&podCrashLooping != 0 {
		t.crashLooping += sign
	}
	t.restarts += int64(sign) * r.restarts
	s := int64(sign)
	res := r.resources()
	for i := range res {
		pr := &res[i]
		rs := t.resAt(pr.id)
		rs.requests += s * pr.requests
		rs.limits += s * pr.limits
	}
	for m := r.noLimit(); m != 0; m &= m - 1 {
		t.resAt(resID(bits.TrailingZeros8(m))).withoutLimit += sign
	}
}

// addResTo adds the tally's resource figures to a read-side vector.
func (t *tally) addResTo(vec []ResourceTotals) { t.addResTimes(vec, 1) }

func (t *tally) addResTimes(vec []ResourceTotals, k int64) {
	for id, rs := range t.res {
		vec[id].Requests += k * rs.requests
		vec[id].Limits += k * rs.limits
		vec[id].PodsWithoutLimit += k * int64(rs.withoutLimit)
	}
}

// add adds a whole tally: its counts to p and its resources to vec.
func (t *tally) addTo(p *PodCounts, vec []ResourceTotals) { t.addTimes(p, vec, 1) }

// addTimes adds a whole tally k times: k = -1 takes it away again, which
// lets a read subtract what it leaves out from a larger tally.
func (t *tally) addTimes(p *PodCounts, vec []ResourceTotals, k int64) {
	t.counts.addTimes(p, k)
	t.addResTimes(vec, k)
}
