// Package clusterfilltest checks what internal/clusterfill wrote, through any
// client: the unit tests run the checks against a fake clientset and the
// integration tests against a real kube-apiserver, so both judge the demo
// and the churn the same way.
package clusterfilltest

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterview/clusterview/internal/clusterfill"
)

// AssertNoWrites fails the test when a repeated Demo created, updated or
// deleted anything: Demo is idempotent.
func AssertNoWrites(t *testing.T, r clusterfill.DemoReport) {
	t.Helper()
	for kind, o := range map[string]clusterfill.Outcome{
		"namespaces": r.Namespaces, "serviceaccounts": r.ServiceAccounts, "runtimeclasses": r.RuntimeClasses,
		"nodes": r.Nodes, "deployments": r.Deployments, "statefulsets": r.StatefulSets, "daemonsets": r.DaemonSets,
		"pods": r.Pods, "resourcequotas": r.ResourceQuotas,
	} {
		if o.Created != 0 || o.Updated != 0 || o.Deleted != 0 {
			t.Errorf("repeated Demo wrote %s: %v", kind, o)
		}
	}
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// CheckDemo lists the demo back with the admin client and compares it with
// DescribeDemo.
// realAPI enables the checks a fake clientset cannot pass: it keeps no
// metadata.generation and no resourceVersion.
func CheckDemo(ctx context.Context, t *testing.T, client kubernetes.Interface, want clusterfill.DemoContents, realAPI bool) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: clusterfill.DemoLabel + "=true"}
	nodes, err := client.CoreV1().Nodes().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	var notReady []string
	ready, cordoned, memPressure := 0, 0, 0
	for _, n := range nodes.Items {
		if NodeReady(&n) {
			ready++
		} else {
			notReady = append(notReady, n.Name)
		}
		if n.Spec.Unschedulable {
			cordoned++
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeMemoryPressure && c.Status == corev1.ConditionTrue {
				memPressure++
			}
		}
		if _, ok := n.Status.Allocatable[corev1.ResourceCPU]; !ok {
			t.Errorf("node %s has no allocatable cpu", n.Name)
		}
		if n.Labels["topology.kubernetes.io/zone"] == "" {
			t.Errorf("node %s has no zone", n.Name)
		}
	}
	if len(nodes.Items) != want.Nodes || ready != want.ReadyNodes || cordoned != want.UnschedulableNodes ||
		memPressure != want.MemoryPressureNodes || fmt.Sprint(notReady) != fmt.Sprint(want.NotReadyNodeNames) {
		t.Errorf("stored nodes: %d, %d ready, not ready %v, %d cordoned, %d memory pressure; want %+v",
			len(nodes.Items), ready, notReady, cordoned, memPressure, want)
	}

	pods, err := client.CoreV1().Pods("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	byPhase := map[corev1.PodPhase]int{}
	byNode := map[string]int{}
	for _, n := range nodes.Items {
		byNode[n.Name] = 0
	}
	unscheduled, restarts := 0, 0
	var crash []string
	for _, p := range pods.Items {
		byPhase[p.Status.Phase]++
		if p.Spec.NodeName == "" {
			unscheduled++
			if p.Status.Phase != corev1.PodPending || len(p.Status.Conditions) != 1 ||
				p.Status.Conditions[0].Type != corev1.PodScheduled || p.Status.Conditions[0].Status != corev1.ConditionFalse {
				t.Errorf("unscheduled pod %s/%s has status %+v", p.Namespace, p.Name, p.Status)
			}
		} else {
			byNode[p.Spec.NodeName]++
		}
		for _, statuses := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range statuses {
				restarts += int(cs.RestartCount)
				if cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
					crash = append(crash, p.Namespace+"/"+p.Name)
				}
			}
		}
		if p.Name == "frontend-6d9f8c7b5-mxw2k" && p.Spec.Overhead.Cpu().MilliValue() != 250 {
			t.Errorf("frontend pod overhead = %v", p.Spec.Overhead)
		}
	}
	if len(pods.Items) != want.Pods || !equality.Semantic.DeepEqual(byPhase, want.PodsByPhase) ||
		!equality.Semantic.DeepEqual(byNode, want.PodsByNode) || unscheduled != want.UnscheduledPods ||
		restarts != want.ContainerRestarts || fmt.Sprint(crash) != fmt.Sprint(want.CrashLoopingPods) {
		t.Errorf("stored pods: %d by phase %v, by node %v, %d unscheduled, %d restarts, crash-looping %v; want %+v",
			len(pods.Items), byPhase, byNode, unscheduled, restarts, crash, want)
	}

	for _, ns := range want.Namespaces {
		if _, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Errorf("serviceaccount %s/default: %v", ns, err)
		}
	}
	quotas, err := client.CoreV1().ResourceQuotas("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range quotas.Items {
		used, ok := want.QuotaUsed[q.Namespace+"/"+q.Name]
		if !ok || !equality.Semantic.DeepEqual(q.Status.Used, used) || !equality.Semantic.DeepEqual(q.Status.Hard, q.Spec.Hard) {
			t.Errorf("quota %s/%s status = %+v, want used %v", q.Namespace, q.Name, q.Status, used)
		}
	}
	if len(quotas.Items) != len(want.QuotaUsed) {
		t.Errorf("%d quotas, want %d", len(quotas.Items), len(want.QuotaUsed))
	}

	deployments, err := client.AppsV1().Deployments("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	readyDeployments := 0
	for _, d := range deployments.Items {
		if d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas >= *d.Spec.Replicas {
			readyDeployments++
		}
		if !realAPI {
			continue
		}
		if d.Name == "grafana" && (d.Generation != 2 || d.Status.ObservedGeneration != 1) {
			t.Errorf("grafana generation %d observed %d, want 2 and 1", d.Generation, d.Status.ObservedGeneration)
		}
	}
	if !realAPI {
		// Without generations the pending grafana rollout looks ready.
		readyDeployments--
	}
	if len(deployments.Items) != want.Deployments || readyDeployments != want.ReadyDeployments {
		t.Errorf("%d deployments, %d ready; want %d, %d", len(deployments.Items), readyDeployments, want.Deployments, want.ReadyDeployments)
	}
	daemonSets, err := client.AppsV1().DaemonSets("").List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range daemonSets.Items {
		if ds.Status.DesiredNumberScheduled != int32(want.Nodes) || ds.Status.NumberReady != int32(want.ReadyNodes) {
			t.Errorf("daemonset %s status %+v", ds.Name, ds.Status)
		}
	}
}

// CheckChurn verifies that each object's last change is what the API holds.
func CheckChurn(ctx context.Context, t *testing.T, client kubernetes.Interface, r clusterfill.ChurnReport, realAPI bool) {
	t.Helper()
	last := map[string]clusterfill.ChurnChange{}
	for i, ch := range r.Changes {
		if ch.Acked.Before(ch.Sent) || (realAPI && ch.ResourceVersion == "") {
			t.Errorf("change %d: %+v", i, ch)
		}
		last[ch.Kind+"/"+ch.Namespace+"/"+ch.Name] = ch
	}
	for _, ch := range last {
		switch ch.Kind {
		case "Pod":
			p, err := client.CoreV1().Pods(ch.Namespace).Get(ctx, ch.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.ResourceVersion != ch.ResourceVersion && realAPI {
				t.Errorf("pod %s/%s: resourceVersion %s, last change %+v", ch.Namespace, ch.Name, p.ResourceVersion, ch)
			}
			switch ch.Change {
			case clusterfill.ChangePhase:
				if string(p.Status.Phase) != ch.To {
					t.Errorf("pod %s/%s phase %s, change %+v", ch.Namespace, ch.Name, p.Status.Phase, ch)
				}
			case clusterfill.ChangeRestart:
				if fmt.Sprint(p.Status.ContainerStatuses[0].RestartCount) != ch.To {
					t.Errorf("pod %s/%s restarts %d, change %+v", ch.Namespace, ch.Name, p.Status.ContainerStatuses[0].RestartCount, ch)
				}
			}
		case "Node":
			n, err := client.CoreV1().Nodes().Get(ctx, ch.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if (realAPI && n.ResourceVersion != ch.ResourceVersion) || NodeReady(n) != (ch.To == "True") {
				t.Errorf("node %s: resourceVersion %s ready %v, last change %+v", ch.Name, n.ResourceVersion, NodeReady(n), ch)
			}
		}
	}
}
