package summary

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
)

func ctr(name string, req, lim v1.ResourceList) v1.Container {
	return v1.Container{Name: name, Resources: v1.ResourceRequirements{Requests: req, Limits: lim}}
}

func sidecar(name string, req, lim v1.ResourceList) v1.Container {
	c := ctr(name, req, lim)
	always := v1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

// The builders are internal/testfixtures'; the options below are the pod
// spec details only the engine's tests need.
type (
	podOpt  = fx.PodOption
	nodeOpt = fx.NodeOption
)

var (
	mkPod          = fx.Pod
	onNode         = fx.OnNode
	inPhase        = fx.InPhase
	withContainers = fx.WithContainers
	withRestarts   = fx.WithRestarts
	crashLooping   = fx.CrashLooping
	mkNode         = fx.Node
	notReady       = fx.NotReady
	pressure       = fx.Pressure
	cordoned       = fx.Cordoned
	nodeLabels     = fx.NodeLabels
	capacity       = fx.Capacity
	allocatable    = fx.Allocatable
	setCondition   = fx.SetNodeCondition
	mkNS           = fx.Namespace
	rl             = fx.Resources
)

func withInit(c ...v1.Container) podOpt     { return func(p *v1.Pod) { p.Spec.InitContainers = c } }
func withOverhead(o v1.ResourceList) podOpt { return func(p *v1.Pod) { p.Spec.Overhead = o } }
func withPodLevel(req, lim v1.ResourceList) podOpt {
	return func(p *v1.Pod) { p.Spec.Resources = &v1.ResourceRequirements{Requests: req, Limits: lim} }
}

func withInitRestarts(counts ...int32) podOpt {
	return func(p *v1.Pod) {
		for i, c := range counts {
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, v1.ContainerStatus{Name: fmt.Sprintf("i%d", i), RestartCount: c})
		}
	}
}

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
