// Package feed connects shared informers to a summary.Engine: it strips
// objects down to the fields the engine reads before the informers store
// them, and turns informer notifications (including relists and
// DeletedFinalStateUnknown tombstones) into engine calls.
package feed

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clusterview/clusterview/pkg/summary"
)

// source is one informer and what the engine does with its objects.
type source struct {
	kind      string
	informer  cache.SharedIndexInformer
	transform cache.TransformFunc
	handler   cache.ResourceEventHandler
}

func sources(ctx context.Context, factory informers.SharedInformerFactory, e *summary.Engine) []source {
	core, apps := factory.Core().V1(), factory.Apps().V1()
	clusterScoped := func(del func(string)) func(string, string) {
		return func(_, name string) { del(name) }
	}
	return []source{
		{"Node", core.Nodes().Informer(), TransformNode,
			handler(ctx, "Node", e.UpsertNode, clusterScoped(e.DeleteNode))},
		{"Namespace", core.Namespaces().Informer(), TransformNamespace,
			handler(ctx, "Namespace", e.UpsertNamespace, clusterScoped(e.DeleteNamespace))},
		{"Pod", PodInformer(factory), TransformPod,
			handler(ctx, "Pod", func(r *PodRecord) { e.UpsertPodUsage(r.Namespace, r.Name, &r.Usage) }, e.DeletePod)},
		{"ResourceQuota", core.ResourceQuotas().Informer(), TransformResourceQuota,
			handler(ctx, "ResourceQuota", e.UpsertResourceQuota, e.DeleteResourceQuota)},
		{"Deployment", apps.Deployments().Informer(), TransformDeployment,
			handler(ctx, "Deployment", e.UpsertDeployment, e.DeleteDeployment)},
		{"StatefulSet", apps.StatefulSets().Informer(), TransformStatefulSet,
			handler(ctx, "StatefulSet", e.UpsertStatefulSet, e.DeleteStatefulSet)},
		{"DaemonSet", apps.DaemonSets().Informer(), TransformDaemonSet,
			handler(ctx, "DaemonSet", e.UpsertDaemonSet, e.DeleteDaemonSet)},
	}
}

// Informers returns the informers Register wires, by the kind of object
// they carry ("Node", "Pod", ...), for callers that observe the same
// events, such as event counters. It creates them in factory like Register.
func Informers(factory informers.SharedInformerFactory) map[string]cache.SharedIndexInformer {
	out := make(map[string]cache.SharedIndexInformer)
	// The handlers built for a nil engine are never called.
	for _, s := range sources(context.Background(), factory, nil) {
		out[s.kind] = s.informer
	}
	return out
}

// PodInformer returns factory's pod informer, creating it without the
// namespace index the factory would add: nothing looks pods up by
// namespace, and the index would cost an entry per pod. It is the informer
// factory.Core().V1().Pods().Informer() returns afterwards.
func PodInformer(factory informers.SharedInformerFactory) cache.SharedIndexInformer {
	return factory.InformerFor(&v1.Pod{}, func(client kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewPodInformer(client, metav1.NamespaceAll, resync, cache.Indexers{})
	})
}

// Register wires the node, namespace, pod, resourcequota, deployment,
// statefulset and daemonset informers of factory to e. Call it before
// factory.Start: it installs the transforms, which an informer only accepts
// before it runs. The factory should be created with resync 0 (the engine
// gains nothing from resyncs).
//
// The transforms apply to everything else that uses the same informers:
// they keep only what the engine reads (see the Transform functions; the
// pod informer stores PodRecords, not pods), so a component needing other
// fields, or a pod lister, must use a factory of its own.
//
// The returned synced reports whether every informer has synced and the
// engine has received its whole initial list: until then summaries are
// partial. When ctx is done the handlers are removed and e receives no more
// events.
func Register(ctx context.Context, factory informers.SharedInformerFactory, e *summary.Engine) (synced func() bool, err error) {
	type registered struct {
		informer cache.SharedIndexInformer
		reg      cache.ResourceEventHandlerRegistration
	}
	var regs []registered
	removeAll := func() {
		for _, r := range regs {
			// Removal only fails for an informer that has stopped, which
			// then delivers nothing anyway.
			_ = r.informer.RemoveEventHandler(r.reg)
		}
	}
	for _, s := range sources(ctx, factory, e) {
		if err := s.informer.SetTransform(s.transform); err != nil {
			removeAll()
			return nil, fmt.Errorf("feed: setting the %s transform (Register must run before the factory starts): %w", s.kind, err)
		}
		reg, err := s.informer.AddEventHandler(s.handler)
		if err != nil {
			removeAll()
			return nil, fmt.Errorf("feed: adding the %s event handler: %w", s.kind, err)
		}
		regs = append(regs, registered{s.informer, reg})
	}
	context.AfterFunc(ctx, removeAll)
	return func() bool {
		for _, r := range regs {
			if !r.reg.HasSynced() {
				return false
			}
		}
		return true
	}, nil
}

// handler translates notifications for objects of type T. Adds and updates
// (including the replays of a relist) are upserts; deletes use only the
// namespace/name key, so a DeletedFinalStateUnknown tombstone, whose final
// state may be stale, is handled exactly like a delete.
func handler[T metav1.Object](ctx context.Context, kind string, upsert func(T), del func(namespace, name string)) cache.ResourceEventHandlerFuncs {
	apply := func(obj any) {
		o, ok := obj.(T)
		if !ok {
			utilruntime.HandleErrorWithContext(ctx, fmt.Errorf("unexpected %T in the %s informer", obj, kind), "Ignoring object")
			return
		}
		upsert(o)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, newObj any) { apply(newObj) },
		DeleteFunc: func(obj any) {
			switch o := obj.(type) {
			case T:
				del(o.GetNamespace(), o.GetName())
			case cache.DeletedFinalStateUnknown:
				ns, name, err := cache.SplitMetaNamespaceKey(o.Key)
				if err != nil {
					utilruntime.HandleErrorWithContext(ctx, err, "Bad tombstone key", "kind", kind, "key", o.Key)
					return
				}
				del(ns, name)
			default:
				utilruntime.HandleErrorWithContext(ctx, fmt.Errorf("unexpected deleted %T in the %s informer", obj, kind), "Ignoring delete")
			}
		},
	}
}
