package aggregated

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

// The objects of this test carry this label, so the summaries it checks
// select them and nothing else in the shared cluster.
const selectLabel = "clusterview-test/summaries"

// expected is what a ClusterSummary must say, recounted from the API by
// listing every node and pod: the slow, obviously correct way.
type expected struct {
	nodes, ready, notReady, unschedulable                  int64
	pods, running, pending, succeeded, failed, unscheduled int64
	restarts                                               int64
	cpuRequestsMilli, cpuAllocatableMilli                  int64
}

func recount(ctx context.Context, t *testing.T, kube kubernetes.Interface) expected {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: selectLabel}
	nodes, err := kube.CoreV1().Nodes().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	namespaces, err := kube.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	selectedNodes := map[string]bool{}
	for _, n := range nodes.Items {
		selectedNodes[n.Name] = true
		e.nodes++
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if ready {
			e.ready++
		} else {
			e.notReady++
		}
		if n.Spec.Unschedulable {
			e.unschedulable++
		}
		e.cpuAllocatableMilli += n.Status.Allocatable.Cpu().MilliValue()
	}
	for _, ns := range namespaces.Items {
		pods, err := kube.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" && !selectedNodes[p.Spec.NodeName] {
				continue
			}
			e.pods++
			switch p.Status.Phase {
			case corev1.PodRunning:
				e.running++
			case corev1.PodPending:
				e.pending++
			case corev1.PodSucceeded:
				e.succeeded++
			case corev1.PodFailed:
				e.failed++
			}
			if p.Spec.NodeName == "" {
				e.unscheduled++
			}
			for _, cs := range p.Status.ContainerStatuses {
				e.restarts += int64(cs.RestartCount)
			}
			finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			if p.Spec.NodeName != "" && !finished {
				for _, c := range p.Spec.Containers {
					e.cpuRequestsMilli += c.Resources.Requests.Cpu().MilliValue()
				}
			}
		}
	}
	return e
}

func observed(st *v1beta1.ClusterSummaryStatus) expected {
	var e expected
	if st.Nodes == nil || st.Pods == nil {
		return e
	}
	e.nodes, e.ready, e.notReady, e.unschedulable = st.Nodes.Total, st.Nodes.Ready, st.Nodes.NotReady, st.Nodes.Unschedulable
	p := st.Pods
	e.pods, e.running, e.pending, e.succeeded, e.failed, e.unscheduled, e.restarts = p.Total, p.Running, p.Pending, p.Succeeded, p.Failed, p.Unscheduled, p.ContainerRestarts
	for _, r := range st.Resources {
		if r.Name == corev1.ResourceCPU {
			e.cpuRequestsMilli = r.Requests.MilliValue()
			if r.Allocatable != nil {
				e.cpuAllocatableMilli = r.Allocatable.MilliValue()
			}
		}
	}
	return e
}

// converge polls until the summary's status equals a fresh recount.
func converge(ctx context.Context, t *testing.T, kube kubernetes.Interface, name, what string) *v1beta1.ClusterSummary {
	t.Helper()
	var got *v1beta1.ClusterSummary
	var want, have expected
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		want = recount(ctx, t, kube)
		var err error
		got, err = env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		have = observed(&got.Status)
		return have == want && got.Status.ObservedGeneration == got.Generation, nil
	})
	if err != nil {
		t.Fatalf("%s: status of %s never matched the recount:\n got %+v\nwant %+v", what, name, have, want)
	}
	return got
}

func TestSummariesConvergeToTheCluster(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	labelsOn := map[string]string{selectLabel: "yes"}

	// The summary exists before the objects: it must follow them as they come.
	cs := &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "test-summaries"},
		Spec: v1beta1.ClusterSummarySpec{
			NodeSelector:      &metav1.LabelSelector{MatchLabels: labelsOn},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: labelsOn},
			GroupByNodeLabel:  "topology.kubernetes.io/zone",
		},
	}
	if _, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Create(ctx, cs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, ns := range []string{"sum-a", "sum-b"} {
		mustCreate(t, func() error {
			_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labelsOn}}, metav1.CreateOptions{})
			return err
		})
	}
	// A namespace that is not selected: its pods must never count.
	mustCreate(t, func() error {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sum-other"}}, metav1.CreateOptions{})
		return err
	})
	createNode(ctx, t, kube, "sum-n1", "z1", corev1.ConditionTrue, false)
	createNode(ctx, t, kube, "sum-n2", "z2", corev1.ConditionTrue, true)
	createNode(ctx, t, kube, "sum-n3", "z2", corev1.ConditionFalse, false)

	createPod(ctx, t, kube, "sum-a", "web-1", "sum-n1", corev1.PodRunning, "500m", 2)
	createPod(ctx, t, kube, "sum-a", "web-2", "sum-n2", corev1.PodRunning, "250m", 0)
	createPod(ctx, t, kube, "sum-a", "queued", "", corev1.PodPending, "4", 0)
	createPod(ctx, t, kube, "sum-b", "job-1", "sum-n1", corev1.PodSucceeded, "1", 0)
	createPod(ctx, t, kube, "sum-b", "db-0", "sum-n3", corev1.PodRunning, "1500m", 5)
	createPod(ctx, t, kube, "sum-other", "ignored", "sum-n1", corev1.PodRunning, "3", 9)

	got := converge(ctx, t, kube, cs.Name, "initial objects")
	if got.Status.Pods.Total != 5 || got.Status.Nodes.Total != 3 {
		t.Errorf("selection counted %d pods on %d nodes, want 5 on 3", got.Status.Pods.Total, got.Status.Nodes.Total)
	}
	var groups []string
	for _, g := range got.Status.Groups {
		groups = append(groups, fmt.Sprintf("%s:%d/%d", g.Name, g.Nodes.Ready, g.Nodes.Total))
	}
	if !slices.Equal(groups, []string{"z1:1/1", "z2:1/2"}) {
		t.Errorf("groups = %v, want [z1:1/1 z2:1/2]", groups)
	}
	if c := apimeta.FindStatusCondition(got.Status.Conditions, v1beta1.ConditionDegraded); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "sum-n3") {
		t.Errorf("Degraded = %+v, want True naming sum-n3", c)
	}

	t.Run("pod status change", func(t *testing.T) {
		setPodPhase(ctx, t, kube, "sum-a", "web-1", corev1.PodFailed)
		converge(ctx, t, kube, cs.Name, "web-1 failed")
	})
	t.Run("node label change", func(t *testing.T) {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, selectLabel)
		if _, err := kube.CoreV1().Nodes().Patch(ctx, "sum-n2", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		got := converge(ctx, t, kube, cs.Name, "sum-n2 unselected")
		if got.Status.Nodes.Total != 2 {
			t.Errorf("nodes after unselecting sum-n2 = %d, want 2", got.Status.Nodes.Total)
		}
	})
	t.Run("deletion", func(t *testing.T) {
		if err := kube.CoreV1().Pods("sum-b").Delete(ctx, "db-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		if err := kube.CoreV1().Nodes().Delete(ctx, "sum-n3", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got := converge(ctx, t, kube, cs.Name, "db-0 and sum-n3 deleted")
		if c := apimeta.FindStatusCondition(got.Status.Conditions, v1beta1.ConditionDegraded); c == nil || c.Status != metav1.ConditionFalse {
			t.Errorf("Degraded after the not-ready node left = %+v, want False", c)
		}
	})

	t.Run("node summaries", func(t *testing.T) {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			ns, err := env.Client.ClusterviewV1beta1().NodeSummaries().Get(ctx, "sum-n1", metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			// On sum-n1: web-1 (now Failed), job-1 (Succeeded) and the
			// unselected namespace's pod (3 CPU): node summaries cover every pod.
			return ns.Ready && ns.Pods.Total == 3 && ns.Pods.Running == 1 && cpuRequests(ns.Resources) == 3000, nil
		})
		if err != nil {
			ns, _ := env.Client.ClusterviewV1beta1().NodeSummaries().Get(ctx, "sum-n1", metav1.GetOptions{})
			t.Fatalf("NodeSummary sum-n1 never showed 3 pods, 1 running, 3 CPU requested: %+v", ns)
		}
		list, err := env.Client.ClusterviewV1beta1().NodeSummaries().List(ctx, metav1.ListOptions{LabelSelector: "topology.kubernetes.io/zone=z2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].Name != "sum-n2" {
			t.Errorf("zone=z2 node summaries = %d items, want only sum-n2", len(list.Items))
		}
		if _, err := env.Client.ClusterviewV1beta1().NodeSummaries().Get(ctx, "sum-n3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("summary of the deleted node: %v, want 404", err)
		}
	})

	t.Run("namespace summaries and quotas", func(t *testing.T) {
		quota := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "sum-a"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}},
		}
		mustCreate(t, func() error {
			_, err := kube.CoreV1().ResourceQuotas("sum-a").Create(ctx, quota, metav1.CreateOptions{})
			return err
		})
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			ns, err := env.Client.ClusterviewV1beta1().NamespaceSummaries("sum-a").Get(ctx, "sum-a", metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			// web-1 Failed, web-2 Running, queued Pending: namespace
			// requests include the unscheduled pod (4 CPU) and web-2 (250m).
			return ns.Pods.Total == 3 && ns.Pods.Unscheduled == 1 && cpuRequests(ns.Resources) == 4250 &&
				len(ns.Quotas) == 1 && ns.Quotas[0].Name == "compute", nil
		})
		if err != nil {
			ns, _ := env.Client.ClusterviewV1beta1().NamespaceSummaries("sum-a").Get(ctx, "sum-a", metav1.GetOptions{})
			t.Fatalf("NamespaceSummary sum-a never converged: %+v", ns)
		}
	})

	t.Run("a tenant reads only its namespace", func(t *testing.T) {
		// The shipped aggregated role, applied with the real kubectl.
		if out, err := env.Cluster.Kubectl(ctx, "apply", "-f", "../../../artifacts/rbac-viewers.yaml").CombinedOutput(); err != nil {
			t.Fatalf("applying artifacts/rbac-viewers.yaml: %v\n%s", err, out)
		}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "tenant-a-summaries", Namespace: "sum-a"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "clusterview:namespacesummaries:view"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "tenant-a"}},
		}
		mustCreate(t, func() error {
			_, err := kube.RbacV1().RoleBindings("sum-a").Create(ctx, binding, metav1.CreateOptions{})
			return err
		})
		cfg, err := env.Cluster.UserConfig("tenant-a")
		if err != nil {
			t.Fatal(err)
		}
		tenant := clientset.NewForConfigOrDie(cfg)
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := tenant.ClusterviewV1beta1().NamespaceSummaries("sum-a").Get(ctx, "sum-a", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("tenant-a cannot read its own NamespaceSummary: %v", err)
		}
		if list, err := tenant.ClusterviewV1beta1().NamespaceSummaries("sum-a").List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 1 {
			t.Errorf("tenant-a list in sum-a: %v, %d items, want 1", err, len(list.Items))
		}
		if _, err := tenant.ClusterviewV1beta1().NamespaceSummaries("sum-b").Get(ctx, "sum-b", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("tenant-a reading sum-b: %v, want 403", err)
		}
		if _, err := tenant.ClusterviewV1beta1().NamespaceSummaries("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("tenant-a listing all namespaces: %v, want 403", err)
		}
		if _, err := tenant.ClusterviewV1beta1().NodeSummaries().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("tenant-a listing node summaries: %v, want 403", err)
		}
	})

	t.Run("kubectl prints the metrics resources", func(t *testing.T) {
		out := mustKubectl(t, "", "get", "nodesummaries", "-l", selectLabel)
		for _, col := range []string{"READY", "CPU REQ", "CPU ALLOC", "CPU%", "MEM REQ", "MEM%", "PODS", "sum-n1"} {
			if !strings.Contains(out, col) {
				t.Errorf("kubectl get nodesummaries lacks %q:\n%s", col, out)
			}
		}
		out = mustKubectl(t, "", "get", "namespacesummaries", "-n", "sum-a")
		for _, col := range []string{"PODS", "RESTARTS", "CPU REQ", "MEM REQ", "CPU LIM", "MEM LIM", "sum-a"} {
			if !strings.Contains(out, col) {
				t.Errorf("kubectl get namespacesummaries lacks %q:\n%s", col, out)
			}
		}
	})
}

func TestMetricsResourcesAreReadOnlyInDiscovery(t *testing.T) {
	list, err := env.Client.Discovery().ServerResourcesForGroupVersion("clusterview.io/v1beta1")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range list.APIResources {
		if r.Name != "nodesummaries" && r.Name != "namespacesummaries" {
			continue
		}
		found++
		verbs := slices.Sorted(slices.Values(r.Verbs))
		if !slices.Equal(verbs, []string{"get", "list", "watch"}) {
			t.Errorf("%s verbs = %v, want only get, list, watch (the namespace controller must never try to delete them)", r.Name, verbs)
		}
		if wantNamespaced := r.Name == "namespacesummaries"; r.Namespaced != wantNamespaced {
			t.Errorf("%s namespaced = %v", r.Name, r.Namespaced)
		}
	}
	if found != 2 {
		t.Errorf("discovery lists %d of nodesummaries and namespacesummaries, want both", found)
	}
}

func TestKubectlWatchesNodeSummaries(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	createNode(ctx, t, kube, "watch-n1", "z9", corev1.ConditionTrue, false)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(wctx, env.Cluster.KubectlPath(), "--kubeconfig", env.Cluster.AdminKubeconfig(),
		"get", "nodesummary", "watch-n1", "--watch", "-o", "custom-columns=NAME:.metadata.name,READY:.ready", "--no-headers")
	lines := startLines(t, cmd)
	waitLine(t, lines, "true")
	setNodeReady(ctx, t, kube, "watch-n1", corev1.ConditionFalse)
	waitLine(t, lines, "false")
}

func cpuRequests(usages []v1beta1.ResourceUsage) int64 {
	for _, u := range usages {
		if u.Name == corev1.ResourceCPU {
			return u.Requests.MilliValue()
		}
	}
	return -1
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// createNode creates a node and writes its status, as a kubelet would.
func createNode(ctx context.Context, t *testing.T, kube kubernetes.Interface, name, zone string, ready corev1.ConditionStatus, cordoned bool) {
	t.Helper()
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	createNodeObject(ctx, t, kube, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{selectLabel: "yes", "topology.kubernetes.io/zone": zone}},
		Spec:       corev1.NodeSpec{Unschedulable: cordoned},
	}, alloc, ready)
}

// createNodeObject creates n and writes its status with alloc as capacity
// and allocatable and the given Ready condition, as a kubelet would.
func createNodeObject(ctx context.Context, t *testing.T, kube kubernetes.Interface, n *corev1.Node, alloc corev1.ResourceList, ready corev1.ConditionStatus) {
	t.Helper()
	created, err := kube.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = corev1.NodeStatus{
		Capacity: alloc, Allocatable: alloc,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "Test", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setNodeReady(ctx context.Context, t *testing.T, kube kubernetes.Interface, name string, ready corev1.ConditionStatus) {
	t.Helper()
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = ready
		}
	}
	if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createPod creates a pod bound to node (or unscheduled) and writes its status.
func createPod(ctx context.Context, t *testing.T, kube kubernetes.Interface, ns, name, node string, phase corev1.PodPhase, cpu string, restarts int32) {
	t.Helper()
	createPodWithRequests(ctx, t, kube, ns, name, node, phase, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}, restarts)
}

// createPodWithRequests creates a pod of one container with these requests,
// bound to node (or unscheduled), and writes its status.
func createPodWithRequests(ctx context.Context, t *testing.T, kube kubernetes.Interface, ns, name, node string, phase corev1.PodPhase, requests corev1.ResourceList, restarts int32) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "app", Image: "registry.invalid/app",
			Resources: corev1.ResourceRequirements{Requests: requests},
		}}},
	}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.invalid/app", RestartCount: restarts}}}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setPodPhase(ctx context.Context, t *testing.T, kube kubernetes.Interface, ns, name string, phase corev1.PodPhase) {
	t.Helper()
	p, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = phase
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
