// Package feed connects the cluster to a summary.Engine: shared informers
// for nodes, namespaces, quotas and workloads, and for pods a reflector whose
// queue keeps no store besides the engine (pods.go). It strips objects down
// to the fields the engine reads before anything holds them, and turns
// notifications (including relists and DeletedFinalStateUnknown tombstones)
// into engine calls.
package feed

import (
	"context"
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
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

// sources are the kinds fed through the shared informers of factory: every
// kind but pods (see pods.go).
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

// podHandler applies PodRecords (see TransformPod) to e.
func podHandler(ctx context.Context, e *summary.Engine) cache.ResourceEventHandler {
	return handler(ctx, "Pod", func(r *PodRecord) { e.UpsertPodUsage(r.Namespace, r.Name, &r.Usage) }, e.DeletePod)
}

// Observe is what Register takes to watch the feed: it returns a handler
// that also receives every notification of kind ("Node", "Pod", ...) that
// the engine receives, or nil to observe nothing of that kind. An event
// counter is one. Objects are what the kind's transform made of them, and
// pod updates carry no old object.
type Observe func(kind string) cache.ResourceEventHandler

// Register feeds e from the cluster: node, namespace, resourcequota,
// deployment, statefulset and daemonset informers of factory, and the pod
// feed (pods.go), which reads pods with client and starts at once. Call it
// before factory.Start: it installs the transforms, which an informer only
// accepts before it runs. The factory should be created with resync 0 (the
// engine gains nothing from resyncs) and from the same client.
//
// The transforms apply to everything else that uses the same informers:
// they keep only what the engine reads (see the Transform functions), so a
// component needing other fields must use a factory of its own. Pods are
// kept in no store at all: nothing may look them up through this feed.
//
// observe may be nil. The returned synced reports whether every informer
// and the pod feed have synced and the engine has received its whole
// initial list: until then summaries are partial. When ctx is done the
// handlers are removed and e receives no more events.
func Register(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, e *summary.Engine, observe Observe) (synced func() bool, err error) {
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
	add := func(s source, h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
		reg, err := s.informer.AddEventHandler(h)
		if err != nil {
			return nil, fmt.Errorf("feed: adding a %s event handler: %w", s.kind, err)
		}
		regs = append(regs, registered{s.informer, reg})
		return reg, nil
	}
	var engineRegs []cache.ResourceEventHandlerRegistration
	for _, s := range sources(ctx, factory, e) {
		if err := s.informer.SetTransform(s.transform); err != nil {
			removeAll()
			return nil, fmt.Errorf("feed: setting the %s transform (Register must run before the factory starts): %w", s.kind, err)
		}
		reg, err := add(s, s.handler)
		if err != nil {
			removeAll()
			return nil, err
		}
		engineRegs = append(engineRegs, reg)
		if observe == nil {
			continue
		}
		if h := observe(s.kind); h != nil {
			if _, err := add(s, h); err != nil {
				removeAll()
				return nil, err
			}
		}
	}
	context.AfterFunc(ctx, removeAll)

	podHandlers := []cache.ResourceEventHandler{podHandler(ctx, e)}
	if observe != nil {
		if h := observe("Pod"); h != nil {
			podHandlers = append(podHandlers, h)
		}
	}
	podsSynced := startPods(ctx, client, e, podHandlers)
	return func() bool {
		for _, r := range engineRegs {
			if !r.HasSynced() {
				return false
			}
		}
		return podsSynced()
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
