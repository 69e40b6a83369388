package feed

import (
	"context"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/summary"
)

// node and pod build objects as the API serves them: besides what the engine
// reads they carry the heartbeat, message, image, env and annotations the
// feed's transforms must drop.
func node(name string, ready bool, kv ...string) *v1.Node {
	n := fx.Node(name, fx.Ready(ready), fx.NodeLabels(kv...),
		fx.Capacity("cpu", "4", "pods", "110"), fx.Allocatable("cpu", "3", "pods", "100"))
	n.Status.Conditions[0].Message = "kubelet is posting ready status"
	n.Status.Conditions[0].LastHeartbeatTime = metav1.Now()
	return n
}

func pod(ns, name, nodeName, cpu string, phase v1.PodPhase) *v1.Pod {
	p := fx.Pod(ns, name, fx.OnNode(nodeName), fx.InPhase(phase),
		fx.Requests("cpu", cpu), fx.Limits("cpu", cpu, "memory", "1Gi"))
	p.Annotations, p.Labels = map[string]string{"a": "b"}, map[string]string{"app": "x"}
	p.Spec.Containers[0].Image = "registry.example/app:1"
	p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "X", Value: "y"}}
	return p
}

type harness struct {
	cs      *fake.Clientset
	factory informers.SharedInformerFactory
	engine  *summary.Engine
	synced  func() bool
}

// start registers the feed and runs the informers until the test ends.
// observe may be nil.
func start(t *testing.T, cs *fake.Clientset, observe Observe) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{cs: cs, factory: informers.NewSharedInformerFactory(cs, 0), engine: summary.New(summary.Options{})}
	var err error
	h.synced, err = Register(ctx, cs, h.factory, h.engine, observe)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	h.factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		h.factory.Shutdown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), h.synced) {
		t.Fatal("feed never synced")
	}
	return h
}

// eventually polls until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func cpuRequests(t summary.ClusterTotals) int64 { return t.Resources[0].Requests }

var cpuSel = summary.Selection{Resources: []v1.ResourceName{v1.ResourceCPU}}

func TestRegisterFeedsEngine(t *testing.T) {
	cs := fake.NewClientset(
		node("n1", true, "zone", "a"),
		node("n2", false),
		&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"team": "x"}}},
		pod("prod", "web-1", "n1", "100m", v1.PodRunning),
		pod("prod", "web-2", "", "200m", v1.PodPending),
		pod("prod", "job-1", "n2", "400m", v1.PodSucceeded),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "web", Generation: 1},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)}, Status: appsv1.DeploymentStatus{ObservedGeneration: 1, ReadyReplicas: 1}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "db", Generation: 1},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 1}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "agent"},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, NumberReady: 2}},
		&v1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "q"},
			Status: v1.ResourceQuotaStatus{Hard: v1.ResourceList{v1.ResourcePods: resource.MustParse("10")}, Used: v1.ResourceList{v1.ResourcePods: resource.MustParse("3")}}},
	)
	h := start(t, cs, nil)

	// Once synced, the initial list has reached the engine in full.
	got := h.engine.Cluster(cpuSel)
	got.Revision = 0
	want := summary.ClusterTotals{
		Nodes:      summary.NodeCounts{Total: 2, Ready: 1, NotReady: 1},
		Pods:       summary.PodCounts{Total: 3, Running: 1, Pending: 1, Succeeded: 1, Unscheduled: 1},
		Namespaces: 1,
		Resources:  []summary.ResourceTotals{{Name: v1.ResourceCPU, Capacity: 8000, Allocatable: 6000, Requests: 100, Limits: 100}},
		Workloads: summary.WorkloadCounts{
			Deployments:  summary.ReadyCount{Total: 1, Ready: 0},
			StatefulSets: summary.ReadyCount{Total: 1, Ready: 1},
			DaemonSets:   summary.ReadyCount{Total: 1, Ready: 1},
		},
		NotReadyNodes: []string{"n2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after sync (-want +got):\n%s", diff)
	}
	ns, _, ok := h.engine.NamespaceAt("prod")
	if !ok || len(ns.Quotas) != 1 || ns.Quotas[0].Name != "q" {
		t.Errorf("Namespace(prod) = %+v, %v", ns, ok)
	}

	// Live events: add, update, delete.
	ctx := context.Background()
	pods := cs.CoreV1().Pods("prod")
	if _, err := pods.Create(ctx, pod("prod", "web-3", "n1", "1", v1.PodRunning), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the added pod", func() bool { return cpuRequests(h.engine.Cluster(cpuSel)) == 1100 })

	moved := pod("prod", "web-2", "n2", "200m", v1.PodRunning) // scheduled and started
	if _, err := pods.Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the scheduled pod", func() bool {
		c := h.engine.Cluster(cpuSel)
		return cpuRequests(c) == 1300 && c.Pods.Unscheduled == 0
	})

	if err := pods.Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted pod", func() bool { return cpuRequests(h.engine.Cluster(cpuSel)) == 1200 })

	if _, err := cs.CoreV1().Nodes().Update(ctx, node("n2", true, "zone", "b"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the node update", func() bool { return h.engine.Cluster(summary.Selection{}).Nodes.Ready == 2 })
	b := summary.Selection{NodeSelector: mustSelector(t, "zone=b"), Resources: cpuSel.Resources}
	if got := cpuRequests(h.engine.Cluster(b)); got != 200 {
		t.Errorf("zone=b requests = %d, want 200", got)
	}

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "web", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)}, Status: appsv1.DeploymentStatus{ObservedGeneration: 1, ReadyReplicas: 2}}
	if _, err := cs.AppsV1().Deployments("prod").Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deployment update", func() bool {
		return h.engine.Cluster(summary.Selection{}).Workloads.Deployments == summary.ReadyCount{Total: 1, Ready: 1}
	})
	if err := cs.CoreV1().Namespaces().Delete(ctx, "prod", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the namespace delete", func() bool { _, _, ok := h.engine.NamespaceAt("prod"); return !ok })
}

// TestRelistDeliversTombstones makes the pod feed miss a pod delete: the
// first pod watch is a fake the test controls, the pod is deleted behind it,
// and the watch then fails with 410 Expired. The reflector relists, the
// queue finds the pod gone by asking the engine which pods it counts, and
// the feed delivers a DeletedFinalStateUnknown.
func TestRelistDeliversTombstones(t *testing.T) {
	cs := fake.NewClientset(
		node("n1", true),
		pod("default", "gone", "n1", "100m", v1.PodRunning),
		pod("default", "stays", "n1", "200m", v1.PodRunning),
	)
	stale := watch.NewFake()
	var watches atomic.Int32
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if watches.Add(1) == 1 {
			return true, stale, nil
		}
		return false, nil, nil // later watches go to the tracker
	})
	var tombstones, relisted atomic.Int32
	h := start(t, cs, func(kind string) cache.ResourceEventHandler {
		if kind != "Pod" {
			return nil
		}
		return cache.ResourceEventHandlerFuncs{
			// The pod that stays comes back in the relist as an update.
			UpdateFunc: func(_, obj any) {
				if obj.(*PodRecord).Name == "stays" {
					relisted.Add(1)
				}
			},
			DeleteFunc: func(obj any) {
				if _, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					tombstones.Add(1)
				}
			},
		}
	})
	if got := cpuRequests(h.engine.Cluster(cpuSel)); got != 300 {
		t.Fatalf("after sync: requests %d, want 300", got)
	}

	if err := cs.Tracker().Delete(v1.SchemeGroupVersion.WithResource("pods"), "default", "gone"); err != nil {
		t.Fatal(err)
	}
	stale.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old"})

	eventually(t, "the tombstone to reach the engine", func() bool { return cpuRequests(h.engine.Cluster(cpuSel)) == 200 })
	if tombstones.Load() == 0 {
		t.Error("the delete did not arrive as a DeletedFinalStateUnknown")
	}
	eventually(t, "the relisted pod to arrive as an update", func() bool { return relisted.Load() > 0 })
	if !h.engine.HasPod("default", "stays") || h.engine.HasPod("default", "gone") {
		t.Errorf("after the relist: engine has stays %v, gone %v; want true, false", h.engine.HasPod("default", "stays"), h.engine.HasPod("default", "gone"))
	}
	if got := h.engine.Cluster(summary.Selection{}).Pods.Total; got != 1 {
		t.Errorf("pods = %d, want 1", got)
	}
}

// TestTombstonesForEveryKind drives the handlers directly with tombstones,
// including ones whose final state is missing or stale. Objects go through
// their transform first, as the informers do.
func TestTombstonesForEveryKind(t *testing.T) {
	e := summary.New(summary.Options{})
	ctx := context.Background()
	srcs := map[string]cache.ResourceEventHandler{"Pod": podHandler(ctx, e)}
	transforms := map[string]cache.TransformFunc{"Pod": TransformPod}
	for _, s := range sources(ctx, informers.NewSharedInformerFactory(fake.NewClientset(), 0), e) {
		srcs[s.kind] = s.handler
		transforms[s.kind] = s.transform
	}
	objs := []struct {
		kind string
		obj  runtime.Object
		key  string
	}{
		{"Node", node("n1", true), "n1"},
		{"Namespace", &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}, "ns"},
		{"Pod", pod("ns", "p", "n1", "1", v1.PodRunning), "ns/p"},
		{"ResourceQuota", &v1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "q"}}, "ns/q"},
		{"Deployment", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d"}}, "ns/d"},
		{"StatefulSet", &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}}, "ns/s"},
		{"DaemonSet", &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds"}}, "ns/ds"},
	}
	for _, o := range objs {
		obj, err := transforms[o.kind](o.obj)
		if err != nil {
			t.Fatal(err)
		}
		srcs[o.kind].OnAdd(obj, true)
	}
	c := e.Cluster(summary.Selection{})
	if c.Nodes.Total != 1 || c.Pods.Total != 1 || c.Namespaces != 1 || c.Workloads.Deployments.Total != 1 ||
		c.Workloads.StatefulSets.Total != 1 || c.Workloads.DaemonSets.Total != 1 {
		t.Fatalf("after adds: %+v", c)
	}
	if ns, _, _ := e.NamespaceAt("ns"); len(ns.Quotas) != 1 {
		t.Fatalf("quota missing: %+v", ns)
	}
	for i, o := range objs {
		var final any = o.obj
		switch i % 3 {
		case 1:
			final = nil // final state unknown altogether
		case 2:
			final = pod("elsewhere", "stale", "", "1", v1.PodRunning) // stale or unrelated: only the key counts
		}
		srcs[o.kind].OnDelete(cache.DeletedFinalStateUnknown{Key: o.key, Obj: final})
	}
	c = e.Cluster(summary.Selection{})
	c.Revision = 0
	if diff := cmp.Diff(summary.ClusterTotals{}, c); diff != "" {
		t.Errorf("after tombstones (-want +got):\n%s", diff)
	}
	// Garbage does not panic or change anything.
	rev := e.Revision()
	srcs["Pod"].OnAdd("not a pod", false)
	srcs["Pod"].OnAdd(pod("ns", "untransformed", "n1", "1", v1.PodRunning), false)
	srcs["Pod"].OnDelete(cache.DeletedFinalStateUnknown{Key: "a/b/c"})
	srcs["Pod"].OnDelete(42)
	if e.Revision() != rev {
		t.Error("garbage changed the engine")
	}
}

func TestRegisterAfterStartFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	factory.Core().V1().Nodes().Informer()
	factory.Start(ctx.Done())
	defer func() {
		cancel() // Shutdown waits for the informers, which stop on cancel
		factory.Shutdown()
	}()
	factory.WaitForCacheSync(ctx.Done())
	if _, err := Register(ctx, fake.NewClientset(), factory, summary.New(summary.Options{}), nil); err == nil {
		t.Fatal("Register on a started factory succeeded; the transform would silently not apply")
	}
}

func TestStoresHoldStrippedObjectsAndNoPods(t *testing.T) {
	p := pod("ns", "p", "n1", "100m", v1.PodRunning)
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	p.Spec.Volumes = []v1.Volume{{Name: "v"}}
	h := start(t, fake.NewClientset(p, node("n1", true, "zone", "a")), nil)

	// Pods are kept by the engine alone: the factory runs no pod informer.
	if !h.engine.HasPod("ns", "p") {
		t.Error("the engine does not count pod ns/p")
	}
	for typ := range h.factory.WaitForCacheSync(context.Background().Done()) {
		if typ == reflect.TypeFor[*v1.Pod]() {
			t.Error("the informer factory runs a pod informer, whose store would keep every pod a second time")
		}
	}
	n, err := h.factory.Core().V1().Nodes().Lister().Get("n1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["zone"] != "a" || n.Status.Conditions[0].Message != "" || !n.Status.Conditions[0].LastHeartbeatTime.IsZero() {
		t.Errorf("node in the store: labels %v conditions %+v", n.Labels, n.Status.Conditions)
	}
}

func TestTransforms(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	created := metav1.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	meta := metav1.ObjectMeta{
		Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3, CreationTimestamp: created,
		Labels: map[string]string{"l": "v"}, Annotations: map[string]string{"big": "annotation"},
		OwnerReferences: []metav1.OwnerReference{{Name: "owner"}}, Finalizers: []string{"f"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}},
	}
	reqs := v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}
	cases := []struct {
		name string
		fn   cache.TransformFunc
		in   any
		want any
	}{{
		name: "pod",
		fn:   TransformPod,
		in: &v1.Pod{
			ObjectMeta: meta,
			Spec: v1.PodSpec{
				NodeName:       "n1",
				InitContainers: []v1.Container{{Name: "s", Image: "i", RestartPolicy: &always, Resources: v1.ResourceRequirements{Requests: reqs}}},
				Containers:     []v1.Container{{Name: "c", Image: "i", Command: []string{"run"}, Resources: v1.ResourceRequirements{Limits: reqs, Claims: []v1.ResourceClaim{{Name: "gpu"}}}}},
				Overhead:       reqs,
				Resources:      &v1.ResourceRequirements{Requests: reqs},
				Volumes:        []v1.Volume{{Name: "v"}},
				Tolerations:    []v1.Toleration{{Key: "k"}},
			},
			Status: v1.PodStatus{
				Phase: v1.PodRunning, PodIP: "10.0.0.1", Conditions: []v1.PodCondition{{Type: v1.PodReady}},
				InitContainerStatuses: []v1.ContainerStatus{{Name: "s", RestartCount: 1, Image: "i", State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}}},
				ContainerStatuses: []v1.ContainerStatus{{Name: "c", RestartCount: 2, ImageID: "sha",
					State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off"}}}},
			},
		},
		// The sidecar sets no CPU limit, so the pod's CPU limit is
		// unbounded; pod-level requests replace the containers' sum, and
		// the overhead adds to them.
		want: &PodRecord{
			PodIdentity: PodIdentity{Name: "x", Namespace: "ns"},
			Usage: summary.PodUsage{
				NodeName: "n1", Phase: v1.PodRunning, Restarts: 3, CrashLooping: true,
				Resources: []summary.ResourceUsage{{Name: v1.ResourceCPU, Requests: 2000}},
				Unbounded: summary.UnboundedCPU | summary.UnboundedMemory | summary.UnboundedEphemeralStorage,
			},
		},
	}, {
		name: "node",
		fn:   TransformNode,
		in: &v1.Node{
			ObjectMeta: meta,
			Spec: v1.NodeSpec{Unschedulable: true, PodCIDR: "10.0.0.0/24", Taints: []v1.Taint{
				{Key: "soft", Effect: v1.TaintEffectPreferNoSchedule},
				{Key: "hard", Value: "v", Effect: v1.TaintEffectNoExecute, TimeAdded: &created},
			}},
			Status: v1.NodeStatus{
				Capacity: reqs, Allocatable: reqs,
				Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: created}},
				Images:     []v1.ContainerImage{{Names: []string{"big"}}},
				NodeInfo:   v1.NodeSystemInfo{KubeletVersion: "v1"},
			},
		},
		want: &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7", CreationTimestamp: created, Labels: map[string]string{"l": "v"}},
			Spec:       v1.NodeSpec{Unschedulable: true, Taints: []v1.Taint{{Key: "hard", Value: "v", Effect: v1.TaintEffectNoExecute}}},
			Status: v1.NodeStatus{Capacity: reqs, Allocatable: reqs,
				Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
		},
	}, {
		name: "namespace",
		fn:   TransformNamespace,
		in:   &v1.Namespace{ObjectMeta: meta, Spec: v1.NamespaceSpec{Finalizers: []v1.FinalizerName{"kubernetes"}}, Status: v1.NamespaceStatus{Phase: v1.NamespaceActive}},
		want: &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7", CreationTimestamp: created, Labels: map[string]string{"l": "v"}},
			Status: v1.NamespaceStatus{Phase: v1.NamespaceActive}},
	}, {
		name: "resourcequota",
		fn:   TransformResourceQuota,
		in: &v1.ResourceQuota{ObjectMeta: meta, Spec: v1.ResourceQuotaSpec{Hard: reqs, Scopes: []v1.ResourceQuotaScope{"BestEffort"}},
			Status: v1.ResourceQuotaStatus{Hard: reqs, Used: reqs}},
		want: &v1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7"},
			Spec: v1.ResourceQuotaSpec{Hard: reqs}, Status: v1.ResourceQuotaStatus{Hard: reqs, Used: reqs}},
	}, {
		name: "deployment",
		fn:   TransformDeployment,
		in: &appsv1.Deployment{ObjectMeta: meta,
			Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: v1.PodTemplateSpec{Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c"}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, ReadyReplicas: 2, Replicas: 3, Conditions: []appsv1.DeploymentCondition{{Type: "Available"}}}},
		want: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}, Status: appsv1.DeploymentStatus{ObservedGeneration: 3, ReadyReplicas: 2}},
	}, {
		name: "statefulset",
		fn:   TransformStatefulSet,
		in: &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), ServiceName: "svc"},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1, CurrentRevision: "r"}},
		want: &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1}},
	}, {
		name: "daemonset",
		fn:   TransformDaemonSet,
		in: &appsv1.DaemonSet{ObjectMeta: meta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: 4, NumberReady: 3, NumberAvailable: 3}},
		want: &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: 4, NumberReady: 3}},
	}, {
		name: "other types pass through",
		fn:   TransformPod,
		in:   cache.DeletedFinalStateUnknown{Key: "ns/x"},
		want: cache.DeletedFinalStateUnknown{Key: "ns/x"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.fn(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Transforming a transformed object changes nothing.
			again, _ := c.fn(got)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// TestObserveSeesEveryKind checks that an observer given to Register, such
// as the event counter, receives the notifications of every kind that feeds
// the engine, pods included.
func TestObserveSeesEveryKind(t *testing.T) {
	var mu sync.Mutex
	added := map[string]int{}
	start(t, fake.NewClientset(
		node("n1", true),
		&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}},
		pod("ns", "p1", "n1", "1", v1.PodRunning),
		pod("ns", "p2", "", "1", v1.PodPending),
		&v1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "q"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d"}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds"}},
	), func(kind string) cache.ResourceEventHandler {
		return cache.ResourceEventHandlerFuncs{AddFunc: func(any) {
			mu.Lock()
			defer mu.Unlock()
			added[kind]++
		}}
	})
	want := map[string]int{"DaemonSet": 1, "Deployment": 1, "Namespace": 1, "Node": 1, "Pod": 2, "ResourceQuota": 1, "StatefulSet": 1}
	var got map[string]int
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		got = maps.Clone(added)
		return cmp.Equal(want, got), nil
	})
	if err != nil {
		t.Errorf("adds observed per kind (-want +got):\n%s", cmp.Diff(want, got))
	}
}
