package clusterfill_test

// This test runs against the real control plane of internal/localcluster. It
// never skips: when the binaries are missing or stale it builds them with
// hack/build-tools.sh, and when a cold build (about 15 minutes on 2 cores)
// cannot fit into the test's -timeout it fails at once and says so. Run
// "hack/build-tools.sh all" once, or "go test -timeout 30m".

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/internal/localcluster"
)

// coldBuildBudget is what the test needs left before it attempts a cold
// build of the control-plane binaries.
const coldBuildBudget = 20 * time.Minute

func startLocalCluster(t *testing.T) (kubernetes.Interface, context.Context) {
	t.Helper()
	logger, ctx := ktesting.NewTestContext(t)
	fresh, err := localcluster.BinariesFresh(ctx)
	if err != nil {
		t.Fatalf("checking control-plane binaries: %v", err)
	}
	if !fresh {
		if deadline, ok := t.Deadline(); ok && time.Until(deadline) < coldBuildBudget {
			t.Fatalf("control-plane binaries are missing or stale and building them takes up to ~15 min on 2 cores, "+
				"but only %v of the test timeout is left: run hack/build-tools.sh all first, or pass -timeout 30m",
				time.Until(deadline).Round(time.Second))
		}
		t.Log("Building control-plane binaries with hack/build-tools.sh; a cold build takes ~15 min")
	}
	bins, err := localcluster.EnsureBinaries(ctx, logger)
	if err != nil {
		t.Fatalf("building control-plane binaries: %v", err)
	}
	c, err := localcluster.Start(ctx, localcluster.Options{Dir: t.TempDir(), BinDir: bins})
	if err != nil {
		t.Fatalf("starting local control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping local control plane: %v", err)
		}
	})
	client, err := kubernetes.NewForConfig(clusterfill.TuneConfig(c.AdminConfig()))
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	return client, ctx
}

func TestLocalCluster(t *testing.T) {
	client, ctx := startLocalCluster(t)
	want := clusterfill.DescribeDemo()

	t.Run("Demo", func(t *testing.T) {
		r, err := clusterfill.Demo(ctx, client)
		if err != nil {
			t.Fatalf("Demo: %v", err)
		}
		t.Logf("first run:\n%s", r)
		for kind, o := range map[string]clusterfill.Outcome{"nodes": r.Nodes, "pods": r.Pods, "namespaces": r.Namespaces} {
			if o.Created != o.Total() || o.Total() == 0 {
				t.Errorf("first run %s = %v, want all created", kind, o)
			}
		}
		checkDemo(ctx, t, client, want, true)

		r, err = clusterfill.Demo(ctx, client)
		if err != nil {
			t.Fatalf("second Demo: %v", err)
		}
		assertNoWrites(t, r)
	})

	t.Run("Demo repairs drift", func(t *testing.T) {
		// Delete a pod, flip a node and a pod through Churn, and add a stale
		// demo pod: Demo must converge again.
		if err := client.CoreV1().Pods("team-a").Delete(ctx, "web-7f9c6d5b8-2kq4x", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatalf("deleting pod: %v", err)
		}
		stale := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "stale", Namespace: "monitoring", Labels: map[string]string{clusterfill.DemoLabel: "true"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/demo/stale:1"}}},
		}
		if _, err := client.CoreV1().Pods("monitoring").Create(ctx, stale, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating stale pod: %v", err)
		}
		cr, err := clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{
			Rate: 100, Duration: 2 * time.Second, MaxChanges: 20, Seed: 1, LabelSelector: clusterfill.DemoLabel + "=true",
		})
		if err != nil {
			t.Fatalf("Churn: %v", err)
		}
		r, err := clusterfill.Demo(ctx, client)
		if err != nil {
			t.Fatalf("Demo: %v", err)
		}
		t.Logf("repair run after %d churn changes:\n%s", len(cr.Changes), r)
		if r.Pods.Created != 1 || r.Pods.Updated == 0 || r.Pods.Deleted != 1 {
			t.Errorf("pods = %v, want the deleted pod created again, churned ones updated, 1 stale deleted", r.Pods)
		}
		checkDemo(ctx, t, client, want, true)
		r, err = clusterfill.Demo(ctx, client)
		if err != nil {
			t.Fatalf("Demo: %v", err)
		}
		assertNoWrites(t, r)
	})

	t.Run("Synthetic and Churn", func(t *testing.T) {
		var progress strings.Builder
		opts := clusterfill.SyntheticOptions{
			Nodes: 40, Pods: 800, Namespaces: 5, Concurrency: 8, Seed: 7,
			Progress: &progress, ProgressInterval: 200 * time.Millisecond,
		}
		r, err := clusterfill.Synthetic(ctx, client, opts)
		if err != nil {
			t.Fatalf("Synthetic: %v", err)
		}
		t.Logf("%s\nprogress:\n%s", r, progress.String())
		if r.Nodes != 40 || r.Pods != 800 || r.Namespaces != 5 || r.Existing != 0 {
			t.Errorf("report = %+v", r)
		}
		if !strings.Contains(progress.String(), "840/845 objects") && !strings.Contains(progress.String(), "845/845 objects") {
			t.Errorf("progress output lacks a final count:\n%s", progress.String())
		}
		sel := metav1.ListOptions{LabelSelector: clusterfill.SyntheticLabel + "=true"}
		pods, err := client.CoreV1().Pods("").List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		byPhase := map[corev1.PodPhase]int{}
		unscheduled, podLevel, overhead := 0, 0, 0
		for _, p := range pods.Items {
			byPhase[p.Status.Phase]++
			if p.Spec.Resources != nil && len(p.Spec.Resources.Requests) > 0 {
				podLevel++
			}
			// Admission copies the RuntimeClass's overhead into its pods:
			// the shape the bench's recount must add.
			if p.Spec.RuntimeClassName != nil && *p.Spec.RuntimeClassName == clusterfill.SyntheticRuntimeClass {
				if !equality.Semantic.DeepEqual(p.Spec.Overhead, clusterfill.SyntheticOverhead) {
					t.Errorf("pod %s in %s has overhead %v, want %v", p.Name, clusterfill.SyntheticRuntimeClass, p.Spec.Overhead, clusterfill.SyntheticOverhead)
				}
				overhead++
			}
			if p.Spec.NodeName == "" {
				unscheduled++
				if p.Status.Phase != corev1.PodPending {
					t.Errorf("unscheduled pod %s is %s", p.Name, p.Status.Phase)
				}
			}
		}
		if podLevel == 0 || overhead == 0 {
			t.Errorf("%d pods with pod-level resources and %d with an overhead class; want some of each", podLevel, overhead)
		}
		if !equality.Semantic.DeepEqual(byPhase, r.PodsByPhase) || unscheduled != r.UnscheduledPods || len(pods.Items) != 800 {
			t.Errorf("stored pods by phase %v (%d unscheduled), report %v (%d)", byPhase, unscheduled, r.PodsByPhase, r.UnscheduledPods)
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		notReady := 0
		for _, n := range nodes.Items {
			if !nodeReady(&n) {
				notReady++
			}
			for _, taint := range n.Spec.Taints {
				if taint.Key == corev1.TaintNodeNotReady && nodeReady(&n) {
					t.Errorf("ready node %s still has the not-ready taint", n.Name)
				}
			}
		}
		if notReady != r.NotReadyNodes || len(nodes.Items) != 40 {
			t.Errorf("%d nodes, %d not ready; report says %d not ready", len(nodes.Items), notReady, r.NotReadyNodes)
		}

		cr, err := clusterfill.Churn(ctx, client, clusterfill.ChurnOptions{
			Rate: 50, Duration: time.Second, Seed: 3, LabelSelector: clusterfill.SyntheticLabel + "=true",
		})
		if err != nil {
			t.Fatalf("Churn: %v", err)
		}
		if n := len(cr.Changes); n < 10 || n > 50 {
			t.Errorf("Churn made %d changes at 50/s for 1s (late: %d)", n, cr.Late)
		}
		checkChurn(ctx, t, client, cr, true)
	})
}
