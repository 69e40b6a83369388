package install

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	clusterviewfuzzer "github.com/clusterview/clusterview/pkg/apis/clusterview/fuzzer"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// TestRoundTripTypes fuzzes every internal kind, converts it to v1beta1,
// encodes it as JSON and back, and checks nothing was lost.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, clusterviewfuzzer.Funcs)
}

// TestRoundTripExternalTypes does the same for the v1beta1 types alone.
func TestRoundTripExternalTypes(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, clusterviewfuzzer.Funcs), rand.NewSource(rand.Int63()), codecs)
	roundtrip.RoundTripExternalTypesWithoutProtobuf(t, scheme, codecs, f, nil)
}

func TestInstall(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)

	gv := schema.GroupVersion{Group: "clusterview.io", Version: "v1beta1"}
	for _, kind := range []string{"ClusterSummary", "ClusterSummaryList", "NodeSummary", "NodeSummaryList", "NamespaceSummary", "NamespaceSummaryList"} {
		if !scheme.Recognizes(gv.WithKind(kind)) {
			t.Errorf("v1beta1 %s not registered", kind)
		}
		if !scheme.Recognizes(schema.GroupVersion{Group: "clusterview.io", Version: runtime.APIVersionInternal}.WithKind(kind)) {
			t.Errorf("internal %s not registered", kind)
		}
	}
	if got := scheme.PrioritizedVersionsForGroup("clusterview.io"); len(got) != 1 || got[0] != gv {
		t.Errorf("version priority = %v, want [%v]", got, gv)
	}
	if !scheme.IsVersionRegistered(gv) {
		t.Errorf("%v not registered", gv)
	}
	// metav1.AddToGroupVersion registers the options kinds in the group version.
	if !scheme.Recognizes(gv.WithKind("ListOptions")) {
		t.Errorf("ListOptions not registered in %v", gv)
	}
}

// TestProtobufNotClaimed pins that the types are served as JSON and YAML
// only: they have no generated protobuf marshalling, so the protobuf
// serializer refuses them with a Not Acceptable error rather than writing garbage.
func TestProtobufNotClaimed(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)

	for _, mediaType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeYAML} {
		if _, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType); !ok {
			t.Errorf("no serializer for %s", mediaType)
		}
	}

	pb := protobuf.NewSerializer(scheme, scheme)
	for _, obj := range []runtime.Object{
		&v1beta1.ClusterSummary{TypeMeta: metav1.TypeMeta{APIVersion: "clusterview.io/v1beta1", Kind: "ClusterSummary"}, ObjectMeta: metav1.ObjectMeta{Name: "cluster"}},
		&v1beta1.ClusterSummaryList{TypeMeta: metav1.TypeMeta{APIVersion: "clusterview.io/v1beta1", Kind: "ClusterSummaryList"}},
		&v1beta1.NodeSummary{TypeMeta: metav1.TypeMeta{APIVersion: "clusterview.io/v1beta1", Kind: "NodeSummary"}},
		&v1beta1.NamespaceSummary{TypeMeta: metav1.TypeMeta{APIVersion: "clusterview.io/v1beta1", Kind: "NamespaceSummary"}},
	} {
		_, err := runtime.Encode(pb, obj)
		if !protobuf.IsNotMarshalable(err) {
			t.Errorf("protobuf encoding of %T: got %v, want a not-marshalable error", obj, err)
		}
	}

	// Through the codec factory's protobuf entry, as a client asking for
	// application/vnd.kubernetes.protobuf would be served.
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("the codec factory offers no protobuf serializer; the check below would prove nothing")
	}
	enc := codecs.EncoderForVersion(info.Serializer, v1beta1.SchemeGroupVersion)
	if _, err := runtime.Encode(enc, fullSummary()); !protobuf.IsNotMarshalable(err) {
		t.Errorf("protobuf encoding of an internal ClusterSummary: got %v, want a not-marshalable error", err)
	}
}

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// fullSummary is an internal ClusterSummary with every field set.
func fullSummary() *clusterview.ClusterSummary {
	at := metav1.NewTime(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	nodes := clusterview.NodeCounts{Total: 5, Ready: 4, NotReady: 1, Unschedulable: 1, MemoryPressure: 1, DiskPressure: 2, PIDPressure: 3}
	pods := clusterview.PodCounts{Total: 20, Pending: 3, Running: 14, Succeeded: 1, Failed: 1, Unknown: 1, Unscheduled: 2, ContainerRestarts: 17, CrashLooping: 1}
	cpu := clusterview.ResourceUsage{Name: "cpu", Capacity: quantity("20"), Allocatable: quantity("19500m"), Requests: resource.MustParse("7250m"), Limits: resource.MustParse("12"), PodsWithoutLimit: 3}
	return &clusterview.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{
			Name: "cluster", ResourceVersion: "12", Generation: 3, UID: "a4f1b6a0-5d1e-4f8e-8c55-5f1f0c1c8a11",
			CreationTimestamp: at, Labels: map[string]string{"team": "infra"}, Annotations: map[string]string{"a": "b"},
		},
		Spec: clusterview.ClusterSummarySpec{
			NodeSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "general"}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}}}},
			GroupByNodeLabel:  "topology.kubernetes.io/zone",
			Resources:         []corev1.ResourceName{"cpu", "memory", "nvidia.com/gpu"},
		},
		Status: clusterview.ClusterSummaryStatus{
			ObservedGeneration: 3,
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Computed", LastTransitionTime: at, ObservedGeneration: 3},
				{Type: "Degraded", Status: metav1.ConditionTrue, Reason: "NodesNotReady", Message: "node-4 is not ready", LastTransitionTime: at},
			},
			Nodes:      &nodes,
			Pods:       &pods,
			Namespaces: 7,
			Resources: []clusterview.ResourceUsage{cpu, {
				Name: "memory", Capacity: quantity("64Gi"), Allocatable: quantity("60Gi"), Requests: resource.MustParse("24Gi"), Limits: resource.MustParse("48Gi"),
			}},
			Workloads: &clusterview.WorkloadCounts{
				Deployments:  clusterview.ReadyCount{Total: 4, Ready: 3},
				StatefulSets: clusterview.ReadyCount{Total: 2, Ready: 2},
				DaemonSets:   clusterview.ReadyCount{Total: 3, Ready: 3},
			},
			Groups: []clusterview.GroupSummary{
				{Name: "eu-west-1a", Nodes: nodes, Pods: pods, Resources: []clusterview.ResourceUsage{cpu}},
				{Name: clusterview.NoneGroup},
			},
			LastUpdateTime: &at,
		},
	}
}

// TestYAMLRoundTrip encodes internal objects as v1beta1 YAML, as a client
// asking for application/yaml gets them, and decodes them back.
func TestYAMLRoundTrip(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeYAML)
	if !ok {
		t.Fatal("no YAML serializer")
	}
	codec := codecs.CodecForVersions(info.Serializer, codecs.UniversalDecoder(), v1beta1.SchemeGroupVersion, nil)

	check := func(t *testing.T, original runtime.Object) {
		t.Helper()
		data, err := runtime.Encode(codec, original.DeepCopyObject())
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		decoded, err := runtime.Decode(codec, data)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, data)
		}
		if !apiequality.Semantic.DeepEqual(original, decoded) {
			t.Errorf("YAML round trip changed the object:\n%s\nYAML:\n%s", cmp.Diff(original, decoded), data)
		}
	}

	t.Run("full ClusterSummary", func(t *testing.T) {
		obj := fullSummary()
		check(t, obj)

		data, err := runtime.Encode(codec, obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"apiVersion: clusterview.io/v1beta1\n", "kind: ClusterSummary\n", "groupByNodeLabel: topology.kubernetes.io/zone\n", "requests: 7250m\n", "allocatable: 60Gi\n"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("YAML lacks %q:\n%s", want, data)
			}
		}
	})

	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, clusterviewfuzzer.Funcs), rand.NewSource(rand.Int63()), codecs)
	for _, newObj := range []func() runtime.Object{
		func() runtime.Object { return &clusterview.ClusterSummary{} },
		func() runtime.Object { return &clusterview.ClusterSummaryList{} },
		func() runtime.Object { return &clusterview.NodeSummary{} },
		func() runtime.Object { return &clusterview.NamespaceSummary{} },
	} {
		obj := newObj()
		t.Run("fuzzed "+schemeKind(t, scheme, obj), func(t *testing.T) {
			for i := 0; i < 20 && !t.Failed(); i++ {
				obj := newObj()
				f.Fill(obj)
				obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
				check(t, obj)
			}
		})
	}
}

func schemeKind(t *testing.T, scheme *runtime.Scheme, obj runtime.Object) string {
	t.Helper()
	kinds, _, err := scheme.ObjectKinds(obj)
	if err != nil {
		t.Fatal(err)
	}
	return kinds[0].Kind
}

// TestFuzzerKeepsResources checks the fuzzer's promise the round trip relies
// on: a fuzzed spec always names at least one resource, so decoding does not
// default it.
func TestFuzzerKeepsResources(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, clusterviewfuzzer.Funcs), rand.NewSource(1), serializer.NewCodecFactory(scheme))
	seen := map[int]bool{}
	for i := 0; i < 200; i++ {
		var spec clusterview.ClusterSummarySpec
		f.Fill(&spec)
		if len(spec.Resources) == 0 {
			t.Fatalf("fuzzed spec without resources: %+v", spec)
		}
		names := map[corev1.ResourceName]bool{}
		for _, n := range spec.Resources {
			if names[n] {
				t.Fatalf("fuzzed spec with duplicate resource %q: %v", n, spec.Resources)
			}
			names[n] = true
		}
		seen[len(spec.Resources)] = true
	}
	if len(seen) < 2 {
		t.Errorf("fuzzer always produced %v resources", seen)
	}
}
