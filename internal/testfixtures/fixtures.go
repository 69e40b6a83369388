// Package testfixtures builds the Kubernetes objects unit tests feed the
// summary engine and the servers around it: nodes, pods and namespaces
// carrying the fields the engine reads, set through options so that each
// test states only what it cares about; and it measures the live heap such
// objects retain (LiveHeap).
package testfixtures

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Resources builds a ResourceList from name/quantity pairs such as
// ("cpu", "500m", "memory", "1Gi"), leaving out pairs whose quantity is
// empty; it panics on an odd count or a bad quantity, which is a mistake in
// the test.
func Resources(pairs ...string) corev1.ResourceList {
	if len(pairs)%2 != 0 {
		panic(fmt.Sprintf("testfixtures.Resources needs name/quantity pairs, got %q", pairs))
	}
	out := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
		}
	}
	return out
}

// Labels builds a label map from key/value pairs; nil when there are none.
func Labels(kv ...string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("testfixtures.Labels needs key/value pairs, got %q", kv))
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// NodeOption changes a node built by Node.
type NodeOption func(*corev1.Node)

// Node builds a node whose Ready condition is True.
func Node(name string, opts ...NodeOption) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	SetNodeCondition(n, corev1.NodeReady, corev1.ConditionTrue)
	for _, o := range opts {
		o(n)
	}
	return n
}

// NotReady sets the Ready condition to False.
func NotReady() NodeOption {
	return func(n *corev1.Node) { SetNodeCondition(n, corev1.NodeReady, corev1.ConditionFalse) }
}

// Ready sets the Ready condition to True or False.
func Ready(ready bool) NodeOption {
	if ready {
		return func(n *corev1.Node) { SetNodeCondition(n, corev1.NodeReady, corev1.ConditionTrue) }
	}
	return NotReady()
}

// Pressure sets a pressure condition (MemoryPressure, DiskPressure,
// PIDPressure) to True.
func Pressure(t corev1.NodeConditionType) NodeOption {
	return func(n *corev1.Node) { SetNodeCondition(n, t, corev1.ConditionTrue) }
}

// Cordoned marks the node unschedulable.
func Cordoned() NodeOption { return func(n *corev1.Node) { n.Spec.Unschedulable = true } }

// NodeLabels sets the node's labels from key/value pairs.
func NodeLabels(kv ...string) NodeOption { return func(n *corev1.Node) { n.Labels = Labels(kv...) } }

// Capacity sets status.capacity from name/quantity pairs.
func Capacity(pairs ...string) NodeOption {
	return func(n *corev1.Node) { n.Status.Capacity = Resources(pairs...) }
}

// Allocatable sets status.allocatable from name/quantity pairs.
func Allocatable(pairs ...string) NodeOption {
	return func(n *corev1.Node) { n.Status.Allocatable = Resources(pairs...) }
}

// Holds sets both capacity and allocatable from name/quantity pairs.
func Holds(pairs ...string) NodeOption {
	return func(n *corev1.Node) {
		n.Status.Capacity, n.Status.Allocatable = Resources(pairs...), Resources(pairs...)
	}
}

// SetNodeCondition sets a condition's status, adding the condition.
func SetNodeCondition(n *corev1.Node, t corev1.NodeConditionType, s corev1.ConditionStatus) {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			n.Status.Conditions[i].Status = s
			return
		}
	}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: t, Status: s})
}

// PodOption changes a pod built by Pod.
type PodOption func(*corev1.Pod)

// Pod builds a pod: Running, bound to no node, with one container "c" that
// requests nothing.
func Pod(namespace, name string, opts ...PodOption) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// OnNode binds the pod to a node.
func OnNode(node string) PodOption { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

// InPhase sets the pod's phase.
func InPhase(phase corev1.PodPhase) PodOption { return func(p *corev1.Pod) { p.Status.Phase = phase } }

// Requests sets the first container's requests from name/quantity pairs.
func Requests(pairs ...string) PodOption {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests = Resources(pairs...) }
}

// Limits sets the first container's limits from name/quantity pairs.
func Limits(pairs ...string) PodOption {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits = Resources(pairs...) }
}

// WithContainers replaces the pod's containers.
func WithContainers(c ...corev1.Container) PodOption {
	return func(p *corev1.Pod) { p.Spec.Containers = c }
}

// WithRestarts adds one app container status per count.
func WithRestarts(counts ...int32) PodOption {
	return func(p *corev1.Pod) {
		for i, c := range counts {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: fmt.Sprintf("c%d", i), RestartCount: c})
		}
	}
}

// CrashLooping adds a container status waiting in CrashLoopBackOff.
func CrashLooping() PodOption {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: "crash", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		})
	}
}

// Namespace builds a namespace with labels from key/value pairs.
func Namespace(name string, kv ...string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: Labels(kv...)}}
}

// CreatedAgo sets an object's creation timestamp to the given time before
// now, for the Age column of tables.
func CreatedAgo[T interface{ SetCreationTimestamp(metav1.Time) }](obj T, ago time.Duration) T {
	obj.SetCreationTimestamp(metav1.NewTime(time.Now().Add(-ago)))
	return obj
}
