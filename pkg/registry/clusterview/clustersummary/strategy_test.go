package clustersummary

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/install"
)

func testStrategies(t *testing.T) (specStrategy, statusStrategy) {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return NewStrategies(scheme)
}

// clusterCtx is the context of a request for a cluster-scoped resource.
func clusterCtx() context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)
}

func someStatus(nodes int64) clusterview.ClusterSummaryStatus {
	allocatable := resource.MustParse("4")
	updated := metav1.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	return clusterview.ClusterSummaryStatus{
		ObservedGeneration: 4,
		Conditions: []metav1.Condition{{
			Type: clusterview.ConditionReady, Status: metav1.ConditionTrue, Reason: "Computed", LastTransitionTime: updated,
		}},
		Nodes:      &clusterview.NodeCounts{Total: nodes, Ready: nodes},
		Pods:       &clusterview.PodCounts{Total: 3, Running: 3},
		Namespaces: 2,
		Resources: []clusterview.ResourceUsage{{
			Name: corev1.ResourceCPU, Allocatable: &allocatable, Requests: resource.MustParse("1500m"),
		}},
		LastUpdateTime: &updated,
	}
}

// storedSummary is a ClusterSummary as etcd holds it after a few spec changes.
func storedSummary() *clusterview.ClusterSummary {
	return &clusterview.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name:              "prod",
			ResourceVersion:   "42",
			UID:               "0c6f7a52-6a55-4d3c-8e68-6d1bdbd0b2a7",
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			Generation:        4,
			Labels:            map[string]string{"team": "infra"},
			Annotations:       map[string]string{"owner": "sre"},
		},
		Spec: clusterview.ClusterSummarySpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "general"}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod"}},
			}},
			GroupByNodeLabel: "topology.kubernetes.io/zone",
			Resources:        []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods},
		},
		Status: someStatus(5),
	}
}

func TestPrepareForCreate(t *testing.T) {
	spec, _ := testStrategies(t)
	obj := storedSummary()
	obj.Generation = 7
	wantSpec := *obj.Spec.DeepCopy()
	wantLabels := map[string]string{"team": "infra"}

	spec.PrepareForCreate(clusterCtx(), obj)

	if diff := cmp.Diff(clusterview.ClusterSummaryStatus{}, obj.Status); diff != "" {
		t.Errorf("status not cleared (-want +got):\n%s", diff)
	}
	if obj.Generation != 1 {
		t.Errorf("generation = %d, want 1", obj.Generation)
	}
	if diff := cmp.Diff(wantSpec, obj.Spec); diff != "" {
		t.Errorf("spec changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLabels, obj.Labels); diff != "" {
		t.Errorf("labels changed (-want +got):\n%s", diff)
	}
}

// TestBeforeCreate runs the strategy the way the generic store does.
func TestBeforeCreate(t *testing.T) {
	spec, _ := testStrategies(t)

	obj := &clusterview.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "cluster", Generation: 9}, Status: someStatus(3)}
	rest.FillObjectMetaSystemFields(obj)
	if err := rest.BeforeCreate(spec, clusterCtx(), obj); err != nil {
		t.Fatalf("BeforeCreate: %v", err)
	}
	if obj.Generation != 1 || obj.Status.Nodes != nil || obj.Status.LastUpdateTime != nil {
		t.Errorf("after BeforeCreate: generation %d, status %+v; want generation 1 and an empty status", obj.Generation, obj.Status)
	}

	bad := &clusterview.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Spec:       clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"cpu", "gpus"}},
	}
	rest.FillObjectMetaSystemFields(bad)
	err := rest.BeforeCreate(spec, clusterCtx(), bad)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("BeforeCreate of an invalid spec: got %v, want an Invalid error", err)
	}
	causes := err.(*apierrors.StatusError).ErrStatus.Details.Causes
	if len(causes) != 1 || causes[0].Field != "spec.resources[1]" || causes[0].Type != metav1.CauseTypeFieldValueNotSupported {
		t.Errorf("causes = %+v, want one FieldValueNotSupported at spec.resources[1]", causes)
	}
	if gk := err.(*apierrors.StatusError).ErrStatus.Details.Kind; gk != "ClusterSummary" {
		t.Errorf("error kind = %q, want ClusterSummary", gk)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	cases := []struct {
		name           string
		mutate         func(*clusterview.ClusterSummary)
		wantGeneration int64
	}{
		{name: "no change", mutate: func(*clusterview.ClusterSummary) {}, wantGeneration: 4},
		{name: "label added", mutate: func(cs *clusterview.ClusterSummary) { cs.Labels["tier"] = "gold" }, wantGeneration: 4},
		{name: "labels removed", mutate: func(cs *clusterview.ClusterSummary) { cs.Labels = nil }, wantGeneration: 4},
		{name: "annotation changed", mutate: func(cs *clusterview.ClusterSummary) { cs.Annotations["owner"] = "platform" }, wantGeneration: 4},
		{name: "finalizer added", mutate: func(cs *clusterview.ClusterSummary) { cs.Finalizers = []string{"example.com/keep"} }, wantGeneration: 4},
		{name: "only the status changed", mutate: func(cs *clusterview.ClusterSummary) { cs.Status = someStatus(99) }, wantGeneration: 4},
		{name: "status cleared", mutate: func(cs *clusterview.ClusterSummary) { cs.Status = clusterview.ClusterSummaryStatus{} }, wantGeneration: 4},
		{name: "node selector expressions: nil and empty are the same", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.NodeSelector.MatchExpressions = []metav1.LabelSelectorRequirement{}
		}, wantGeneration: 4},

		{name: "node selector label value changed", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.NodeSelector.MatchLabels["pool"] = "gpu"
		}, wantGeneration: 5},
		{name: "node selector removed", mutate: func(cs *clusterview.ClusterSummary) { cs.Spec.NodeSelector = nil }, wantGeneration: 5},
		{name: "node selector expression added", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.NodeSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "gpu", Operator: metav1.LabelSelectorOpExists}}
		}, wantGeneration: 5},
		{name: "namespace selector operator changed", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.NamespaceSelector.MatchExpressions[0].Operator = metav1.LabelSelectorOpNotIn
		}, wantGeneration: 5},
		{name: "namespace selector value added", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.NamespaceSelector.MatchExpressions[0].Values = append(cs.Spec.NamespaceSelector.MatchExpressions[0].Values, "staging")
		}, wantGeneration: 5},
		{name: "resource added", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.Resources = append(cs.Spec.Resources, "nvidia.com/gpu")
		}, wantGeneration: 5},
		{name: "resource removed", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.Resources = cs.Spec.Resources[:2]
		}, wantGeneration: 5},
		{name: "groupBy changed", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.GroupByNodeLabel = "kubernetes.io/hostname"
		}, wantGeneration: 5},
		{name: "groupBy cleared", mutate: func(cs *clusterview.ClusterSummary) { cs.Spec.GroupByNodeLabel = "" }, wantGeneration: 5},
		{name: "spec, labels and status changed together", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.GroupByNodeLabel = ""
			cs.Labels = map[string]string{"x": "y"}
			cs.Status = someStatus(1)
		}, wantGeneration: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := testStrategies(t)
			old := storedSummary()
			obj := old.DeepCopy()
			// A client sends the status it read, possibly altered.
			obj.Status.Namespaces = 1000
			tc.mutate(obj)
			wantSpec := *obj.Spec.DeepCopy()
			wantLabels, wantAnnotations := obj.Labels, obj.Annotations

			spec.PrepareForUpdate(clusterCtx(), obj, old)

			if obj.Generation != tc.wantGeneration {
				t.Errorf("generation = %d, want %d", obj.Generation, tc.wantGeneration)
			}
			if diff := cmp.Diff(storedSummary().Status, obj.Status); diff != "" {
				t.Errorf("status is not the stored one (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantSpec, obj.Spec); diff != "" {
				t.Errorf("spec is not the new one (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantLabels, obj.Labels); diff != "" {
				t.Errorf("labels are not the new ones (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantAnnotations, obj.Annotations); diff != "" {
				t.Errorf("annotations are not the new ones (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(storedSummary(), old); diff != "" {
				t.Errorf("old object modified (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBeforeUpdateGeneration runs the spec strategy the way the generic
// store does: a generation the client sends is ignored.
func TestBeforeUpdateGeneration(t *testing.T) {
	cases := []struct {
		name           string
		clientGen      int64
		specChange     bool
		wantGeneration int64
	}{
		{name: "client lowers the generation, spec unchanged", clientGen: 1, wantGeneration: 4},
		{name: "client raises the generation, spec unchanged", clientGen: 10, wantGeneration: 4},
		{name: "client lowers the generation, spec changed", clientGen: 0, specChange: true, wantGeneration: 5},
		{name: "client raises the generation, spec changed", clientGen: 10, specChange: true, wantGeneration: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := testStrategies(t)
			old := storedSummary()
			obj := old.DeepCopy()
			obj.Generation = tc.clientGen
			if tc.specChange {
				obj.Spec.Resources = []corev1.ResourceName{corev1.ResourceCPU}
			}
			if err := rest.BeforeUpdate(spec, clusterCtx(), obj, old); err != nil {
				t.Fatalf("BeforeUpdate: %v", err)
			}
			if obj.Generation != tc.wantGeneration {
				t.Errorf("generation = %d, want %d", obj.Generation, tc.wantGeneration)
			}
		})
	}
}

func TestStatusPrepareForUpdate(t *testing.T) {
	_, status := testStrategies(t)
	old := storedSummary()
	obj := old.DeepCopy()

	obj.Spec = clusterview.ClusterSummarySpec{GroupByNodeLabel: "rack", Resources: []corev1.ResourceName{"nvidia.com/gpu"}}
	obj.Labels = map[string]string{"team": "intruder"}
	obj.Annotations = nil
	obj.Generation = 100
	newStatus := someStatus(8)
	newStatus.ObservedGeneration = 4
	newStatus.Conditions = append(newStatus.Conditions, metav1.Condition{
		Type: clusterview.ConditionDegraded, Status: metav1.ConditionTrue, Reason: "NodesNotReady", Message: "node-3 is not ready",
		LastTransitionTime: metav1.NewTime(time.Date(2026, 3, 4, 5, 7, 0, 0, time.UTC)),
	})
	obj.Status = *newStatus.DeepCopy()

	status.PrepareForUpdate(clusterCtx(), obj, old)

	want := storedSummary()
	want.Status = newStatus
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("after status PrepareForUpdate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(storedSummary(), old); diff != "" {
		t.Errorf("old object modified (-want +got):\n%s", diff)
	}
}

// TestStatusBeforeUpdate runs the status strategy the way the generic store does.
func TestStatusBeforeUpdate(t *testing.T) {
	_, status := testStrategies(t)

	old := storedSummary()
	obj := old.DeepCopy()
	obj.Spec.Resources = []corev1.ResourceName{"gpus"} // invalid, but ignored: the stored spec wins
	obj.Status = someStatus(6)
	if err := rest.BeforeUpdate(status, clusterCtx(), obj, old); err != nil {
		t.Fatalf("BeforeUpdate: %v", err)
	}
	if obj.Generation != 4 || obj.Status.Nodes.Total != 6 || len(obj.Spec.Resources) != 3 {
		t.Errorf("generation %d, status nodes %d, spec resources %v; want 4, 6 and the stored resources",
			obj.Generation, obj.Status.Nodes.Total, obj.Spec.Resources)
	}

	obj = old.DeepCopy()
	obj.Status = someStatus(6)
	obj.Status.Pods.Running = -1
	err := rest.BeforeUpdate(status, clusterCtx(), obj, old)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("BeforeUpdate of an invalid status: got %v, want an Invalid error", err)
	}
	causes := err.(*apierrors.StatusError).ErrStatus.Details.Causes
	if len(causes) != 1 || causes[0].Field != "status.pods.running" || causes[0].Type != metav1.CauseTypeFieldValueInvalid {
		t.Errorf("causes = %+v, want one FieldValueInvalid at status.pods.running", causes)
	}
}

func TestValidateWiring(t *testing.T) {
	spec, status := testStrategies(t)
	ctx := clusterCtx()

	badSpec := storedSummary()
	badSpec.Spec.GroupByNodeLabel = "not a label"
	badStatus := storedSummary()
	badStatus.Status.Namespaces = -1

	check := func(name string, got field.ErrorList, wantField string) {
		t.Helper()
		var paths []string
		for _, e := range got {
			paths = append(paths, e.Field)
		}
		var want []string
		if wantField != "" {
			want = []string{wantField}
		}
		if diff := cmp.Diff(want, paths); diff != "" {
			t.Errorf("%s: error paths (-want +got):\n%s", name, diff)
		}
	}
	check("spec Validate, bad spec", spec.Validate(ctx, badSpec), "spec.groupByNodeLabel")
	check("spec ValidateUpdate, bad spec", spec.ValidateUpdate(ctx, badSpec, storedSummary()), "spec.groupByNodeLabel")
	check("spec ValidateUpdate, bad status", spec.ValidateUpdate(ctx, badStatus, storedSummary()), "")
	check("status ValidateUpdate, bad status", status.ValidateUpdate(ctx, badStatus, storedSummary()), "status.namespaces")
	check("status ValidateUpdate, bad spec", status.ValidateUpdate(ctx, badSpec, storedSummary()), "")

	if w := spec.WarningsOnCreate(ctx, storedSummary()); len(w) != 0 {
		t.Errorf("WarningsOnCreate = %v", w)
	}
	if w := spec.WarningsOnUpdate(ctx, storedSummary(), storedSummary()); len(w) != 0 {
		t.Errorf("WarningsOnUpdate = %v", w)
	}
	if w := status.WarningsOnUpdate(ctx, storedSummary(), storedSummary()); len(w) != 0 {
		t.Errorf("status WarningsOnUpdate = %v", w)
	}
}

func TestStrategyFlags(t *testing.T) {
	spec, status := testStrategies(t)
	ctx := clusterCtx()
	for name, s := range map[string]rest.RESTUpdateStrategy{"spec": spec, "status": status} {
		if s.NamespaceScoped() {
			t.Errorf("%s strategy: NamespaceScoped() = true, want false", name)
		}
		if s.AllowCreateOnUpdate(ctx) {
			t.Errorf("%s strategy: AllowCreateOnUpdate() = true, want false", name)
		}
		if !s.AllowUnconditionalUpdate(ctx) {
			t.Errorf("%s strategy: AllowUnconditionalUpdate() = false, want true", name)
		}
	}
	if spec.GenerateName("summary-") == "summary-" {
		t.Errorf("GenerateName did not add a suffix")
	}
	kinds, _, err := spec.ObjectKinds(&clusterview.ClusterSummary{})
	if err != nil || len(kinds) != 1 || kinds[0].Group != "clusterview.io" || kinds[0].Kind != "ClusterSummary" {
		t.Errorf("ObjectKinds = %v, %v; want the internal clusterview.io ClusterSummary", kinds, err)
	}
}

func resetPaths(t *testing.T, got map[fieldpath.APIVersion]*fieldpath.Set) map[fieldpath.APIVersion][]string {
	t.Helper()
	out := map[fieldpath.APIVersion][]string{}
	for v, set := range got {
		var paths []string
		set.Iterate(func(p fieldpath.Path) { paths = append(paths, p.String()) })
		sort.Strings(paths)
		out[v] = paths
	}
	return out
}

func TestGetResetFields(t *testing.T) {
	spec, status := testStrategies(t)

	wantSpec := map[fieldpath.APIVersion][]string{"clusterview.io/v1beta1": {".status"}}
	if diff := cmp.Diff(wantSpec, resetPaths(t, spec.GetResetFields())); diff != "" {
		t.Errorf("spec strategy reset fields (-want +got):\n%s", diff)
	}
	wantStatus := map[fieldpath.APIVersion][]string{"clusterview.io/v1beta1": {".metadata.annotations", ".metadata.labels", ".spec"}}
	if diff := cmp.Diff(wantStatus, resetPaths(t, status.GetResetFields())); diff != "" {
		t.Errorf("status strategy reset fields (-want +got):\n%s", diff)
	}

	// The sets are what the fieldpath package builds for those paths.
	if !spec.GetResetFields()["clusterview.io/v1beta1"].Equals(fieldpath.NewSet(fieldpath.MakePathOrDie("status"))) {
		t.Errorf("spec reset set is not {status}")
	}
	if !status.GetResetFields()["clusterview.io/v1beta1"].Has(fieldpath.MakePathOrDie("metadata", "labels")) {
		t.Errorf("status reset set lacks metadata.labels")
	}
	if status.GetResetFields()["clusterview.io/v1beta1"].Has(fieldpath.MakePathOrDie("status")) {
		t.Errorf("status reset set must not reset the status")
	}
}

func TestGetAttrs(t *testing.T) {
	obj := storedSummary()
	ls, fs, err := GetAttrs(obj)
	if err != nil {
		t.Fatalf("GetAttrs: %v", err)
	}
	if diff := cmp.Diff(labels.Set{"team": "infra"}, ls); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fields.Set{"metadata.name": "prod"}, fs); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}

	if _, _, err := GetAttrs(&clusterview.ClusterSummaryList{}); err == nil {
		t.Errorf("GetAttrs of a list: want an error")
	}
}

func TestMatchClusterSummary(t *testing.T) {
	obj := storedSummary()
	noLabels := storedSummary()
	noLabels.Name = "cluster"
	noLabels.Labels = nil

	cases := []struct {
		name              string
		label, field      string
		wantObj, wantNone bool
	}{
		{name: "everything", wantObj: true, wantNone: true},
		{name: "label equals", label: "team=infra", wantObj: true},
		{name: "label differs", label: "team=apps"},
		{name: "label exists", label: "team", wantObj: true},
		{name: "label does not exist", label: "!team", wantNone: true},
		{name: "label set", label: "team in (apps,infra)", wantObj: true},
		{name: "name equals", field: "metadata.name=prod", wantObj: true},
		{name: "name double equals", field: "metadata.name==cluster", wantNone: true},
		{name: "name not equal", field: "metadata.name!=prod", wantNone: true},
		{name: "label and name", label: "team=infra", field: "metadata.name=cluster"},
		{name: "label and name both match", label: "team=infra", field: "metadata.name=prod", wantObj: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := labels.Parse(tc.label)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := fields.ParseSelector(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			p := MatchClusterSummary(ls, fs)
			for _, c := range []struct {
				obj  *clusterview.ClusterSummary
				want bool
			}{{obj, tc.wantObj}, {noLabels, tc.wantNone}} {
				got, err := p.Matches(c.obj)
				if err != nil {
					t.Fatalf("Matches(%s): %v", c.obj.Name, err)
				}
				if got != c.want {
					t.Errorf("Matches(%s) = %v, want %v", c.obj.Name, got, c.want)
				}
			}
		})
	}

	// A selector on a field the resource does not have matches nothing.
	p := MatchClusterSummary(labels.Everything(), fields.OneTermEqualSelector("spec.groupByNodeLabel", "topology.kubernetes.io/zone"))
	if got, _ := p.Matches(obj); got {
		t.Errorf("a selector on spec.groupByNodeLabel matched")
	}
	// The predicate matches on the object's name for single-object requests.
	single := MatchClusterSummary(labels.Everything(), fields.OneTermEqualSelector("metadata.name", "prod"))
	if name, ok := single.MatchesSingle(); !ok || name != "prod" {
		t.Errorf("MatchesSingle() = %q, %v; want prod, true", name, ok)
	}
}
