// Package clusterfill tests internal/clusterfill against a real
// kube-apiserver: the demo, its repair, and the synthetic fill with churn,
// judged by the same checks the fake-clientset unit tests use.
package clusterfill

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/internal/clusterfill/clusterfilltest"
	"github.com/clusterview/clusterview/test/integration/framework"
)

func startLocalCluster(t *testing.T) (kubernetes.Interface, context.Context) {
	t.Helper()
	c, ctx := framework.StartControlPlane(t)
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
		clusterfilltest.CheckDemo(ctx, t, client, want, true)

		r, err = clusterfill.Demo(ctx, client)
		if err != nil {
			t.Fatalf("second Demo: %v", err)
		}
		clusterfilltest.AssertNoWrites(t, r)
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
		clusterfilltest.CheckDemo(ctx, t, client, want, true)
		r, err = clusterfill.Demo(ctx, client)
		if err != nil {
			t.Fatalf("Demo: %v", err)
		}
		clusterfilltest.AssertNoWrites(t, r)
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
			if !clusterfilltest.NodeReady(&n) {
				notReady++
			}
			for _, taint := range n.Spec.Taints {
				if taint.Key == corev1.TaintNodeNotReady && clusterfilltest.NodeReady(&n) {
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
		clusterfilltest.CheckChurn(ctx, t, client, cr, true)
	})
}
