package summary

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// reasonCrashLoopBackOff is the waiting reason the kubelet reports while it
// backs off restarting a crashing container.
const reasonCrashLoopBackOff = "CrashLoopBackOff"

// resWork is the per-resource working state while one pod is aggregated.
// Index 0 of each pair is requests, index 1 limits.
type resWork struct {
	app       [2]int64 // app containers plus restartable init (sidecar) containers
	sidecars  [2]int64 // sidecars declared so far, for the init containers after them
	init      [2]int64 // largest effective regular init container so far
	podLevel  [2]int64 // spec.resources, when set
	hasPod    [2]bool
	overhead  int64
	isTouched bool
}

// podScratch is reused for every pod under the write lock.
type podScratch struct {
	work    []resWork // indexed by resID
	touched []resID
	out     []podRes
}

func (s *podScratch) touch(id resID) *resWork {
	for int(id) >= len(s.work) {
		s.work = append(s.work, resWork{})
	}
	w := &s.work[id]
	if !w.isTouched {
		w.isTouched = true
		s.touched = append(s.touched, id)
	}
	return w
}

// amount converts a quantity to this package's unit for the resource.
func amount(id resID, q *resource.Quantity) int64 {
	if id == resCPU {
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

// podRecord computes everything the engine counts of a pod. The returned
// record's res aliases scratch memory: the caller copies it before keeping it.
func (e *Engine) podRecord(pod *v1.Pod) podRec {
	r := podRec{phase: phaseOf(pod.Status.Phase)}
	if pod.Spec.NodeName == "" && r.phase == phasePending {
		r.flags |= podUnscheduled
	}
	for _, statuses := range [2][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range statuses {
			cs := &statuses[i]
			r.restarts += int64(cs.RestartCount)
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == reasonCrashLoopBackOff {
				r.flags |= podCrashLooping
			}
		}
	}
	// Terminal pods have released their resources; not even storing a
	// vector for them keeps completed Job pods cheap.
	if r.phase != phaseSucceeded && r.phase != phaseFailed {
		r.res, r.noLimit = e.podResources(pod)
	}
	return r
}

// podResources aggregates a pod's requests and limits the way the scheduler
// does: k8s.io/component-helpers/resource.PodRequests and PodLimits (the
// KEP-753 sidecar formula). Per resource:
//
//	InitContainerUse(i) = own(i) + sum(own(s) for restartable init containers s declared before i)
//	pod = max(sum(app containers) + sum(restartable init containers), max_i InitContainerUse(i))
//
// then pod-level spec.resources replace the result for the resources they
// name (cpu, memory, hugepages-*), and spec.overhead is added to requests and
// to non-zero limits. The returned slice aliases scratch memory.
func (e *Engine) podResources(pod *v1.Pod) ([]podRes, uint8) {
	s := &e.scratch
	var missing uint8
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		role := roleInit
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			role = roleSidecar
		}
		missing |= e.addContainer(c, role)
	}
	for i := range pod.Spec.Containers {
		missing |= e.addContainer(&pod.Spec.Containers[i], roleApp)
	}
	if pr := pod.Spec.Resources; pr != nil {
		for k, list := range [2]v1.ResourceList{pr.Requests, pr.Limits} {
			for name, q := range list {
				if !podLevelSupported(name) {
					continue
				}
				id := e.res.intern(name)
				w := s.touch(id)
				w.podLevel[k] = amount(id, &q)
				w.hasPod[k] = true
				if k == 1 && w.podLevel[1] != 0 && id < 8 {
					missing &^= 1 << id
				}
			}
		}
	}
	for name, q := range pod.Spec.Overhead {
		id := e.res.intern(name)
		s.touch(id).overhead = amount(id, &q)
	}

	sortResIDs(s.touched)
	s.out = s.out[:0]
	for _, id := range s.touched {
		w := &s.work[id]
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
		if id < 8 && missing&(1<<id) != 0 {
			v[1] = 0
		}
		if v[0] != 0 || v[1] != 0 {
			s.out = append(s.out, podRes{id: id, requests: v[0], limits: v[1]})
		}
		*w = resWork{}
	}
	s.touched = s.touched[:0]
	return s.out, missing
}

// addContainer folds one container into the scratch state and returns the
// tracked resources it leaves without a (non-zero) limit. The kubelet
// treats a zero limit as no limit when it sizes the pod cgroup.
func (e *Engine) addContainer(c *v1.Container, role containerRole) uint8 {
	e.addList(c.Resources.Requests, 0, role)
	return unboundedTracked &^ e.addList(c.Resources.Limits, 1, role)
}

// commonResources are looked up directly before a list is ranged over:
// starting a map iteration costs more than a few lookups in a small map,
// and most lists hold nothing else.
var commonResources = [...]v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage}

// addList folds one requests (k=0) or limits (k=1) list of a container and
// returns the bits of the tracked resources it gives a non-zero value.
func (e *Engine) addList(list v1.ResourceList, k int, role containerRole) uint8 {
	if len(list) == 0 {
		return 0
	}
	var nonZero uint8
	found := 0
	for _, name := range commonResources {
		if q, ok := list[name]; ok {
			found++
			if e.addAmount(e.res.intern(name), &q, k, role) {
				nonZero |= 1 << e.res.intern(name)
			}
		}
	}
	if found == len(list) {
		return nonZero
	}
	for name, q := range list {
		if name == v1.ResourceCPU || name == v1.ResourceMemory || name == v1.ResourceEphemeralStorage {
			continue
		}
		e.addAmount(e.res.intern(name), &q, k, role)
	}
	return nonZero
}

// addAmount folds one quantity and reports whether it is non-zero.
func (e *Engine) addAmount(id resID, q *resource.Quantity, k int, role containerRole) bool {
	v := amount(id, q)
	w := e.scratch.touch(id)
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

// sortResIDs is an insertion sort: pods touch a handful of resources and
// sort.Slice would allocate.
func sortResIDs(ids []resID) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}
