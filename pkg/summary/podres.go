package summary

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// reasonCrashLoopBackOff is the waiting reason the kubelet reports while it
// backs off restarting a crashing container.
const reasonCrashLoopBackOff = "CrashLoopBackOff"

// PodUsage is everything the engine counts of a pod. PodUsageOf computes it
// from the API object; a component that must hold something per pod (the
// pod feed's queue) holds this instead of the pod: a few dozen bytes plus
// one entry per resource, where even a stripped-down v1.Pod with its
// per-container resource maps takes kilobytes.
type PodUsage struct {
	NodeName string
	Phase    v1.PodPhase
	// Resources are the pod's effective requests and limits (the
	// scheduler's formula, see PodUsageOf), CPU in millicores and every
	// other resource in its base unit. A resource with neither is left out,
	// and so is everything of a Succeeded or Failed pod, which holds
	// nothing any more. Limits is 0 when the limit is unbounded.
	Resources []ResourceUsage
	// Restarts sums the restart counts of all containers.
	Restarts int64
	// CrashLooping: some container is waiting in CrashLoopBackOff.
	CrashLooping bool
	// Unbounded has the bits of the CPU, memory and ephemeral-storage
	// limits that some container leaves unset (unbounded).
	Unbounded UnboundedLimits
}

// ResourceUsage is one resource of a PodUsage.
type ResourceUsage struct {
	Name     v1.ResourceName
	Requests int64
	Limits   int64
}

// UnboundedLimits is a set of the resources whose unbounded limits the
// engine counts.
type UnboundedLimits uint8

// The bit positions are the engine's resource ids (resCPU...).
const (
	UnboundedCPU              UnboundedLimits = 1 << resCPU
	UnboundedMemory           UnboundedLimits = 1 << resMemory
	UnboundedEphemeralStorage UnboundedLimits = 1 << resEphemeralStorage

	unboundedTracked = UnboundedCPU | UnboundedMemory | UnboundedEphemeralStorage
)

// unboundedBit is the bit of a tracked resource, 0 for the others.
func unboundedBit(name v1.ResourceName) UnboundedLimits {
	switch name {
	case v1.ResourceCPU:
		return UnboundedCPU
	case v1.ResourceMemory:
		return UnboundedMemory
	case v1.ResourceEphemeralStorage:
		return UnboundedEphemeralStorage
	}
	return 0
}

// PodUsageOf reduces a pod to what the engine counts. It keeps no reference
// to pod, so the pod's memory can be freed, and is safe for concurrent use.
func PodUsageOf(pod *v1.Pod) PodUsage {
	u := PodUsage{NodeName: pod.Spec.NodeName, Phase: canonicalPhase(pod.Status.Phase)}
	for _, statuses := range [2][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range statuses {
			cs := &statuses[i]
			u.Restarts += int64(cs.RestartCount)
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == reasonCrashLoopBackOff {
				u.CrashLooping = true
			}
		}
	}
	// Terminal pods have released their resources; not even storing a
	// vector for them keeps completed Job pods cheap.
	if u.Phase != v1.PodSucceeded && u.Phase != v1.PodFailed {
		var c podCalc
		u.Resources, u.Unbounded = c.resources(pod)
	}
	return u
}

// canonicalPhase returns the package constant for the known phases, so that
// a kept PodUsage does not pin a string of the decoded object.
func canonicalPhase(p v1.PodPhase) v1.PodPhase {
	for _, known := range [...]v1.PodPhase{v1.PodRunning, v1.PodPending, v1.PodSucceeded, v1.PodFailed, v1.PodUnknown} {
		if p == known {
			return known
		}
	}
	return v1.PodPhase(strings.Clone(string(p)))
}

// canonicalResource does the same for resource names.
func canonicalResource(name v1.ResourceName) v1.ResourceName {
	for _, known := range [...]v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage, v1.ResourcePods} {
		if name == known {
			return known
		}
	}
	return v1.ResourceName(strings.Clone(string(name)))
}

// resWork is the per-resource working state while one pod is aggregated.
// Index 0 of each pair is requests, index 1 limits.
type resWork struct {
	name     v1.ResourceName
	app      [2]int64 // app containers plus restartable init (sidecar) containers
	sidecars [2]int64 // sidecars declared so far, for the init containers after them
	init     [2]int64 // largest effective regular init container so far
	podLevel [2]int64 // spec.resources, when set
	hasPod   [2]bool
	overhead int64
}

// podCalc aggregates one pod. Pods name a handful of resources, so a
// linear search beats a map; the first few entries live in an array that
// stays on the stack.
type podCalc struct {
	buf   [4]resWork
	n     int
	extra []resWork // beyond len(buf)
}

func (c *podCalc) len() int { return c.n + len(c.extra) }

func (c *podCalc) at(i int) *resWork {
	if i < len(c.buf) {
		return &c.buf[i]
	}
	return &c.extra[i-len(c.buf)]
}

func (c *podCalc) touch(name v1.ResourceName) *resWork {
	for i := range c.len() {
		if w := c.at(i); w.name == name {
			return w
		}
	}
	if c.n < len(c.buf) {
		c.buf[c.n] = resWork{name: name}
		c.n++
		return &c.buf[c.n-1]
	}
	c.extra = append(c.extra, resWork{name: name})
	return &c.extra[len(c.extra)-1]
}

// amount converts a quantity to this package's unit for the resource.
func amount(name v1.ResourceName, q *resource.Quantity) int64 {
	if name == v1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

type containerRole uint8

const (
	roleApp containerRole = iota
	roleSidecar
	roleInit
)

// resources aggregates a pod's requests and limits the way the scheduler
// does: k8s.io/component-helpers/resource.PodRequests and PodLimits (the
// KEP-753 sidecar formula). Per resource:
//
//	InitContainerUse(i) = own(i) + sum(own(s) for restartable init containers s declared before i)
//	pod = max(sum(app containers) + sum(restartable init containers), max_i InitContainerUse(i))
//
// then pod-level spec.resources replace the result for the resources they
// name (cpu, memory, hugepages-*), and spec.overhead is added to requests and
// to non-zero limits.
func (c *podCalc) resources(pod *v1.Pod) ([]ResourceUsage, UnboundedLimits) {
	var missing UnboundedLimits
	for i := range pod.Spec.InitContainers {
		ctr := &pod.Spec.InitContainers[i]
		role := roleInit
		if ctr.RestartPolicy != nil && *ctr.RestartPolicy == v1.ContainerRestartPolicyAlways {
			role = roleSidecar
		}
		missing |= c.addContainer(ctr, role)
	}
	for i := range pod.Spec.Containers {
		missing |= c.addContainer(&pod.Spec.Containers[i], roleApp)
	}
	if pr := pod.Spec.Resources; pr != nil {
		for k, list := range [2]v1.ResourceList{pr.Requests, pr.Limits} {
			for name, q := range list {
				if !podLevelSupported(name) {
					continue
				}
				w := c.touch(name)
				w.podLevel[k] = amount(name, &q)
				w.hasPod[k] = true
				if k == 1 && w.podLevel[1] != 0 {
					missing &^= unboundedBit(name)
				}
			}
		}
	}
	for name, q := range pod.Spec.Overhead {
		c.touch(name).overhead = amount(name, &q)
	}

	var out []ResourceUsage
	for i := range c.len() {
		w := c.at(i)
		var v [2]int64
		for k := range v {
			if w.hasPod[k] {
				v[k] = w.podLevel[k]
			} else {
				v[k] = max(w.app[k], w.init[k])
			}
		}
		v[0] += w.overhead
		if v[1] != 0 {
			v[1] += w.overhead
		}
		if missing&unboundedBit(w.name) != 0 {
			v[1] = 0
		}
		if v[0] != 0 || v[1] != 0 {
			if out == nil {
				out = make([]ResourceUsage, 0, c.len())
			}
			out = append(out, ResourceUsage{Name: canonicalResource(w.name), Requests: v[0], Limits: v[1]})
		}
	}
	return out, missing
}

// addContainer folds one container into the working state and returns the
// tracked resources it leaves without a (non-zero) limit. The kubelet
// treats a zero limit as no limit when it sizes the pod cgroup.
func (c *podCalc) addContainer(ctr *v1.Container, role containerRole) UnboundedLimits {
	c.addList(ctr.Resources.Requests, 0, role)
	return unboundedTracked &^ c.addList(ctr.Resources.Limits, 1, role)
}

// addList folds one requests (k=0) or limits (k=1) list of a container and
// returns the bits of the tracked resources it gives a non-zero value.
func (c *podCalc) addList(list v1.ResourceList, k int, role containerRole) UnboundedLimits {
	var nonZero UnboundedLimits
	for name, q := range list {
		if c.addAmount(name, &q, k, role) {
			nonZero |= unboundedBit(name)
		}
	}
	return nonZero
}

// addAmount folds one quantity and reports whether it is non-zero.
func (c *podCalc) addAmount(name v1.ResourceName, q *resource.Quantity, k int, role containerRole) bool {
	v := amount(name, q)
	w := c.touch(name)
	switch role {
	case roleApp:
		w.app[k] += v
	case roleSidecar:
		// A sidecar keeps running next to everything after it, so it adds to
		// the app sum and to every later init container. component-helpers
		// also maxes the running sidecar total into the init maximum, but
		// that total never exceeds the final app sum, which includes it, so
		// it cannot change the result.
		w.app[k] += v
		w.sidecars[k] += v
	case roleInit:
		w.init[k] = max(w.init[k], v+w.sidecars[k])
	}
	return v != 0
}

func podLevelSupported(name v1.ResourceName) bool {
	return name == v1.ResourceCPU || name == v1.ResourceMemory ||
		strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix)
}

// podRecord turns a PodUsage into the engine's record, its tracked
// resources sorted by id and the others untracked (resnames.go), in an
// interned shape (shapes.go) that the caller takes a reference to when it
// keeps the record. prev is the shape the pod has now, if any: most
// updates keep it, and comparing with it is cheaper than interning.
func (e *Engine) podRecord(u *PodUsage, prev *podShape) podRec {
	r := podRec{phase: phaseOf(u.Phase), restarts: u.Restarts}
	if u.NodeName == "" && r.phase == phasePending {
		r.flags |= podUnscheduled
	}
	if u.CrashLooping {
		r.flags |= podCrashLooping
	}
	if r.phase == phaseSucceeded || r.phase == phaseFailed {
		return r
	}
	out, untracked := e.podScratch[:0], e.untrackedScratch[:0]
	for i := range u.Resources {
		ru := &u.Resources[i]
		if ru.Requests == 0 && ru.Limits == 0 {
			continue
		}
		if id, ok := e.res.lookup(ru.Name); ok {
			out = append(out, podRes{id: id, requests: ru.Requests, limits: ru.Limits})
		} else {
			untracked = append(untracked, *ru)
		}
	}
	// Insertion sort: a pod holds a handful of resources, and sort.Slice
	// would allocate.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].id < out[j-1].id; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	e.podScratch, e.untrackedScratch = out, untracked
	noLimit := uint8(u.Unbounded & unboundedTracked)
	if prev != nil && prev.noLimit == noLimit && slices.Equal(prev.res, out) && slices.Equal(prev.untracked, untracked) {
		r.shape = prev
	} else {
		r.shape = e.shapes.intern(out, untracked, noLimit)
	}
	return r
}
