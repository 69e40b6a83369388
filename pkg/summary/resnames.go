package summary

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Resource names come from every pod spec, so anyone who can create a pod
// can invent them. The engine gives a name an id, a slot in every tally
// vector and rows in reads only while it is tracked: one of the standard
// four below, advertised by some known node (capacity or allocatable), or
// named by some summary's spec (Engine.SetSummaryResources). A pod's
// amounts of any other name are kept in its own record only, and counted
// together: UntrackedResources tells how many such names and pods there
// are. When a name becomes tracked, the pods holding it move their amounts
// to its id; when it stops being tracked, they move back and the id is
// released for reuse. So tally vectors and reads grow with the names nodes
// and specs use, never with what pods invent, and a hostile name costs
// nothing once its last pod is gone.

// resID is an interned resource name: an index into tally vectors.
type resID uint32

// The resources every cluster has are interned first, permanently, so that
// the vectors of ordinary pods stay two or three entries long. resCPU,
// resMemory and resEphemeralStorage are also the bit positions of
// podShape.noLimit.
const (
	resCPU resID = iota
	resMemory
	resEphemeralStorage
	resPods
	numStandardRes
)

// resourceTable interns the tracked resource names.
type resourceTable struct {
	ids   map[v1.ResourceName]resID
	names []v1.ResourceName // indexed by id; "" for a released id
	free  []resID
	// advertisers counts the known nodes listing each id; pins the
	// summaries naming it. An id is released when both reach zero.
	advertisers []int32
	pins        []int32
}

func newResourceTable() resourceTable {
	t := resourceTable{ids: make(map[v1.ResourceName]resID)}
	// In resCPU..resPods order; lookup's fast path relies on it.
	for i, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage, v1.ResourcePods} {
		t.ids[name] = resID(i)
		t.names = append(t.names, name)
		t.advertisers = append(t.advertisers, 0)
		t.pins = append(t.pins, 0)
	}
	return t
}

// lookup returns the id of a tracked name.
func (t *resourceTable) lookup(name v1.ResourceName) (resID, bool) {
	// The standard names are compared directly: cheaper than hashing, and
	// they are nearly every name a pod or node carries.
	switch name {
	case v1.ResourceCPU:
		return resCPU, true
	case v1.ResourceMemory:
		return resMemory, true
	case v1.ResourceEphemeralStorage:
		return resEphemeralStorage, true
	case v1.ResourcePods:
		return resPods, true
	}
	id, ok := t.ids[name]
	return id, ok
}

// intern returns the id of name, giving it one if it had none (created).
func (t *resourceTable) intern(name v1.ResourceName) (id resID, created bool) {
	if id, ok := t.lookup(name); ok {
		return id, false
	}
	// Clone so the table does not pin the decoding buffer of the object.
	name = v1.ResourceName(strings.Clone(string(name)))
	if k := len(t.free); k > 0 {
		id = t.free[k-1]
		t.free = t.free[:k-1]
		t.names[id] = name
	} else {
		id = resID(len(t.names))
		t.names = append(t.names, name)
		t.advertisers = append(t.advertisers, 0)
		t.pins = append(t.pins, 0)
	}
	t.ids[name] = id
	return id, true
}

// unused says whether a non-standard id has neither advertisers nor pins.
func (t *resourceTable) unused(id resID) bool {
	return id >= numStandardRes && t.advertisers[id] == 0 && t.pins[id] == 0
}

func (t *resourceTable) release(id resID) {
	delete(t.ids, t.names[id])
	t.names[id] = ""
	t.free = append(t.free, id)
}

// count is the number of tracked names.
func (t *resourceTable) count() int { return len(t.ids) }

// UntrackedResources counts the resource names pods hold that are not
// tracked (see the package documentation), and the pods holding any.
type UntrackedResources struct {
	Names int
	Pods  int
}

// UntrackedResources tells how much pods hold of names the engine does not
// track. It costs O(names pods hold beyond the standard four).
func (e *Engine) UntrackedResources() UntrackedResources {
	e.mu.RLock()
	defer e.mu.RUnlock()
	u := UntrackedResources{Pods: e.untrackedPods}
	for name := range e.holders {
		if _, ok := e.res.lookup(name); !ok {
			u.Names++
		}
	}
	return u
}

// TrackedResources is the number of resource names the engine tracks,
// the four standard ones included: the length of every tally vector.
func (e *Engine) TrackedResources() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.res.count()
}

// SetSummaryResources records the resources a summary's spec names, so that
// they are tracked even when no node advertises them; nil forgets the
// summary. owner is any key unique to the summary.
func (e *Engine) SetSummaryResources(owner string, names []v1.ResourceName) {
	e.mu.Lock()
	defer e.unlock()
	old := e.pinned[owner]
	var rev uint64
	for _, name := range names {
		if slices.Contains(old, name) {
			continue
		}
		id, created := e.res.intern(name)
		e.res.pins[id]++
		if created {
			e.retrack(name, id, true, &rev)
		}
	}
	for _, name := range old {
		if slices.Contains(names, name) {
			continue
		}
		id, _ := e.res.lookup(name)
		e.res.pins[id]--
		e.releaseResIfUnused(id, &rev)
	}
	if len(names) == 0 {
		delete(e.pinned, owner)
	} else {
		e.pinned[owner] = slices.Clone(names)
	}
}

// advertise counts (sign=+1) or uncounts (sign=-1) the resources of a known
// node as advertised. Uncounting may release ids: call it after the node
// no longer holds them.
func (e *Engine) advertise(res []nodeRes, sign int32, rev *uint64) {
	for _, r := range res {
		e.res.advertisers[r.id] += sign
		if sign < 0 {
			e.releaseResIfUnused(r.id, rev)
		}
	}
}

// releaseResIfUnused stops tracking an id nothing advertises or names: the
// pods holding it keep their amounts as untracked, and the id is reused.
func (e *Engine) releaseResIfUnused(id resID, rev *uint64) {
	if !e.res.unused(id) {
		return
	}
	e.retrack(e.res.names[id], id, false, rev)
	e.res.release(id)
}

// retrack moves the amounts of name in every pod holding it between the
// pod's untracked list and its tracked resources (to id when track is
// true, back when false), adjusting the tallies, and records the summaries
// that changed at one revision, bumped on first need. It costs O(pods
// holding the name).
func (e *Engine) retrack(name v1.ResourceName, id resID, track bool, rev *uint64) {
	for key := range e.holders[name] {
		old := e.pods[key]
		next := old
		oldRes, oldUntracked := old.resources(), old.untracked()
		var res []podRes
		var untracked []ResourceUsage
		if track {
			i := slices.IndexFunc(oldUntracked, func(u ResourceUsage) bool { return u.Name == name })
			u := oldUntracked[i]
			untracked = slices.Delete(slices.Clone(oldUntracked), i, i+1)
			res = insertRes(oldRes, podRes{id: id, requests: u.Requests, limits: u.Limits})
		} else {
			i := slices.IndexFunc(oldRes, func(r podRes) bool { return r.id == id })
			r := oldRes[i]
			res = slices.Delete(slices.Clone(oldRes), i, i+1)
			untracked = append(slices.Clone(oldUntracked), ResourceUsage{Name: name, Requests: r.requests, Limits: r.limits})
		}
		next.shape = e.shapes.intern(res, untracked, old.noLimit())
		e.shapes.replace(old.shape, next.shape)
		e.countUntracked(&old, &next)
		ns := e.nss.byID[key.ns]
		e.applyPod(ns, &next, 1)
		e.applyPod(ns, &old, -1)
		e.pods[key] = next
		if *rev == 0 {
			*rev = e.changes.bump()
		}
		e.touchNS(ns, *rev)
		e.touchNode(next.cell, *rev)
	}
}

// insertRes returns a copy of res with r inserted in id order.
func insertRes(res []podRes, r podRes) []podRes {
	i, _ := slices.BinarySearchFunc(res, r.id, func(a podRes, id resID) int { return int(a.id) - int(id) })
	return slices.Insert(slices.Clone(res), i, r)
}

// countUntracked keeps the number of pods holding untracked names.
func (e *Engine) countUntracked(old, next *podRec) {
	if len(old.untracked()) > 0 {
		e.untrackedPods--
	}
	if len(next.untracked()) > 0 {
		e.untrackedPods++
	}
}

// updateHolders moves a pod between the holder sets of the non-standard
// names its old and new records hold: O(the pod's own resources).
func (e *Engine) updateHolders(key podKey, old, next *podRec) {
	e.forEachHeld(old, func(name v1.ResourceName) {
		h := e.holders[name]
		delete(h, key)
		if len(h) == 0 {
			delete(e.holders, name)
		}
	})
	e.forEachHeld(next, func(name v1.ResourceName) {
		h := e.holders[name]
		if h == nil {
			h = map[podKey]struct{}{}
			e.holders[name] = h
		}
		h[key] = struct{}{}
	})
}

// forEachHeld calls f with every non-standard name a pod record holds.
func (e *Engine) forEachHeld(r *podRec, f func(v1.ResourceName)) {
	for _, pr := range r.resources() {
		if pr.id >= numStandardRes {
			f(e.res.names[pr.id])
		}
	}
	for _, u := range r.untracked() {
		f(u.Name)
	}
}
