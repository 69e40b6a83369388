package aggregated

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/validation"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
)

// boundsLabel marks the nodes of TestBoundsGroupsBeyondTheCapFoldIntoOther.
const boundsLabel = "clusterview-test/bounds"

// TestBoundsSpecOverTheCapsIsRejected sends specs one item over each size
// cap through kube-apiserver, on create and on update: each gets a 422 whose
// cause names the field, and nothing is stored or changed.
func TestBoundsSpecOverTheCapsIsRejected(t *testing.T) {
	ctx := t.Context()
	resources := func(n int) []corev1.ResourceName {
		out := make([]corev1.ResourceName, n)
		for i := range out {
			out[i] = corev1.ResourceName(fmt.Sprintf("example.com/r%d", i))
		}
		return out
	}
	matchLabels := func(n int) *metav1.LabelSelector {
		s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
		for i := range n {
			s.MatchLabels[fmt.Sprintf("k%d", i)] = "v"
		}
		return s
	}
	expressions := func(n, values int) *metav1.LabelSelector {
		s := &metav1.LabelSelector{}
		for i := range n {
			r := metav1.LabelSelectorRequirement{Key: fmt.Sprintf("k%d", i), Operator: metav1.LabelSelectorOpIn}
			for j := range values {
				r.Values = append(r.Values, fmt.Sprintf("v%d", j))
			}
			s.MatchExpressions = append(s.MatchExpressions, r)
		}
		return s
	}
	cases := []struct {
		name  string
		spec  v1beta1.ClusterSummarySpec
		field string
	}{
		{"resources", v1beta1.ClusterSummarySpec{Resources: resources(validation.MaxResources + 1)}, "spec.resources"},
		{"node-match-labels", v1beta1.ClusterSummarySpec{NodeSelector: matchLabels(validation.MaxMatchLabels + 1)}, "spec.nodeSelector.matchLabels"},
		{"ns-match-expressions", v1beta1.ClusterSummarySpec{NamespaceSelector: expressions(validation.MaxMatchExpressions+1, 1)}, "spec.namespaceSelector.matchExpressions"},
		{"node-expression-values", v1beta1.ClusterSummarySpec{NodeSelector: expressions(1, validation.MaxExpressionValues+1)}, "spec.nodeSelector.matchExpressions[0].values"},
	}
	// At the caps exactly, the same specs are accepted: the limits are not
	// lower than documented.
	atCaps := &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "test-bounds-at-caps"},
		Spec: v1beta1.ClusterSummarySpec{
			Resources:         resources(validation.MaxResources),
			NodeSelector:      expressions(validation.MaxMatchExpressions, validation.MaxExpressionValues),
			NamespaceSelector: matchLabels(validation.MaxMatchLabels),
		},
	}
	if _, err := hardSummaries().Create(ctx, atCaps, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a spec exactly at every cap: %v", err)
	}
	t.Cleanup(func() {
		_ = hardSummaries().Delete(context.WithoutCancel(ctx), atCaps.Name, metav1.DeleteOptions{})
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "test-bounds-" + tc.name
			_, err := hardSummaries().Create(ctx, &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tc.spec}, metav1.CreateOptions{})
			hardExpectInvalid(t, err, tc.field)
			hardAbsent(t, name)

			// The status controller may write the status meanwhile: read
			// the object afresh until the update reaches validation.
			var before *v1beta1.ClusterSummary
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				var err error
				if before, err = hardSummaries().Get(ctx, atCaps.Name, metav1.GetOptions{}); err != nil {
					return err
				}
				update := before.DeepCopy()
				update.Spec = tc.spec
				_, err = hardSummaries().Update(ctx, update, metav1.UpdateOptions{})
				return err
			})
			hardExpectInvalid(t, err, tc.field)
			hardUnchanged(t, before)
		})
	}
}

// TestBoundsGroupsBeyondTheCapFoldIntoOther groups by kubernetes.io/hostname
// over more nodes than --max-status-groups (the default, 16): the status
// shows 16 groups, the last "<other>" summing the nodes of the rest, and
// GroupsTruncated=True sends the reader to NodeSummary.
func TestBoundsGroupsBeyondTheCapFoldIntoOther(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	const nodes = clustersummarystatus.DefaultMaxGroups + 4
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	for i := range nodes {
		name := fmt.Sprintf("bounds-n%02d", i)
		createNodeObject(ctx, t, kube, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{boundsLabel: "yes", corev1.LabelHostname: name}}}, alloc, corev1.ConditionTrue)
	}
	cs := &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "test-bounds-groups"},
		Spec: v1beta1.ClusterSummarySpec{
			NodeSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{boundsLabel: "yes"}},
			GroupByNodeLabel: corev1.LabelHostname,
		},
	}
	if _, err := hardSummaries().Create(ctx, cs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hardSummaries().Delete(context.WithoutCancel(ctx), cs.Name, metav1.DeleteOptions{}) })

	var got *v1beta1.ClusterSummary
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = hardSummaries().Get(ctx, cs.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Nodes != nil && got.Status.Nodes.Total == nodes && len(got.Status.Groups) > 0, nil
	})
	if err != nil {
		t.Fatalf("status never counted the %d nodes: %v (last: %+v)", nodes, err, got.Status)
	}
	groups := got.Status.Groups
	if len(groups) != clustersummarystatus.DefaultMaxGroups {
		t.Errorf("status has %d groups, want the cap %d", len(groups), clustersummarystatus.DefaultMaxGroups)
	}
	var sum int64
	var other *v1beta1.GroupSummary
	for i := range groups {
		sum += groups[i].Nodes.Total
		if groups[i].Name == v1beta1.OtherGroup {
			other = &groups[i]
		} else if groups[i].Nodes.Total != 1 {
			t.Errorf("group %s has %d nodes, want 1 (one per hostname)", groups[i].Name, groups[i].Nodes.Total)
		}
	}
	if sum != nodes {
		t.Errorf("groups sum %d nodes, want %d: a node was lost or counted twice", sum, nodes)
	}
	// 16 groups shown: 15 hostnames and <other> with the remaining 5.
	if want := int64(nodes - clustersummarystatus.DefaultMaxGroups + 1); other == nil || other.Nodes.Total != want {
		t.Errorf("group %s = %+v, want %d nodes", v1beta1.OtherGroup, other, want)
	}
	cond := apimeta.FindStatusCondition(got.Status.Conditions, v1beta1.ConditionGroupsTruncated)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != clustersummarystatus.ReasonTooManyGroups {
		t.Fatalf("GroupsTruncated = %+v, want True/%s", cond, clustersummarystatus.ReasonTooManyGroups)
	}
	for _, want := range []string{"NodeSummary", fmt.Sprintf("has %d values", nodes), "--max-status-groups=16"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("GroupsTruncated message %q does not say %q", cond.Message, want)
		}
	}
	// The figures it points to are there: one NodeSummary per folded node.
	list, err := env.Client.ClusterviewV1beta1().NodeSummaries().List(ctx, metav1.ListOptions{LabelSelector: boundsLabel + "=yes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != nodes {
		t.Errorf("nodesummaries -l %s=yes lists %d, want %d", boundsLabel, len(list.Items), nodes)
	}
}

// TestBoundsDefaultSummaryCannotBeMadeToLie writes a false status into the
// default ClusterSummary, `cluster`, as the admin (who may write the
// status subresource): the server puts the true figures back within
// seconds, without waiting for the cluster to change. A user may change
// its spec; the status then follows the new spec and says which
// generation it reflects.
func TestBoundsDefaultSummaryCannotBeMadeToLie(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	truth := func(ctx context.Context) (int64, error) {
		nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		return int64(len(nodes.Items)), nil
	}
	var cs *v1beta1.ClusterSummary
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if cs, err = hardSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{}); err != nil {
			return err
		}
		lie := cs.DeepCopy()
		lie.Status.Nodes = &v1beta1.NodeCounts{Total: 9999, Ready: 9999}
		_, err = hardSummaries().UpdateStatus(ctx, lie, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("writing a false status as the admin: %v", err)
	}
	var got *v1beta1.ClusterSummary
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		want, err := truth(ctx)
		if err != nil {
			return false, err
		}
		if got, err = hardSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{}); err != nil {
			return false, err
		}
		return got.Status.Nodes != nil && got.Status.Nodes.Total == want, nil
	})
	if err != nil {
		t.Fatalf("the false status was not put right: %v (status nodes %+v)", err, got.Status.Nodes)
	}

	// A spec change is the user's to make; the status follows it.
	const none = "clusterview-test/no-such-label"
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := hardSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{none: "yes"}}
		_, err = hardSummaries().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := hardSummaries().Get(context.WithoutCancel(ctx), v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Spec.NodeSelector = nil
			_, err = hardSummaries().Update(context.WithoutCancel(ctx), cur, metav1.UpdateOptions{})
			return err
		})
	})
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		if got, err = hardSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{}); err != nil {
			return false, err
		}
		return got.Status.ObservedGeneration == got.Generation && got.Status.Nodes != nil && got.Status.Nodes.Total == 0, nil
	})
	if err != nil {
		t.Fatalf("status did not follow the new spec: %v (generation %d, observed %d, nodes %+v)", err, got.Generation, got.Status.ObservedGeneration, got.Status.Nodes)
	}
}
