package summary

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// rl builds a ResourceList from name/quantity pairs.
func rl(pairs ...string) v1.ResourceList {
	if len(pairs)%2 != 0 {
		panic("rl needs name/quantity pairs")
	}
	out := v1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		out[v1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

func ctr(name string, req, lim v1.ResourceList) v1.Container {
	return v1.Container{Name: name, Resources: v1.ResourceRequirements{Requests: req, Limits: lim}}
}

func sidecar(name string, req, lim v1.ResourceList) v1.Container {
	c := ctr(name, req, lim)
	always := v1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

// podOpt tweaks a test pod.
type podOpt func(*v1.Pod)

func onNode(n string) podOpt                  { return func(p *v1.Pod) { p.Spec.NodeName = n } }
func inPhase(ph v1.PodPhase) podOpt           { return func(p *v1.Pod) { p.Status.Phase = ph } }
func withContainers(c ...v1.Container) podOpt { return func(p *v1.Pod) { p.Spec.Containers = c } }
func withInit(c ...v1.Container) podOpt       { return func(p *v1.Pod) { p.Spec.InitContainers = c } }
func withOverhead(o v1.ResourceList) podOpt   { return func(p *v1.Pod) { p.Spec.Overhead = o } }
func withPodLevel(req, lim v1.ResourceList) podOpt {
	return func(p *v1.Pod) { p.Spec.Resources = &v1.ResourceRequirements{Requests: req, Limits: lim} }
}

// withRestarts adds one app container status per count.
func withRestarts(counts ...int32) podOpt {
	return func(p *v1.Pod) {
		for i, c := range counts {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, v1.ContainerStatus{Name: fmt.Sprintf("c%d", i), RestartCount: c})
		}
	}
}

func withInitRestarts(counts ...int32) podOpt {
	return func(p *v1.Pod) {
		for i, c := range counts {
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, v1.ContainerStatus{Name: fmt.Sprintf("i%d", i), RestartCount: c})
		}
	}
}

func crashLooping() podOpt {
	return func(p *v1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, v1.ContainerStatus{
			Name: "crash", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		})
	}
}

// mkPod builds a pod; without options it is Running, unbound, with one
// container requesting nothing.
func mkPod(ns, name string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c"}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

type nodeOpt func(*v1.Node)

func notReady() nodeOpt { return func(n *v1.Node) { setCondition(n, v1.NodeReady, v1.ConditionFalse) } }
func pressure(t v1.NodeConditionType) nodeOpt {
	return func(n *v1.Node) { setCondition(n, t, v1.ConditionTrue) }
}
func cordoned() nodeOpt                { return func(n *v1.Node) { n.Spec.Unschedulable = true } }
func nodeLabels(kv ...string) nodeOpt  { return func(n *v1.Node) { n.Labels = kvMap(kv...) } }
func capacity(pairs ...string) nodeOpt { return func(n *v1.Node) { n.Status.Capacity = rl(pairs...) } }
func allocatable(pairs ...string) nodeOpt {
	return func(n *v1.Node) { n.Status.Allocatable = rl(pairs...) }
}

func setCondition(n *v1.Node, t v1.NodeConditionType, s v1.ConditionStatus) {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			n.Status.Conditions[i].Status = s
			return
		}
	}
	n.Status.Conditions = append(n.Status.Conditions, v1.NodeCondition{Type: t, Status: s})
}

// mkNode builds a Ready node.
func mkNode(name string, opts ...nodeOpt) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	setCondition(n, v1.NodeReady, v1.ConditionTrue)
	for _, o := range opts {
		o(n)
	}
	return n
}

func mkNS(name string, kv ...string) *v1.Namespace {
	return &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: kvMap(kv...)}}
}

func kvMap(kv ...string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func int32p(v int32) *int32 { return &v }

func mkDeployment(ns, name string, gen, observed int64, replicas *int32, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: gen},
		Spec:       appsv1.DeploymentSpec{Replicas: replicas},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: observed, ReadyReplicas: ready},
	}
}

func mkStatefulSet(ns, name string, gen, observed int64, replicas *int32, ready int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: gen},
		Spec:       appsv1.StatefulSetSpec{Replicas: replicas},
		Status:     appsv1.StatefulSetStatus{ObservedGeneration: observed, ReadyReplicas: ready},
	}
}

func mkDaemonSet(ns, name string, desired, ready int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: desired, NumberReady: ready},
	}
}

func sel(s string) labels.Selector {
	parsed, err := labels.Parse(s)
	if err != nil {
		panic(err)
	}
	return parsed
}

// resRow finds a resource row by name; a missing row reads as zeros.
func resRow(rows []ResourceTotals, name v1.ResourceName) ResourceTotals {
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	return ResourceTotals{Name: name}
}
