package feed

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/summary"
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

// retainedPerPod applies storeBenchPods pods to an engine through the pod
// feed's transform and processing and returns the heap retained per pod,
// the engine's included. With informerStore it also keeps each PodRecord in
// an informer store (no indexes), as the feed did when pods came through a
// shared informer: the peer. (That design's records also held the
// resourceVersion string, so the peer is a little below what it cost.)
func retainedPerPod(informerStore bool) float64 {
	e := summary.New(summary.Options{})
	process := processPods(e, []cache.ResourceEventHandler{podHandler(context.Background(), e)})
	store := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
	before := fx.LiveHeap()
	for i := range storeBenchPods {
		obj, err := TransformPod(storeBenchPod(i))
		if err != nil {
			panic(err)
		}
		if err := process(cache.Deltas{{Type: cache.Added, Object: obj}}, true); err != nil {
			panic(err)
		}
		if informerStore {
			if err := store.Add(obj); err != nil {
				panic(err)
			}
		}
	}
	after := fx.LiveHeap()
	if got := e.Cluster(summary.Selection{}).Pods.Total; got != storeBenchPods {
		panic(fmt.Sprintf("the engine counts %d pods, want %d", got, storeBenchPods))
	}
	runtime.KeepAlive(store)
	runtime.KeepAlive(e)
	return float64(after-before) / storeBenchPods
}

// BenchmarkPodFeedRetained: heap the pod feed keeps per pod, engine
// included, against the same with an informer store of PodRecords beside
// the engine.
func BenchmarkPodFeedRetained(b *testing.B) {
	engineOnly := retainedPerPod(false)
	withStore := retainedPerPod(true)
	for b.Loop() {
	}
	b.ReportMetric(engineOnly, "B/pod")
	b.ReportMetric(withStore, "informer-B/pod")
	b.ReportMetric(engineOnly/withStore, "ratio")
}
