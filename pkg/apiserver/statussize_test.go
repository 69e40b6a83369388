package apiserver

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/validation"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
	"github.com/clusterview/clusterview/pkg/generated/openapi"
	"github.com/clusterview/clusterview/pkg/summary"
)

// etcdRequestLimit is etcd's default --max-request-bytes: a write of a larger
// object fails.
const etcdRequestLimit = 1536 * 1024

// worstCaseNodes is the cluster size the worst case is computed at.
const worstCaseNodes = 5000

// TestWorstCaseStatusFitsInEtcd computes the largest ClusterSummary the
// server can be asked to store and write: a spec at every validation limit,
// grouped by a label with one value per node on 5,000 nodes, every resource
// name and figure as long as it can be, every node degraded, and generous
// user metadata (256 KiB of annotations, the most validation allows, plus 64
// labels of maximal length and both managers' managedFields). Encoded the way
// the storage encodes it (JSON, the only media type clusterview's types
// support), it must fit in one etcd request.
func TestWorstCaseStatusFitsInEtcd(t *testing.T) {
	cs, engine := worstCaseSummary(t)
	tc := typeConverter(t)

	size := func(maxGroups int, withManagedFields bool) (total, groups int) {
		status, err := clustersummarystatus.ComputeStatus(cs, engine, true, maxGroups)
		if err != nil {
			t.Fatal(err)
		}
		maximizeFigures(reflect.ValueOf(&status).Elem())
		obj := cs.DeepCopy()
		obj.Status = status
		if withManagedFields {
			obj.ManagedFields = managedFieldsOf(t, tc, obj)
		}
		data, err := runtime.Encode(scheme.Codecs.LegacyCodec(v1beta1.SchemeGroupVersion), obj)
		if err != nil {
			t.Fatal(err)
		}
		key := etcdPathPrefixForTest + "/clustersummaries/" + obj.Name
		return len(data) + len(key), len(status.Groups)
	}

	total, groups := size(clustersummarystatus.DefaultMaxGroups, true)
	t.Logf("worst case at %d nodes with --max-status-groups=%d: %d groups, %d bytes stored (%.1f%% of etcd's %d)",
		worstCaseNodes, clustersummarystatus.DefaultMaxGroups, groups, total, 100*float64(total)/etcdRequestLimit, etcdRequestLimit)
	if groups != clustersummarystatus.DefaultMaxGroups {
		t.Errorf("status has %d groups, want the cap %d", groups, clustersummarystatus.DefaultMaxGroups)
	}
	if total >= etcdRequestLimit {
		t.Errorf("worst-case ClusterSummary is %d bytes, etcd accepts at most %d", total, etcdRequestLimit)
	}

	// The cap is what keeps it small: the same summary uncapped is far
	// over, even without its managedFields.
	uncapped, uncappedGroups := size(0, false)
	t.Logf("uncapped: %d groups, %d bytes", uncappedGroups, uncapped)
	if uncapped < etcdRequestLimit {
		t.Errorf("uncapped worst case is only %d bytes: the test no longer exercises the cap", uncapped)
	}
}

// etcdPathPrefixForTest mirrors the server's --etcd-prefix default, only to
// count the key's bytes.
const etcdPathPrefixForTest = "/registry/clusterview.io"

// worstCaseSummary returns a ClusterSummary at every validation limit and an
// engine whose cluster makes its status as large as possible.
func worstCaseSummary(t *testing.T) (*v1beta1.ClusterSummary, *summary.Engine) {
	t.Helper()
	resources := make([]corev1.ResourceName, validation.MaxResources)
	rl := corev1.ResourceList{}
	for i := range resources {
		resources[i] = corev1.ResourceName(longName(fmt.Sprintf("r%d.example.com", i), 253-len("requests."), 63))
		rl[resources[i]] = resource.MustParse("999999999999")
	}
	// Labels every node and namespace carries, so that selectors at their
	// limits still select everything.
	common := map[string]string{}
	nodeSel := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := range validation.MaxMatchLabels {
		k, v := longName(fmt.Sprintf("l%d.example.com", i), 253, 63), strings.Repeat("v", 62)+fmt.Sprint(i%10)
		common[k] = v
		nodeSel.MatchLabels[k] = v
	}
	for i := range validation.MaxMatchExpressions {
		r := metav1.LabelSelectorRequirement{Key: longName(fmt.Sprintf("x%d.example.com", i), 253, 63), Operator: metav1.LabelSelectorOpNotIn}
		for j := range validation.MaxExpressionValues {
			r.Values = append(r.Values, fmt.Sprintf("%063d", j))
		}
		nodeSel.MatchExpressions = append(nodeSel.MatchExpressions, r)
	}
	const groupLabel = "kubernetes.io/hostname"

	nodeRL := rl.DeepCopy()
	nodeRL[corev1.ResourcePods] = resource.MustParse("110")
	engine := summary.New(summary.Options{})
	for i := range worstCaseNodes {
		labels := map[string]string{groupLabel: fmt.Sprintf("%063d", i)}
		for k, v := range common {
			labels[k] = v
		}
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%0253d", i), Labels: labels},
			Status:     corev1.NodeStatus{Capacity: nodeRL, Allocatable: nodeRL},
		}
		// The last nodes are degraded, for the longest Degraded message;
		// the others admit every headroom shape.
		if i >= worstCaseNodes-2*summary.DefaultMaxNames {
			n.Spec.Unschedulable = true
			for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
				n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c, Status: corev1.ConditionTrue})
			}
		} else {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		}
		engine.UpsertNode(n)
	}
	engine.UpsertNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("n", 63), Labels: common}})
	for i := range 2 * summary.DefaultMaxNames {
		engine.UpsertPod(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: strings.Repeat("n", 63), Name: fmt.Sprintf("%0253d", i)},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("%0253d", worstCaseNodes-1-i), Containers: []corev1.Container{{
				Name: "c", Resources: corev1.ResourceRequirements{Requests: rl, Limits: rl},
			}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "c", RestartCount: math.MaxInt32,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			}}},
		})
	}

	var shapes []v1beta1.HeadroomShape
	for i := range clusterview.MaxHeadroomShapes {
		shape := v1beta1.HeadroomShape{
			Name:         fmt.Sprintf("%s%02d", strings.Repeat("h", 61), i),
			Requests:     corev1.ResourceList{},
			NodeSelector: map[string]string{},
			MinFits:      ptr.To[int64](math.MaxInt64),
		}
		for _, r := range resources[:validation.MaxShapeRequests] {
			shape.Requests[r] = resource.MustParse("1")
		}
		for k, v := range common {
			if len(shape.NodeSelector) < validation.MaxShapeNodeSelector {
				shape.NodeSelector[k] = v
			}
		}
		for j := range validation.MaxShapeTolerations {
			shape.Tolerations = append(shape.Tolerations, corev1.Toleration{
				Key: longName(fmt.Sprintf("t%d.example.com", j), 253, 63), Operator: corev1.TolerationOpEqual,
				Value: strings.Repeat("v", 63), Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](math.MaxInt64),
			})
		}
		shapes = append(shapes, shape)
	}

	cs := &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name:        strings.Repeat("s", 253),
			Generation:  math.MaxInt64,
			Labels:      map[string]string{},
			Annotations: map[string]string{"a": strings.Repeat("a", apimachineryvalidation.TotalAnnotationSizeLimitB-1)},
		},
		Spec: v1beta1.ClusterSummarySpec{
			NodeSelector:      nodeSel,
			NamespaceSelector: nodeSel.DeepCopy(),
			GroupByNodeLabel:  groupLabel,
			Resources:         resources,
			Headroom:          shapes,
		},
	}
	for i := range 64 {
		cs.Labels[longName(fmt.Sprintf("m%d.example.com", i), 253, 63)] = strings.Repeat("v", 63)
	}
	if errs := validation.ValidateClusterSummarySpec(internalSpec(t, &cs.Spec), field.NewPath("spec")); len(errs) > 0 {
		t.Fatalf("the worst-case spec must be valid: %v", errs.ToAggregate())
	}
	// Every shape fits on every node, so every group reports each shape in full.
	if st, err := clustersummarystatus.ComputeStatus(cs, engine, true, 2); err != nil || len(st.Groups) != 2 || len(st.Groups[0].Headroom) != clusterview.MaxHeadroomShapes ||
		len(st.Groups[0].Headroom[0].LargestFit) != validation.MaxShapeRequests {
		t.Fatalf("the worst-case fixture must report every shape and request in every group: %v", err)
	}
	return cs, engine
}

// longName is a qualified name with a DNS-subdomain prefix of prefixLen
// characters that ends in domain, and a name of nameLen characters.
func longName(domain string, prefixLen, nameLen int) string {
	pad := prefixLen - len(domain) - 1
	var b strings.Builder
	for b.Len() < pad {
		n := min(63, pad-b.Len())
		b.WriteString(strings.Repeat("p", n))
		if b.Len() < pad {
			b.WriteString(".")
		}
	}
	return b.String() + "." + domain + "/" + strings.Repeat("n", nameLen)
}

func internalSpec(t *testing.T, in *v1beta1.ClusterSummarySpec) *clusterview.ClusterSummarySpec {
	t.Helper()
	var out clusterview.ClusterSummarySpec
	if err := scheme.Scheme.Convert(in, &out, nil); err != nil {
		t.Fatal(err)
	}
	return &out
}

// maximizeFigures sets every integer and quantity of a status, present or
// optional, to the longest value it can encode to, so the size does not
// depend on the fixture's figures.
func maximizeFigures(v reflect.Value) {
	maxQuantity := resource.MustParse("9223372036854775807m")
	switch v.Kind() {
	case reflect.Pointer:
		// Optional quantities (usage, idle) count as present.
		if v.IsNil() && v.Type().Elem() == reflect.TypeOf(resource.Quantity{}) {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if !v.IsNil() {
			maximizeFigures(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			maximizeFigures(v.Index(i))
		}
	case reflect.Struct:
		switch v.Type() {
		case reflect.TypeOf(resource.Quantity{}):
			v.Set(reflect.ValueOf(maxQuantity))
			return
		case reflect.TypeOf(metav1.Time{}):
			return
		}
		for i := range v.NumField() {
			maximizeFigures(v.Field(i))
		}
	case reflect.Map:
		if v.Type().Elem() == reflect.TypeOf(resource.Quantity{}) {
			for _, k := range v.MapKeys() {
				v.SetMapIndex(k, reflect.ValueOf(maxQuantity))
			}
		}
	case reflect.Int64:
		v.SetInt(math.MaxInt64)
	}
}

// typeConverter is the one the server builds for server-side apply and
// managedFields, from the same OpenAPI definitions.
func typeConverter(t *testing.T) managedfields.TypeConverter {
	t.Helper()
	tc, err := managedfields.NewTypeConverter(openAPIDefs(t), false)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// openAPIDefs are the OpenAPI definitions of ClusterSummary and what it
// refers to, built as the server builds them.
func openAPIDefs(tb testing.TB) map[string]*spec.Schema {
	tb.Helper()
	namer := openapinamer.NewDefinitionNamer(scheme.Scheme)
	cfg := genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	defs, err := builder3.BuildOpenAPIDefinitionsForResources(cfg, v1beta1.ClusterSummary{}.OpenAPIModelName())
	if err != nil {
		tb.Fatal(err)
	}
	return defs
}

// managedFieldsOf returns the entries of a user who owns the spec and
// metadata and of the status controller who owns the status.
func managedFieldsOf(t *testing.T, tc managedfields.TypeConverter, obj *v1beta1.ClusterSummary) []metav1.ManagedFieldsEntry {
	t.Helper()
	obj = obj.DeepCopy()
	obj.SetGroupVersionKind(v1beta1.SchemeGroupVersion.WithKind("ClusterSummary"))
	fields := func(o *v1beta1.ClusterSummary) *metav1.FieldsV1 {
		typed, err := tc.ObjectToTyped(o)
		if err != nil {
			t.Fatal(err)
		}
		set, err := typed.ToFieldSet()
		if err != nil {
			t.Fatal(err)
		}
		data, err := set.ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		fields := &metav1.FieldsV1{}
		fields.SetRawBytes(data)
		return fields
	}
	specOnly, statusOnly := obj.DeepCopy(), obj.DeepCopy()
	specOnly.Status = v1beta1.ClusterSummaryStatus{}
	statusOnly.Spec = v1beta1.ClusterSummarySpec{}
	statusOnly.Labels, statusOnly.Annotations = nil, nil
	now := metav1.Now()
	return []metav1.ManagedFieldsEntry{
		{Manager: strings.Repeat("m", 128), Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "clusterview.io/v1beta1", Time: &now, FieldsType: "FieldsV1", FieldsV1: fields(specOnly)},
		{Manager: clustersummarystatus.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "clusterview.io/v1beta1", Time: &now, FieldsType: "FieldsV1", FieldsV1: fields(statusOnly), Subresource: "status"},
	}
}
