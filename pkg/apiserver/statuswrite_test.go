package apiserver

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
	"github.com/clusterview/clusterview/pkg/controller/clustersummarystatus"
	"github.com/clusterview/clusterview/pkg/summary"
)

// busySummary is a ClusterSummary as the bench's many-summaries phase
// writes them: grouped by zone into 16 groups, 8 headroom shapes, and two
// statuses that differ in every figure, as under churn.
func busySummary(tb testing.TB) (cs *v1beta1.ClusterSummary, statuses [2]v1beta1.ClusterSummaryStatus) {
	tb.Helper()
	engine := summary.New(summary.Options{})
	for i := range 320 {
		engine.UpsertNode(fx.Node(fmt.Sprintf("node-%03d", i),
			fx.NodeLabels("zone", fmt.Sprintf("zone-%02d", i%16), "pool", fmt.Sprintf("pool-%d", i%3)),
			fx.Allocatable("cpu", "16", "memory", "64Gi", "pods", "110", "ephemeral-storage", "100Gi")))
	}
	engine.UpsertNamespace(fx.Namespace("team-a"))
	shapes := make([]v1beta1.HeadroomShape, 8)
	for i := range shapes {
		shapes[i] = v1beta1.HeadroomShape{Name: fmt.Sprintf("shape-%d", i),
			Requests: fx.Resources("cpu", fmt.Sprintf("%dm", 250*(i+1)), "memory", fmt.Sprintf("%dMi", 512*(i+1)))}
	}
	cs = &v1beta1.ClusterSummary{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.SchemeGroupVersion.String(), Kind: "ClusterSummary"},
		ObjectMeta: metav1.ObjectMeta{Name: "busy", Generation: 1, ResourceVersion: "1"},
		Spec:       v1beta1.ClusterSummarySpec{GroupByNodeLabel: "zone", Headroom: shapes},
	}
	for k := range statuses {
		for i := range 320 * (k + 1) {
			engine.UpsertPod(fx.Pod("team-a", fmt.Sprintf("pod-%d-%d", k, i), fx.OnNode(fmt.Sprintf("node-%03d", i%320)),
				fx.InPhase(corev1.PodRunning), fx.Requests("cpu", "100m", "memory", "128Mi")))
		}
		st, err := clustersummarystatus.ComputeStatus(cs, engine, true, clustersummarystatus.DefaultMaxGroups)
		if err != nil {
			tb.Fatal(err)
		}
		statuses[k] = st
	}
	if len(statuses[0].Groups) != 16 {
		tb.Fatalf("fixture has %d groups, want 16", len(statuses[0].Groups))
	}
	return cs, statuses
}

// statusListsKeyedByName returns the OpenAPI definitions with the status's
// lists other than conditions as maps keyed by name, as they were before
// they were made atomic, to keep what that change saves measurable.
func statusListsKeyedByName(defs map[string]*spec.Schema) map[string]*spec.Schema {
	status, group := v1beta1.ClusterSummaryStatus{}.OpenAPIModelName(), v1beta1.GroupSummary{}.OpenAPIModelName()
	out := make(map[string]*spec.Schema, len(defs))
	for name, s := range defs {
		c := *s
		if name == status || name == group {
			props := make(map[string]spec.Schema, len(c.Properties))
			for p, ps := range c.Properties {
				if ps.Type.Contains("array") && p != "conditions" {
					ps.Extensions = spec.Extensions{
						"x-kubernetes-list-type":     "map",
						"x-kubernetes-list-map-keys": []any{"name"},
					}
				}
				props[p] = ps
			}
			c.Properties = props
		}
		out[name] = &c
	}
	return out
}

// statusFieldManager is the field manager the server runs for the status
// subresource, over the given OpenAPI definitions.
func statusFieldManager(tb testing.TB, defs map[string]*spec.Schema) *managedfields.FieldManager {
	tb.Helper()
	tc, err := managedfields.NewTypeConverter(defs, false)
	if err != nil {
		tb.Fatal(err)
	}
	fm, err := managedfields.NewDefaultFieldManager(tc, scheme.Scheme, scheme.Scheme, scheme.Scheme,
		v1beta1.SchemeGroupVersion.WithKind("ClusterSummary"), clusterview.SchemeGroupVersion, "status", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return fm
}

// withStatus is cs with status st, converted to the internal version the
// field manager is given.
func withStatus(tb testing.TB, cs *v1beta1.ClusterSummary, st v1beta1.ClusterSummaryStatus) *clusterview.ClusterSummary {
	tb.Helper()
	v := cs.DeepCopy()
	v.Status = st
	var out clusterview.ClusterSummary
	if err := scheme.Scheme.Convert(v, &out, nil); err != nil {
		tb.Fatal(err)
	}
	return &out
}

// writeStatus updates live to next as the status controller does, carrying
// live's managedFields as a client's update does.
func writeStatus(fm *managedfields.FieldManager, live runtime.Object, next *clusterview.ClusterSummary) runtime.Object {
	next = next.DeepCopy()
	next.ManagedFields = live.(*clusterview.ClusterSummary).ManagedFields
	return fm.UpdateNoErrors(live, next, clustersummarystatus.FieldManager)
}

// BenchmarkStatusWriteFieldManager is what the server's managedFields
// tracking costs per status write of busySummary, with the status's lists
// atomic as served and, for comparison, as maps keyed by name as before.
func BenchmarkStatusWriteFieldManager(b *testing.B) {
	cs, statuses := busySummary(b)
	for _, variant := range []string{"atomic-lists-served", "map-lists-before"} {
		b.Run(variant, func(b *testing.B) {
			defs := openAPIDefs(b)
			if variant == "map-lists-before" {
				defs = statusListsKeyedByName(defs)
			}
			fm := statusFieldManager(b, defs)
			objs := [2]*clusterview.ClusterSummary{withStatus(b, cs, statuses[0]), withStatus(b, cs, statuses[1])}
			live := writeStatus(fm, objs[1], objs[0])
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				live = writeStatus(fm, live, objs[i%2])
			}
			data, err := runtime.Encode(scheme.Codecs.LegacyCodec(v1beta1.SchemeGroupVersion), live)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(data)), "stored-bytes")
			b.ReportMetric(float64(len(managedFieldsJSON(live))), "managedFields-bytes")
		})
	}
}

// TestStatusWriteDropsPerItemManagedFields: a summary written while the
// status lists were maps keyed by name carries one managedFields entry per
// item. The first status write with the atomic lists must shrink that to
// one entry per list, so objects stored before the change do not keep the
// old cost.
func TestStatusWriteDropsPerItemManagedFields(t *testing.T) {
	cs, statuses := busySummary(t)
	objs := [2]*clusterview.ClusterSummary{withStatus(t, cs, statuses[0]), withStatus(t, cs, statuses[1])}

	before := statusFieldManager(t, statusListsKeyedByName(openAPIDefs(t)))
	live := writeStatus(before, objs[1], objs[0])
	live = writeStatus(before, live, objs[1])
	if !strings.Contains(managedFieldsJSON(live), `k:{\"name\"`) {
		t.Fatalf("fixture: managedFields written with map lists have no per-item entry: %s", managedFieldsJSON(live))
	}
	oldBytes := len(managedFieldsJSON(live))

	served := statusFieldManager(t, openAPIDefs(t))
	live = writeStatus(served, live, objs[0])
	got := managedFieldsJSON(live)
	if strings.Contains(got, `k:{\"name\"`) {
		t.Errorf("managedFields keep per-item entries after a write with atomic lists: %s", got)
	}
	for _, list := range []string{"f:resources", "f:groups", "f:headroom"} {
		if !strings.Contains(got, list) {
			t.Errorf("managedFields do not record %s: %s", list, got)
		}
	}
	if n := len(managedFieldsJSON(live)); n*10 > oldBytes {
		t.Errorf("managedFields are %d bytes after the write, want under a tenth of the %d written with map lists", n, oldBytes)
	}
}

func managedFieldsJSON(obj runtime.Object) string {
	var b strings.Builder
	for _, e := range obj.(*clusterview.ClusterSummary).ManagedFields {
		b.WriteString(e.FieldsV1.GetRawString())
	}
	return b.String()
}
