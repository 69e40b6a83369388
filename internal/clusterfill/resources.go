package clusterfill

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// podAggregate returns a pod's effective requests (limits=false) or limits
// the way the scheduler and the quota controller compute them (KEP-753):
// per resource, the larger of (app containers + restartable init containers)
// and the largest regular init container plus the restartable init
// containers declared before it; then spec.overhead is added to requests and
// to non-zero limits. It is what ResourceQuota status.used sums.
func podAggregate(spec *corev1.PodSpec, limits bool) corev1.ResourceList {
	of := func(c *corev1.Container) corev1.ResourceList {
		if limits {
			return c.Resources.Limits
		}
		return c.Resources.Requests
	}
	sum := corev1.ResourceList{}
	for i := range spec.Containers {
		addTo(sum, of(&spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if isSidecar(c) {
			addTo(sum, of(c))
			addTo(sidecars, of(c))
			continue
		}
		effective := of(c).DeepCopy()
		if effective == nil {
			effective = corev1.ResourceList{}
		}
		addTo(effective, sidecars)
		for name, q := range effective {
			if cur, ok := initMax[name]; !ok || q.Cmp(cur) > 0 {
				initMax[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range initMax {
		if cur, ok := sum[name]; !ok || q.Cmp(cur) > 0 {
			sum[name] = q.DeepCopy()
		}
	}
	for name, q := range spec.Overhead {
		if cur, ok := sum[name]; limits && (!ok || cur.IsZero()) {
			continue
		}
		cur := sum[name]
		cur.Add(q)
		sum[name] = cur
	}
	return sum
}

func addTo(dst, src corev1.ResourceList) {
	for name, q := range src {
		cur := dst[name]
		cur.Add(q)
		dst[name] = cur
	}
}

// quotaUsed computes status.used for hard from the pods of its namespace, as
// the quota controller would: "pods" counts pods that are not terminal;
// compute resources ("cpu", "requests.*", "limits.*") sum those pods'
// effective requests or limits. Resources it does not know count zero.
func quotaUsed(hard corev1.ResourceList, pods []*corev1.Pod) corev1.ResourceList {
	used := corev1.ResourceList{}
	for name := range hard {
		used[name] = resource.Quantity{Format: hard[name].Format}
	}
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		requests := podAggregate(&pod.Spec, false)
		limits := podAggregate(&pod.Spec, true)
		for name := range hard {
			var q resource.Quantity
			var ok bool
			switch n := string(name); {
			case name == corev1.ResourcePods:
				q, ok = *resource.NewQuantity(1, resource.DecimalSI), true
			case strings.HasPrefix(n, "requests."):
				q, ok = requests[corev1.ResourceName(strings.TrimPrefix(n, "requests."))]
			case strings.HasPrefix(n, "limits."):
				q, ok = limits[corev1.ResourceName(strings.TrimPrefix(n, "limits."))]
			case name == corev1.ResourceCPU || name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage:
				q, ok = requests[name]
			}
			if ok {
				cur := used[name]
				cur.Add(q)
				used[name] = cur
			}
		}
	}
	return used
}
