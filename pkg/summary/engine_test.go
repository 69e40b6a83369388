package summary

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

var cpuOnly = []v1.ResourceName{v1.ResourceCPU}

func cpuPod(ns, name, req string, opts ...podOpt) *v1.Pod {
	return mkPod(ns, name, append([]podOpt{withContainers(ctr("c", rl("cpu", req), rl("cpu", req, "memory", "1Gi", "ephemeral-storage", "1Gi")))}, opts...)...)
}

func TestPodPhasesAndPlacement(t *testing.T) {
	type want struct {
		clusterPods PodCounts
		clusterCPU  ResourceTotals
		nsPods      PodCounts
		nsCPU       ResourceTotals
		nodePods    PodCounts
		nodeCPU     ResourceTotals
	}
	cases := []struct {
		name string
		pods []*v1.Pod
		want want
	}{{
		name: "running pod on a node counts everywhere",
		pods: []*v1.Pod{cpuPod("ns", "a", "100m", onNode("n1"))},
		want: want{
			clusterPods: PodCounts{Total: 1, Running: 1}, clusterCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 100, Limits: 100},
			nsPods: PodCounts{Total: 1, Running: 1}, nsCPU: ResourceTotals{Name: "cpu", Requests: 100, Limits: 100},
			nodePods: PodCounts{Total: 1, Running: 1}, nodeCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 100, Limits: 100},
		},
	}, {
		name: "unscheduled pod: counted for the namespace (with requests) but for no node and not in cluster requests",
		pods: []*v1.Pod{cpuPod("ns", "a", "100m", inPhase(v1.PodPending)), cpuPod("ns", "b", "200m", onNode("n1"), inPhase(v1.PodPending))},
		want: want{
			clusterPods: PodCounts{Total: 2, Pending: 2, Unscheduled: 1}, clusterCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 200, Limits: 200},
			nsPods: PodCounts{Total: 2, Pending: 2, Unscheduled: 1}, nsCPU: ResourceTotals{Name: "cpu", Requests: 300, Limits: 300},
			nodePods: PodCounts{Total: 1, Pending: 1}, nodeCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 200, Limits: 200},
		},
	}, {
		name: "succeeded and failed pods count by phase and hold nothing",
		pods: []*v1.Pod{
			cpuPod("ns", "a", "100m", onNode("n1"), inPhase(v1.PodSucceeded)),
			cpuPod("ns", "b", "200m", onNode("n1"), inPhase(v1.PodFailed)),
			cpuPod("ns", "c", "400m", onNode("n1")),
		},
		want: want{
			clusterPods: PodCounts{Total: 3, Running: 1, Succeeded: 1, Failed: 1}, clusterCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 400, Limits: 400},
			nsPods: PodCounts{Total: 3, Running: 1, Succeeded: 1, Failed: 1}, nsCPU: ResourceTotals{Name: "cpu", Requests: 400, Limits: 400},
			nodePods: PodCounts{Total: 3, Running: 1, Succeeded: 1, Failed: 1}, nodeCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 400, Limits: 400},
		},
	}, {
		name: "unknown and empty phases are unknown and still hold resources",
		pods: []*v1.Pod{cpuPod("ns", "a", "100m", onNode("n1"), inPhase(v1.PodUnknown)), cpuPod("ns", "b", "10m", onNode("n1"), inPhase(""))},
		want: want{
			clusterPods: PodCounts{Total: 2, Unknown: 2}, clusterCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 110, Limits: 110},
			nsPods: PodCounts{Total: 2, Unknown: 2}, nsCPU: ResourceTotals{Name: "cpu", Requests: 110, Limits: 110},
			nodePods: PodCounts{Total: 2, Unknown: 2}, nodeCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 110, Limits: 110},
		},
	}, {
		name: "restarts sum init and app containers; crash looping counts pods, not containers",
		pods: []*v1.Pod{
			mkPod("ns", "a", onNode("n1"), withInitRestarts(1, 2), withRestarts(3, 4), crashLooping(), crashLooping()),
			mkPod("ns", "b", inPhase(v1.PodPending), withRestarts(5)),
		},
		want: want{
			clusterPods: PodCounts{Total: 2, Running: 1, Pending: 1, Unscheduled: 1, ContainerRestarts: 15, CrashLooping: 1},
			clusterCPU:  ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, PodsWithoutLimit: 1},
			nsPods:      PodCounts{Total: 2, Running: 1, Pending: 1, Unscheduled: 1, ContainerRestarts: 15, CrashLooping: 1},
			nsCPU:       ResourceTotals{Name: "cpu", PodsWithoutLimit: 2},
			nodePods:    PodCounts{Total: 1, Running: 1, ContainerRestarts: 10, CrashLooping: 1},
			nodeCPU:     ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, PodsWithoutLimit: 1},
		},
	}, {
		name: "pods without a cpu limit are counted, not added as zero",
		pods: []*v1.Pod{
			mkPod("ns", "a", onNode("n1"), withContainers(ctr("c", rl("cpu", "100m"), nil))),
			mkPod("ns", "b", onNode("n1"), withContainers(ctr("c", rl("cpu", "100m"), rl("cpu", "300m")))),
		},
		want: want{
			clusterPods: PodCounts{Total: 2, Running: 2}, clusterCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 200, Limits: 300, PodsWithoutLimit: 1},
			nsPods: PodCounts{Total: 2, Running: 2}, nsCPU: ResourceTotals{Name: "cpu", Requests: 200, Limits: 300, PodsWithoutLimit: 1},
			nodePods: PodCounts{Total: 2, Running: 2}, nodeCPU: ResourceTotals{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 200, Limits: 300, PodsWithoutLimit: 1},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := New(Options{})
			e.UpsertNode(mkNode("n1", capacity("cpu", "4", "pods", "110"), allocatable("cpu", "3500m", "pods", "100")))
			e.UpsertNamespace(mkNS("ns"))
			for _, p := range c.pods {
				e.UpsertPod(p)
			}
			cl := e.Cluster(Selection{Resources: cpuOnly})
			ns, _ := e.Namespace("ns")
			node, _ := e.Node("n1")
			got := want{
				clusterPods: cl.Pods, clusterCPU: cl.Resources[0],
				nsPods: ns.Pods, nsCPU: resRow(ns.Resources, "cpu"),
				nodePods: node.Pods, nodeCPU: resRow(node.Resources, "cpu"),
			}
			if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodes(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e := New(Options{})
	n1 := mkNode("n1", nodeLabels("zone", "a"), capacity("cpu", "4", "memory", "16Gi", "pods", "110"), allocatable("cpu", "3500m", "memory", "15Gi", "pods", "100"))
	n1.CreationTimestamp = created
	for _, n := range []*v1.Node{
		n1,
		mkNode("n2", notReady(), cordoned()),
		mkNode("n3", pressure(v1.NodeMemoryPressure), pressure(v1.NodeDiskPressure), pressure(v1.NodePIDPressure)),
		{ObjectMeta: metav1.ObjectMeta{Name: "n4"}}, // no Ready condition at all
		mkNode("n5", func(n *v1.Node) { setCondition(n, v1.NodeReady, v1.ConditionUnknown) }),
	} {
		e.UpsertNode(n)
	}
	e.UpsertPod(mkPod("ns", "p", onNode("n1"), inPhase(v1.PodPending), withContainers(ctr("c", rl("cpu", "1", "memory", "1Gi"), rl("cpu", "2", "memory", "1Gi")))))

	cl := e.Cluster(Selection{})
	wantNodes := NodeCounts{Total: 5, Ready: 2, NotReady: 3, Unschedulable: 1, MemoryPressure: 1, DiskPressure: 1, PIDPressure: 1}
	if diff := cmp.Diff(wantNodes, cl.Nodes); diff != "" {
		t.Errorf("node counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"n2", "n4", "n5"}, cl.NotReadyNodes); diff != "" {
		t.Errorf("not-ready names (-want +got):\n%s", diff)
	}

	got, ok := e.Node("n1")
	if !ok {
		t.Fatal("n1 not found")
	}
	want := NodeTotals{
		Name: "n1", Labels: map[string]string{"zone": "a"}, CreationTimestamp: created, Ready: true,
		Resources: []ResourceTotals{
			{Name: "cpu", Capacity: 4000, Allocatable: 3500, Requests: 1000, Limits: 2000},
			{Name: "ephemeral-storage", PodsWithoutLimit: 1},
			{Name: "memory", Capacity: 16 * gi, Allocatable: 15 * gi, Requests: gi, Limits: gi},
			{Name: "pods", Capacity: 110, Allocatable: 100},
		},
		Pods:        PodCounts{Total: 1, Pending: 1},
		PodCapacity: 100,
		Revision:    got.Revision,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Node(n1) (-want +got):\n%s", diff)
	}
	if got, ok := e.Node("n2"); !ok || got.Ready || !got.Unschedulable {
		t.Errorf("Node(n2) = %+v, %v; want not ready, unschedulable", got, ok)
	}
	if got, _ := e.Node("n3"); !got.MemoryPressure || !got.DiskPressure || !got.PIDPressure || !got.Ready {
		t.Errorf("Node(n3) = %+v; want ready with all pressures", got)
	}
	if _, ok := e.Node("nope"); ok {
		t.Error("Node(nope) found")
	}

	// Recovering and deleting nodes moves the counts back.
	e.UpsertNode(mkNode("n2"))
	e.DeleteNode("n3")
	e.DeleteNode("n3")                                      // a second delete (e.g. a tombstone after a delete) is a no-op
	wantNodes = NodeCounts{Total: 4, Ready: 2, NotReady: 2} // n1, n2 ready; n4, n5 not
	if diff := cmp.Diff(wantNodes, e.Cluster(Selection{}).Nodes); diff != "" {
		t.Errorf("after recovery and delete (-want +got):\n%s", diff)
	}
	names := []string{}
	for _, n := range e.ListNodes(sel("zone")) {
		names = append(names, n.Name)
	}
	if diff := cmp.Diff([]string{"n1"}, names); diff != "" {
		t.Errorf("ListNodes(zone) (-want +got):\n%s", diff)
	}
	if got := len(e.ListNodes(nil)); got != 4 {
		t.Errorf("ListNodes(nil) returned %d nodes, want 4", got)
	}
}

func TestWorkloadReadiness(t *testing.T) {
	cases := []struct {
		name  string
		apply func(e *Engine)
		want  WorkloadCounts
	}{
		{"deployment: ready replicas reach spec, generation observed", func(e *Engine) { e.UpsertDeployment(mkDeployment("ns", "d", 2, 2, ptr.To[int32](3), 3)) },
			WorkloadCounts{Deployments: ReadyCount{1, 1}}},
		{"deployment: more ready than wanted (scale-down in progress) is ready", func(e *Engine) { e.UpsertDeployment(mkDeployment("ns", "d", 2, 2, ptr.To[int32](3), 4)) },
			WorkloadCounts{Deployments: ReadyCount{1, 1}}},
		{"deployment: too few ready replicas", func(e *Engine) { e.UpsertDeployment(mkDeployment("ns", "d", 2, 2, ptr.To[int32](3), 2)) },
			WorkloadCounts{Deployments: ReadyCount{1, 0}}},
		{"deployment: latest generation not observed yet", func(e *Engine) { e.UpsertDeployment(mkDeployment("ns", "d", 3, 2, ptr.To[int32](3), 3)) },
			WorkloadCounts{Deployments: ReadyCount{1, 0}}},
		{"deployment: nil replicas defaults to 1", func(e *Engine) { e.UpsertDeployment(mkDeployment("ns", "d", 1, 1, nil, 0)) },
			WorkloadCounts{Deployments: ReadyCount{1, 0}}},
		{"deployment: scaled to zero is ready", func(e *Engine) { e.UpsertDeployment(mkDeployment("ns", "d", 1, 1, ptr.To[int32](0), 0)) },
			WorkloadCounts{Deployments: ReadyCount{1, 1}}},
		{"statefulset: same rule", func(e *Engine) {
			e.UpsertStatefulSet(mkStatefulSet("ns", "a", 1, 1, ptr.To[int32](2), 2))
			e.UpsertStatefulSet(mkStatefulSet("ns", "b", 2, 1, ptr.To[int32](2), 2))
			e.UpsertStatefulSet(mkStatefulSet("ns", "c", 1, 1, nil, 1))
		}, WorkloadCounts{StatefulSets: ReadyCount{3, 2}}},
		{"daemonset: numberReady >= desiredNumberScheduled", func(e *Engine) {
			e.UpsertDaemonSet(mkDaemonSet("ns", "a", 5, 5))
			e.UpsertDaemonSet(mkDaemonSet("ns", "b", 5, 4))
			e.UpsertDaemonSet(mkDaemonSet("ns", "c", 0, 0))
		}, WorkloadCounts{DaemonSets: ReadyCount{3, 2}}},
		{"update becomes ready, then a delete (and a repeated delete) removes it", func(e *Engine) {
			e.UpsertDeployment(mkDeployment("ns", "d", 1, 1, ptr.To[int32](2), 0))
			e.UpsertDeployment(mkDeployment("ns", "d", 1, 1, ptr.To[int32](2), 2))
			e.UpsertDeployment(mkDeployment("ns", "e", 1, 1, ptr.To[int32](2), 2))
			e.DeleteDeployment("ns", "e")
			e.DeleteDeployment("ns", "e")
			e.DeleteStatefulSet("ns", "d") // another kind with the same name is not affected
		}, WorkloadCounts{Deployments: ReadyCount{1, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := New(Options{})
			e.UpsertNamespace(mkNS("ns"))
			c.apply(e)
			ns, _ := e.Namespace("ns")
			if diff := cmp.Diff(c.want, ns.Workloads); diff != "" {
				t.Errorf("namespace (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.want, e.Cluster(Selection{}).Workloads); diff != "" {
				t.Errorf("cluster (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuotas(t *testing.T) {
	e := New(Options{})
	e.UpsertNamespace(mkNS("ns"))
	q := &v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "compute"},
		Spec:       v1.ResourceQuotaSpec{Hard: rl("requests.cpu", "4", "pods", "10")},
	}
	e.UpsertResourceQuota(q) // no status yet: spec.hard
	e.UpsertResourceQuota(&v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "aaa"},
		Status:     v1.ResourceQuotaStatus{Hard: rl("pods", "1"), Used: rl("pods", "0")},
	})
	ns, _ := e.Namespace("ns")
	want := []QuotaTotals{
		{Name: "aaa", Hard: rl("pods", "1"), Used: rl("pods", "0")},
		{Name: "compute", Hard: rl("requests.cpu", "4", "pods", "10")},
	}
	if diff := cmp.Diff(want, ns.Quotas); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	q = q.DeepCopy()
	q.Status = v1.ResourceQuotaStatus{Hard: rl("requests.cpu", "4", "pods", "12"), Used: rl("requests.cpu", "1500m", "pods", "3")}
	e.UpsertResourceQuota(q)
	rev := e.Revision()
	e.UpsertResourceQuota(q.DeepCopy()) // unchanged: no new revision
	if e.Revision() != rev {
		t.Errorf("unchanged quota bumped the revision")
	}
	e.DeleteResourceQuota("ns", "aaa")
	ns, _ = e.Namespace("ns")
	want = []QuotaTotals{{Name: "compute", Hard: rl("requests.cpu", "4", "pods", "12"), Used: rl("requests.cpu", "1500m", "pods", "3")}}
	if diff := cmp.Diff(want, ns.Quotas); diff != "" {
		t.Errorf("after update and delete (-want +got):\n%s", diff)
	}
	// Read results are copies.
	ns.Quotas[0].Hard["pods"] = rl("pods", "99")["pods"]
	ns, _ = e.Namespace("ns")
	if got := ns.Quotas[0].Hard["pods"]; got.Value() != 12 {
		t.Errorf("mutating a result changed the engine: pods hard = %s", got.String())
	}
}

// selectionFixture builds a small cluster:
//
//	nodes: n1 zone=a pool=x (ready), n2 zone=b pool=x (not ready), n3 no labels, "ghost" unknown
//	namespaces: prod team=x, dev team=y, bare (no labels), "lost" unknown
func selectionFixture() *Engine {
	e := New(Options{})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a", "pool", "x"), capacity("cpu", "4"), allocatable("cpu", "4")))
	e.UpsertNode(mkNode("n2", nodeLabels("zone", "b", "pool", "x"), notReady(), capacity("cpu", "8"), allocatable("cpu", "6")))
	e.UpsertNode(mkNode("n3", capacity("cpu", "2"), allocatable("cpu", "2")))
	e.UpsertNamespace(mkNS("prod", "team", "x"))
	e.UpsertNamespace(mkNS("dev", "team", "y"))
	e.UpsertNamespace(mkNS("bare"))
	for _, p := range []*v1.Pod{
		cpuPod("prod", "p1", "100m", onNode("n1")),
		cpuPod("prod", "p2", "200m", onNode("n2"), crashLooping()),
		cpuPod("prod", "p3", "400m", inPhase(v1.PodPending)), // unscheduled
		cpuPod("dev", "d1", "1", onNode("n1")),
		cpuPod("dev", "d2", "2", onNode("n3")),
		cpuPod("dev", "d3", "4", onNode("ghost")),
		cpuPod("bare", "b1", "10m", onNode("n2")),
		cpuPod("lost", "l1", "20m", onNode("n1"), crashLooping()),
	} {
		e.UpsertPod(p)
	}
	e.UpsertDeployment(mkDeployment("prod", "web", 1, 1, ptr.To[int32](1), 1))
	e.UpsertDeployment(mkDeployment("dev", "api", 1, 1, ptr.To[int32](1), 0))
	e.UpsertDaemonSet(mkDaemonSet("lost", "agent", 1, 1))
	return e
}

func TestSelection(t *testing.T) {
	type row = ResourceTotals
	cases := []struct {
		name string
		sel  Selection
		want ClusterTotals
	}{{
		name: "everything; unknown nodes and namespaces still count their pods",
		sel:  Selection{Resources: cpuOnly},
		want: ClusterTotals{
			Nodes:            NodeCounts{Total: 3, Ready: 2, NotReady: 1},
			Pods:             PodCounts{Total: 8, Running: 7, Pending: 1, Unscheduled: 1, CrashLooping: 2},
			Namespaces:       3,
			Resources:        []row{{Name: "cpu", Capacity: 14000, Allocatable: 12000, Requests: 100 + 200 + 1000 + 2000 + 4000 + 10 + 20, Limits: 7330}},
			Workloads:        WorkloadCounts{Deployments: ReadyCount{2, 1}, DaemonSets: ReadyCount{1, 1}},
			NotReadyNodes:    []string{"n2"},
			CrashLoopingPods: []string{"lost/l1", "prod/p2"},
		},
	}, {
		name: "node selector: pods on selected nodes plus unscheduled ones",
		sel:  Selection{NodeSelector: sel("zone=a"), Resources: cpuOnly},
		want: ClusterTotals{
			Nodes:            NodeCounts{Total: 1, Ready: 1},
			Pods:             PodCounts{Total: 4, Running: 3, Pending: 1, Unscheduled: 1, CrashLooping: 1},
			Namespaces:       3,
			Resources:        []row{{Name: "cpu", Capacity: 4000, Allocatable: 4000, Requests: 1120, Limits: 1120}},
			Workloads:        WorkloadCounts{Deployments: ReadyCount{2, 1}, DaemonSets: ReadyCount{1, 1}},
			CrashLoopingPods: []string{"lost/l1"},
		},
	}, {
		name: "a node selector matching the empty label set takes unknown nodes too",
		sel:  Selection{NodeSelector: sel("!zone"), Resources: cpuOnly},
		want: ClusterTotals{
			Nodes:      NodeCounts{Total: 1, Ready: 1},
			Pods:       PodCounts{Total: 3, Running: 2, Pending: 1, Unscheduled: 1},
			Namespaces: 3,
			Resources:  []row{{Name: "cpu", Capacity: 2000, Allocatable: 2000, Requests: 6000, Limits: 6000}},
			Workloads:  WorkloadCounts{Deployments: ReadyCount{2, 1}, DaemonSets: ReadyCount{1, 1}},
		},
	}, {
		name: "namespace selector: all nodes, pods and workloads of selected namespaces",
		sel:  Selection{NamespaceSelector: sel("team=x"), Resources: cpuOnly},
		want: ClusterTotals{
			Nodes:            NodeCounts{Total: 3, Ready: 2, NotReady: 1},
			Pods:             PodCounts{Total: 3, Running: 2, Pending: 1, Unscheduled: 1, CrashLooping: 1},
			Namespaces:       1,
			Resources:        []row{{Name: "cpu", Capacity: 14000, Allocatable: 12000, Requests: 300, Limits: 300}},
			Workloads:        WorkloadCounts{Deployments: ReadyCount{1, 1}},
			NotReadyNodes:    []string{"n2"},
			CrashLoopingPods: []string{"prod/p2"},
		},
	}, {
		name: "both selectors: cells of selected nodes and namespaces",
		sel:  Selection{NodeSelector: sel("pool=x"), NamespaceSelector: sel("team in (x,y)"), Resources: cpuOnly},
		want: ClusterTotals{
			Nodes:            NodeCounts{Total: 2, Ready: 1, NotReady: 1},
			Pods:             PodCounts{Total: 4, Running: 3, Pending: 1, Unscheduled: 1, CrashLooping: 1},
			Namespaces:       2,
			Resources:        []row{{Name: "cpu", Capacity: 12000, Allocatable: 10000, Requests: 1300, Limits: 1300}},
			Workloads:        WorkloadCounts{Deployments: ReadyCount{2, 1}},
			NotReadyNodes:    []string{"n2"},
			CrashLoopingPods: []string{"prod/p2"},
		},
	}, {
		name: "both selectors matching the empty set: unknown namespace and unknown node",
		sel:  Selection{NodeSelector: sel("!zone"), NamespaceSelector: sel("!team"), Resources: cpuOnly},
		want: ClusterTotals{
			Nodes:      NodeCounts{Total: 1, Ready: 1},
			Pods:       PodCounts{},
			Namespaces: 1,
			Resources:  []row{{Name: "cpu", Capacity: 2000, Allocatable: 2000}},
			Workloads:  WorkloadCounts{DaemonSets: ReadyCount{1, 1}},
		},
	}, {
		name: "grouping by a node label; unscheduled pods belong to no group",
		sel:  Selection{NamespaceSelector: sel("team"), GroupByNodeLabel: "zone", Resources: cpuOnly, MaxNames: -1},
		want: ClusterTotals{
			Nodes:      NodeCounts{Total: 3, Ready: 2, NotReady: 1},
			Pods:       PodCounts{Total: 6, Running: 5, Pending: 1, Unscheduled: 1, CrashLooping: 1},
			Namespaces: 2,
			Resources:  []row{{Name: "cpu", Capacity: 14000, Allocatable: 12000, Requests: 7300, Limits: 7300}},
			Workloads:  WorkloadCounts{Deployments: ReadyCount{2, 1}},
			Groups: []GroupTotals{
				{Value: NoGroupValue, Nodes: NodeCounts{Total: 1, Ready: 1}, Pods: PodCounts{Total: 2, Running: 2},
					Resources: []row{{Name: "cpu", Capacity: 2000, Allocatable: 2000, Requests: 6000, Limits: 6000}}},
				{Value: "a", Nodes: NodeCounts{Total: 1, Ready: 1}, Pods: PodCounts{Total: 2, Running: 2},
					Resources: []row{{Name: "cpu", Capacity: 4000, Allocatable: 4000, Requests: 1100, Limits: 1100}}},
				{Value: "b", Nodes: NodeCounts{Total: 1, NotReady: 1}, Pods: PodCounts{Total: 1, Running: 1, CrashLooping: 1},
					Resources: []row{{Name: "cpu", Capacity: 8000, Allocatable: 6000, Requests: 200, Limits: 200}}},
			},
		},
	}, {
		name: "grouping without selectors",
		sel:  Selection{GroupByNodeLabel: "pool", Resources: cpuOnly, MaxNames: 1},
		want: ClusterTotals{
			Nodes:      NodeCounts{Total: 3, Ready: 2, NotReady: 1},
			Pods:       PodCounts{Total: 8, Running: 7, Pending: 1, Unscheduled: 1, CrashLooping: 2},
			Namespaces: 3,
			Resources:  []row{{Name: "cpu", Capacity: 14000, Allocatable: 12000, Requests: 7330, Limits: 7330}},
			Workloads:  WorkloadCounts{Deployments: ReadyCount{2, 1}, DaemonSets: ReadyCount{1, 1}},
			Groups: []GroupTotals{
				{Value: NoGroupValue, Nodes: NodeCounts{Total: 1, Ready: 1}, Pods: PodCounts{Total: 2, Running: 2},
					Resources: []row{{Name: "cpu", Capacity: 2000, Allocatable: 2000, Requests: 6000, Limits: 6000}}},
				{Value: "x", Nodes: NodeCounts{Total: 2, Ready: 1, NotReady: 1}, Pods: PodCounts{Total: 5, Running: 5, CrashLooping: 2},
					Resources: []row{{Name: "cpu", Capacity: 12000, Allocatable: 10000, Requests: 1330, Limits: 1330}}},
			},
			NotReadyNodes:    []string{"n2"},
			CrashLoopingPods: []string{"lost/l1"},
		},
	}, {
		name: "resources in the requested order, unknown ones as zero rows",
		sel:  Selection{NamespaceSelector: sel("team=y"), Resources: []v1.ResourceName{"nvidia.com/gpu", "cpu"}, MaxNames: -1},
		want: ClusterTotals{
			Nodes:      NodeCounts{Total: 3, Ready: 2, NotReady: 1},
			Pods:       PodCounts{Total: 3, Running: 3},
			Namespaces: 1,
			Resources:  []row{{Name: "nvidia.com/gpu"}, {Name: "cpu", Capacity: 14000, Allocatable: 12000, Requests: 7000, Limits: 7000}},
			Workloads:  WorkloadCounts{Deployments: ReadyCount{1, 0}},
		},
	}}
	e := selectionFixture()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := e.Cluster(c.sel)
			c.want.Revision = e.Revision()
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectionFollowsLabelChangesAndLateObjects(t *testing.T) {
	e := selectionFixture()
	zoneA := Selection{NodeSelector: sel("zone=a"), NamespaceSelector: sel("team=y"), Resources: cpuOnly}
	cpu := func() int64 { return e.Cluster(zoneA).Resources[0].Requests }
	if got := cpu(); got != 1000 {
		t.Fatalf("before: zone=a,team=y requests = %d, want 1000", got)
	}
	// n3 joins zone a: its dev pod (2 cpu) moves in at once.
	e.UpsertNode(mkNode("n3", nodeLabels("zone", "a"), capacity("cpu", "2"), allocatable("cpu", "2")))
	if got := cpu(); got != 3000 {
		t.Errorf("after relabelling n3: %d, want 3000", got)
	}
	// The unknown node appears in zone a: its dev pod (4 cpu) counts now.
	e.UpsertNode(mkNode("ghost", nodeLabels("zone", "a")))
	if got := cpu(); got != 7000 {
		t.Errorf("after ghost appears: %d, want 7000", got)
	}
	// dev leaves team y; prod joins it.
	e.UpsertNamespace(mkNS("dev", "team", "z"))
	e.UpsertNamespace(mkNS("prod", "team", "y"))
	if got := cpu(); got != 100 {
		t.Errorf("after namespace relabel: %d, want 100 (prod/p1 on n1)", got)
	}
	// The unknown namespace appears with team=y: lost/l1 on n1 counts.
	e.UpsertNamespace(mkNS("lost", "team", "y"))
	if got := cpu(); got != 120 {
		t.Errorf("after lost appears: %d, want 120", got)
	}
	if got := e.Cluster(zoneA).Workloads.DaemonSets; got != (ReadyCount{1, 1}) {
		t.Errorf("daemonset of late namespace: %+v, want 1/1", got)
	}
	// A pod moving between nodes (a relist after a missed delete and
	// re-create with the same name) moves its requests.
	e.UpsertPod(cpuPod("prod", "p1", "100m", onNode("n2")))
	if got := cpu(); got != 20 {
		t.Errorf("after p1 moves to n2: %d, want 20", got)
	}
	if n, _ := e.Node("n2"); resRow(n.Resources, "cpu").Requests != 310 {
		t.Errorf("n2 requests = %d, want 310", resRow(n.Resources, "cpu").Requests)
	}
}

func TestDeletesLeaveNoStaleState(t *testing.T) {
	e := selectionFixture()
	// A pod leaving an unknown node releases the node's entry and its cell.
	cells := len(e.cells)
	e.UpsertPod(cpuPod("dev", "d3", "4", onNode("n1")))
	if _, ok := e.nodes.ids["ghost"]; ok {
		t.Error("unknown node entry kept after its only pod moved away")
	}
	if len(e.cells) != cells-1 { // dev had a cell on ghost and already one on n1
		t.Errorf("cells = %d after the move, want %d", len(e.cells), cells-1)
	}
	pods := []struct{ ns, name string }{
		{"prod", "p1"}, {"prod", "p2"}, {"prod", "p3"}, {"dev", "d1"}, {"dev", "d2"}, {"dev", "d3"}, {"bare", "b1"}, {"lost", "l1"},
	}
	for _, p := range pods {
		e.DeletePod(p.ns, p.name)
		e.DeletePod(p.ns, p.name) // tombstone after a delete
	}
	e.DeletePod("never", "existed")
	e.DeleteDeployment("prod", "web")
	e.DeleteDeployment("dev", "api")
	e.DeleteDaemonSet("lost", "agent")
	cl := e.Cluster(Selection{})
	if cl.Pods != (PodCounts{}) || cl.Workloads != (WorkloadCounts{}) {
		t.Errorf("after deleting everything: pods %+v workloads %+v", cl.Pods, cl.Workloads)
	}
	for _, r := range cl.Resources {
		if r.Requests != 0 || r.Limits != 0 || r.PodsWithoutLimit != 0 {
			t.Errorf("stale resource row %+v", r)
		}
	}
	for _, name := range []string{"n1", "n2", "n3"} {
		n, _ := e.Node(name)
		if n.Pods != (PodCounts{}) {
			t.Errorf("node %s still has pods %+v", name, n.Pods)
		}
	}
	// Unknown names with nothing left are forgotten; cells are gone.
	if _, ok := e.nodes.ids["ghost"]; ok {
		t.Error("unknown node entry kept after its last pod left")
	}
	if _, ok := e.nss.ids["lost"]; ok {
		t.Error("unknown namespace entry kept after its last object left")
	}
	if len(e.cells) != 0 || len(e.pods) != 0 || len(e.crashing) != 0 {
		t.Errorf("cells=%d pods=%d crashing=%d, want 0", len(e.cells), len(e.pods), len(e.crashing))
	}
	for _, name := range []string{"n1", "n2", "n3"} {
		e.DeleteNode(name)
	}
	for _, name := range []string{"prod", "dev", "bare"} {
		e.DeleteNamespace(name)
	}
	if e.nodes.count() != 0 || e.nss.count() != 0 || e.Cluster(Selection{}).Nodes != (NodeCounts{}) {
		t.Errorf("entries left: nodes %v namespaces %v", e.nodes.ids, e.nss.ids)
	}
	// Freed ids are reused without mixing up old state.
	e.UpsertPod(cpuPod("x", "p", "1", onNode("m")))
	if cl := e.Cluster(Selection{Resources: cpuOnly}); cl.Resources[0].Requests != 1000 || cl.Pods.Total != 1 {
		t.Errorf("after reuse: %+v", cl)
	}
}

func TestNodeDeletedBeforeItsPods(t *testing.T) {
	e := New(Options{})
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a"), capacity("cpu", "4")))
	e.UpsertPod(cpuPod("ns", "p", "1", onNode("n1")))
	e.DeleteNode("n1")
	if _, ok := e.Node("n1"); ok {
		t.Error("deleted node still listed")
	}
	// The pod still counts in the cluster, as a pod of an unknown node.
	all := e.Cluster(Selection{Resources: cpuOnly})
	if all.Pods.Total != 1 || all.Resources[0].Requests != 1000 || all.Resources[0].Capacity != 0 || all.Nodes.Total != 0 {
		t.Errorf("cluster after node delete: %+v", all)
	}
	if got := e.Cluster(Selection{NodeSelector: sel("zone=a")}).Pods.Total; got != 0 {
		t.Errorf("zone=a pods = %d, want 0: the deleted node has no labels", got)
	}
	e.UpsertNode(mkNode("n1", nodeLabels("zone", "a")))
	if n, ok := e.Node("n1"); !ok || n.Pods.Total != 1 {
		t.Errorf("re-added node: %+v %v", n, ok)
	}
}

func TestChanges(t *testing.T) {
	e := New(Options{ChangeBufferSize: 4, InitialRevision: 100})
	if e.Revision() != 100 {
		t.Fatalf("initial revision %d", e.Revision())
	}
	e.UpsertNode(mkNode("n1"))                        // 101
	e.UpsertNamespace(mkNS("ns"))                     // 102
	e.UpsertPod(cpuPod("ns", "p", "1", onNode("n1"))) // 103: ns + node
	e.UpsertPod(cpuPod("ns", "p", "1", onNode("n1"))) // no change
	e.UpsertPod(cpuPod("ns", "q", "1"))               // 104: namespace only
	e.UpsertPod(cpuPod("other", "r", "1"))            // 105: unknown namespace, no record

	recs, rev, err := e.Changes(102)
	if err != nil || rev != 105 {
		t.Fatalf("Changes(102) = %v, %d, %v", recs, rev, err)
	}
	want := []Change{
		{Revision: 103, Kind: KindNamespace, Type: Modified, Name: "ns"},
		{Revision: 103, Kind: KindNode, Type: Modified, Name: "n1"},
		{Revision: 104, Kind: KindNamespace, Type: Modified, Name: "ns"},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n, _ := e.Node("n1"); n.Revision != 103 {
		t.Errorf("node revision %d, want 103", n.Revision)
	}
	if ns, _ := e.Namespace("ns"); ns.Revision != 104 {
		t.Errorf("namespace revision %d, want 104", ns.Revision)
	}
	// The ring holds 4 records: 102, 103, 103, 104. 101 was evicted, so a
	// watcher at 100 missed it; one at 101 did not.
	if _, _, err := e.Changes(100); !errors.Is(err, ErrRevisionTooOld) {
		t.Errorf("Changes(100) error = %v, want ErrRevisionTooOld", err)
	}
	if recs, _, err := e.Changes(101); err != nil || len(recs) != 4 {
		t.Errorf("Changes(101) = %v, %v; want 4 records", recs, err)
	}
	if _, _, err := e.Changes(106); !errors.Is(err, ErrRevisionTooNew) {
		t.Errorf("Changes(106) error = %v, want ErrRevisionTooNew", err)
	}
	if recs, _, err := e.Changes(105); err != nil || len(recs) != 0 {
		t.Errorf("Changes(105) = %v, %v; want nothing", recs, err)
	}

	// Deleting the node records Deleted; the pod move evicts 102 and one of
	// the two 103 records, so 103 is no longer complete.
	e.DeleteNode("n1") // 106
	recs, _, err = e.Changes(105)
	if diff := cmp.Diff([]Change{{Revision: 106, Kind: KindNode, Type: Deleted, Name: "n1"}}, recs); diff != "" || err != nil {
		t.Errorf("after delete (-want +got):\n%s %v", diff, err)
	}
	e.UpsertNode(mkNode("n1")) // 107 Added
	if _, _, err := e.Changes(102); !errors.Is(err, ErrRevisionTooOld) {
		t.Errorf("Changes(102) error = %v, want ErrRevisionTooOld", err)
	}
	if recs, _, _ := e.Changes(106); len(recs) != 1 || recs[0].Type != Added {
		t.Errorf("re-added node: %v", recs)
	}
}

func TestWaitWakesEveryWatcher(t *testing.T) {
	e := New(Options{})
	e.UpsertNamespace(mkNS("first"))
	if ch := e.Wait(e.Revision() - 1); !isClosed(ch) {
		t.Fatal("Wait for a past revision is not closed")
	}
	rev := e.Revision()
	var wg sync.WaitGroup
	woke := make(chan uint64, 3)
	for range 3 {
		ch := e.Wait(rev)
		if isClosed(ch) {
			t.Fatal("Wait closed before any change")
		}
		wg.Go(func() {
			<-ch
			_, newRev, err := e.Changes(rev)
			if err != nil {
				t.Error(err)
			}
			woke <- newRev
		})
	}
	e.UpsertNamespace(mkNS("ns"))
	wg.Wait()
	close(woke)
	for r := range woke {
		if r != rev+1 {
			t.Errorf("watcher saw revision %d, want %d", r, rev+1)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestConcurrentReadsAndWrites is meant for -race: informer goroutines write
// while handlers read.
func TestConcurrentReadsAndWrites(t *testing.T) {
	e := selectionFixture()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 300 {
				ph := v1.PodRunning
				if i%2 == 0 {
					ph = v1.PodPending
				}
				e.UpsertPod(cpuPod("prod", "c", "100m", onNode([]string{"n1", "n2"}[w]), inPhase(ph)))
				e.UpsertNode(mkNode("n3", nodeLabels("i", string(rune('a'+i%26)))))
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 300 {
				_ = e.Cluster(Selection{NodeSelector: sel("zone"), NamespaceSelector: sel("team"), GroupByNodeLabel: "zone"})
				_, _ = e.Node("n1")
				_, _ = e.Namespace("prod")
				_, _, _ = e.Changes(e.Revision())
				_ = e.ListNodes(labels.Everything())
			}
		})
	}
	wg.Wait()
}

// TestPodKeys checks the engine's record of known pods, which the pod feed
// uses in place of an informer's store: every counted pod, bound or not, is
// listed under its namespace/name key until it is deleted.
func TestPodKeys(t *testing.T) {
	e := New(Options{})
	e.UpsertPod(cpuPod("a", "p1", "100m", onNode("n1")))
	e.UpsertPod(cpuPod("a", "p2", "100m"))
	e.UpsertPod(cpuPod("b", "p1", "100m", onNode("n1"), inPhase(v1.PodSucceeded)))
	got := e.PodKeys()
	slices.Sort(got)
	if want := []string{"a/p1", "a/p2", "b/p1"}; !slices.Equal(got, want) {
		t.Errorf("PodKeys() = %v, want %v", got, want)
	}
	if !e.HasPod("a", "p2") || e.HasPod("a", "p3") || e.HasPod("c", "p1") {
		t.Errorf("HasPod: a/p2 %v, a/p3 %v, c/p1 %v; want true, false, false", e.HasPod("a", "p2"), e.HasPod("a", "p3"), e.HasPod("c", "p1"))
	}
	e.DeletePod("a", "p1")
	e.DeletePod("b", "p1")
	if got := e.PodKeys(); !slices.Equal(got, []string{"a/p2"}) {
		t.Errorf("after deletes PodKeys() = %v, want [a/p2]", got)
	}
	if e.HasPod("b", "p1") {
		t.Error("HasPod(b, p1) after its delete")
	}
}
