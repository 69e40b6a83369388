package clusterfill

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// DemoLabel marks every object Demo owns (value "true"). Demo deletes nodes,
// pods, workloads and quotas carrying it that are no longer part of the
// demo, so that repeated runs converge on exactly DescribeDemo's contents.
// Namespaces are never deleted: with no namespace controller they would stay
// Terminating forever.
const DemoLabel = "clusterview.io/demo"

// DemoReport is what Demo did and what the demo cluster contains.
type DemoReport struct {
	Namespaces      Outcome
	ServiceAccounts Outcome
	RuntimeClasses  Outcome
	Nodes           Outcome
	Deployments     Outcome
	StatefulSets    Outcome
	DaemonSets      Outcome
	Pods            Outcome
	ResourceQuotas  Outcome
	// Contents is the same on every run: DescribeDemo().
	Contents DemoContents
	Duration time.Duration
}

// DemoContents describes the demo cluster, for printing and for tests that
// assert on clusterview's summaries of it. Ready, NotReady and the like are
// as pkg/summary counts them.
type DemoContents struct {
	Nodes, ReadyNodes, NotReadyNodes, UnschedulableNodes, MemoryPressureNodes, GPUNodes int
	// NodesByZone counts nodes by topology.kubernetes.io/zone.
	NodesByZone map[string]int
	Namespaces  []string
	Pods        int
	PodsByPhase map[corev1.PodPhase]int
	// UnscheduledPods are Pending with no spec.nodeName.
	UnscheduledPods int
	// PodsByNode counts the pods bound to each node (every demo node has
	// an entry); unscheduled pods are not in it.
	PodsByNode map[string]int
	// PodsByNamespace counts pods in each namespace.
	PodsByNamespace map[string]int
	// ContainerRestarts sums restartCount over init and app containers.
	ContainerRestarts int
	// CrashLoopingPods are "namespace/name" of pods with a container
	// waiting in CrashLoopBackOff.
	CrashLoopingPods []string
	// NotReadyNodeNames are the nodes whose Ready condition is not True.
	NotReadyNodeNames []string
	// NodesWithMetrics are the nodes whose kubelet the local cluster's kwok
	// plays: they and their running pods with usage have resource metrics.
	NodesWithMetrics []string
	// PodsWithUsage is the number of pods the simulated kubelets report
	// usage for.
	PodsWithUsage int

	Deployments, ReadyDeployments   int
	StatefulSets, ReadyStatefulSets int
	DaemonSets, ReadyDaemonSets     int
	// QuotaUsed is the status.used written to each ResourceQuota, keyed by
	// "namespace/name".
	QuotaUsed map[string]corev1.ResourceList
}

// DescribeDemo returns what Demo creates, without a cluster.
func DescribeDemo() DemoContents {
	c := DemoContents{
		NodesByZone:     map[string]int{},
		PodsByPhase:     map[corev1.PodPhase]int{},
		PodsByNode:      map[string]int{},
		PodsByNamespace: map[string]int{},
		QuotaUsed:       map[string]corev1.ResourceList{},
	}
	for _, n := range demoNodeDefs {
		c.Nodes++
		c.NodesByZone[n.zone]++
		c.PodsByNode[n.name] = 0
		if n.health.ready() {
			c.ReadyNodes++
		} else {
			c.NotReadyNodes++
			c.NotReadyNodeNames = append(c.NotReadyNodeNames, n.name)
		}
		if n.cordoned {
			c.UnschedulableNodes++
		}
		if n.health == healthMemoryPressure {
			c.MemoryPressureNodes++
		}
		if n.gpus > 0 {
			c.GPUNodes++
		}
		if n.hasMetrics() {
			c.NodesWithMetrics = append(c.NodesWithMetrics, n.name)
		}
	}
	for _, ns := range demoNamespaces {
		c.Namespaces = append(c.Namespaces, ns.name)
	}
	pods := demoPods()
	for _, p := range pods {
		c.Pods++
		c.PodsByPhase[p.state.phase()]++
		c.PodsByNamespace[p.namespace]++
		if p.node == "" {
			c.UnscheduledPods++
		} else {
			c.PodsByNode[p.node]++
		}
		c.ContainerRestarts += int(p.restarts)
		if p.sidecarRestarts > 0 {
			for _, ic := range demoShape(p.shape).InitContainers {
				if isSidecar(&ic) {
					c.ContainerRestarts += int(p.sidecarRestarts)
				}
			}
		}
		if p.state == stateCrashLoop {
			c.CrashLoopingPods = append(c.CrashLoopingPods, p.namespace+"/"+p.name)
		}
		if p.usage() != nil {
			c.PodsWithUsage++
		}
	}
	slices.Sort(c.CrashLoopingPods)
	for _, w := range demoWorkloads {
		ready := w.ready(pods)
		count := func(total, readyN *int) {
			*total++
			if ready {
				*readyN++
			}
		}
		switch w.kind {
		case "Deployment":
			count(&c.Deployments, &c.ReadyDeployments)
		case "StatefulSet":
			count(&c.StatefulSets, &c.ReadyStatefulSets)
		case "DaemonSet":
			count(&c.DaemonSets, &c.ReadyDaemonSets)
		}
	}
	for _, q := range demoQuotas {
		hard := resourceList(q.hard...)
		c.QuotaUsed[q.namespace+"/"+q.name] = quotaUsed(hard, quotaPods(q.namespace, pods))
	}
	return c
}

// String renders the report for a terminal, one fact per line.
func (r DemoReport) String() string {
	var b strings.Builder
	c := r.Contents
	fmt.Fprintf(&b, "demo cluster filled in %v\n", r.Duration.Round(time.Millisecond))
	for _, row := range []struct {
		name string
		o    Outcome
	}{
		{"namespaces", r.Namespaces}, {"serviceaccounts", r.ServiceAccounts}, {"runtimeclasses", r.RuntimeClasses},
		{"nodes", r.Nodes}, {"deployments", r.Deployments}, {"statefulsets", r.StatefulSets},
		{"daemonsets", r.DaemonSets}, {"pods", r.Pods}, {"resourcequotas", r.ResourceQuotas},
	} {
		fmt.Fprintf(&b, "  %-16s %v\n", row.name, row.o)
	}
	fmt.Fprintf(&b, "  nodes: %d ready, %d not ready (%s), %d cordoned, %d under memory pressure, %d with GPUs; by zone %s\n",
		c.ReadyNodes, c.NotReadyNodes, strings.Join(c.NotReadyNodeNames, ", "), c.UnschedulableNodes,
		c.MemoryPressureNodes, c.GPUNodes, fmtCounts(c.NodesByZone))
	fmt.Fprintf(&b, "  pods: %d total; %s; %d unscheduled; %d container restarts; crash-looping: %s\n",
		c.Pods, fmtCounts(c.PodsByPhase), c.UnscheduledPods, c.ContainerRestarts, strings.Join(c.CrashLoopingPods, ", "))
	fmt.Fprintf(&b, "  pods by node: %s\n", fmtCounts(c.PodsByNode))
	fmt.Fprintf(&b, "  pods by namespace: %s\n", fmtCounts(c.PodsByNamespace))
	fmt.Fprintf(&b, "  workloads ready: deployments %d/%d, statefulsets %d/%d, daemonsets %d/%d\n",
		c.ReadyDeployments, c.Deployments, c.ReadyStatefulSets, c.StatefulSets, c.ReadyDaemonSets, c.DaemonSets)
	fmt.Fprintf(&b, "  usage (local cluster): kubelets simulated on %s; %d running pods use what their annotations say; the other nodes' kubelets are down, so they have no metrics\n",
		strings.Join(c.NodesWithMetrics, ", "), c.PodsWithUsage)
	return b.String()
}

// fmtCounts renders a map as "k=v, k=v" in key order.
func fmtCounts[K ~string](m map[K]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// Demo fills the cluster with the demo: 9 nodes in three zones, 4 namespaces,
// 29 pods in every phase, 7 workloads and 3 resource quotas, with the status
// a kubelet and the controllers would have written (see DescribeDemo for
// exact figures). It is idempotent: objects that exist are updated to the
// desired state or left alone, stale demo objects are deleted, and a second
// run makes no writes. Pods whose spec changed are deleted and created
// again, since a pod's spec is immutable.
//
// client should come from TuneConfig: Demo makes about 120 requests on an
// empty cluster, and a dozen reads when nothing needs changing.
func Demo(ctx context.Context, client kubernetes.Interface) (DemoReport, error) {
	start := time.Now()
	logger := klog.FromContext(ctx).WithName("clusterfill")
	ctx = klog.NewContext(ctx, logger)
	d := &demoRun{client: client, pods: demoPods()}
	var r DemoReport
	// Order matters: pods need their namespace, RuntimeClass and node; quotas
	// come last because quota admission would otherwise check, and charge,
	// every pod created after them.
	steps := []struct {
		what string
		run  func(context.Context, *DemoReport) error
	}{
		{"namespaces", d.namespaces},
		{"runtime classes", d.runtimeClasses},
		{"nodes", d.nodes},
		{"workloads", d.workloads},
		{"pods", d.podsStep},
		{"resource quotas", d.quotas},
	}
	for _, s := range steps {
		if err := s.run(ctx, &r); err != nil {
			return r, fmt.Errorf("demo %s: %w", s.what, err)
		}
	}
	r.Contents = DescribeDemo()
	r.Duration = time.Since(start)
	logger.V(1).Info("Demo cluster filled", "nodes", r.Nodes.Total(), "pods", r.Pods.Total(), "took", r.Duration)
	return r, nil
}

type demoRun struct {
	client kubernetes.Interface
	pods   []demoPod
}

var demoSelector = metav1.ListOptions{LabelSelector: DemoLabel + "=true"}

func demoLabels(extra map[string]string) map[string]string {
	return merged(extra, map[string]string{DemoLabel: "true"})
}

func byRef[T object](items []T) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[objectRef(it)] = it
	}
	return m
}

// ptrs returns pointers to the elements of a list's Items.
func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

func (d *demoRun) namespaces(ctx context.Context, r *DemoReport) error {
	list, err := d.client.CoreV1().Namespaces().List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	existing := byRef(ptrs(list.Items))
	c := d.client.CoreV1().Namespaces()
	o := ops[*corev1.Namespace]{
		kind: "Namespace", create: c.Create, get: c.Get, delete: c.Delete, update: c.Update,
		copySpec: func(dst, src *corev1.Namespace) {},
	}
	for _, ns := range demoNamespaces {
		want := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name, Labels: demoLabels(ns.labels)}}
		have, found := existing[ns.name]
		if _, err := ensure(ctx, o, want, have, found, &r.Namespaces); err != nil {
			return err
		}
		if err := d.defaultServiceAccount(ctx, ns.name, &r.ServiceAccounts); err != nil {
			return err
		}
	}
	return nil
}

// defaultServiceAccount creates the namespace's "default" ServiceAccount,
// which kube-controller-manager would. It is never changed or labelled: a
// real controller may own it.
func (d *demoRun) defaultServiceAccount(ctx context.Context, namespace string, out *Outcome) error {
	c := d.client.CoreV1().ServiceAccounts(namespace)
	_, err := c.Get(ctx, "default", metav1.GetOptions{})
	switch {
	case err == nil:
		out.Unchanged++
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("getting serviceaccount %s/default: %w", namespace, err)
	}
	_, err = c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}, metav1.CreateOptions{})
	switch {
	case err == nil:
		out.Created++
	case apierrors.IsAlreadyExists(err):
		out.Unchanged++
	default:
		return fmt.Errorf("creating serviceaccount %s/default: %w", namespace, err)
	}
	return nil
}

func (d *demoRun) runtimeClasses(ctx context.Context, r *DemoReport) error {
	c := d.client.NodeV1().RuntimeClasses()
	have, err := c.Get(ctx, DemoRuntimeClass, metav1.GetOptions{})
	found := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting runtimeclass %s: %w", DemoRuntimeClass, err)
	}
	want := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: DemoRuntimeClass, Labels: demoLabels(nil)},
		Handler:    "kata",
		Overhead:   &nodev1.Overhead{PodFixed: resourceList(demoOverhead...)},
	}
	o := ops[*nodev1.RuntimeClass]{
		kind: "RuntimeClass", create: c.Create, get: c.Get, delete: c.Delete,
		// The handler is immutable; recreating is simplest.
		spec: func(rc *nodev1.RuntimeClass) any { return []any{rc.Handler, rc.Overhead, rc.Scheduling} },
	}
	_, err = ensure(ctx, o, want, have, found, &r.RuntimeClasses)
	return err
}

func (d *demoRun) nodes(ctx context.Context, r *DemoReport) error {
	list, err := d.client.CoreV1().Nodes().List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	existing := byRef(ptrs(list.Items))
	c := d.client.CoreV1().Nodes()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	keep := map[string]bool{}
	for _, def := range demoNodeDefs {
		spec := def.spec()
		want := buildNode(spec, now)
		have, found := existing[def.name]
		if _, err := ensure(ctx, nodeOps(c, spec, now), want, have, found, &r.Nodes); err != nil {
			return err
		}
		keep[def.name] = true
	}
	return prune(ctx, "Node", ptrs(list.Items), keep, func(ctx context.Context, _, name string) error {
		return c.Delete(ctx, name, metav1.DeleteOptions{})
	}, &r.Nodes)
}

type nodeClient interface {
	Create(context.Context, *corev1.Node, metav1.CreateOptions) (*corev1.Node, error)
	Get(context.Context, string, metav1.GetOptions) (*corev1.Node, error)
	Update(context.Context, *corev1.Node, metav1.UpdateOptions) (*corev1.Node, error)
	UpdateStatus(context.Context, *corev1.Node, metav1.UpdateOptions) (*corev1.Node, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

// nodeOps writes a node: created with its status, then its taints fixed
// (TaintNodesByCondition admission adds not-ready to every new node).
func nodeOps(c nodeClient, spec nodeSpec, now metav1.Time) ops[*corev1.Node] {
	return ops[*corev1.Node]{
		kind: "Node", create: c.Create, get: c.Get, delete: c.Delete, update: c.Update,
		spec: func(n *corev1.Node) any { return n.Spec },
		copySpec: func(dst, src *corev1.Node) {
			dst.Spec.Unschedulable = src.Spec.Unschedulable
			dst.Spec.Taints = src.Spec.Taints
		},
		drifted: func(have, want *corev1.Node) bool {
			return have.Spec.Unschedulable != want.Spec.Unschedulable || !taintsEqual(have.Spec.Taints, want.Spec.Taints)
		},
		setStatus: func(n *corev1.Node) {
			st := buildNode(spec, now).Status
			keepConditionTimes(st.Conditions, n.Status.Conditions)
			n.Status = st
		},
		status:       func(n *corev1.Node) any { return n.Status },
		updateStatus: c.UpdateStatus,
	}
}

// taintsEqual compares taints ignoring order and TimeAdded.
func taintsEqual(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for _, t := range a {
		if !slices.ContainsFunc(b, func(u corev1.Taint) bool { return t.MatchTaint(&u) && t.Value == u.Value }) {
			return false
		}
	}
	return true
}

func podTemplate(app string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: demoLabels(map[string]string{"app": app})},
		Spec:       spec,
	}
}

func (d *demoRun) workloads(ctx context.Context, r *DemoReport) error {
	apps := d.client.AppsV1()
	deployments, err := apps.Deployments("").List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing deployments: %w", err)
	}
	statefulSets, err := apps.StatefulSets("").List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing statefulsets: %w", err)
	}
	daemonSets, err := apps.DaemonSets("").List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing daemonsets: %w", err)
	}
	haveDeploy, haveSTS, haveDS := byRef(ptrs(deployments.Items)), byRef(ptrs(statefulSets.Items)), byRef(ptrs(daemonSets.Items))
	keep := map[string]bool{}
	for _, w := range demoWorkloads {
		ref := w.namespace + "/" + w.name
		keep[ref] = true
		meta := metav1.ObjectMeta{Name: w.name, Namespace: w.namespace, Labels: demoLabels(map[string]string{"app": w.app})}
		selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": w.app}}
		template := podTemplate(w.app, demoShape(w.shape))
		if w.rolloutImage != "" {
			template.Spec.Containers[0].Image = w.rolloutImage
		}
		st := workloadStatus(w, d.pods)
		var err error
		switch w.kind {
		case "Deployment":
			want := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(w.replicas), Selector: selector, Template: template,
			}}
			o := workloadOps(w, "Deployment", apps.Deployments(w.namespace),
				func(o *appsv1.Deployment) *appsv1.DeploymentSpec { return &o.Spec },
				func(o *appsv1.Deployment) *corev1.PodTemplateSpec { return &o.Spec.Template },
				func(o *appsv1.Deployment) *appsv1.DeploymentStatus { return &o.Status },
				func(o *appsv1.Deployment) appsv1.DeploymentStatus {
					return deploymentStatus(w, st, o.Generation, o.CreationTimestamp)
				})
			have, found := haveDeploy[ref]
			_, err = ensure(ctx, o, want, have, found, &r.Deployments)
		case "StatefulSet":
			want := &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To(w.replicas), Selector: selector, Template: template, ServiceName: w.name,
			}}
			o := workloadOps(w, "StatefulSet", apps.StatefulSets(w.namespace),
				func(o *appsv1.StatefulSet) *appsv1.StatefulSetSpec { return &o.Spec },
				func(o *appsv1.StatefulSet) *corev1.PodTemplateSpec { return &o.Spec.Template },
				func(o *appsv1.StatefulSet) *appsv1.StatefulSetStatus { return &o.Status },
				func(o *appsv1.StatefulSet) appsv1.StatefulSetStatus { return statefulSetStatus(w, st, o.Generation) })
			have, found := haveSTS[ref]
			_, err = ensure(ctx, o, want, have, found, &r.StatefulSets)
		case "DaemonSet":
			want := &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}}
			o := workloadOps(w, "DaemonSet", apps.DaemonSets(w.namespace),
				func(o *appsv1.DaemonSet) *appsv1.DaemonSetSpec { return &o.Spec },
				func(o *appsv1.DaemonSet) *corev1.PodTemplateSpec { return &o.Spec.Template },
				func(o *appsv1.DaemonSet) *appsv1.DaemonSetStatus { return &o.Status },
				func(o *appsv1.DaemonSet) appsv1.DaemonSetStatus { return daemonSetStatus(w, st, o.Generation) })
			have, found := haveDS[ref]
			_, err = ensure(ctx, o, want, have, found, &r.DaemonSets)
		default:
			err = fmt.Errorf("unknown workload kind %q", w.kind)
		}
		if err != nil {
			return err
		}
	}
	if err := prune(ctx, "Deployment", ptrs(deployments.Items), keep, func(ctx context.Context, namespace, name string) error {
		return apps.Deployments(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	}, &r.Deployments); err != nil {
		return err
	}
	if err := prune(ctx, "StatefulSet", ptrs(statefulSets.Items), keep, func(ctx context.Context, namespace, name string) error {
		return apps.StatefulSets(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	}, &r.StatefulSets); err != nil {
		return err
	}
	return prune(ctx, "DaemonSet", ptrs(daemonSets.Items), keep, func(ctx context.Context, namespace, name string) error {
		return apps.DaemonSets(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	}, &r.DaemonSets)
}

// rollout returns the ops.initial of a workload with a pending rollout: the
// desired object with the previous image (the shape's) in its template.
// workloadClient is the typed client of one apps/v1 workload kind in one
// namespace.
type workloadClient[T object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// workloadOps tells ensure how to write the demo workload w of an apps/v1
// kind through c: spec, template and status point into an object, and
// desired is the status its controller would write.
func workloadOps[T object, S, St any](w demoWorkload, kind string, c workloadClient[T],
	spec func(T) *S, template func(T) *corev1.PodTemplateSpec, status func(T) *St, desired func(T) St,
) ops[T] {
	return ops[T]{
		kind: kind, create: c.Create, get: c.Get, delete: c.Delete, update: c.Update,
		spec:         func(o T) any { return *spec(o) },
		copySpec:     func(dst, src T) { *spec(dst) = *spec(src) },
		initial:      rollout(w, template),
		setStatus:    func(o T) { *status(o) = desired(o) },
		status:       func(o T) any { return *status(o) },
		updateStatus: c.UpdateStatus,
	}
}

func rollout[T object](w demoWorkload, template func(T) *corev1.PodTemplateSpec) func(T) T {
	if w.rolloutImage == "" {
		return nil
	}
	return func(want T) T {
		prev := want.DeepCopyObject().(T)
		template(prev).Spec.Containers[0].Image = demoShape(w.shape).Containers[0].Image
		return prev
	}
}

// replicaCounts are a workload's pods as its controller would count them.
type replicaCounts struct{ pods, ready int32 }

func workloadStatus(w demoWorkload, all []demoPod) replicaCounts {
	var c replicaCounts
	for _, p := range w.pods(all) {
		c.pods++
		if p.state.ready() {
			c.ready++
		}
	}
	return c
}

// observed is the status.observedGeneration to write: the object's
// generation, or the one before for a rollout not yet observed.
func observed(w demoWorkload, generation int64) int64 {
	if w.rolloutImage != "" && generation > 1 {
		return generation - 1
	}
	return generation
}

func deploymentStatus(w demoWorkload, c replicaCounts, generation int64, created metav1.Time) appsv1.DeploymentStatus {
	available := corev1.ConditionTrue
	availableReason, availableMsg := "MinimumReplicasAvailable", "Deployment has minimum availability."
	if c.ready < w.replicas {
		available = corev1.ConditionFalse
		availableReason, availableMsg = "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
	}
	return appsv1.DeploymentStatus{
		ObservedGeneration:  observed(w, generation),
		Replicas:            c.pods,
		UpdatedReplicas:     c.pods,
		ReadyReplicas:       c.ready,
		AvailableReplicas:   c.ready,
		UnavailableReplicas: max(w.replicas-c.ready, 0),
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: available, Reason: availableReason, Message: availableMsg,
				LastUpdateTime: created, LastTransitionTime: created},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				Message:        fmt.Sprintf("ReplicaSet %q has successfully progressed.", w.name+"-"+shortHash(9, w.namespace, w.name)),
				LastUpdateTime: created, LastTransitionTime: created},
		},
	}
}

func statefulSetStatus(w demoWorkload, c replicaCounts, generation int64) appsv1.StatefulSetStatus {
	revision := w.name + "-" + shortHash(10, w.namespace, w.name)
	return appsv1.StatefulSetStatus{
		ObservedGeneration: observed(w, generation),
		Replicas:           c.pods,
		ReadyReplicas:      c.ready,
		CurrentReplicas:    c.pods,
		UpdatedReplicas:    c.pods,
		AvailableReplicas:  c.ready,
		CurrentRevision:    revision,
		UpdateRevision:     revision,
		CollisionCount:     ptr.To[int32](0),
	}
}

func daemonSetStatus(w demoWorkload, c replicaCounts, generation int64) appsv1.DaemonSetStatus {
	return appsv1.DaemonSetStatus{
		ObservedGeneration:     observed(w, generation),
		DesiredNumberScheduled: int32(len(demoNodeDefs)),
		CurrentNumberScheduled: c.pods,
		UpdatedNumberScheduled: c.pods,
		NumberReady:            c.ready,
		NumberAvailable:        c.ready,
		NumberUnavailable:      int32(len(demoNodeDefs)) - c.ready,
		CollisionCount:         ptr.To[int32](0),
	}
}

func (d *demoRun) podsStep(ctx context.Context, r *DemoReport) error {
	list, err := d.client.CoreV1().Pods("").List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	existing := byRef(ptrs(list.Items))
	keep := map[string]bool{}
	for _, p := range d.pods {
		spec := demoShape(p.shape)
		spec.NodeName = p.node
		want := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.namespace, Labels: demoLabels(map[string]string{"app": p.app}),
				Annotations: p.usage()},
			Spec: spec,
		}
		ref := p.namespace + "/" + p.name
		keep[ref] = true
		have, found := existing[ref]
		c := d.client.CoreV1().Pods(p.namespace)
		o := ops[*corev1.Pod]{
			kind: "Pod", create: c.Create, get: c.Get, delete: c.Delete,
			// spec.nodeName is part of the spec hash: binding is at create.
			// So is the usage the simulated kubelets read from annotations,
			// which a changed table must bring to existing pods.
			spec: func(o *corev1.Pod) any { return []any{o.Spec, p.usage()} },
			// The hash cannot see a pod of the same name bound elsewhere.
			drifted: func(have, want *corev1.Pod) bool { return have.Spec.NodeName != want.Spec.NodeName },
			setStatus: func(o *corev1.Pod) {
				o.Status = podStatus(o, p.state, p.restarts, p.sidecarRestarts)
			},
			status:       func(o *corev1.Pod) any { return o.Status },
			updateStatus: c.UpdateStatus,
		}
		if _, err := ensure(ctx, o, want, have, found, &r.Pods); err != nil {
			return err
		}
	}
	return prune(ctx, "Pod", ptrs(list.Items), keep, func(ctx context.Context, namespace, name string) error {
		// Without a kubelet to confirm, a graceful delete of a bound pod would
		// leave it terminating for good.
		return d.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	}, &r.Pods)
}

func (d *demoRun) quotas(ctx context.Context, r *DemoReport) error {
	list, err := d.client.CoreV1().ResourceQuotas("").List(ctx, demoSelector)
	if err != nil {
		return fmt.Errorf("listing resourcequotas: %w", err)
	}
	existing := byRef(ptrs(list.Items))
	keep := map[string]bool{}
	for _, q := range demoQuotas {
		ref := q.namespace + "/" + q.name
		keep[ref] = true
		hard := resourceList(q.hard...)
		used := quotaUsed(hard, quotaPods(q.namespace, d.pods))
		want := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: q.name, Namespace: q.namespace, Labels: demoLabels(nil)},
			Spec:       corev1.ResourceQuotaSpec{Hard: hard},
		}
		have, found := existing[ref]
		c := d.client.CoreV1().ResourceQuotas(q.namespace)
		o := ops[*corev1.ResourceQuota]{
			kind: "ResourceQuota", create: c.Create, get: c.Get, delete: c.Delete, update: c.Update,
			spec:     func(o *corev1.ResourceQuota) any { return o.Spec },
			copySpec: func(dst, src *corev1.ResourceQuota) { dst.Spec = src.Spec },
			setStatus: func(o *corev1.ResourceQuota) {
				o.Status = corev1.ResourceQuotaStatus{Hard: o.Spec.Hard.DeepCopy(), Used: used.DeepCopy()}
			},
			status:       func(o *corev1.ResourceQuota) any { return o.Status },
			updateStatus: c.UpdateStatus,
		}
		if _, err := ensure(ctx, o, want, have, found, &r.ResourceQuotas); err != nil {
			return err
		}
	}
	return prune(ctx, "ResourceQuota", ptrs(list.Items), keep, func(ctx context.Context, namespace, name string) error {
		return d.client.CoreV1().ResourceQuotas(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	}, &r.ResourceQuotas)
}
