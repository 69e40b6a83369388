package feed

import (
	"fmt"
	"runtime"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
)

const storeBenchPods = 50000

// storeBenchPod is a two-container pod with the metadata and spec a real
// pod carries, most of which the transforms drop.
func storeBenchPod(i int) *v1.Pod {
	p := pod(fmt.Sprintf("ns-%03d", i%100), fmt.Sprintf("app-%06d-x7k2p", i), fmt.Sprintf("node-%04d", i%5000), "250m", v1.PodRunning)
	p.ResourceVersion = fmt.Sprint(1000000 + i)
	p.Labels = map[string]string{"app": "web", "pod-template-hash": "5d8f7c9b6"}
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-5d8f7c9b6"}}
	p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "proxy", Image: "registry.example/proxy:1",
		Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU]}}})
	p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", RestartCount: 1, Image: "registry.example/app:1"}, {Name: "proxy"}}
	return p
}

// retainedPerPod fills an informer's store (no indexes, as PodInformer
// makes it) through transform and returns the heap it retains per pod.
func retainedPerPod(transform cache.TransformFunc) float64 {
	store := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
	before := fx.LiveHeap()
	for i := range storeBenchPods {
		obj, err := transform(storeBenchPod(i))
		if err != nil {
			panic(err)
		}
		if err := store.Add(obj); err != nil {
			panic(err)
		}
	}
	after := fx.LiveHeap()
	runtime.KeepAlive(store)
	return float64(after-before) / storeBenchPods
}

// strippedPod is the transform the pod informer used before PodRecord: a
// new v1.Pod with only the fields the engine reads. It stays here as the
// peer of BenchmarkPodStoreRetained.
func strippedPod(obj any) (any, error) {
	p := obj.(*v1.Pod)
	out := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion}}
	out.Spec.NodeName = p.Spec.NodeName
	for _, c := range p.Spec.Containers {
		out.Spec.Containers = append(out.Spec.Containers, v1.Container{Name: c.Name,
			Resources: v1.ResourceRequirements{Requests: c.Resources.Requests, Limits: c.Resources.Limits}})
	}
	out.Status.Phase = p.Status.Phase
	for _, cs := range p.Status.ContainerStatuses {
		out.Status.ContainerStatuses = append(out.Status.ContainerStatuses, v1.ContainerStatus{Name: cs.Name, RestartCount: cs.RestartCount})
	}
	return out, nil
}

// BenchmarkPodStoreRetained: heap the pod informer's store keeps per pod
// with TransformPod, and with a stripped v1.Pod as the peer.
func BenchmarkPodStoreRetained(b *testing.B) {
	record := retainedPerPod(TransformPod)
	stripped := retainedPerPod(strippedPod)
	for b.Loop() {
	}
	b.ReportMetric(record, "B/pod")
	b.ReportMetric(stripped, "stripped-B/pod")
	b.ReportMetric(record/stripped, "ratio")
}
