package feed

import (
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/pkg/summary"
)

// The transforms below run before an object enters an informer's store or
// the pod feed's queue. Pods, by far the most numerous, become a PodRecord. Each of the others
// becomes a new object of its type holding only what the engine reads, plus the
// identity fields informers and handlers rely on (name, namespace, UID,
// resourceVersion), so managedFields, annotations, owner references, pod
// templates, volumes, env, images and the like never stay in memory: at
// 150,000 pods that is most of an informer's footprint. Building rather than
// clearing also drops fields added to the API later. Objects of other types
// (tombstones are never transformed) pass through unchanged.

func identity(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
}

// TransformPod replaces a pod by its PodRecord, which the pod feed's queue
// holds until the engine has applied it.
func TransformPod(obj any) (any, error) {
	p, ok := obj.(*v1.Pod)
	if !ok {
		return obj, nil
	}
	return &PodRecord{
		PodIdentity: PodIdentity{Namespace: p.Namespace, Name: p.Name},
		Usage:       summary.PodUsageOf(p),
	}, nil
}

// TransformNode keeps labels, creationTimestamp, spec.unschedulable, the
// key, value and effect of NoSchedule and NoExecute taints,
// status.capacity and allocatable, and each condition's type and status.
// Dropping the condition timestamps and messages (and images, addresses,
// nodeInfo) also makes heartbeat-only updates identical to what the engine
// already has.
func TransformNode(obj any) (any, error) {
	n, ok := obj.(*v1.Node)
	if !ok {
		return obj, nil
	}
	out := &v1.Node{
		ObjectMeta: identity(&n.ObjectMeta),
		Spec:       v1.NodeSpec{Unschedulable: n.Spec.Unschedulable, Taints: summary.SchedulingTaints(n.Spec.Taints)},
		Status:     v1.NodeStatus{Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable},
	}
	out.Labels = n.Labels
	out.CreationTimestamp = n.CreationTimestamp
	if n.Status.Conditions != nil {
		out.Status.Conditions = make([]v1.NodeCondition, len(n.Status.Conditions))
		for i, c := range n.Status.Conditions {
			out.Status.Conditions[i] = v1.NodeCondition{Type: c.Type, Status: c.Status}
		}
	}
	return out, nil
}

// TransformNamespace keeps labels, creationTimestamp and status.phase.
func TransformNamespace(obj any) (any, error) {
	ns, ok := obj.(*v1.Namespace)
	if !ok {
		return obj, nil
	}
	out := &v1.Namespace{ObjectMeta: identity(&ns.ObjectMeta), Status: v1.NamespaceStatus{Phase: ns.Status.Phase}}
	out.Labels = ns.Labels
	out.CreationTimestamp = ns.CreationTimestamp
	return out, nil
}

// TransformResourceQuota keeps spec.hard and status.hard and used.
func TransformResourceQuota(obj any) (any, error) {
	q, ok := obj.(*v1.ResourceQuota)
	if !ok {
		return obj, nil
	}
	return &v1.ResourceQuota{
		ObjectMeta: identity(&q.ObjectMeta),
		Spec:       v1.ResourceQuotaSpec{Hard: q.Spec.Hard},
		Status:     v1.ResourceQuotaStatus{Hard: q.Status.Hard, Used: q.Status.Used},
	}, nil
}

// workloadMeta also keeps metadata.generation, which readiness compares
// with status.observedGeneration.
func workloadMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := identity(m)
	out.Generation = m.Generation
	return out
}

// TransformDeployment keeps generation, spec.replicas,
// status.observedGeneration and readyReplicas: the pod template, often the
// largest part, goes.
func TransformDeployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil
	}
	return &appsv1.Deployment{
		ObjectMeta: workloadMeta(&d.ObjectMeta),
		Spec:       appsv1.DeploymentSpec{Replicas: d.Spec.Replicas},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: d.Status.ObservedGeneration, ReadyReplicas: d.Status.ReadyReplicas},
	}, nil
}

// TransformStatefulSet keeps generation, spec.replicas,
// status.observedGeneration and readyReplicas.
func TransformStatefulSet(obj any) (any, error) {
	s, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return obj, nil
	}
	return &appsv1.StatefulSet{
		ObjectMeta: workloadMeta(&s.ObjectMeta),
		Spec:       appsv1.StatefulSetSpec{Replicas: s.Spec.Replicas},
		Status:     appsv1.StatefulSetStatus{ObservedGeneration: s.Status.ObservedGeneration, ReadyReplicas: s.Status.ReadyReplicas},
	}, nil
}

// TransformDaemonSet keeps status.desiredNumberScheduled and numberReady
// (and generation and observedGeneration, for consumers that want them).
func TransformDaemonSet(obj any) (any, error) {
	d, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return obj, nil
	}
	return &appsv1.DaemonSet{
		ObjectMeta: workloadMeta(&d.ObjectMeta),
		Status: appsv1.DaemonSetStatus{
			ObservedGeneration:     d.Status.ObservedGeneration,
			DesiredNumberScheduled: d.Status.DesiredNumberScheduled,
			NumberReady:            d.Status.NumberReady,
		},
	}, nil
}
