package summary

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// This file checks the incremental engine against a recount from scratch.
// The model keeps the last object delivered to the engine under each key
// (what the engine has been told), and recounts every figure from those
// objects with plain ResourceList arithmetic, sharing no code with the
// engine. Some events are "missed" (changed in the truth but not
// delivered), and a relist later delivers every live object and a
// tombstone-style delete for every vanished key, as an informer does.

type model struct {
	nodes      map[string]*v1.Node
	namespaces map[string]*v1.Namespace
	pods       map[string]*v1.Pod // namespace/name
	quotas     map[string]*v1.ResourceQuota
	deploys    map[string]*appsv1.Deployment
	sets       map[string]*appsv1.StatefulSet
	daemons    map[string]*appsv1.DaemonSet
}

func newModel() *model {
	return &model{
		nodes: map[string]*v1.Node{}, namespaces: map[string]*v1.Namespace{}, pods: map[string]*v1.Pod{},
		quotas: map[string]*v1.ResourceQuota{}, deploys: map[string]*appsv1.Deployment{},
		sets: map[string]*appsv1.StatefulSet{}, daemons: map[string]*appsv1.DaemonSet{},
	}
}

func (m *model) clone() *model {
	return &model{
		nodes: maps.Clone(m.nodes), namespaces: maps.Clone(m.namespaces), pods: maps.Clone(m.pods),
		quotas: maps.Clone(m.quotas), deploys: maps.Clone(m.deploys),
		sets: maps.Clone(m.sets), daemons: maps.Clone(m.daemons),
	}
}

func key(ns, name string) string { return ns + "/" + name }

func splitKey(k string) (string, string) {
	ns, name, _ := strings.Cut(k, "/")
	return ns, name
}

// --- the reference rules -------------------------------------------------

type refRes struct {
	req, lim  v1.ResourceList
	unbounded map[v1.ResourceName]bool
}

func addList(dst, src v1.ResourceList) {
	for n, q := range src {
		cur := dst[n]
		cur.Add(q)
		dst[n] = cur
	}
}

func maxList(dst, src v1.ResourceList) {
	for n, q := range src {
		if cur, ok := dst[n]; !ok || q.Cmp(cur) > 0 {
			dst[n] = q.DeepCopy()
		}
	}
}

// refAggregate is the KEP-753 formula written out in full, including the
// step that maxes the running sidecar total into the init maximum.
func refAggregate(p *v1.Pod, pick func(*v1.Container) v1.ResourceList) v1.ResourceList {
	sum := v1.ResourceList{}
	for i := range p.Spec.Containers {
		addList(sum, pick(&p.Spec.Containers[i]))
	}
	sidecars := v1.ResourceList{}
	initMax := v1.ResourceList{}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			addList(sum, pick(c))
			addList(sidecars, pick(c))
			maxList(initMax, sidecars)
		} else {
			use := v1.ResourceList{}
			addList(use, pick(c))
			addList(use, sidecars)
			maxList(initMax, use)
		}
	}
	maxList(sum, initMax)
	return sum
}

func refPodResources(p *v1.Pod) refRes {
	r := refRes{unbounded: map[v1.ResourceName]bool{}}
	if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
		return refRes{req: v1.ResourceList{}, lim: v1.ResourceList{}, unbounded: r.unbounded}
	}
	r.req = refAggregate(p, func(c *v1.Container) v1.ResourceList { return c.Resources.Requests })
	r.lim = refAggregate(p, func(c *v1.Container) v1.ResourceList { return c.Resources.Limits })
	podLimited := map[v1.ResourceName]bool{}
	if pr := p.Spec.Resources; pr != nil {
		for n, q := range pr.Requests {
			if n == v1.ResourceCPU || n == v1.ResourceMemory || strings.HasPrefix(string(n), "hugepages-") {
				r.req[n] = q.DeepCopy()
			}
		}
		for n, q := range pr.Limits {
			if n == v1.ResourceCPU || n == v1.ResourceMemory || strings.HasPrefix(string(n), "hugepages-") {
				r.lim[n] = q.DeepCopy()
				podLimited[n] = !q.IsZero()
			}
		}
	}
	for n, q := range p.Spec.Overhead {
		cur := r.req[n]
		cur.Add(q)
		r.req[n] = cur
		if l, ok := r.lim[n]; ok && !l.IsZero() {
			l.Add(q)
			r.lim[n] = l
		}
	}
	all := append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...)
	for _, n := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage} {
		if podLimited[n] {
			continue
		}
		for _, c := range all {
			if q, ok := c.Resources.Limits[n]; !ok || q.IsZero() {
				r.unbounded[n] = true
				delete(r.lim, n)
			}
		}
	}
	return r
}

func unitValue(n v1.ResourceName, q resource.Quantity) int64 {
	if n == v1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// refPod is one pod's reference figures, computed once per object: the
// tests replace objects on every change and never mutate them.
type refPod struct {
	counts PodCounts
	crash  bool
	res    map[v1.ResourceName]ResourceTotals // Requests, Limits, PodsWithoutLimit
}

type podCache map[*v1.Pod]*refPod

func (c podCache) get(p *v1.Pod) *refPod {
	if rp := c[p]; rp != nil {
		return rp
	}
	rp := &refPod{res: map[v1.ResourceName]ResourceTotals{}}
	countPod(&rp.counts, p)
	rp.crash = rp.counts.CrashLooping == 1
	r := refPodResources(p)
	for n, q := range r.req {
		t := rp.res[n]
		t.Requests += unitValue(n, q)
		rp.res[n] = t
	}
	for n, q := range r.lim {
		t := rp.res[n]
		t.Limits += unitValue(n, q)
		rp.res[n] = t
	}
	for n := range r.unbounded {
		t := rp.res[n]
		t.PodsWithoutLimit++
		rp.res[n] = t
	}
	c[p] = rp
	return rp
}

func addCounts(dst *PodCounts, c PodCounts) {
	dst.Total += c.Total
	dst.Pending += c.Pending
	dst.Running += c.Running
	dst.Succeeded += c.Succeeded
	dst.Failed += c.Failed
	dst.Unknown += c.Unknown
	dst.Unscheduled += c.Unscheduled
	dst.ContainerRestarts += c.ContainerRestarts
	dst.CrashLooping += c.CrashLooping
}

type refVec map[v1.ResourceName]*ResourceTotals

func (v refVec) at(n v1.ResourceName) *ResourceTotals {
	if v[n] == nil {
		v[n] = &ResourceTotals{Name: n}
	}
	return v[n]
}

// addPod adds the pod's amounts of the resource names m tracks: the
// standard four and those some known node advertises.
func (v refVec) addPod(rp *refPod, m *model) {
	for n, r := range rp.res {
		if !m.tracked(n) {
			continue
		}
		t := v.at(n)
		t.Requests += r.Requests
		t.Limits += r.Limits
		t.PodsWithoutLimit += r.PodsWithoutLimit
	}
}

func (v refVec) addNode(n *v1.Node) {
	for name, q := range n.Status.Capacity {
		v.at(name).Capacity += unitValue(name, q)
	}
	for name, q := range n.Status.Allocatable {
		v.at(name).Allocatable += unitValue(name, q)
	}
}

func (v refVec) rows(want []v1.ResourceName) []ResourceTotals {
	if want != nil {
		out := []ResourceTotals{}
		for _, n := range want {
			if r := v[n]; r != nil {
				out = append(out, *r)
			} else {
				out = append(out, ResourceTotals{Name: n})
			}
		}
		return out
	}
	var out []ResourceTotals
	for _, r := range v {
		if *r != (ResourceTotals{Name: r.Name}) {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func countPod(c *PodCounts, p *v1.Pod) {
	c.Total++
	switch p.Status.Phase {
	case v1.PodPending:
		c.Pending++
		if p.Spec.NodeName == "" {
			c.Unscheduled++
		}
	case v1.PodRunning:
		c.Running++
	case v1.PodSucceeded:
		c.Succeeded++
	case v1.PodFailed:
		c.Failed++
	default:
		c.Unknown++
	}
	crash := false
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		c.ContainerRestarts += int64(cs.RestartCount)
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
			crash = true
		}
	}
	if crash {
		c.CrashLooping++
	}
}

func countNode(c *NodeCounts, n *v1.Node) {
	c.Total++
	cond := map[v1.NodeConditionType]bool{}
	for _, x := range n.Status.Conditions {
		cond[x.Type] = x.Status == v1.ConditionTrue
	}
	if cond[v1.NodeReady] {
		c.Ready++
	} else {
		c.NotReady++
	}
	if n.Spec.Unschedulable {
		c.Unschedulable++
	}
	if cond[v1.NodeMemoryPressure] {
		c.MemoryPressure++
	}
	if cond[v1.NodeDiskPressure] {
		c.DiskPressure++
	}
	if cond[v1.NodePIDPressure] {
		c.PIDPressure++
	}
}

// tracked says whether the engine counts a resource name on its own.
func (m *model) tracked(name v1.ResourceName) bool {
	switch name {
	case v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage, v1.ResourcePods:
		return true
	}
	for _, n := range m.nodes {
		if _, ok := n.Status.Capacity[name]; ok {
			return true
		}
		if _, ok := n.Status.Allocatable[name]; ok {
			return true
		}
	}
	return false
}

func (m *model) nodeLabels(name string) labels.Set {
	if n := m.nodes[name]; n != nil {
		return n.Labels
	}
	return nil
}

func (m *model) nsLabels(name string) labels.Set {
	if ns := m.namespaces[name]; ns != nil {
		return ns.Labels
	}
	return nil
}

func matches(s labels.Selector, l labels.Set) bool { return s == nil || s.Matches(l) }

// cluster recounts ClusterTotals from scratch.
func (m *model) cluster(s Selection, res podCache) ClusterTotals {
	var out ClusterTotals
	total := refVec{}
	type group struct {
		nodes NodeCounts
		pods  PodCounts
		vec   refVec
	}
	groups := map[string]*group{}
	nodeGroup := func(name string) *group {
		if s.GroupByNodeLabel == "" {
			return nil
		}
		v, ok := m.nodeLabels(name)[s.GroupByNodeLabel]
		if !ok {
			v = NoGroupValue
		}
		if groups[v] == nil {
			groups[v] = &group{vec: refVec{}}
		}
		return groups[v]
	}
	// Node entries: known nodes plus names pods are bound to.
	nodeNames := map[string]bool{}
	for name := range m.nodes {
		nodeNames[name] = true
	}
	for _, p := range m.pods {
		if p.Spec.NodeName != "" {
			nodeNames[p.Spec.NodeName] = true
		}
	}
	for name := range nodeNames {
		if !matches(s.NodeSelector, m.nodeLabels(name)) {
			continue
		}
		g := nodeGroup(name)
		if n := m.nodes[name]; n != nil {
			countNode(&out.Nodes, n)
			total.addNode(n)
			if n.Status.Conditions == nil || !readyOf(n) {
				out.NotReadyNodes = append(out.NotReadyNodes, name)
			}
			if g != nil {
				countNode(&g.nodes, n)
				g.vec.addNode(n)
			}
		}
	}
	for k, p := range m.pods {
		if !matches(s.NamespaceSelector, m.nsLabels(p.Namespace)) {
			continue
		}
		rp := res.get(p)
		if p.Spec.NodeName == "" {
			addCounts(&out.Pods, rp.counts)
		} else {
			if !matches(s.NodeSelector, m.nodeLabels(p.Spec.NodeName)) {
				continue
			}
			addCounts(&out.Pods, rp.counts)
			total.addPod(rp, m)
			if g := nodeGroup(p.Spec.NodeName); g != nil {
				addCounts(&g.pods, rp.counts)
				g.vec.addPod(rp, m)
			}
		}
		if rp.crash {
			out.CrashLoopingPods = append(out.CrashLoopingPods, k)
		}
	}
	for name, ns := range m.namespaces {
		if matches(s.NamespaceSelector, ns.Labels) {
			out.Namespaces++
		}
		_ = name
	}
	out.Workloads = m.workloads(func(ns string) bool { return matches(s.NamespaceSelector, m.nsLabels(ns)) })
	out.Resources = total.rows(s.Resources)
	for v, g := range groups {
		out.Groups = append(out.Groups, GroupTotals{Value: v, Nodes: g.nodes, Pods: g.pods, Resources: g.vec.rows(s.Resources)})
	}
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].Value < out.Groups[j].Value })
	limit := s.MaxNames
	if limit == 0 {
		limit = DefaultMaxNames
	}
	capNames := func(names []string) []string {
		if limit < 0 {
			return nil
		}
		sort.Strings(names)
		return names[:min(len(names), limit)]
	}
	out.NotReadyNodes = capNames(out.NotReadyNodes)
	out.CrashLoopingPods = capNames(out.CrashLoopingPods)
	return out
}

func readyOf(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// workloads recounts the workloads of the namespaces inNS accepts.
func (m *model) workloads(inNS func(ns string) bool) WorkloadCounts {
	var w WorkloadCounts
	tally := func(c *ReadyCount, k string, ready bool) {
		if ns, _ := splitKey(k); inNS(ns) {
			tallyReady(c, ready)
		}
	}
	for k, d := range m.deploys {
		tally(&w.Deployments, k, d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas >= replicas(d.Spec.Replicas))
	}
	for k, d := range m.sets {
		tally(&w.StatefulSets, k, d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas >= replicas(d.Spec.Replicas))
	}
	for k, d := range m.daemons {
		tally(&w.DaemonSets, k, d.Status.NumberReady >= d.Status.DesiredNumberScheduled)
	}
	return w
}

func tallyReady(c *ReadyCount, ready bool) {
	c.Total++
	if ready {
		c.Ready++
	}
}

func (m *model) node(name string, res podCache) (NodeTotals, bool) {
	n := m.nodes[name]
	if n == nil {
		return NodeTotals{}, false
	}
	var flags NodeCounts
	countNode(&flags, n)
	out := NodeTotals{
		Name: name, Labels: n.Labels, CreationTimestamp: n.CreationTimestamp,
		Ready: flags.Ready == 1, MemoryPressure: flags.MemoryPressure == 1, DiskPressure: flags.DiskPressure == 1,
		PIDPressure: flags.PIDPressure == 1, Unschedulable: flags.Unschedulable == 1,
	}
	if q, ok := n.Status.Allocatable[v1.ResourcePods]; ok {
		out.PodCapacity = q.Value()
	}
	vec := refVec{}
	vec.addNode(n)
	for _, p := range m.pods {
		if p.Spec.NodeName == name {
			addCounts(&out.Pods, res.get(p).counts)
			vec.addPod(res.get(p), m)
		}
	}
	out.Resources = vec.rows(nil)
	return out, true
}

func (m *model) namespace(name string, res podCache) (NamespaceTotals, bool) {
	ns := m.namespaces[name]
	if ns == nil {
		return NamespaceTotals{}, false
	}
	out := NamespaceTotals{Name: name, Labels: ns.Labels, CreationTimestamp: ns.CreationTimestamp}
	vec := refVec{}
	for _, p := range m.pods {
		if p.Namespace == name {
			addCounts(&out.Pods, res.get(p).counts)
			vec.addPod(res.get(p), m)
		}
	}
	out.Resources = vec.rows(nil)
	for k, q := range m.quotas {
		if qns, qname := splitKey(k); qns == name {
			hard := q.Status.Hard
			if hard == nil {
				hard = q.Spec.Hard
			}
			out.Quotas = append(out.Quotas, QuotaTotals{Name: qname, Hard: hard, Used: q.Status.Used})
		}
	}
	sort.Slice(out.Quotas, func(i, j int) bool { return out.Quotas[i].Name < out.Quotas[j].Name })
	out.Workloads = m.workloads(func(ns string) bool { return ns == name })
	return out, true
}

// --- random objects -------------------------------------------------------

var (
	rndNodes      = []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	rndNamespaces = []string{"a", "b", "c", "d", "e", "f"}
	rndCPU        = []string{"50m", "100m", "250m", "1", "2"}
	rndMem        = []string{"64Mi", "128Mi", "1Gi", "100M"}
	rndPhases     = []v1.PodPhase{v1.PodPending, v1.PodRunning, v1.PodRunning, v1.PodRunning, v1.PodSucceeded, v1.PodFailed, v1.PodUnknown}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func rndList(r *rand.Rand) v1.ResourceList {
	l := v1.ResourceList{}
	if r.IntN(4) > 0 {
		l["cpu"] = resource.MustParse(pick(r, rndCPU))
	}
	if r.IntN(4) > 0 {
		l["memory"] = resource.MustParse(pick(r, rndMem))
	}
	if r.IntN(8) == 0 {
		l["ephemeral-storage"] = resource.MustParse("1Gi")
	}
	if r.IntN(10) == 0 {
		l["example.com/gpu"] = resource.MustParse(fmt.Sprint(1 + r.IntN(2)))
	}
	if r.IntN(12) == 0 {
		l["hugepages-2Mi"] = resource.MustParse("4Mi")
	}
	if len(l) == 0 {
		return nil
	}
	return l
}

func rndContainer(r *rand.Rand, name string) v1.Container {
	c := v1.Container{Name: name, Resources: v1.ResourceRequirements{Requests: rndList(r)}}
	switch r.IntN(3) {
	case 0: // limits equal to requests
		c.Resources.Limits = c.Resources.Requests.DeepCopy()
	case 1:
		c.Resources.Limits = rndList(r)
	}
	if r.IntN(20) == 0 && c.Resources.Limits != nil {
		c.Resources.Limits["cpu"] = resource.MustParse("0")
	}
	return c
}

func rndPodSpec(r *rand.Rand, p *v1.Pod) {
	p.Spec.InitContainers = nil
	for i := range r.IntN(3) {
		c := rndContainer(r, fmt.Sprintf("init%d", i))
		if r.IntN(2) == 0 {
			always := v1.ContainerRestartPolicyAlways
			c.RestartPolicy = &always
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	}
	p.Spec.Containers = nil
	for i := range 1 + r.IntN(3) {
		p.Spec.Containers = append(p.Spec.Containers, rndContainer(r, fmt.Sprintf("c%d", i)))
	}
	p.Spec.Overhead = nil
	if r.IntN(6) == 0 {
		p.Spec.Overhead = rl("cpu", "10m", "memory", "8Mi")
	}
	p.Spec.Resources = nil
	if r.IntN(8) == 0 {
		p.Spec.Resources = &v1.ResourceRequirements{Requests: rl("cpu", "500m"), Limits: rndList(r)}
	}
}

func rndPodStatus(r *rand.Rand, p *v1.Pod) {
	p.Status.Phase = pick(r, rndPhases)
	p.Status.ContainerStatuses = nil
	p.Status.InitContainerStatuses = nil
	for i := range p.Spec.Containers {
		cs := v1.ContainerStatus{Name: p.Spec.Containers[i].Name, RestartCount: int32(r.IntN(3))}
		if r.IntN(10) == 0 {
			cs.State.Waiting = &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, cs)
	}
	if len(p.Spec.InitContainers) > 0 && r.IntN(3) == 0 {
		p.Status.InitContainerStatuses = []v1.ContainerStatus{{Name: "init0", RestartCount: int32(r.IntN(4))}}
	}
}

func rndNodeName(r *rand.Rand) string {
	if r.IntN(5) == 0 {
		return ""
	}
	return pick(r, rndNodes)
}

func rndNode(r *rand.Rand, name string) *v1.Node {
	var opts []nodeOpt
	if r.IntN(4) == 0 {
		opts = append(opts, notReady())
	}
	if r.IntN(6) == 0 {
		opts = append(opts, pressure(pick(r, []v1.NodeConditionType{v1.NodeMemoryPressure, v1.NodeDiskPressure, v1.NodePIDPressure})))
	}
	if r.IntN(6) == 0 {
		opts = append(opts, cordoned())
	}
	var kv []string
	if r.IntN(4) > 0 {
		kv = append(kv, "zone", pick(r, []string{"a", "b", "c"}))
	}
	if r.IntN(2) == 0 {
		kv = append(kv, "pool", pick(r, []string{"x", "y"}))
	}
	opts = append(opts, nodeLabels(kv...),
		capacity("cpu", fmt.Sprint(2+r.IntN(8)), "memory", fmt.Sprintf("%dGi", 4+r.IntN(4)), "pods", "110"),
		allocatable("cpu", fmt.Sprint(1+r.IntN(2)), "memory", "3Gi", "pods", fmt.Sprint(100+r.IntN(10))))
	n := mkNode(name, opts...)
	// Some nodes advertise the extended resource and hugepages pods ask
	// for, so that names become tracked and untracked as nodes come, change
	// and go.
	if r.IntN(3) == 0 {
		n.Status.Allocatable["example.com/gpu"] = resource.MustParse("4")
	}
	if r.IntN(4) == 0 {
		n.Status.Capacity["hugepages-2Mi"] = resource.MustParse("64Mi")
	}
	if r.IntN(3) == 0 {
		n.Status.Conditions = nil // no Ready condition at all
	}
	n.CreationTimestamp = metav1.Unix(int64(r.IntN(3)), 0)
	return n
}

func rndNamespace(r *rand.Rand, name string) *v1.Namespace {
	var kv []string
	if r.IntN(4) > 0 {
		kv = append(kv, "team", pick(r, []string{"x", "y", "z"}))
	}
	if r.IntN(3) == 0 {
		kv = append(kv, "env", "prod")
	}
	return mkNS(name, kv...)
}

// --- the test -------------------------------------------------------------

// delivery sends events to the engine and records what it was told.
type delivery struct {
	e         *Engine
	delivered *model
}

func (d *delivery) upsertPod(p *v1.Pod) {
	d.e.UpsertPod(p)
	d.delivered.pods[key(p.Namespace, p.Name)] = p
}
func (d *delivery) deletePod(k string) {
	ns, n := splitKey(k)
	d.e.DeletePod(ns, n)
	delete(d.delivered.pods, k)
}
func (d *delivery) upsertNode(n *v1.Node) { d.e.UpsertNode(n); d.delivered.nodes[n.Name] = n }
func (d *delivery) deleteNode(name string) {
	d.e.DeleteNode(name)
	delete(d.delivered.nodes, name)
}
func (d *delivery) upsertNS(ns *v1.Namespace) {
	d.e.UpsertNamespace(ns)
	d.delivered.namespaces[ns.Name] = ns
}
func (d *delivery) deleteNS(name string) {
	d.e.DeleteNamespace(name)
	delete(d.delivered.namespaces, name)
}

// relist delivers the truth: every live object, and a delete for every key
// the engine was told about that no longer exists.
func (d *delivery) relist(truth *model) {
	for k := range d.delivered.pods {
		if truth.pods[k] == nil {
			d.deletePod(k)
		}
	}
	for k := range d.delivered.nodes {
		if truth.nodes[k] == nil {
			d.deleteNode(k)
		}
	}
	for k := range d.delivered.namespaces {
		if truth.namespaces[k] == nil {
			d.deleteNS(k)
		}
	}
	deleteGone(d.delivered.quotas, truth.quotas, d.e.DeleteResourceQuota)
	deleteGone(d.delivered.deploys, truth.deploys, d.e.DeleteDeployment)
	deleteGone(d.delivered.sets, truth.sets, d.e.DeleteStatefulSet)
	deleteGone(d.delivered.daemons, truth.daemons, d.e.DeleteDaemonSet)
	upsertAll(truth.namespaces, d.e.UpsertNamespace)
	upsertAll(truth.nodes, d.e.UpsertNode)
	upsertAll(truth.pods, d.e.UpsertPod)
	upsertAll(truth.quotas, d.e.UpsertResourceQuota)
	upsertAll(truth.deploys, d.e.UpsertDeployment)
	upsertAll(truth.sets, d.e.UpsertStatefulSet)
	upsertAll(truth.daemons, d.e.UpsertDaemonSet)
	d.delivered = truth.clone()
}

// upsertAll delivers every object of one kind, for a relist.
func upsertAll[T any](objs map[string]*T, upsert func(*T)) {
	for _, x := range objs {
		upsert(x)
	}
}

// deleteGone deletes, for a relist, each namespaced object delivered that
// the truth no longer has.
func deleteGone[T any](delivered, truth map[string]*T, del func(namespace, name string)) {
	for k := range delivered {
		if truth[k] == nil {
			del(splitKey(k))
		}
	}
}

// applyEvent applies one random event of a namespaced object to the truth and,
// unless the event is missed, to the engine and what it was delivered: x
// under k, or its deletion.
func applyEvent[T any](truth, delivered map[string]*T, k string, x *T, del, miss bool, upsert func(*T), remove func(namespace, name string)) {
	if del {
		delete(truth, k)
	} else {
		truth[k] = x
	}
	if miss {
		return
	}
	if del {
		remove(splitKey(k))
		delete(delivered, k)
	} else {
		upsert(x)
		delivered[k] = x
	}
}

var randomSelections = []Selection{
	{},
	{NodeSelector: sel("zone=a")},
	{NodeSelector: sel("!zone"), GroupByNodeLabel: "zone"},
	{NamespaceSelector: sel("team in (x,y)"), MaxNames: 3},
	{NamespaceSelector: sel("!team"), GroupByNodeLabel: "pool"},
	{NodeSelector: sel("zone in (a,b)"), NamespaceSelector: sel("team=x"), Resources: []v1.ResourceName{"cpu", "memory", "example.com/gpu", "nope"}},
	{NodeSelector: sel("pool=x"), NamespaceSelector: sel("env=prod"), GroupByNodeLabel: "zone", MaxNames: -1},
	{NodeSelector: labels.Everything(), NamespaceSelector: labels.Everything(), GroupByNodeLabel: "zone"},
	// Selectors that leave out a small share: the read takes the cells
	// left out away from the selected nodes' tallies.
	{NamespaceSelector: sel("team notin (x)"), GroupByNodeLabel: "pool"},
	{NodeSelector: sel("zone notin (a)"), NamespaceSelector: sel("team notin (y)"), GroupByNodeLabel: "zone"},
}

func TestRandomizedAgainstRecount(t *testing.T) {
	steps := 6000
	if testing.Short() {
		steps = 1500
	}
	r := rand.New(rand.NewPCG(20260601, 7))
	truth := newModel()
	d := &delivery{e: New(Options{ChangeBufferSize: 64}), delivered: newModel()}
	podSeq := 0
	lastRev := d.e.Revision()
	cache := podCache{}

	for step := range steps {
		// deliver or miss (as during a watch gap) an event
		miss := r.IntN(25) == 0
		op := r.IntN(100)
		var desc string
		switch {
		case op < 22: // new pod
			podSeq++
			p := mkPod(pick(r, rndNamespaces), fmt.Sprintf("p%d", podSeq%150), onNode(rndNodeName(r)))
			rndPodSpec(r, p)
			rndPodStatus(r, p)
			truth.pods[key(p.Namespace, p.Name)] = p
			desc = "add pod " + key(p.Namespace, p.Name)
			if !miss {
				d.upsertPod(p)
			}
		case op < 55 && len(truth.pods) > 0: // pod update
			k := pick(r, sortedKeys(truth.pods))
			p := truth.pods[k].DeepCopy()
			switch r.IntN(6) {
			case 0:
				p.Status.Phase = pick(r, rndPhases)
			case 1:
				p.Spec.NodeName = rndNodeName(r)
			case 2:
				rndPodSpec(r, p)
			case 3:
				rndPodStatus(r, p)
			case 4: // status noise the engine ignores
				p.ResourceVersion = fmt.Sprint(step)
				p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
			case 5:
				if len(p.Status.ContainerStatuses) > 0 {
					p.Status.ContainerStatuses[0].RestartCount++
				}
			}
			truth.pods[k] = p
			desc = "update pod " + k
			if !miss {
				d.upsertPod(p)
			}
		case op < 65 && len(truth.pods) > 0:
			k := pick(r, sortedKeys(truth.pods))
			delete(truth.pods, k)
			desc = "delete pod " + k
			if !miss {
				d.deletePod(k)
			}
		case op < 74:
			n := rndNode(r, pick(r, rndNodes))
			truth.nodes[n.Name] = n
			desc = "upsert node " + n.Name
			if !miss {
				d.upsertNode(n)
			}
		case op < 77:
			name := pick(r, rndNodes)
			delete(truth.nodes, name)
			desc = "delete node " + name
			if !miss {
				d.deleteNode(name)
			}
		case op < 83:
			ns := rndNamespace(r, pick(r, rndNamespaces[:5])) // "f" never exists
			truth.namespaces[ns.Name] = ns
			desc = "upsert namespace " + ns.Name
			if !miss {
				d.upsertNS(ns)
			}
		case op < 85:
			name := pick(r, rndNamespaces)
			delete(truth.namespaces, name)
			desc = "delete namespace " + name
			if !miss {
				d.deleteNS(name)
			}
		case op < 93: // workloads
			ns, name := pick(r, rndNamespaces), fmt.Sprintf("w%d", r.IntN(4))
			k := key(ns, name)
			del := r.IntN(4) == 0
			desc = "workload " + k
			switch r.IntN(3) {
			case 0:
				x := mkDeployment(ns, name, int64(1+r.IntN(2)), int64(1+r.IntN(2)), pick(r, []*int32{nil, ptr.To[int32](0), ptr.To[int32](2)}), int32(r.IntN(3)))
				applyEvent(truth.deploys, d.delivered.deploys, k, x, del, miss, d.e.UpsertDeployment, d.e.DeleteDeployment)
			case 1:
				x := mkStatefulSet(ns, name, int64(1+r.IntN(2)), int64(1+r.IntN(2)), pick(r, []*int32{nil, ptr.To[int32](1), ptr.To[int32](3)}), int32(r.IntN(4)))
				applyEvent(truth.sets, d.delivered.sets, k, x, del, miss, d.e.UpsertStatefulSet, d.e.DeleteStatefulSet)
			case 2:
				x := mkDaemonSet(ns, name, int32(r.IntN(3)), int32(r.IntN(3)))
				applyEvent(truth.daemons, d.delivered.daemons, k, x, del, miss, d.e.UpsertDaemonSet, d.e.DeleteDaemonSet)
			}
		case op < 97: // quotas
			ns, name := pick(r, rndNamespaces), fmt.Sprintf("q%d", r.IntN(2))
			k := key(ns, name)
			desc = "quota " + k
			del := r.IntN(4) == 0
			var q *v1.ResourceQuota
			if !del {
				q = &v1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.ResourceQuotaSpec{Hard: rl("pods", "10")}}
				if r.IntN(2) == 0 {
					q.Status = v1.ResourceQuotaStatus{Hard: rl("pods", fmt.Sprint(10+r.IntN(3))), Used: rl("pods", fmt.Sprint(r.IntN(5)))}
				}
			}
			applyEvent(truth.quotas, d.delivered.quotas, k, q, del, miss, d.e.UpsertResourceQuota, d.e.DeleteResourceQuota)
		default:
			desc = "relist"
			d.relist(truth)
		}

		if rev := d.e.Revision(); rev < lastRev {
			t.Fatalf("step %d (%s): revision went back from %d to %d", step, desc, lastRev, rev)
		} else {
			lastRev = rev
		}
		compareWithRecount(t, d.e, d.delivered, cache, fmt.Sprintf("step %d (%s)", step, desc))
		if t.Failed() {
			t.FailNow()
		}
	}

	// Everything deleted through a final relist leaves nothing behind.
	d.relist(newModel())
	compareWithRecount(t, d.e, d.delivered, cache, "final empty relist")
	if len(d.e.pods) != 0 || len(d.e.cells) != 0 || d.e.nodes.count() != 0 || d.e.nss.count() != 0 || len(d.e.workloads) != 0 || len(d.e.shapes.byKey) != 0 {
		t.Errorf("state left after deleting everything: pods=%d cells=%d nodes=%d namespaces=%d workloads=%d shapes=%d",
			len(d.e.pods), len(d.e.cells), d.e.nodes.count(), d.e.nss.count(), len(d.e.workloads), len(d.e.shapes.byKey))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// differ reports a difference; the cheap reflect.DeepEqual goes first and
// go-cmp, which knows nil and empty maps and Quantity equality, decides.
func differ(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return cmp.Diff(want, got, cmpopts()...)
}

func compareWithRecount(t *testing.T, e *Engine, m *model, res podCache, where string) {
	t.Helper()
	for i, s := range randomSelections {
		want := m.cluster(s, res)
		got := e.Cluster(s)
		got.Revision = 0
		if diff := differ(want, got); diff != "" {
			t.Errorf("%s: Cluster(selection %d) (-recount +engine):\n%s", where, i, diff)
			return
		}
	}
	for _, name := range append(slices.Clone(rndNodes), "never") {
		want, wantOK := m.node(name, res)
		got, ok := e.Node(name)
		got.Revision = 0
		if ok != wantOK {
			t.Errorf("%s: Node(%s) found=%v, want %v", where, name, ok, wantOK)
			return
		}
		if diff := differ(want, got); diff != "" {
			t.Errorf("%s: Node(%s) (-recount +engine):\n%s", where, name, diff)
			return
		}
	}
	for _, name := range rndNamespaces {
		want, wantOK := m.namespace(name, res)
		got, ok := e.Namespace(name)
		got.Revision = 0
		if ok != wantOK {
			t.Errorf("%s: Namespace(%s) found=%v, want %v", where, name, ok, wantOK)
			return
		}
		if diff := differ(want, got); diff != "" {
			t.Errorf("%s: Namespace(%s) (-recount +engine):\n%s", where, name, diff)
			return
		}
	}
	if got, want := len(e.ListNodes(nil)), len(m.nodes); got != want {
		t.Errorf("%s: ListNodes returned %d, want %d", where, got, want)
	}
	if got, want := len(e.ListNamespaces(labels.Everything())), len(m.namespaces); got != want {
		t.Errorf("%s: ListNamespaces returned %d, want %d", where, got, want)
	}
	checkShapeRefs(t, e, where)
}

// checkShapeRefs checks that every interned shape is counted by exactly the
// pod records pointing to it, so that none outlives its last pod.
func checkShapeRefs(t *testing.T, e *Engine, where string) {
	t.Helper()
	refs := map[*podShape]int32{}
	for k, r := range e.pods {
		if r.shape == nil {
			continue
		}
		refs[r.shape]++
		if e.shapes.byKey[r.shape.key] != r.shape {
			t.Errorf("%s: pod %v points to a shape the table does not hold", where, k)
		}
	}
	for key, s := range e.shapes.byKey {
		if s.key != key || s.refs != refs[s] || s.refs <= 0 {
			t.Errorf("%s: shape %x has %d references recorded, %d pods point to it", where, key, s.refs, refs[s])
		}
	}
}

func quantityEqual(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }

func cmpopts() []cmp.Option {
	return []cmp.Option{
		cmp.Comparer(quantityEqual),
		// nil and empty label maps mean the same.
		cmp.Transformer("labels", func(m map[string]string) map[string]string {
			if len(m) == 0 {
				return nil
			}
			return m
		}),
		cmp.Transformer("list", func(l v1.ResourceList) v1.ResourceList {
			if len(l) == 0 {
				return nil
			}
			return l
		}),
	}
}
