package validation_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/validation"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
)

// Run the fuzzer (rather than only its seeds, which every go test runs) with
//
//	go test ./pkg/apis/clusterview/validation/ -run '^$' -fuzz '^FuzzDecodeAndValidateClusterSummary$' -fuzztime 30s -fuzzminimizetime 5s
//
// A -fuzz build instruments every package the test binary links, so this
// package's tests import only the API packages, apimachinery and the
// server's codecs (package apiserver/scheme): about 110 packages, where the
// generic API server would bring about 1,100 and a cold instrumented build
// of many minutes. The registry's strategies call the validation functions
// used here; pkg/registry tests them.
// The default minimization budget (60s per new input) stalls short runs,
// hence -fuzzminimizetime. Inputs that fail are written to
// testdata/fuzz/FuzzDecodeAndValidateClusterSummary/ and from then on run
// with the seeds. See docs/hardening.md for what it has found.

// fuzzSeeds are request bodies: the bad input the integration tests send
// through kube-apiserver (test/integration/aggregated/hardening_test.go),
// and valid objects for the fuzzer to mutate.
var fuzzSeeds = []struct {
	body   string
	asYAML bool
	// want is what the server does with the body; TestFuzzSeeds checks
	// it, so that the seeds keep reaching every branch of the fuzz target.
	want outcome
}{
	// Valid.
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"cluster"}}`, want: valid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"prod-by-zone","labels":{"team":"platform"},"annotations":{"a":"b"}},` +
		`"spec":{"nodeSelector":{"matchLabels":{"node-role.kubernetes.io/worker":""}},"namespaceSelector":{"matchExpressions":[{"key":"tier","operator":"In","values":["prod"]}]},` +
		`"groupByNodeLabel":"topology.kubernetes.io/zone","resources":["cpu","memory","pods","nvidia.com/gpu","hugepages-2Mi"]}}`, want: valid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"with-status","generation":3},"spec":{"resources":["cpu"]},` +
		`"status":{"observedGeneration":3,"namespaces":7,"nodes":{"total":3,"ready":2,"notReady":1,"unschedulable":0,"memoryPressure":0,"diskPressure":0,"pidPressure":0},` +
		`"conditions":[{"type":"Ready","status":"True","reason":"Computed","message":"","lastTransitionTime":"2026-05-06T07:08:09Z"}],` +
		`"resources":[{"name":"cpu","capacity":"20","allocatable":"19500m","requests":"7250m","limits":"12","podsWithoutLimit":3}],` +
		`"groups":[{"name":"eu-west-1a","nodes":{"total":1,"ready":1,"notReady":0,"unschedulable":0,"memoryPressure":0,"diskPressure":0,"pidPressure":0},` +
		`"pods":{"total":0,"pending":0,"running":0,"succeeded":0,"failed":0,"unknown":0,"unscheduled":0,"containerRestarts":0,"crashLooping":0}}]}}`, want: valid},
	{body: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n  name: prod-by-zone\nspec:\n  nodeSelector:\n    matchLabels: {node-role.kubernetes.io/worker: \"\"}\n" +
		"  namespaceSelector:\n    matchExpressions: [{key: tier, operator: In, values: [prod]}]\n  groupByNodeLabel: topology.kubernetes.io/zone\n  resources: [cpu, memory, pods, nvidia.com/gpu]\n", asYAML: true, want: valid},
	// Malformed.
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"hardening-bad-0"`, want: malformed},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"resources":[cpu]}}`, want: malformed},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"resources":"cpu"}}`, want: malformed},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x","generation":1e400}}`, want: malformed},
	{body: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n  name: x\nspec: [\n  resources: {cpu\n", asYAML: true, want: malformed},
	{body: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n\tname: x\n", asYAML: true, want: malformed},
	{body: ``, want: malformed},
	// An empty object: decodes, but has no name.
	{body: `null`, want: invalid},
	{body: `[]`, want: malformed},
	// Unknown and duplicate fields (rejected under fieldValidation=Strict).
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"groupByNodeLabell":"zone"}}`, want: strictOnly},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x","lables":{"a":"b"}}}`, want: strictOnly},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"groupByNodeLabel":"zone","groupByNodeLabel":"rack"}}`, want: strictOnly},
	{body: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n  name: x\nspec:\n  nodeSelectr: {}\n", asYAML: true, want: strictOnly},
	{body: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n  name: x\n  name: z\n", asYAML: true, want: strictOnly},
	// Wrong apiVersion or kind.
	{body: `{"apiVersion":"clusterview.io/v1","kind":"ClusterSummary","metadata":{"name":"x"}}`, want: notServed},
	{body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}`, want: notServed},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"NodeSummary","metadata":{"name":"x"}}`, want: notServed},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummry","metadata":{"name":"x"}}`, want: notServed},
	// No apiVersion: the endpoint's own is the default, as in every Kubernetes API.
	{body: `{"kind":"ClusterSummary","metadata":{"name":"x"}}`, want: valid},
	// Invalid selectors, label keys, resources and status.
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"nodeSelector":{"matchExpressions":[{"key":"zone","operator":"Near","values":["a"]}]}}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"namespaceSelector":{"matchExpressions":[{"key":"tier","operator":"In"}]}}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"namespaceSelector":{"matchLabels":{"not a key!":"x"}}}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"nodeSelector":{"matchLabels":{"pool":"not a value"}}}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"groupByNodeLabel":"not/a/label"}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"spec":{"resources":["memory","memory","kubernetes.io/thing","hugepages-0","requests.example.com/x"]}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"Hardening_Bad","labels":{"bad key":"x"}}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"status":{"pods":{"total":-1},"resources":[{"name":"cpu","requests":"-1"},{"name":"cpu"}],"groups":[{"name":""}]}}`, want: invalid},
	{body: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"x"},"status":{"resources":[{"name":"cpu","requests":"1e1000000"}]}}`, want: valid},
}

// outcome is what the server does with a request body.
type outcome int

const (
	// valid bodies create an object.
	valid outcome = iota
	// malformed bodies do not decode: 400.
	malformed
	// strictOnly bodies decode, with warnings, unless fieldValidation=Strict: 400.
	strictOnly
	// notServed bodies are of another version or kind: 400.
	notServed
	// invalid bodies decode but fail validation: 422.
	invalid
)

func (o outcome) String() string {
	return [...]string{"valid", "malformed", "strictOnly", "notServed", "invalid"}[o]
}

// TestFuzzSeeds pins what the decoding and validation in the fuzz target
// make of each seed, so that the target demonstrably decodes, defaults and
// validates as the server does and the seeds reach each of its branches.
func TestFuzzSeeds(t *testing.T) {
	hub := clusterview.SchemeGroupVersion
	for i, s := range fuzzSeeds {
		info := serializerInfo(t, runtime.ContentTypeJSON)
		if s.asYAML {
			info = serializerInfo(t, runtime.ContentTypeYAML)
		}
		_, strictErr := decode(t, scheme.Codecs.DecoderToVersion(info.StrictSerializer, hub), []byte(s.body))
		obj, lenientErr := decode(t, scheme.Codecs.DecoderToVersion(info.Serializer, hub), []byte(s.body))
		var got outcome
		switch {
		case lenientErr == errNotServed || lenientErr != nil && runtime.IsNotRegisteredError(lenientErr) ||
			lenientErr != nil && strings.Contains(lenientErr.Error(), "unknown conversion"):
			got = notServed
		case lenientErr != nil:
			got = malformed
		case strictErr != nil:
			got = strictOnly
		case len(validation.ValidateClusterSummary(obj)) > 0:
			got = invalid
		default:
			got = valid
		}
		if got != s.want {
			t.Errorf("seed %d is %s (strict: %v, lenient: %v), want %s:\n%s", i, got, strictErr, lenientErr, s.want, s.body)
		}
	}
	// The decoders default as the server does.
	obj, err := decode(t, scheme.Codecs.UniversalDecoder(), []byte(fuzzSeeds[0].body))
	if err != nil || !slices.Equal(obj.Spec.Resources, v1beta1.DefaultResources) {
		t.Errorf("seed 0 decoded to resources %v (%v), want the defaults %v", obj.Spec.Resources, err, v1beta1.DefaultResources)
	}
}

// FuzzDecodeAndValidateClusterSummary decodes arbitrary request bodies the
// way clusterview's create handler does (the server's codecs, strict and
// lenient, into the internal version with defaults), validates the result
// with the functions the registry's strategies call, and checks:
//   - nothing panics;
//   - what decodes for the ClusterSummary endpoint is a ClusterSummary;
//   - strict decoding accepts a subset of what lenient decoding accepts, and
//     yields the same object;
//   - every validation error names a field;
//   - a valid object re-encodes as v1beta1 (JSON and YAML), decodes strictly
//     to the same object, and is still valid.
func FuzzDecodeAndValidateClusterSummary(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s.body), s.asYAML)
	}
	jsonInfo := serializerInfo(f, runtime.ContentTypeJSON)
	yamlInfo := serializerInfo(f, runtime.ContentTypeYAML)
	hub := clusterview.SchemeGroupVersion
	jsonEncoder := scheme.Codecs.EncoderForVersion(jsonInfo.Serializer, v1beta1.SchemeGroupVersion)
	yamlEncoder := scheme.Codecs.EncoderForVersion(yamlInfo.Serializer, v1beta1.SchemeGroupVersion)
	strictJSON := scheme.Codecs.DecoderToVersion(jsonInfo.StrictSerializer, hub)
	strictYAML := scheme.Codecs.DecoderToVersion(yamlInfo.StrictSerializer, hub)

	f.Fuzz(func(t *testing.T, body []byte, asYAML bool) {
		info := jsonInfo
		if asYAML {
			info = yamlInfo
		}
		strictObj, strictErr := decode(t, scheme.Codecs.DecoderToVersion(info.StrictSerializer, hub), body)
		lenientObj, lenientErr := decode(t, scheme.Codecs.DecoderToVersion(info.Serializer, hub), body)
		if strictErr == nil && lenientErr != nil {
			t.Fatalf("strict decoding accepted what lenient decoding refused (%v):\n%q", lenientErr, body)
		}
		if strictErr != nil && lenientErr == nil && !runtime.IsStrictDecodingError(strictErr) {
			t.Fatalf("strict decoding failed with a non-strict error %v where lenient decoding succeeded:\n%q", strictErr, body)
		}
		if strictErr == nil && !apiequality.Semantic.DeepEqual(strictObj, lenientObj) {
			t.Fatalf("strict and lenient decoding differ:\n%s", cmp.Diff(lenientObj, strictObj))
		}
		if lenientErr != nil {
			if lenientErr.Error() == "" {
				t.Fatalf("decoding failed with an empty message:\n%q", body)
			}
			return
		}
		obj := lenientObj

		errs := validation.ValidateClusterSummary(obj)
		checkFieldErrors(t, "ValidateClusterSummary", errs, body)
		checkFieldErrors(t, "ValidateClusterSummaryUpdate", validation.ValidateClusterSummaryUpdate(obj, obj), body)
		checkFieldErrors(t, "ValidateClusterSummaryStatusUpdate", validation.ValidateClusterSummaryStatusUpdate(obj, obj), body)
		if len(errs) > 0 {
			return
		}

		for _, rt := range []struct {
			name    string
			obj     *clusterview.ClusterSummary
			encoder runtime.Encoder
			decoder runtime.Decoder
		}{
			{"JSON", obj, jsonEncoder, strictJSON},
			{"YAML", yamlComparable(obj, yamlEncoder), yamlEncoder, strictYAML},
		} {
			data, err := runtime.Encode(rt.encoder, rt.obj)
			if err != nil {
				t.Fatalf("encoding a valid object as %s: %v\n%#v\ninput:\n%q", rt.name, err, rt.obj, body)
			}
			again, err := decode(t, rt.decoder, data)
			if err != nil {
				t.Fatalf("strict decoding of a valid object's %s failed: %v\n%s\ninput:\n%q", rt.name, err, data, body)
			}
			if want := secondPrecision(rt.obj); !apiequality.Semantic.DeepEqual(want, again) {
				t.Fatalf("a valid object changed in a %s round trip:\n%s\nencoded:\n%s\ninput:\n%q", rt.name, cmp.Diff(want, again), data, body)
			}
			if errs := validation.ValidateClusterSummary(again); len(errs) > 0 {
				t.Fatalf("a valid object is invalid after a %s round trip: %v\n%s", rt.name, errs, data)
			}
		}
	})
}

// yamlComparable returns obj, or obj without its generic Kubernetes parts
// (object metadata and condition messages) when those cannot be written as
// YAML. Kubernetes lets annotation values and condition messages hold any
// string, yet k8s.io/apimachinery's YAML serializer refuses some characters
// (DEL, C1 controls, U+FFFE...), so every Kubernetes API, not only
// clusterview, then answers 500 to an Accept: application/yaml request. The
// fields clusterview defines itself must stay writable as YAML.
func yamlComparable(obj *clusterview.ClusterSummary, yamlEncoder runtime.Encoder) *clusterview.ClusterSummary {
	generic := &clusterview.ClusterSummary{ObjectMeta: obj.ObjectMeta}
	for _, c := range obj.Status.Conditions {
		generic.Status.Conditions = append(generic.Status.Conditions, metav1.Condition{Message: c.Message, Reason: c.Reason, Type: c.Type})
	}
	if _, err := runtime.Encode(yamlEncoder, generic); err == nil {
		return obj
	}
	obj = obj.DeepCopy()
	obj.ObjectMeta = metav1.ObjectMeta{Name: obj.Name, Generation: obj.Generation}
	for i := range obj.Status.Conditions {
		obj.Status.Conditions[i].Message = ""
	}
	return obj
}

func serializerInfo(f testing.TB, mediaType string) runtime.SerializerInfo {
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
	if !ok || info.StrictSerializer == nil {
		f.Fatalf("the server has no strict %s serializer", mediaType)
	}
	return info
}

// decode decodes body for POST /apis/clusterview.io/v1beta1/clustersummaries:
// into a ClusterSummary, with that kind as the default, and only
// clusterview.io/v1beta1 accepted, as the create handler does.
func decode(t *testing.T, decoder runtime.Decoder, body []byte) (*clusterview.ClusterSummary, error) {
	t.Helper()
	defaultGVK := v1beta1.SchemeGroupVersion.WithKind("ClusterSummary")
	obj, gvk, err := decoder.Decode(body, &defaultGVK, &clusterview.ClusterSummary{})
	if err != nil && !runtime.IsStrictDecodingError(err) {
		return nil, err
	}
	if gvk == nil || gvk.GroupVersion() != v1beta1.SchemeGroupVersion {
		// The handler answers 400 for any other version.
		if err == nil {
			return nil, errNotServed
		}
		return nil, err
	}
	cs, ok := obj.(*clusterview.ClusterSummary)
	if !ok {
		// The handler would hand this object to the ClusterSummary storage.
		t.Fatalf("decoding %s for the ClusterSummary endpoint returned %T (err %v):\n%q", gvk, obj, err, body)
	}
	return cs, err
}

type notServedError struct{}

func (notServedError) Error() string { return "not clusterview.io/v1beta1" }

var errNotServed error = notServedError{}

// checkFieldErrors fails if a validation error does not name a field or
// does not say what is wrong.
func checkFieldErrors(t *testing.T, what string, errs field.ErrorList, body []byte) {
	t.Helper()
	for _, e := range errs {
		if e == nil || e.Field == "" || e.Type == "" || strings.TrimSpace(e.Error()) == "" {
			t.Fatalf("%s returned an error without a field path or a message: %#v\ninput:\n%q", what, e, body)
		}
	}
}

// secondPrecision returns obj with its timestamps cut to whole seconds:
// metav1.Time is serialized with second precision (RFC 3339), by every
// Kubernetes API, so sub-second digits in a request never survive.
func secondPrecision(obj *clusterview.ClusterSummary) *clusterview.ClusterSummary {
	obj = obj.DeepCopy()
	trunc := func(t *metav1.Time) {
		if t != nil && !t.IsZero() {
			t.Time = t.Truncate(time.Second)
		}
	}
	trunc(&obj.CreationTimestamp)
	trunc(obj.DeletionTimestamp)
	trunc(obj.Status.LastUpdateTime)
	for i := range obj.Status.Conditions {
		trunc(&obj.Status.Conditions[i].LastTransitionTime)
	}
	for i := range obj.ManagedFields {
		trunc(obj.ManagedFields[i].Time)
	}
	return obj
}
