package readbench

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/summary"
)

// Cluster is a summary engine fed a cluster, and the core objects it was
// fed, for encoding the same cluster both ways.
type Cluster struct {
	Engine     *summary.Engine
	Nodes      *corev1.NodeList
	Namespaces *corev1.NamespaceList
}

// NewCluster feeds an engine nodes fx.KubeletNode nodes, namespaces
// fx.ServedNamespace namespaces with a ResourceQuota in every fourth, and
// podsPerNode pods on each node spread over the namespaces (two containers,
// requests and limits, one pod in twenty Pending and one Succeeded), with
// usage from the resource metrics API for every node and pod, as with
// metrics-server installed.
func NewCluster(nodes, namespaces, podsPerNode int) *Cluster {
	c := &Cluster{Engine: summary.New(summary.Options{}), Nodes: &corev1.NodeList{}, Namespaces: &corev1.NamespaceList{}}
	c.Nodes.ResourceVersion, c.Namespaces.ResourceVersion = "3000000", "3000000"
	// Typed as the API server sends them, so that the peer's encoding
	// carries its kind as a served list does.
	c.Nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	c.Namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	for i := range namespaces {
		ns := fx.ServedNamespace(i)
		c.Engine.UpsertNamespace(ns)
		c.Namespaces.Items = append(c.Namespaces.Items, *ns)
		if i%4 == 0 {
			c.Engine.UpsertResourceQuota(&corev1.ResourceQuota{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "compute"},
				Status: corev1.ResourceQuotaStatus{
					Hard: fx.Resources("requests.cpu", "40", "requests.memory", "128Gi", "pods", "200"),
					Used: fx.Resources("requests.cpu", "12500m", "requests.memory", "40Gi", "pods", "51"),
				},
			})
		}
	}
	now := time.Now()
	var nodeUse []summary.NodeUse
	var podUse []summary.PodUse
	for i := range nodes {
		n := fx.KubeletNode(i)
		c.Engine.UpsertNode(n)
		c.Nodes.Items = append(c.Nodes.Items, *n)
		nodeUse = append(nodeUse, summary.NodeUse{Name: n.Name, CPU: int64(1000 + i%7000), Memory: int64(8+i%40) << 30, Timestamp: now, Window: 15 * time.Second})
		for j := range podsPerNode {
			k := i*podsPerNode + j
			ns := c.Namespaces.Items[k%len(c.Namespaces.Items)].Name
			name := fmt.Sprintf("app-%07d", k)
			p := fx.Pod(ns, name, fx.OnNode(n.Name), fx.WithContainers(
				corev1.Container{Name: "app", Resources: corev1.ResourceRequirements{
					Requests: fx.Resources("cpu", "250m", "memory", "512Mi"), Limits: fx.Resources("cpu", "1", "memory", "1Gi")}},
				corev1.Container{Name: "proxy", Resources: corev1.ResourceRequirements{
					Requests: fx.Resources("cpu", "50m", "memory", "64Mi"), Limits: fx.Resources("memory", "128Mi")}},
			))
			switch k % 20 {
			case 1:
				p.Status.Phase = corev1.PodPending
			case 2:
				p.Status.Phase = corev1.PodSucceeded
			}
			c.Engine.UpsertPod(p)
			podUse = append(podUse, summary.PodUse{Namespace: ns, Name: name, CPU: int64(20 + k%300), Memory: int64(100+k%400) << 20})
		}
	}
	c.Engine.ReplaceUsage(nodeUse, podUse)
	return c
}

// The full bench size: 5,000 nodes, 30 pods each (150,000), in 1,000
// namespaces.
const (
	FullNodes       = 5000
	FullNamespaces  = 1000
	FullPodsPerNode = 30
)

var (
	fullOnce    sync.Once
	fullCluster *Cluster
)

// FullCluster is the cluster of the full bench size, built once per test
// binary: the node and namespace summary benchmarks of a package share it.
func FullCluster() *Cluster {
	fullOnce.Do(func() { fullCluster = NewCluster(FullNodes, FullNamespaces, FullPodsPerNode) })
	return fullCluster
}
