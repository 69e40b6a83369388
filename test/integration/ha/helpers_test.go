package ha

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	typed "github.com/clusterview/clusterview/pkg/generated/clientset/versioned/typed/clusterview/v1beta1"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// testLabel is set on every node the tests create, with one value per test,
// and selected by that test's ClusterSummary, so that each summary counts
// exactly its own test's nodes.
const testLabel = "clusterview-ha-test"

// direct is clusterview's clientset talking to replica r itself, not
// through kube-apiserver.
func direct(t *testing.T, r *framework.Replica) typed.ClusterviewV1beta1Interface {
	t.Helper()
	c, err := clientset.NewForConfig(r.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c.ClusterviewV1beta1()
}

// healAfter restores the deployment (every replica and etcd member running,
// the APIService Available) when the test ends, so that a failure does not
// cascade into the next tests.
func healAfter(t *testing.T) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := env.Heal(ctx); err != nil {
			t.Errorf("restoring the deployment after the test: %v", err)
		}
	})
}

// figure logs a measured value in a form that is easy to collect.
func figure(t *testing.T, name string, v any) {
	t.Helper()
	if d, ok := v.(time.Duration); ok {
		v = d.Round(time.Millisecond)
	}
	t.Logf("FIGURE %s: %v", name, v)
}

// selectingSummary returns a ClusterSummary counting the nodes labelled
// testLabel=value.
func selectingSummary(name, value string) *v1beta1.ClusterSummary {
	return &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.ClusterSummarySpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{testLabel: value}},
		},
	}
}

// createNode creates a Ready node labelled testLabel=value and writes its
// status as a kubelet would. It retries for a while, because some tests
// create nodes right after kube-apiserver restarted.
func createNode(ctx context.Context, t *testing.T, name, value string) {
	t.Helper()
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := env.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			node, err = env.Kube.CoreV1().Nodes().Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{testLabel: value}},
			}, metav1.CreateOptions{})
		}
		if err != nil {
			last = err
			return false, nil
		}
		node.Status = corev1.NodeStatus{
			Capacity: alloc, Allocatable: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "Test",
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		}
		if _, last = env.Kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); last != nil {
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("creating node %s: %v (last error: %v)", name, err, last)
	}
}

// waitNodeCount polls the ClusterSummary name through client until its
// status counts want ready nodes for its current generation, and returns
// when it first saw that.
func waitNodeCount(ctx context.Context, t *testing.T, client typed.ClusterviewV1beta1Interface, name string, want int64, timeout time.Duration) time.Time {
	t.Helper()
	var got *v1beta1.ClusterSummary
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		got, last = client.ClusterSummaries().Get(ctx, name, metav1.GetOptions{})
		if last != nil {
			return false, nil
		}
		n := got.Status.Nodes
		return n != nil && n.Total == want && n.Ready == want && got.Status.ObservedGeneration == got.Generation, nil
	})
	if err != nil {
		t.Fatalf("ClusterSummary %s never counted %d ready nodes within %v: last status %s (last error: %v)", name, want, timeout, describeStatus(got), last)
	}
	return time.Now()
}

func describeStatus(cs *v1beta1.ClusterSummary) string {
	if cs == nil {
		return "(none)"
	}
	if cs.Status.Nodes == nil {
		return fmt.Sprintf("no node counts (generation %d, observed %d)", cs.Generation, cs.Status.ObservedGeneration)
	}
	return fmt.Sprintf("%d nodes, %d ready (generation %d, observed %d)", cs.Status.Nodes.Total, cs.Status.Nodes.Ready, cs.Generation, cs.Status.ObservedGeneration)
}

// statusWrites is the number of ClusterSummary status writes replica r's
// current process has attempted, whatever their result, from its /metrics.
func statusWrites(ctx context.Context, t *testing.T, r *framework.Replica) float64 {
	t.Helper()
	return metricSum(ctx, t, r, "clusterview_status_writes_total", func(string) bool { return true })
}

// metricSum scrapes replica r's /metrics and sums the samples of metric
// whose labels (as framework.Replica.Metrics keys them) match accepts.
func metricSum(ctx context.Context, t *testing.T, r *framework.Replica, metric string, match func(labels string) bool) float64 {
	t.Helper()
	samples, err := r.Metrics(ctx, metric)
	if err != nil {
		t.Fatalf("scraping replica %s: %v", r.Name, err)
	}
	var sum float64
	for labels, v := range samples {
		if match(labels) {
			sum += v
		}
	}
	return sum
}

// watchSummaries lists ClusterSummaries through c and opens a watch from
// the list's resourceVersion, stopped when the test ends.
func watchSummaries(ctx context.Context, t *testing.T, c typed.ClusterviewV1beta1Interface) watch.Interface {
	t.Helper()
	list, err := c.ClusterSummaries().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.ClusterSummaries().Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// restart starts replica r's stopped process again and waits until it is
// ready, reporting the time that took as the figure named what. It returns
// when it started the process.
func restart(ctx context.Context, t *testing.T, r *framework.Replica, what string) time.Time {
	t.Helper()
	started := time.Now()
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	figure(t, what, time.Since(started))
	return started
}

// leader returns the leading replica, its identity and the other replica.
func leader(ctx context.Context, t *testing.T) (lead *framework.Replica, identity string, other *framework.Replica) {
	t.Helper()
	lead, identity, err := env.Leader(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return lead, identity, env.Other(lead)
}

// holder reads the Lease's holderIdentity ("" when released or unset).
func holder(ctx context.Context) (string, error) {
	lease, err := env.Lease(ctx)
	if err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// deleteSummaries removes the ClusterSummaries a test created.
func deleteSummaries(t *testing.T, names ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, name := range names {
			if err := direct(t, env.B).ClusterSummaries().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Logf("deleting ClusterSummary %s: %v", name, err)
			}
		}
	})
}
