package clustersummarystatus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/generated/clientset/versioned/fake"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions"
	"github.com/clusterview/clusterview/pkg/summary"
)

// node is a 4-CPU node; pod requests cpu and, when crashLooping, has one
// container waiting in CrashLoopBackOff and another restarted three times.
func node(name string, ready bool, kv ...string) *corev1.Node {
	return fx.Node(name, fx.Ready(ready), fx.Holds("cpu", "4", "pods", "110"), fx.NodeLabels(kv...))
}

func pod(ns, name, nodeName string, phase corev1.PodPhase, cpu string, crashLooping bool) *corev1.Pod {
	opts := []fx.PodOption{fx.OnNode(nodeName), fx.InPhase(phase), fx.Requests("cpu", cpu)}
	if crashLooping {
		opts = append(opts, fx.CrashLooping(), fx.WithRestarts(3))
	}
	return fx.Pod(ns, name, opts...)
}

func newSummary(name string, generation int64) *v1beta1.ClusterSummary {
	return &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: generation},
		Spec:       v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{corev1.ResourceCPU}},
	}
}

func TestComputeStatusBeforeSync(t *testing.T) {
	st, err := ComputeStatus(newSummary("s", 3), summary.New(summary.Options{}), false, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	ready := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != ReasonInformersNotSynced || ready.ObservedGeneration != 3 {
		t.Errorf("Ready = %+v, want False/%s for generation 3", ready, ReasonInformersNotSynced)
	}
	if st.Nodes != nil || st.Pods != nil || len(st.Resources) != 0 {
		t.Errorf("unsynced status carries counts: %+v", st)
	}
}

func TestComputeStatusDegraded(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n1", true, "pool", "a"))
	e.UpsertNode(node("n2", false, "pool", "b"))
	e.UpsertPod(pod("team", "web", "n1", corev1.PodRunning, "500m", false))
	e.UpsertPod(pod("team", "api", "n1", corev1.PodRunning, "1", true))
	e.UpsertPod(pod("team", "queued", "", corev1.PodPending, "2", false))

	st, err := ComputeStatus(newSummary("all", 2), e, true, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	if st.ObservedGeneration != 2 {
		t.Errorf("observedGeneration = %d, want 2", st.ObservedGeneration)
	}
	if st.Nodes == nil || st.Nodes.Total != 2 || st.Nodes.Ready != 1 || st.Nodes.NotReady != 1 {
		t.Errorf("nodes = %+v, want 2 total, 1 ready, 1 not ready", st.Nodes)
	}
	if st.Pods == nil || st.Pods.Total != 3 || st.Pods.Running != 2 || st.Pods.Unscheduled != 1 || st.Pods.CrashLooping != 1 || st.Pods.ContainerRestarts != 3 {
		t.Errorf("pods = %+v", st.Pods)
	}
	if len(st.Resources) != 1 || st.Resources[0].Name != corev1.ResourceCPU || st.Resources[0].Requests.MilliValue() != 1500 || st.Resources[0].Allocatable.MilliValue() != 8000 {
		t.Errorf("resources = %+v, want cpu requests 1500m (the unscheduled pod excluded) of 8 allocatable", st.Resources)
	}
	degraded := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionDegraded)
	if degraded == nil || degraded.Status != metav1.ConditionTrue || degraded.Reason != ReasonNodesNotReady {
		t.Fatalf("Degraded = %+v, want True/%s", degraded, ReasonNodesNotReady)
	}
	for _, want := range []string{"1 of 2 nodes not ready: n2", "1 pod crash-looping: team/api"} {
		if !strings.Contains(degraded.Message, want) {
			t.Errorf("Degraded message %q lacks %q", degraded.Message, want)
		}
	}

	// A node selector that leaves out the bad node and the crash-looping pod's node.
	healthy := newSummary("pool-b", 1)
	healthy.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "b"}}
	st, err = ComputeStatus(healthy, e, true, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	if degraded := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionDegraded); degraded.Reason != ReasonNodesNotReady {
		t.Errorf("pool b (only n2, not ready): Degraded reason %q", degraded.Reason)
	}
	healthy.Spec.NodeSelector.MatchLabels["pool"] = "a"
	healthy.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"none": "such"}}
	st, err = ComputeStatus(healthy, e, true, DefaultMaxGroups)
	if err != nil {
		t.Fatal(err)
	}
	if degraded := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionDegraded); degraded.Status != metav1.ConditionFalse || degraded.Reason != ReasonAsExpected {
		t.Errorf("healthy selection: Degraded = %+v, want False/%s", degraded, ReasonAsExpected)
	}
}

func TestMergeConditionsKeepsTransitionTimes(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	have := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, LastTransitionTime: then}, {Type: "Degraded", Status: metav1.ConditionFalse, LastTransitionTime: then}}
	want := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}, {Type: "Degraded", Status: metav1.ConditionTrue}}
	got := mergeConditions(have, want, now)
	if !got[0].LastTransitionTime.Equal(&then) {
		t.Errorf("unchanged Ready moved its transition time to %v", got[0].LastTransitionTime)
	}
	if !got[1].LastTransitionTime.Equal(&now) {
		t.Errorf("Degraded flipped but kept transition time %v", got[1].LastTransitionTime)
	}
}

// TestControllerWritesOnlyChanges runs the controller against a fake
// clientset: it writes a computed status, writes nothing more while the
// engine is unchanged, and writes again after a change.
func TestControllerWritesOnlyChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n1", true))
	c, client, factory := newController(t, e, Options{Interval: 50 * time.Millisecond}, newSummary("cluster", 1))
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	statusWrites := func() int { return statusUpdates(client) }
	readyNodes := func(ctx context.Context) (int64, error) {
		cs, err := client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, "cluster", metav1.GetOptions{})
		if err != nil || cs.Status.Nodes == nil {
			return -1, err
		}
		return cs.Status.Nodes.Ready, nil
	}
	waitFor := func(want int64) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := readyNodes(ctx)
			return got == want, err
		})
		if err != nil {
			t.Fatalf("status never showed %d ready nodes: %v (actions %v)", want, err, actionsOf(client.Actions()))
		}
	}
	waitFor(1)
	writes := statusWrites()

	// Re-syncing an unchanged engine writes nothing: sync directly, after
	// the informer has seen our own write.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		cs, err := c.lister.Get("cluster")
		return err == nil && cs.Status.Nodes != nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.sync(ctx, "cluster"); err != nil {
			t.Fatal(err)
		}
	}
	if got := statusWrites(); got != writes {
		t.Errorf("unchanged engine: %d status writes after the first %d", got-writes, writes)
	}

	e.UpsertNode(node("n2", true))
	waitFor(2)
}

// newController builds a controller over e and a fake clientset holding
// objs, with an always-synced engine; the test starts the informer factory
// when it is ready to.
func newController(t *testing.T, e *summary.Engine, opts Options, objs ...runtime.Object) (*Controller, *fake.Clientset, cvinformers.SharedInformerFactory) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := cvinformers.NewSharedInformerFactory(client, 0)
	c, err := New(e, func() bool { return true }, client, factory.Clusterview().V1beta1().ClusterSummaries(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, client, factory
}

// statusUpdates counts the status updates the controller sent.
func statusUpdates(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func actionsOf(actions []clienttesting.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.GetVerb()+"/"+a.GetSubresource())
	}
	return out
}

// TestControllerCoalescesWrites checks the write budget: after a write, an
// engine change within the interval is deferred, while a new spec is
// written at once.
func TestControllerCoalescesWrites(t *testing.T) {
	ctx := t.Context()
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n1", true))
	c, client, factory := newController(t, e, Options{Interval: time.Hour}, newSummary("cluster", 1))
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	statusWrites := func() int { return statusUpdates(client) }
	// waitSeen waits until the lister holds the written generation and status.
	waitSeen := func(generation, nodes int64) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			cs, err := c.lister.Get("cluster")
			return err == nil && cs.Generation == generation && cs.Status.Nodes != nil && cs.Status.Nodes.Total == nodes, nil
		})
		if err != nil {
			t.Fatalf("lister never saw generation %d with %d nodes", generation, nodes)
		}
	}

	if err := c.sync(ctx, "cluster"); err != nil {
		t.Fatal(err)
	}
	if statusWrites() != 1 {
		t.Fatalf("first sync wrote %d statuses, want 1", statusWrites())
	}
	waitSeen(1, 1)

	e.UpsertNode(node("n2", true))
	if err := c.sync(ctx, "cluster"); err != nil {
		t.Fatal(err)
	}
	if statusWrites() != 1 {
		t.Errorf("an engine change within the interval was written at once (%d writes)", statusWrites())
	}

	cs, err := client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs.Generation = 2
	if _, err := client.ClusterviewV1beta1().ClusterSummaries().Update(ctx, cs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		got, err := c.lister.Get("cluster")
		return err == nil && got.Generation == 2, nil
	}); err != nil {
		t.Fatal("lister never saw generation 2")
	}
	if err := c.sync(ctx, "cluster"); err != nil {
		t.Fatal(err)
	}
	if statusWrites() != 2 {
		t.Errorf("a new generation within the interval was not written at once (%d writes, want 2)", statusWrites())
	}
	waitSeen(2, 2)
}

func TestComputeStatusGroupsTruncated(t *testing.T) {
	e := summary.New(summary.Options{})
	for i, zone := range []string{"a", "a", "b", "c"} {
		e.UpsertNode(node(fmt.Sprintf("n%d", i), true, "zone", zone))
	}
	cs := newSummary("by-zone", 1)
	cs.Spec.GroupByNodeLabel = "zone"

	st, err := ComputeStatus(cs, e, true, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := groupNames(st.Groups); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("groups within the cap = %v, want a, b, c", got)
	}
	if c := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionGroupsTruncated); c == nil || c.Status != metav1.ConditionFalse || c.Reason != ReasonAllGroupsShown {
		t.Errorf("GroupsTruncated = %+v, want False/%s", c, ReasonAllGroupsShown)
	}

	st, err = ComputeStatus(cs, e, true, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := groupNames(st.Groups); !slices.Equal(got, []string{v1beta1.OtherGroup, "a"}) {
		t.Errorf("groups over the cap = %v, want <other>, a", got)
	}
	if other := st.Groups[0]; other.Nodes.Total != 2 {
		t.Errorf("<other> has %d nodes, want 2 (zones b and c)", other.Nodes.Total)
	}
	c := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionGroupsTruncated)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonTooManyGroups || c.ObservedGeneration != 1 {
		t.Fatalf("GroupsTruncated = %+v, want True/%s", c, ReasonTooManyGroups)
	}
	for _, want := range []string{"zone has 3 values", "--max-status-groups=2", `the 2 groups with the fewest nodes are summed in group "<other>"`, "kubectl get nodesummaries -l zone="} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("GroupsTruncated message %q lacks %q", c.Message, want)
		}
	}

	// Without grouping there is no such condition.
	cs.Spec.GroupByNodeLabel = ""
	st, err = ComputeStatus(cs, e, true, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c := apimeta.FindStatusCondition(st.Conditions, v1beta1.ConditionGroupsTruncated); c != nil {
		t.Errorf("ungrouped summary has %+v", c)
	}
}

func groupNames(groups []v1beta1.GroupSummary) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.Name)
	}
	return out
}

// TestControllerSharesWriteBudget checks the budget shared by all
// summaries: however many need a write at once, no more are written than
// the token bucket allows in the time that passed, and every one is written
// in the end. The bound grows with elapsed time, so a slow machine only
// loosens it; a controller that ignored the budget would write all twelve
// within milliseconds and break it.
func TestControllerSharesWriteBudget(t *testing.T) {
	ctx := t.Context()
	e := summary.New(summary.Options{})
	e.UpsertNode(node("n1", true))
	const summaries, perSecond = 12, 4
	var objs []runtime.Object
	for i := range summaries {
		objs = append(objs, newSummary(fmt.Sprintf("s%02d", i), 1))
	}
	c, client, factory := newController(t, e, Options{Interval: time.Millisecond, WritesPerSecond: perSecond}, objs...)
	start := time.Now()
	factory.Start(ctx.Done())
	go c.Run(ctx, 4)

	written := func() int { return statusUpdates(client) }
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		n := written()
		// Burst of perSecond, then perSecond a second, plus one token of
		// slack for the instant between the write and this read.
		if allowed := perSecond + 1 + int(time.Since(start).Seconds()*perSecond); n > allowed {
			return false, fmt.Errorf("%d status writes %v after start, the budget allows %d", n, time.Since(start), allowed)
		}
		return n >= summaries, nil
	})
	if err != nil {
		t.Fatalf("%v (actions %v)", err, actionsOf(client.Actions()))
	}
}

// TestControllerQueuesTheDefaultSummaryFirst checks the order of a change
// that touches every summary: the default summary is queued ahead of the
// others, whatever order the lister returns them in. Each round drains the
// queue first, as the workers would have; the lister's order is a map's, so
// a controller without the rule would put "cluster" first in all five
// rounds about once in 30^5 runs.
func TestControllerQueuesTheDefaultSummaryFirst(t *testing.T) {
	ctx := t.Context()
	e := summary.New(summary.Options{})
	objs := []runtime.Object{newSummary(v1beta1.DefaultClusterSummaryName, 1)}
	for i := range 29 {
		objs = append(objs, newSummary(fmt.Sprintf("team-%02d", i), 1))
	}
	c, _, factory := newController(t, e, Options{Interval: time.Millisecond}, objs...)
	defer c.queue.ShutDown()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	// The informer's handler queues every summary as it arrives; wait for
	// all of them, so that no late arrival lands between a drain and a round.
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return c.queue.Len() == len(objs), nil
	}); err != nil {
		t.Fatalf("the informer queued %d of %d summaries: %v", c.queue.Len(), len(objs), err)
	}
	drain := func() {
		for c.queue.Len() > 0 {
			key, _ := c.queue.Get()
			c.queue.Done(key)
		}
	}
	for round := range 5 {
		drain()
		c.enqueueAll(ctx)
		if got := c.queue.Len(); got != len(objs) {
			t.Fatalf("round %d: %d keys queued, want %d", round, got, len(objs))
		}
		if first, _ := c.queue.Get(); first != v1beta1.DefaultClusterSummaryName {
			t.Fatalf("round %d: %q was queued first, want %q", round, first, v1beta1.DefaultClusterSummaryName)
		} else {
			c.queue.Done(first)
		}
	}
}
