package feed

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/pkg/summary"
)

// Pods do not go through a shared informer. An informer keeps every object
// it delivers in its store, and at 150,000 pods that store (a PodRecord,
// its strings and a map entry per pod, about 45 MB in the full-size bench's
// heap profile) was the largest thing clusterview held after the engine,
// which already keeps what it counts of each pod. The pod feed runs
// client-go's controller instead, the reflector and in-order FIFO an
// informer is built from, with the engine as the FIFO's record of known
// objects: a relist finds vanished pods by comparing its list with
// Engine.PodKeys, as an informer compares it with its store, and delivers
// them as DeletedFinalStateUnknown tombstones.

// knownPods lets the pod FIFO ask the engine which pods it counts. The FIFO
// calls it under its own lock, and the engine's set of pods changes only in
// processPods, which the FIFO also runs under that lock (usage rounds change
// pods' usage, never which pods there are), so a relist sees every change
// popped before it.
type knownPods struct{ engine *summary.Engine }

var _ cache.KeyListerGetter = knownPods{}

// ListKeys implements cache.KeyLister.
func (k knownPods) ListKeys() []string { return k.engine.PodKeys() }

// GetByKey implements cache.KeyGetter. The FIFO only wraps the returned
// object in a tombstone, whose handlers read nothing but the key, so a
// PodRecord with the identity alone stands for the pod.
func (k knownPods) GetByKey(key string) (any, bool, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, false, err
	}
	if !k.engine.HasPod(ns, name) {
		return nil, false, nil
	}
	return &PodRecord{PodIdentity: PodIdentity{Namespace: ns, Name: name}}, true, nil
}

// startPods runs the pod feed until ctx ends. handlers receive every
// notification in order, the engine's handler first; it returns whether
// the initial list has been delivered.
func startPods(ctx context.Context, client kubernetes.Interface, e *summary.Engine, handlers []cache.ResourceEventHandler) (synced func() bool) {
	logger := klog.FromContext(ctx)
	fifo := cache.NewRealFIFOWithOptions(cache.RealFIFOOptions{
		Logger:       &logger,
		Name:         "pods",
		KnownObjects: knownPods{e},
		Transformer:  TransformPod,
	})
	controller := cache.New(&cache.Config{
		Queue:         fifo,
		ListerWatcher: podListWatch(client),
		ObjectType:    &v1.Pod{},
		Process:       processPods(e, handlers),
	})
	go controller.RunWithContext(ctx)
	return controller.HasSynced
}

// podListWatch lists and watches pods of every namespace, as the pod
// informer of a shared informer factory does.
func podListWatch(client kubernetes.Interface) cache.ListerWatcher {
	pods := client.CoreV1().Pods(metav1.NamespaceAll)
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pods.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, opts)
		},
	}, client)
}

// processPods turns what the pod FIFO pops into notifications, as an
// informer would: Added is an add, Updated an update, Deleted a delete, and
// Replaced or Sync (a relist) an update of a pod the engine already counts
// and an add of any other. Updates carry no old object: there is no store
// to take it from, and no handler reads it.
func processPods(e *summary.Engine, handlers []cache.ResourceEventHandler) cache.ProcessFunc {
	return func(obj any, isInInitialList bool) error {
		deltas, ok := obj.(cache.Deltas)
		if !ok {
			return fmt.Errorf("feed: the pod queue popped %T, not Deltas", obj)
		}
		for _, d := range deltas {
			update := d.Type == cache.Updated
			if d.Type == cache.Replaced || d.Type == cache.Sync {
				if r, ok := d.Object.(*PodRecord); ok {
					update = e.HasPod(r.Namespace, r.Name)
				}
			}
			for _, h := range handlers {
				switch {
				case d.Type == cache.Deleted:
					h.OnDelete(d.Object)
				case update:
					h.OnUpdate(nil, d.Object)
				default:
					h.OnAdd(d.Object, isInInitialList)
				}
			}
		}
		return nil
	}
}
