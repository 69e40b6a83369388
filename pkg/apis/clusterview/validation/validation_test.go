package validation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

// fieldErr is the part of a field.Error these tests pin down: its type and
// the path it is about.
type fieldErr struct {
	Type  field.ErrorType
	Field string
}

func (e fieldErr) String() string { return fmt.Sprintf("%s %s", e.Type, e.Field) }

func summarize(errs field.ErrorList) []fieldErr {
	out := []fieldErr{}
	for _, e := range errs {
		out = append(out, fieldErr{Type: e.Type, Field: e.Field})
	}
	return out
}

func checkErrs(t *testing.T, got field.ErrorList, want []fieldErr) {
	t.Helper()
	if want == nil {
		want = []fieldErr{}
	}
	if diff := cmp.Diff(want, summarize(got)); diff != "" {
		t.Errorf("errors (-want +got):\n%s\nall errors: %v", diff, got)
	}
}

func invalid(path string) fieldErr      { return fieldErr{field.ErrorTypeInvalid, path} }
func required(path string) fieldErr     { return fieldErr{field.ErrorTypeRequired, path} }
func duplicate(path string) fieldErr    { return fieldErr{field.ErrorTypeDuplicate, path} }
func notSupported(path string) fieldErr { return fieldErr{field.ErrorTypeNotSupported, path} }
func forbidden(path string) fieldErr    { return fieldErr{field.ErrorTypeForbidden, path} }
func tooLong(path string) fieldErr      { return fieldErr{field.ErrorTypeTooLong, path} }

func q(s string) *resource.Quantity {
	v := resource.MustParse(s)
	return &v
}

func neg(s string) resource.Quantity { return resource.MustParse("-" + s) }

var transition = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func usage(name corev1.ResourceName) clusterview.ResourceUsage {
	return clusterview.ResourceUsage{
		Name:             name,
		Capacity:         q("8"),
		Allocatable:      q("7500m"),
		Requests:         resource.MustParse("1500m"),
		Limits:           resource.MustParse("3"),
		PodsWithoutLimit: 2,
	}
}

func nodeCounts() clusterview.NodeCounts {
	return clusterview.NodeCounts{Total: 5, Ready: 4, NotReady: 1, Unschedulable: 1, MemoryPressure: 1, DiskPressure: 1, PIDPressure: 1}
}

func podCounts() clusterview.PodCounts {
	return clusterview.PodCounts{Total: 12, Pending: 3, Running: 7, Succeeded: 1, Failed: 1, Unknown: 0, Unscheduled: 2, ContainerRestarts: 9, CrashLooping: 1}
}

// validStatus returns a status with every field set to a valid value, so a
// test can break exactly one of them.
func validStatus() clusterview.ClusterSummaryStatus {
	nodes, pods := nodeCounts(), podCounts()
	return clusterview.ClusterSummaryStatus{
		ObservedGeneration: 3,
		Conditions: []metav1.Condition{
			{Type: clusterview.ConditionReady, Status: metav1.ConditionTrue, Reason: "Computed", LastTransitionTime: transition, ObservedGeneration: 3},
			{Type: clusterview.ConditionDegraded, Status: metav1.ConditionFalse, Reason: "AllHealthy", Message: "", LastTransitionTime: transition},
		},
		Nodes:      &nodes,
		Pods:       &pods,
		Namespaces: 4,
		Resources:  []clusterview.ResourceUsage{usage(corev1.ResourceCPU), usage(corev1.ResourceMemory), usage("nvidia.com/gpu")},
		Workloads: &clusterview.WorkloadCounts{
			Deployments:  clusterview.ReadyCount{Total: 3, Ready: 2},
			StatefulSets: clusterview.ReadyCount{Total: 1, Ready: 1},
			DaemonSets:   clusterview.ReadyCount{Total: 2, Ready: 2},
		},
		Groups: []clusterview.GroupSummary{
			{Name: "us-east-1a", Nodes: nodeCounts(), Pods: podCounts(), Resources: []clusterview.ResourceUsage{usage(corev1.ResourceCPU)}},
			{Name: clusterview.NoneGroup, Nodes: nodeCounts(), Pods: podCounts()},
		},
		LastUpdateTime: &transition,
	}
}

func validSummary() *clusterview.ClusterSummary {
	return &clusterview.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
	}
}

func TestValidateClusterSummarySpec(t *testing.T) {
	cases := []struct {
		name string
		spec clusterview.ClusterSummarySpec
		want []fieldErr
	}{
		{name: "empty spec"},
		{
			name: "empty selectors select everything",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{}, NamespaceSelector: &metav1.LabelSelector{}},
		},
		{
			name: "node selector with every operator",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"node-role.kubernetes.io/worker": "", "pool": "gpu-a100"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "topology.kubernetes.io/zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"us-east-1a", "us-east-1b"}},
					{Key: "node.kubernetes.io/instance-type", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"t3.micro"}},
					{Key: "gpu", Operator: metav1.LabelSelectorOpExists},
					{Key: "node-role.kubernetes.io/control-plane", Operator: metav1.LabelSelectorOpDoesNotExist},
				},
			}},
		},
		{
			name: "namespace selector with every operator",
			spec: clusterview.ClusterSummarySpec{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": "prod"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}},
					{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"dev", "test"}},
					{Key: "owner", Operator: metav1.LabelSelectorOpExists},
					{Key: "sandbox", Operator: metav1.LabelSelectorOpDoesNotExist},
				},
			}},
		},
		{name: "groupBy zone", spec: clusterview.ClusterSummarySpec{GroupByNodeLabel: "topology.kubernetes.io/zone"}},
		{name: "groupBy hostname", spec: clusterview.ClusterSummarySpec{GroupByNodeLabel: "kubernetes.io/hostname"}},
		{name: "groupBy unprefixed label", spec: clusterview.ClusterSummarySpec{GroupByNodeLabel: "rack"}},
		{
			name: "every kind of accepted resource",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{
				"cpu", "memory", "pods", "ephemeral-storage", "storage", "hugepages-2Mi", "hugepages-1Gi", "nvidia.com/gpu", "example.com/foo",
			}},
		},

		// Size limits.
		{name: "as many resources as allowed", spec: clusterview.ClusterSummarySpec{Resources: extendedResources(MaxResources)}},
		{
			name: "one resource too many",
			spec: clusterview.ClusterSummarySpec{Resources: extendedResources(MaxResources + 1)},
			want: []fieldErr{tooMany("spec.resources")},
		},
		{
			name: "longest resource name",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{longestResourceName()}},
		},
		{
			name: "hugepages name longer than any resource name",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{corev1.ResourceName("hugepages-" + strings.Repeat("0", MaxResourceNameLength) + "1Mi")}},
			want: []fieldErr{tooLong("spec.resources[0]")},
		},
		{name: "largest selectors", spec: clusterview.ClusterSummarySpec{NodeSelector: largestSelector(0), NamespaceSelector: largestSelector(0)}},
		{
			name: "selectors one term too large",
			spec: clusterview.ClusterSummarySpec{NodeSelector: largestSelector(1), NamespaceSelector: largestSelector(1)},
			want: []fieldErr{
				tooMany("spec.nodeSelector.matchLabels"), tooMany("spec.nodeSelector.matchExpressions"),
				tooMany("spec.nodeSelector.matchExpressions[0].values"),
				tooMany("spec.namespaceSelector.matchLabels"), tooMany("spec.namespaceSelector.matchExpressions"),
				tooMany("spec.namespaceSelector.matchExpressions[0].values"),
			},
		},

		// Selectors.
		{
			name: "unknown node selector operator",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "zone", Operator: "Equals", Values: []string{"a"}},
			}}},
			want: []fieldErr{invalid("spec.nodeSelector.matchExpressions[0].operator")},
		},
		{
			name: "In without values",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "zone", Operator: metav1.LabelSelectorOpExists},
				{Key: "zone", Operator: metav1.LabelSelectorOpIn},
			}}},
			want: []fieldErr{required("spec.nodeSelector.matchExpressions[1].values")},
		},
		{
			name: "NotIn without values in the namespace selector",
			spec: clusterview.ClusterSummarySpec{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{}},
			}}},
			want: []fieldErr{required("spec.namespaceSelector.matchExpressions[0].values")},
		},
		{
			name: "Exists with values",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "gpu", Operator: metav1.LabelSelectorOpExists, Values: []string{"true"}},
			}}},
			want: []fieldErr{forbidden("spec.nodeSelector.matchExpressions[0].values")},
		},
		{
			name: "invalid expression key and value",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "-zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"ok", "not ok"}},
			}}},
			want: []fieldErr{invalid("spec.nodeSelector.matchExpressions[0].key"), invalid("spec.nodeSelector.matchExpressions[0].values[1]")},
		},
		{
			name: "invalid matchLabels key",
			spec: clusterview.ClusterSummarySpec{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}},
			want: []fieldErr{invalid("spec.namespaceSelector.matchLabels")},
		},
		{
			name: "invalid matchLabels value",
			spec: clusterview.ClusterSummarySpec{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "-a-"}}},
			want: []fieldErr{invalid("spec.namespaceSelector.matchLabels")},
		},
		{
			name: "invalid node matchLabels value",
			spec: clusterview.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": strings.Repeat("x", 64)}}},
			want: []fieldErr{invalid("spec.nodeSelector.matchLabels")},
		},

		// groupByNodeLabel.
		{
			name: "groupBy with two slashes",
			spec: clusterview.ClusterSummarySpec{GroupByNodeLabel: "topology.kubernetes.io/zone/a"},
			want: []fieldErr{invalid("spec.groupByNodeLabel")},
		},
		{
			name: "groupBy with a space",
			spec: clusterview.ClusterSummarySpec{GroupByNodeLabel: "my zone"},
			want: []fieldErr{invalid("spec.groupByNodeLabel")},
		},
		{
			name: "groupBy with an invalid prefix",
			spec: clusterview.ClusterSummarySpec{GroupByNodeLabel: "Topology_K8s/zone"},
			want: []fieldErr{invalid("spec.groupByNodeLabel")},
		},

		// Resources.
		{
			name: "unknown resource gpus",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"cpu", "gpus"}},
			want: []fieldErr{notSupported("spec.resources[1]")},
		},
		{
			name: "kubernetes.io prefix is not an extended resource",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"kubernetes.io/foo"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "kubernetes.io subdomain is not an extended resource",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"memory", "node.kubernetes.io/foo"}},
			want: []fieldErr{notSupported("spec.resources[1]")},
		},
		{
			name: "upper-case standard name",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"CPU"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "hugepages without a size",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"hugepages-"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "extended resource without a name",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"nvidia.com/"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "extended resource with an invalid domain",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"nvidia_com/gpu"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "hugepages with a size that is not a quantity",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"hugepages-not a size"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "hugepages with a slash",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"hugepages-2Mi/x"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "quota-style requests. prefix is not an extended resource",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"requests.nvidia.com/gpu"}},
			want: []fieldErr{notSupported("spec.resources[0]")},
		},
		{
			name: "duplicate resource",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"cpu", "memory", "cpu"}},
			want: []fieldErr{duplicate("spec.resources[2]")},
		},
		{
			name: "duplicate extended resource",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"nvidia.com/gpu", "nvidia.com/gpu"}},
			want: []fieldErr{duplicate("spec.resources[1]")},
		},
		{
			name: "duplicate unknown resource is reported once as unsupported, then as duplicate",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"gpus", "gpus"}},
			want: []fieldErr{notSupported("spec.resources[0]"), duplicate("spec.resources[1]")},
		},
		{
			name: "empty resource name",
			spec: clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"cpu", ""}},
			want: []fieldErr{required("spec.resources[1]")},
		},

		{
			name: "errors in every field are all reported",
			spec: clusterview.ClusterSummarySpec{
				NodeSelector:      &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Like"}}},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a/b/c": "x"}},
				GroupByNodeLabel:  "zone!",
				Resources:         []corev1.ResourceName{"gpus", "cpu", "cpu"},
			},
			want: []fieldErr{
				invalid("spec.nodeSelector.matchExpressions[0].operator"),
				invalid("spec.namespaceSelector.matchLabels"),
				invalid("spec.groupByNodeLabel"),
				notSupported("spec.resources[0]"),
				duplicate("spec.resources[2]"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, ValidateClusterSummarySpec(&tc.spec, field.NewPath("spec")), tc.want)

			// The whole object reports the same errors on create and on update.
			obj := validSummary()
			obj.Spec = tc.spec
			checkErrs(t, ValidateClusterSummary(obj), tc.want)

			old := validSummary()
			old.ResourceVersion = "7"
			updated := old.DeepCopy()
			updated.Spec = tc.spec
			checkErrs(t, ValidateClusterSummaryUpdate(updated, old), tc.want)
		})
	}
}

// extendedResources returns n distinct extended resource names.
func extendedResources(n int) []corev1.ResourceName {
	out := make([]corev1.ResourceName, n)
	for i := range out {
		out[i] = corev1.ResourceName(fmt.Sprintf("example.com/r%d", i))
	}
	return out
}

// longestResourceName is the longest extended resource name validation
// accepts: "requests." plus its prefix must stay a DNS subdomain.
func longestResourceName() corev1.ResourceName {
	prefix := strings.Repeat(strings.Repeat("a", 62)+".", 4)[:253-len(quotaRequestsPrefix)-4] + ".com"
	return corev1.ResourceName(prefix + "/" + strings.Repeat("n", 63))
}

// largestSelector is a valid selector at every size limit, plus extra terms
// beyond each limit (only the first expression gets extra values).
func largestSelector(extra int) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := range MaxMatchLabels + extra {
		s.MatchLabels[fmt.Sprintf("label-%d", i)] = "v"
	}
	for i := range MaxMatchExpressions + extra {
		r := metav1.LabelSelectorRequirement{Key: fmt.Sprintf("key-%d", i), Operator: metav1.LabelSelectorOpIn}
		values := MaxExpressionValues
		if i == 0 {
			values += extra
		}
		for j := range values {
			r.Values = append(r.Values, fmt.Sprintf("value-%d", j))
		}
		s.MatchExpressions = append(s.MatchExpressions, r)
	}
	return s
}

func TestValidateResourceNameNotSupportedListsTheChoices(t *testing.T) {
	errs := ValidateClusterSummarySpec(&clusterview.ClusterSummarySpec{Resources: []corev1.ResourceName{"gpus"}}, field.NewPath("spec"))
	if len(errs) != 1 {
		t.Fatalf("want 1 error, got %v", errs)
	}
	if errs[0].BadValue != corev1.ResourceName("gpus") {
		t.Errorf("BadValue = %#v, want \"gpus\"", errs[0].BadValue)
	}
	for _, choice := range []string{`"cpu"`, `"memory"`, `"pods"`, `"ephemeral-storage"`, `"storage"`, `"hugepages-<size>"`, `"<domain>/<name>"`} {
		if !strings.Contains(errs[0].Detail, choice) {
			t.Errorf("detail %q does not list %s", errs[0].Detail, choice)
		}
	}
}

func TestValidateClusterSummaryStatus(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*clusterview.ClusterSummaryStatus)
		want   []fieldErr
	}{
		{name: "valid full status", mutate: func(*clusterview.ClusterSummaryStatus) {}},
		{name: "empty status", mutate: func(s *clusterview.ClusterSummaryStatus) { *s = clusterview.ClusterSummaryStatus{} }},
		{name: "zero counts", mutate: func(s *clusterview.ClusterSummaryStatus) {
			s.Nodes = &clusterview.NodeCounts{}
			s.Pods = &clusterview.PodCounts{}
			s.Workloads = &clusterview.WorkloadCounts{}
			s.Resources = []clusterview.ResourceUsage{{Name: "cpu"}}
		}},
		{name: "Unknown condition status", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[0].Status = metav1.ConditionUnknown }},

		{name: "negative observedGeneration", mutate: func(s *clusterview.ClusterSummaryStatus) { s.ObservedGeneration = -1 },
			want: []fieldErr{invalid("status.observedGeneration")}},

		// Node counts.
		{name: "negative nodes.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.Total = -1 },
			want: []fieldErr{invalid("status.nodes.total")}},
		{name: "negative nodes.ready", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.Ready = -1 },
			want: []fieldErr{invalid("status.nodes.ready")}},
		{name: "negative nodes.notReady", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.NotReady = -1 },
			want: []fieldErr{invalid("status.nodes.notReady")}},
		{name: "negative nodes.unschedulable", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.Unschedulable = -1 },
			want: []fieldErr{invalid("status.nodes.unschedulable")}},
		{name: "negative nodes.memoryPressure", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.MemoryPressure = -1 },
			want: []fieldErr{invalid("status.nodes.memoryPressure")}},
		{name: "negative nodes.diskPressure", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.DiskPressure = -1 },
			want: []fieldErr{invalid("status.nodes.diskPressure")}},
		{name: "negative nodes.pidPressure", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Nodes.PIDPressure = -1 },
			want: []fieldErr{invalid("status.nodes.pidPressure")}},

		// Pod counts.
		{name: "negative pods.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Total = -1 },
			want: []fieldErr{invalid("status.pods.total")}},
		{name: "negative pods.pending", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Pending = -1 },
			want: []fieldErr{invalid("status.pods.pending")}},
		{name: "negative pods.running", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Running = -1 },
			want: []fieldErr{invalid("status.pods.running")}},
		{name: "negative pods.succeeded", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Succeeded = -1 },
			want: []fieldErr{invalid("status.pods.succeeded")}},
		{name: "negative pods.failed", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Failed = -1 },
			want: []fieldErr{invalid("status.pods.failed")}},
		{name: "negative pods.unknown", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Unknown = -1 },
			want: []fieldErr{invalid("status.pods.unknown")}},
		{name: "negative pods.unscheduled", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.Unscheduled = -1 },
			want: []fieldErr{invalid("status.pods.unscheduled")}},
		{name: "negative pods.containerRestarts", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.ContainerRestarts = -1 },
			want: []fieldErr{invalid("status.pods.containerRestarts")}},
		{name: "negative pods.crashLooping", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Pods.CrashLooping = -1 },
			want: []fieldErr{invalid("status.pods.crashLooping")}},

		{name: "negative namespaces", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Namespaces = -4 },
			want: []fieldErr{invalid("status.namespaces")}},

		// Workloads.
		{name: "negative workloads.deployments.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Workloads.Deployments.Total = -1 },
			want: []fieldErr{invalid("status.workloads.deployments.total")}},
		{name: "negative workloads.deployments.ready", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Workloads.Deployments.Ready = -1 },
			want: []fieldErr{invalid("status.workloads.deployments.ready")}},
		{name: "negative workloads.statefulSets.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Workloads.StatefulSets.Total = -1 },
			want: []fieldErr{invalid("status.workloads.statefulSets.total")}},
		{name: "negative workloads.statefulSets.ready", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Workloads.StatefulSets.Ready = -1 },
			want: []fieldErr{invalid("status.workloads.statefulSets.ready")}},
		{name: "negative workloads.daemonSets.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Workloads.DaemonSets.Total = -1 },
			want: []fieldErr{invalid("status.workloads.daemonSets.total")}},
		{name: "negative workloads.daemonSets.ready", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Workloads.DaemonSets.Ready = -1 },
			want: []fieldErr{invalid("status.workloads.daemonSets.ready")}},

		// Resources.
		{name: "negative resources capacity", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[1].Capacity = q("-1Gi") },
			want: []fieldErr{invalid("status.resources[1].capacity")}},
		{name: "negative resources allocatable", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[0].Allocatable = q("-1m") },
			want: []fieldErr{invalid("status.resources[0].allocatable")}},
		{name: "negative resources requests", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[0].Requests = neg("100m") },
			want: []fieldErr{invalid("status.resources[0].requests")}},
		{name: "negative resources limits", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[2].Limits = neg("1") },
			want: []fieldErr{invalid("status.resources[2].limits")}},
		{name: "negative resources podsWithoutLimit", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[0].PodsWithoutLimit = -1 },
			want: []fieldErr{invalid("status.resources[0].podsWithoutLimit")}},
		{name: "absent capacity and allocatable", mutate: func(s *clusterview.ClusterSummaryStatus) {
			s.Resources[0].Capacity, s.Resources[0].Allocatable = nil, nil
		}},
		{name: "duplicate resource names", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[2].Name = corev1.ResourceCPU },
			want: []fieldErr{duplicate("status.resources[2].name")}},
		{name: "unknown resource name", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[1].Name = "gpus" },
			want: []fieldErr{notSupported("status.resources[1].name")}},
		{name: "kubernetes.io resource name", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[1].Name = "kubernetes.io/foo" },
			want: []fieldErr{notSupported("status.resources[1].name")}},
		{name: "empty resource name", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Resources[0].Name = "" },
			want: []fieldErr{required("status.resources[0].name")}},

		// Groups.
		{name: "negative groups[0].nodes.notReady", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[0].Nodes.NotReady = -1 },
			want: []fieldErr{invalid("status.groups[0].nodes.notReady")}},
		{name: "negative groups[1].nodes.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[1].Nodes.Total = -1 },
			want: []fieldErr{invalid("status.groups[1].nodes.total")}},
		{name: "negative groups[0].pods.total", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[0].Pods.Total = -1 },
			want: []fieldErr{invalid("status.groups[0].pods.total")}},
		{name: "negative groups[1].pods.crashLooping", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[1].Pods.CrashLooping = -2 },
			want: []fieldErr{invalid("status.groups[1].pods.crashLooping")}},
		{name: "negative groups[0].resources[0].requests", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[0].Resources[0].Requests = neg("1") },
			want: []fieldErr{invalid("status.groups[0].resources[0].requests")}},
		{name: "negative groups[0].resources[0].podsWithoutLimit", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[0].Resources[0].PodsWithoutLimit = -1 },
			want: []fieldErr{invalid("status.groups[0].resources[0].podsWithoutLimit")}},
		{name: "duplicate group resource names", mutate: func(s *clusterview.ClusterSummaryStatus) {
			s.Groups[0].Resources = append(s.Groups[0].Resources, usage(corev1.ResourceCPU))
		}, want: []fieldErr{duplicate("status.groups[0].resources[1].name")}},
		{name: "unknown group resource name", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[0].Resources[0].Name = "gpus" },
			want: []fieldErr{notSupported("status.groups[0].resources[0].name")}},
		{name: "duplicate group names", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[1].Name = "us-east-1a" },
			want: []fieldErr{duplicate("status.groups[1].name")}},
		{name: "three groups with the same name", mutate: func(s *clusterview.ClusterSummaryStatus) {
			s.Groups = append(s.Groups, s.Groups[0], s.Groups[0])
		}, want: []fieldErr{duplicate("status.groups[2].name"), duplicate("status.groups[3].name")}},
		{name: "empty group name", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Groups[0].Name = "" },
			want: []fieldErr{required("status.groups[0].name")}},

		// Conditions.
		{name: "condition type with a space", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[0].Type = "Not Ready" },
			want: []fieldErr{invalid("status.conditions[0].type")}},
		{name: "empty condition type", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[1].Type = "" },
			want: []fieldErr{required("status.conditions[1].type")}},
		{name: "unsupported condition status", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[1].Status = "Maybe" },
			want: []fieldErr{notSupported("status.conditions[1].status")}},
		{name: "lower-case condition status", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[0].Status = "true" },
			want: []fieldErr{notSupported("status.conditions[0].status")}},
		{name: "empty condition status", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[0].Status = "" },
			want: []fieldErr{required("status.conditions[0].status")}},
		{name: "condition reason with a space", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[0].Reason = "Nodes not ready" },
			want: []fieldErr{invalid("status.conditions[0].reason")}},
		{name: "empty condition reason", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[1].Reason = "" },
			want: []fieldErr{required("status.conditions[1].reason")}},
		{name: "condition without lastTransitionTime", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[0].LastTransitionTime = metav1.Time{} },
			want: []fieldErr{required("status.conditions[0].lastTransitionTime")}},
		{name: "negative condition observedGeneration", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[1].ObservedGeneration = -1 },
			want: []fieldErr{invalid("status.conditions[1].observedGeneration")}},
		{name: "duplicate condition type", mutate: func(s *clusterview.ClusterSummaryStatus) { s.Conditions[1].Type = clusterview.ConditionReady },
			want: []fieldErr{duplicate("status.conditions[1]")}},

		{name: "errors everywhere are all reported", mutate: func(s *clusterview.ClusterSummaryStatus) {
			s.Nodes.Ready = -1
			s.Pods.Running = -1
			s.Namespaces = -1
			s.Resources[0].Limits = neg("1")
			s.Workloads.DaemonSets.Total = -1
			s.Groups[1].Name = s.Groups[0].Name
			s.Groups[1].Pods.Pending = -1
		}, want: []fieldErr{
			invalid("status.nodes.ready"),
			invalid("status.pods.running"),
			invalid("status.namespaces"),
			invalid("status.resources[0].limits"),
			invalid("status.workloads.daemonSets.total"),
			duplicate("status.groups[1].name"),
			invalid("status.groups[1].pods.pending"),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status := validStatus()
			tc.mutate(&status)
			checkErrs(t, ValidateClusterSummaryStatus(&status, field.NewPath("status")), tc.want)

			// Create validates the status a client sends too.
			obj := validSummary()
			obj.Status = *status.DeepCopy()
			checkErrs(t, ValidateClusterSummary(obj), tc.want)

			// So does an update through the status subresource.
			old := validSummary()
			old.ResourceVersion = "7"
			updated := old.DeepCopy()
			updated.Status = *status.DeepCopy()
			checkErrs(t, ValidateClusterSummaryStatusUpdate(updated, old), tc.want)
		})
	}
}

func TestValidateClusterSummaryMetadata(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*clusterview.ClusterSummary)
		want   []fieldErr
	}{
		{name: "default name", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = clusterview.DefaultClusterSummaryName }},
		{name: "dotted name", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = "prod.eu-west-1" }},
		{name: "generated name", mutate: func(cs *clusterview.ClusterSummary) { cs.Name, cs.GenerateName = "summary-x7k2p", "summary-" }},
		{name: "upper case and underscore", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = "My_Summary" },
			want: []fieldErr{invalid("metadata.name")}},
		{name: "name too long", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = strings.Repeat("a", 254) },
			want: []fieldErr{invalid("metadata.name")}},
		{name: "slash in name", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = "a/b" },
			want: []fieldErr{invalid("metadata.name")}},
		{name: "no name", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = "" },
			want: []fieldErr{required("metadata.name")}},
		{name: "namespace on a cluster-scoped object", mutate: func(cs *clusterview.ClusterSummary) { cs.Namespace = "default" },
			want: []fieldErr{forbidden("metadata.namespace")}},
		{name: "invalid label", mutate: func(cs *clusterview.ClusterSummary) { cs.Labels = map[string]string{"team": "a b"} },
			want: []fieldErr{invalid("metadata.labels")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := validSummary()
			tc.mutate(obj)
			checkErrs(t, ValidateClusterSummary(obj), tc.want)
		})
	}
}

func TestValidateClusterSummaryUpdate(t *testing.T) {
	old := validSummary()
	old.ResourceVersion = "7"
	old.Generation = 2
	old.UID = "5b7f4c0e-1b8a-4c5e-9d7e-2f0f3a7b9c11"
	old.Spec.Resources = []corev1.ResourceName{"cpu"}

	cases := []struct {
		name   string
		mutate func(*clusterview.ClusterSummary)
		want   []fieldErr
	}{
		{name: "spec change", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.Resources = []corev1.ResourceName{"cpu", "memory"}
			cs.Generation = 3
		}},
		{name: "rename", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = "other" },
			want: []fieldErr{invalid("metadata.name")}},
		{name: "no resourceVersion", mutate: func(cs *clusterview.ClusterSummary) { cs.ResourceVersion = "" },
			want: []fieldErr{invalid("metadata.resourceVersion")}},
		{name: "generation decremented", mutate: func(cs *clusterview.ClusterSummary) { cs.Generation = 1 },
			want: []fieldErr{invalid("metadata.generation")}},
		{name: "invalid spec", mutate: func(cs *clusterview.ClusterSummary) { cs.Spec.Resources = []corev1.ResourceName{"gpus"} },
			want: []fieldErr{notSupported("spec.resources[0]")}},
		// The spec strategy keeps the stored status, so the main resource's
		// update does not judge the status the client sent.
		{name: "invalid status is not validated", mutate: func(cs *clusterview.ClusterSummary) { cs.Status.Namespaces = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := old.DeepCopy()
			tc.mutate(obj)
			checkErrs(t, ValidateClusterSummaryUpdate(obj, old), tc.want)
		})
	}
}

func TestValidateClusterSummaryStatusUpdate(t *testing.T) {
	old := validSummary()
	old.ResourceVersion = "7"

	cases := []struct {
		name   string
		mutate func(*clusterview.ClusterSummary)
		want   []fieldErr
	}{
		{name: "new status", mutate: func(cs *clusterview.ClusterSummary) { cs.Status = validStatus() }},
		{name: "rename", mutate: func(cs *clusterview.ClusterSummary) { cs.Name = "other" },
			want: []fieldErr{invalid("metadata.name")}},
		{name: "invalid status", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Status = validStatus()
			cs.Status.Workloads.Deployments.Ready = -1
		}, want: []fieldErr{invalid("status.workloads.deployments.ready")}},
		// The status strategy keeps the stored spec, so a status write does
		// not judge the spec the client sent.
		{name: "invalid spec is not validated", mutate: func(cs *clusterview.ClusterSummary) {
			cs.Spec.Resources = []corev1.ResourceName{"gpus"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := old.DeepCopy()
			tc.mutate(obj)
			checkErrs(t, ValidateClusterSummaryStatusUpdate(obj, old), tc.want)
		})
	}
}

// TestGroupNamesAreLabelValues: a group is named after a node label value
// (or "<none>"); anything else is rejected with its field path.
func TestGroupNamesAreLabelValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{"zone-a", false},
		{clusterview.NoneGroup, false},
		{clusterview.OtherGroup, false},
		{"zone\u007f", true},
		{"has space", true},
	} {
		st := &clusterview.ClusterSummaryStatus{Groups: []clusterview.GroupSummary{{Name: tc.name}}}
		errs := ValidateClusterSummaryStatus(st, field.NewPath("status"))
		if got := len(errs) > 0; got != tc.wantErr {
			t.Errorf("group name %q: errors %v, want error %v", tc.name, errs, tc.wantErr)
		}
		for _, e := range errs {
			if e.Field != "status.groups[0].name" || e.Type != field.ErrorTypeInvalid {
				t.Errorf("group name %q: error %v, want Invalid at status.groups[0].name", tc.name, e)
			}
		}
	}
}

func TestValidateHeadroomShapeSizeLimits(t *testing.T) {
	shape := func(extra int) clusterview.HeadroomShape {
		s := clusterview.HeadroomShape{Name: "web", Requests: corev1.ResourceList{}, NodeSelector: map[string]string{}}
		for _, r := range extendedResources(MaxShapeRequests + extra) {
			s.Requests[r] = resource.MustParse("1")
		}
		for i := range MaxShapeTolerations + extra {
			s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: fmt.Sprintf("t%d", i), Operator: corev1.TolerationOpExists})
		}
		for i := range MaxShapeNodeSelector + extra {
			s.NodeSelector[fmt.Sprintf("l%d", i)] = "v"
		}
		return s
	}
	spec := clusterview.ClusterSummarySpec{Headroom: []clusterview.HeadroomShape{shape(0)}}
	checkErrs(t, ValidateClusterSummarySpec(&spec, field.NewPath("spec")), nil)
	spec.Headroom[0] = shape(1)
	checkErrs(t, ValidateClusterSummarySpec(&spec, field.NewPath("spec")), []fieldErr{
		tooMany("spec.headroom[0].requests"), tooMany("spec.headroom[0].tolerations"), tooMany("spec.headroom[0].nodeSelector"),
	})
}
