package v1beta1_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/install"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return scheme
}

var defaultResources = []corev1.ResourceName{"cpu", "memory", "pods"}

func TestDefaultResourcesValue(t *testing.T) {
	if diff := cmp.Diff(defaultResources, v1beta1.DefaultResources); diff != "" {
		t.Errorf("DefaultResources (-want +got):\n%s", diff)
	}
}

func TestSchemeDefaultsClusterSummary(t *testing.T) {
	cases := []struct {
		name string
		spec v1beta1.ClusterSummarySpec
		want []corev1.ResourceName
	}{
		{name: "nil resources", spec: v1beta1.ClusterSummarySpec{}, want: defaultResources},
		{name: "empty resources", spec: v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{}}, want: defaultResources},
		{
			name: "selectors and groupBy do not stop defaulting",
			spec: v1beta1.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{}, GroupByNodeLabel: "topology.kubernetes.io/zone"},
			want: defaultResources,
		},
		{name: "one explicit resource", spec: v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{"cpu"}}, want: []corev1.ResourceName{"cpu"}},
		{
			name: "explicit resources kept in order",
			spec: v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{"nvidia.com/gpu", "memory", "hugepages-2Mi"}},
			want: []corev1.ResourceName{"nvidia.com/gpu", "memory", "hugepages-2Mi"},
		},
		{
			// Defaulting does not validate: an invalid list is left for validation to reject.
			name: "invalid resources kept",
			spec: v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{"gpus", "gpus"}},
			want: []corev1.ResourceName{"gpus", "gpus"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scheme := newScheme()
			obj := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}, Spec: tc.spec}
			wantSpec := *tc.spec.DeepCopy()
			wantSpec.Resources = tc.want

			scheme.Default(obj)

			if diff := cmp.Diff(wantSpec, obj.Spec); diff != "" {
				t.Errorf("spec after defaulting (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(v1beta1.ClusterSummaryStatus{}, obj.Status); diff != "" {
				t.Errorf("status after defaulting (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchemeDefaultsClusterSummaryList(t *testing.T) {
	scheme := newScheme()
	list := &v1beta1.ClusterSummaryList{Items: []v1beta1.ClusterSummary{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{"pods"}}},
	}}
	scheme.Default(list)
	if diff := cmp.Diff(defaultResources, list.Items[0].Spec.Resources); diff != "" {
		t.Errorf("items[0] resources (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.ResourceName{"pods"}, list.Items[1].Spec.Resources); diff != "" {
		t.Errorf("items[1] resources (-want +got):\n%s", diff)
	}
}

// TestDefaultsDoNotAlias checks that each defaulted object gets its own
// slice: changing one must change neither another object nor DefaultResources.
func TestDefaultsDoNotAlias(t *testing.T) {
	scheme := newScheme()
	a, b := &v1beta1.ClusterSummary{}, &v1beta1.ClusterSummary{}
	scheme.Default(a)
	scheme.Default(b)
	a.Spec.Resources[0] = "nvidia.com/gpu"
	if diff := cmp.Diff(defaultResources, b.Spec.Resources); diff != "" {
		t.Errorf("another object's resources changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(defaultResources, v1beta1.DefaultResources); diff != "" {
		t.Errorf("DefaultResources changed (-want +got):\n%s", diff)
	}
}

// TestOtherKindsHaveNoDefaults pins that the read-only views are not defaulted.
func TestOtherKindsHaveNoDefaults(t *testing.T) {
	scheme := newScheme()
	ns := &v1beta1.NamespaceSummary{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}
	node := &v1beta1.NodeSummary{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	scheme.Default(ns)
	scheme.Default(node)
	if diff := cmp.Diff(&v1beta1.NamespaceSummary{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}, ns); diff != "" {
		t.Errorf("NamespaceSummary changed by defaulting (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&v1beta1.NodeSummary{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, node); diff != "" {
		t.Errorf("NodeSummary changed by defaulting (-want +got):\n%s", diff)
	}
}

func TestDecodeDefaults(t *testing.T) {
	cases := []struct {
		name string
		json string
		want []corev1.ResourceName
	}{
		{
			name: "no spec",
			json: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"cluster"}}`,
			want: defaultResources,
		},
		{
			name: "spec without resources",
			json: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"zones"},"spec":{"groupByNodeLabel":"topology.kubernetes.io/zone"}}`,
			want: defaultResources,
		},
		{
			name: "empty resources",
			json: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"cluster"},"spec":{"resources":[]}}`,
			want: defaultResources,
		},
		{
			name: "null resources",
			json: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"cluster"},"spec":{"resources":null}}`,
			want: defaultResources,
		},
		{
			name: "explicit resources",
			json: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"gpus"},"spec":{"resources":["nvidia.com/gpu","cpu"]}}`,
			want: []corev1.ResourceName{"nvidia.com/gpu", "cpu"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codecs := serializer.NewCodecFactory(newScheme())

			// Into the internal version, as the API server decodes requests.
			obj, gvk, err := codecs.UniversalDecoder().Decode([]byte(tc.json), nil, nil)
			if err != nil {
				t.Fatalf("decode to internal: %v", err)
			}
			if gvk.String() != "clusterview.io/v1beta1, Kind=ClusterSummary" {
				t.Errorf("decoded kind = %v", gvk)
			}
			internal, ok := obj.(*clusterview.ClusterSummary)
			if !ok {
				t.Fatalf("decoded %T, want *clusterview.ClusterSummary", obj)
			}
			if diff := cmp.Diff(tc.want, internal.Spec.Resources); diff != "" {
				t.Errorf("internal spec.resources (-want +got):\n%s", diff)
			}

			// Into v1beta1, as a client of the codec factory would.
			obj, _, err = codecs.UniversalDecoder(v1beta1.SchemeGroupVersion).Decode([]byte(tc.json), nil, nil)
			if err != nil {
				t.Fatalf("decode to v1beta1: %v", err)
			}
			external, ok := obj.(*v1beta1.ClusterSummary)
			if !ok {
				t.Fatalf("decoded %T, want *v1beta1.ClusterSummary", obj)
			}
			if diff := cmp.Diff(tc.want, external.Spec.Resources); diff != "" {
				t.Errorf("v1beta1 spec.resources (-want +got):\n%s", diff)
			}

			// The storage codec the server uses defaults too.
			obj, err = runtime.Decode(codecs.LegacyCodec(v1beta1.SchemeGroupVersion), []byte(tc.json))
			if err != nil {
				t.Fatalf("decode with the legacy codec: %v", err)
			}
			if diff := cmp.Diff(tc.want, obj.(*clusterview.ClusterSummary).Spec.Resources); diff != "" {
				t.Errorf("legacy codec spec.resources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeListDefaults(t *testing.T) {
	codecs := serializer.NewCodecFactory(newScheme())
	data := `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummaryList","metadata":{"resourceVersion":"9"},"items":[
		{"metadata":{"name":"a"}},
		{"metadata":{"name":"b"},"spec":{"resources":["memory"]}}]}`
	obj, err := runtime.Decode(codecs.UniversalDecoder(), []byte(data))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	list := obj.(*clusterview.ClusterSummaryList)
	if len(list.Items) != 2 {
		t.Fatalf("items = %d, want 2", len(list.Items))
	}
	if diff := cmp.Diff(defaultResources, list.Items[0].Spec.Resources); diff != "" {
		t.Errorf("items[0] resources (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.ResourceName{"memory"}, list.Items[1].Spec.Resources); diff != "" {
		t.Errorf("items[1] resources (-want +got):\n%s", diff)
	}
}
