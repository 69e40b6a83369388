package aggregated

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	typed "github.com/clusterview/clusterview/pkg/generated/clientset/versioned/typed/clusterview/v1beta1"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// maxRequestBodyBytes is k8s.io/apiserver's default limit on the body of a
// create, update, patch or delete (genericapiserver.NewConfig:
// MaxRequestBodyBytes = 3 MiB). clusterview does not change it and
// kube-apiserver's aggregator streams the body through without a limit of
// its own, so the 413 comes from clusterview's handler.
const maxRequestBodyBytes = 3 * 1024 * 1024

// badLabel marks every object a rejected request tries to create, so that
// one list proves none of them was stored, whatever its name.
const badLabel = "hardening=rejected"

// rawResult is what a hand-made request got back.
type rawResult struct {
	code int
	err  error
}

// hardRaw sends body as-is through kube-apiserver with the generated
// clientset's REST client, as the admin.
func hardRaw(ctx context.Context, verb, name, contentType string, body []byte, params map[string]string) rawResult {
	req := env.Client.ClusterviewV1beta1().RESTClient().Verb(verb).Resource("clustersummaries").Body(body)
	if name != "" {
		req = req.Name(name)
	}
	if contentType != "" {
		req = req.SetHeader("Content-Type", contentType)
	}
	for k, v := range params {
		req = req.Param(k, v)
	}
	res := req.Do(ctx)
	var r rawResult
	res.StatusCode(&r.code)
	r.err = res.Error()
	return r
}

func hardSummaries() typed.ClusterSummaryInterface {
	return env.Client.ClusterviewV1beta1().ClusterSummaries()
}

// hardUnchanged fails unless the stored object still is before: same uid,
// generation, spec, labels, annotations and non-status managed fields, and
// the same resourceVersion unless the status changed (clusterview's status
// controller may write the status of any summary at any time; that is the
// only write allowed to happen meanwhile).
func hardUnchanged(t *testing.T, before *v1beta1.ClusterSummary) {
	t.Helper()
	after, err := hardSummaries().Get(context.WithoutCancel(t.Context()), before.Name, metav1.GetOptions{})
	if err != nil {
		t.Errorf("reading %s back: %v", before.Name, err)
		return
	}
	if after.UID != before.UID || after.Generation != before.Generation {
		t.Errorf("%s was replaced or its spec rewritten: uid %s→%s generation %d→%d", before.Name, before.UID, after.UID, before.Generation, after.Generation)
	}
	if !apiequality.Semantic.DeepEqual(after.Spec, before.Spec) {
		t.Errorf("%s spec changed: %+v → %+v", before.Name, before.Spec, after.Spec)
	}
	if !apiequality.Semantic.DeepEqual(after.Labels, before.Labels) || !apiequality.Semantic.DeepEqual(after.Annotations, before.Annotations) {
		t.Errorf("%s metadata changed: labels %v → %v, annotations %v → %v", before.Name, before.Labels, after.Labels, before.Annotations, after.Annotations)
	}
	if !apiequality.Semantic.DeepEqual(nonStatusFields(after.ManagedFields), nonStatusFields(before.ManagedFields)) {
		t.Errorf("%s managed fields changed: %+v → %+v", before.Name, before.ManagedFields, after.ManagedFields)
	}
	if after.ResourceVersion != before.ResourceVersion && apiequality.Semantic.DeepEqual(after.Status, before.Status) {
		t.Errorf("%s resourceVersion changed %s → %s with spec, metadata and status all unchanged", before.Name, before.ResourceVersion, after.ResourceVersion)
	}
}

func nonStatusFields(in []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	var out []metav1.ManagedFieldsEntry
	for _, e := range in {
		if e.Subresource != "status" {
			out = append(out, e)
		}
	}
	return out
}

// hardAbsent fails unless no object called name exists.
func hardAbsent(t *testing.T, name string) {
	t.Helper()
	if _, err := hardSummaries().Get(context.WithoutCancel(t.Context()), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("%s: get after the rejected request = %v, want NotFound: the object was stored", name, err)
	}
}

// hardCauses returns the field paths of a 422's causes.
func hardCauses(err error) []string {
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil {
		return nil
	}
	var fields []string
	for _, c := range status.Status().Details.Causes {
		fields = append(fields, c.Field)
	}
	return fields
}

// hardExpectInvalid fails unless err is a 422 naming every field in want,
// and every cause names some field.
func hardExpectInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Errorf("error = %v, want 422 Invalid", err)
		return
	}
	fields := hardCauses(err)
	for _, f := range fields {
		if f == "" {
			t.Errorf("422 has a cause without a field path: %v", err)
		}
	}
	for _, w := range want {
		found := false
		for _, f := range fields {
			found = found || f == w
		}
		if !found {
			t.Errorf("422 causes %v do not name %s (%v)", fields, w, err)
		}
	}
}

func hardSummaryJSON(name, specJSON string) string {
	return `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"` + name +
		`","labels":{"hardening":"rejected"}},"spec":` + specJSON + `}`
}

// hardPadded returns a ClusterSummary JSON document of exactly size bytes,
// padded with one large annotation.
func hardPadded(t *testing.T, name, resourceVersion string, size int) []byte {
	t.Helper()
	rv := ""
	if resourceVersion != "" {
		rv = `,"resourceVersion":"` + resourceVersion + `"`
	}
	head := `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"` + name + `"` + rv +
		`,"labels":{"hardening":"rejected"},"annotations":{"padding":"`
	tail := `"}}}`
	n := size - len(head) - len(tail)
	if n < 0 {
		t.Fatalf("cannot pad to %d bytes", size)
	}
	body := head + strings.Repeat("x", n) + tail
	if len(body) != size {
		t.Fatalf("padded body is %d bytes, want %d", len(body), size)
	}
	return []byte(body)
}

// TestHardeningBadInput sends malformed, mistyped, oversized, invalid and
// stale requests through kube-apiserver and checks each gets the documented
// 4xx and leaves the stored objects exactly as they were.
func TestHardeningBadInput(t *testing.T) {
	ctx := t.Context()
	target, err := hardSummaries().Create(ctx, &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "hardening-target", Labels: map[string]string{"hardening": "target"}, Annotations: map[string]string{"owner": "hardening"}},
		Spec: v1beta1.ClusterSummarySpec{
			NodeSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "general"}},
			GroupByNodeLabel: "topology.kubernetes.io/zone",
			Resources:        []corev1.ResourceName{"cpu", "memory"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the target: %v", err)
	}
	t.Cleanup(func() {
		_ = hardSummaries().Delete(context.Background(), target.Name, metav1.DeleteOptions{})
	})
	// The stored state, re-read before each request: the status controller
	// may have written the status since the last one.
	current := func(t *testing.T) *v1beta1.ClusterSummary {
		t.Helper()
		cs, err := hardSummaries().Get(ctx, target.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading the target: %v", err)
		}
		return cs
	}
	targetJSON := func(rv, specJSON string) string {
		return `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"hardening-target","resourceVersion":"` + rv +
			`","labels":{"hardening":"target"},"annotations":{"owner":"hardening"}},"spec":` + specJSON + `}`
	}

	type badBody struct {
		name        string
		contentType string
		params      map[string]string
		// create is the body of a POST creating hardening-bad-<n>; update,
		// given the target's current resourceVersion, the body of a PUT.
		create      string
		update      func(rv string) string
		wantCode    int
		wantMessage []string
	}
	strict := map[string]string{"fieldValidation": "Strict"}
	cases := []badBody{
		{name: "truncated JSON", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"hardening-bad-0"`},
		{name: "JSON syntax error", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: hardSummaryJSON("hardening-bad-1", `{"resources":[cpu]}`)},
		{name: "JSON of the wrong type", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: hardSummaryJSON("hardening-bad-2", `{"resources":"cpu"}`), wantMessage: []string{"resources"}},
		{name: "JSON number out of range", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"hardening-bad-3","labels":{"hardening":"rejected"},"generation":1e400}}`},
		{name: "malformed YAML", contentType: "application/yaml", wantCode: http.StatusBadRequest,
			create: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n  name: hardening-bad-4\n  labels: {hardening: rejected}\nspec: [\n  resources: {cpu\n"},
		{name: "YAML indented with a tab", contentType: "application/yaml", wantCode: http.StatusBadRequest,
			create: "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n\tname: hardening-bad-5\n"},
		{name: "empty body", contentType: "application/json", wantCode: http.StatusBadRequest, create: ``},
		{name: "unknown spec field, strict JSON", contentType: "application/json", params: strict, wantCode: http.StatusBadRequest,
			create:      hardSummaryJSON("hardening-bad-6", `{"groupByNodeLabell":"zone"}`),
			wantMessage: []string{`unknown field "spec.groupByNodeLabell"`}},
		{name: "unknown metadata field, strict JSON", contentType: "application/json", params: strict, wantCode: http.StatusBadRequest,
			create:      `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"hardening-bad-7","lables":{"a":"b"},"labels":{"hardening":"rejected"}}}`,
			wantMessage: []string{`unknown field "metadata.lables"`}},
		{name: "duplicate field, strict JSON", contentType: "application/json", params: strict, wantCode: http.StatusBadRequest,
			create:      hardSummaryJSON("hardening-bad-8", `{"groupByNodeLabel":"zone","groupByNodeLabel":"rack"}`),
			wantMessage: []string{`duplicate field "spec.groupByNodeLabel"`}},
		{name: "unknown field, strict YAML", contentType: "application/yaml", params: strict, wantCode: http.StatusBadRequest,
			create:      "apiVersion: clusterview.io/v1beta1\nkind: ClusterSummary\nmetadata:\n  name: hardening-bad-9\n  labels: {hardening: rejected}\nspec:\n  nodeSelectr: {}\n",
			wantMessage: []string{`unknown field "spec.nodeSelectr"`}},
		{name: "unknown field in an update, strict", contentType: "application/json", params: strict, wantCode: http.StatusBadRequest,
			update:      func(rv string) string { return targetJSON(rv, `{"resources":["cpu"],"groupBy":"zone"}`) },
			wantMessage: []string{`unknown field "spec.groupBy"`}},
		{name: "apiVersion of an unserved version", contentType: "application/json", wantCode: http.StatusBadRequest,
			create:      strings.Replace(hardSummaryJSON("hardening-bad-10", `{}`), "clusterview.io/v1beta1", "clusterview.io/v1", 1),
			wantMessage: []string{"clusterview.io/v1"}},
		{name: "apiVersion of another group", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hardening-bad-11","labels":{"hardening":"rejected"}},"data":{"a":"b"}}`},
		{name: "kind of another clusterview resource", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: strings.Replace(hardSummaryJSON("hardening-bad-12", `{}`), `"kind":"ClusterSummary"`, `"kind":"NodeSummary"`, 1)},
		{name: "unknown kind", contentType: "application/json", wantCode: http.StatusBadRequest,
			create: strings.Replace(hardSummaryJSON("hardening-bad-13", `{}`), `"kind":"ClusterSummary"`, `"kind":"ClusterSummry"`, 1)},
		{name: "wrong kind in an update", contentType: "application/json", wantCode: http.StatusBadRequest,
			update: func(rv string) string {
				return strings.Replace(targetJSON(rv, `{"resources":["pods"]}`), `"kind":"ClusterSummary"`, `"kind":"NamespaceSummary"`, 1)
			}},
		{name: "name in the body differs from the URL", contentType: "application/json", wantCode: http.StatusBadRequest,
			update: func(rv string) string {
				return strings.Replace(targetJSON(rv, `{"resources":["pods"]}`), `"name":"hardening-target"`, `"name":"hardening-bad-14"`, 1)
			}},
		{name: "unsupported media type", contentType: "text/plain", wantCode: http.StatusUnsupportedMediaType,
			create: hardSummaryJSON("hardening-bad-15", `{}`)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := current(t)
			var r rawResult
			if tc.update != nil {
				r = hardRaw(ctx, http.MethodPut, target.Name, tc.contentType, []byte(tc.update(before.ResourceVersion)), tc.params)
			} else {
				r = hardRaw(ctx, http.MethodPost, "", tc.contentType, []byte(tc.create), tc.params)
			}
			if r.code != tc.wantCode {
				t.Errorf("HTTP %d (%v), want %d", r.code, r.err, tc.wantCode)
			}
			if _, ok := r.err.(apierrors.APIStatus); !ok {
				t.Errorf("error %v (%T) is not a Status from the server", r.err, r.err)
			}
			for _, want := range tc.wantMessage {
				if r.err == nil || !strings.Contains(r.err.Error(), want) {
					t.Errorf("error %v does not mention %q", r.err, want)
				}
			}
			hardUnchanged(t, before)
			if tc.update == nil {
				hardAbsent(t, fmt.Sprintf("hardening-bad-%d", i))
			}
		})
	}

	t.Run("oversized bodies", func(t *testing.T) {
		// One byte over the limit: refused before it is decoded.
		before := current(t)
		r := hardRaw(ctx, http.MethodPost, "", "application/json", hardPadded(t, "hardening-huge", "", maxRequestBodyBytes+1), nil)
		if r.code != http.StatusRequestEntityTooLarge || !apierrors.IsRequestEntityTooLargeError(r.err) {
			t.Errorf("create of %d bytes: HTTP %d (%v), want 413", maxRequestBodyBytes+1, r.code, r.err)
		}
		hardAbsent(t, "hardening-huge")
		r = hardRaw(ctx, http.MethodPut, target.Name, "application/json", hardPadded(t, target.Name, before.ResourceVersion, maxRequestBodyBytes+1), nil)
		if r.code != http.StatusRequestEntityTooLarge {
			t.Errorf("update of %d bytes: HTTP %d (%v), want 413", maxRequestBodyBytes+1, r.code, r.err)
		}
		patch := []byte(`{"metadata":{"annotations":{"padding":"` + strings.Repeat("y", maxRequestBodyBytes) + `"}}}`)
		if _, err := hardSummaries().Patch(ctx, target.Name, types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsRequestEntityTooLargeError(err) {
			t.Errorf("merge patch of %d bytes: %v, want 413", len(patch), err)
		}
		hardUnchanged(t, before)
		// Exactly at the limit the body is read and decoded, and validation
		// refuses the 3 MiB annotation (256 KiB at most): the limit is where
		// k8s.io/apiserver documents it, not lower.
		r = hardRaw(ctx, http.MethodPost, "", "application/json", hardPadded(t, "hardening-huge", "", maxRequestBodyBytes), nil)
		if r.code != http.StatusUnprocessableEntity {
			t.Errorf("create of exactly %d bytes: HTTP %d (%v), want 422 for the annotation size", maxRequestBodyBytes, r.code, r.err)
		} else {
			hardExpectInvalid(t, r.err, "metadata.annotations")
		}
		hardAbsent(t, "hardening-huge")
	})

	t.Run("invalid specs are 422 with field paths", func(t *testing.T) {
		cases := []struct {
			name   string
			mutate func(*v1beta1.ClusterSummary)
			fields []string
		}{
			{"selector operator", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}}}
			}, []string{"spec.nodeSelector.matchExpressions[0].operator"}},
			{"In without values", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn}}}
			}, []string{"spec.namespaceSelector.matchExpressions[0].values"}},
			{"Exists with values", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}}
			}, []string{"spec.nodeSelector.matchExpressions[0].values"}},
			{"selector key", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"not a key!": "x"}}
			}, []string{"spec.namespaceSelector.matchLabels"}},
			{"selector expression key", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "-bad", Operator: metav1.LabelSelectorOpExists}}}
			}, []string{"spec.nodeSelector.matchExpressions[0].key"}},
			{"selector value", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "not a value"}}
			}, []string{"spec.nodeSelector.matchLabels"}},
			{"group-by label with two slashes", func(cs *v1beta1.ClusterSummary) { cs.Spec.GroupByNodeLabel = "not/a/label" }, []string{"spec.groupByNodeLabel"}},
			{"group-by label too long", func(cs *v1beta1.ClusterSummary) { cs.Spec.GroupByNodeLabel = strings.Repeat("z", 64) }, []string{"spec.groupByNodeLabel"}},
			{"unknown resource", func(cs *v1beta1.ClusterSummary) { cs.Spec.Resources = []corev1.ResourceName{"cpu", "gpus"} }, []string{"spec.resources[1]"}},
			{"several errors at once", func(cs *v1beta1.ClusterSummary) {
				cs.Spec.GroupByNodeLabel = "bad label"
				cs.Spec.Resources = []corev1.ResourceName{"memory", "memory", "kubernetes.io/thing"}
			}, []string{"spec.groupByNodeLabel", "spec.resources[1]", "spec.resources[2]"}},
			{"metadata name", func(cs *v1beta1.ClusterSummary) { cs.Name = "Hardening_Bad" }, []string{"metadata.name"}},
			{"metadata label key", func(cs *v1beta1.ClusterSummary) { cs.Labels["bad key"] = "x" }, []string{"metadata.labels"}},
		}
		for i, tc := range cases {
			t.Run("create with "+tc.name, func(t *testing.T) {
				obj := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("hardening-invalid-%d", i), Labels: map[string]string{"hardening": "rejected"}}}
				tc.mutate(obj)
				_, err := hardSummaries().Create(ctx, obj, metav1.CreateOptions{})
				hardExpectInvalid(t, err, tc.fields...)
				hardAbsent(t, obj.Name)
			})
			if tc.fields[0] == "metadata.name" {
				continue
			}
			t.Run("update with "+tc.name, func(t *testing.T) {
				before := current(t)
				obj := before.DeepCopy()
				tc.mutate(obj)
				// Unconditional, so that a status write in between cannot
				// turn the expected 422 into a 409.
				obj.ResourceVersion = ""
				_, err := hardSummaries().Update(ctx, obj, metav1.UpdateOptions{})
				hardExpectInvalid(t, err, tc.fields...)
				hardUnchanged(t, before)
			})
		}
		t.Run("status with negative counts", func(t *testing.T) {
			before := current(t)
			obj := before.DeepCopy()
			obj.Status.Pods = &v1beta1.PodCounts{Total: -1}
			obj.Status.Resources = []v1beta1.ResourceUsage{{Name: "cpu", Requests: resource.MustParse("-1")}, {Name: "cpu"}}
			obj.ResourceVersion = ""
			_, err := hardSummaries().UpdateStatus(ctx, obj, metav1.UpdateOptions{})
			hardExpectInvalid(t, err, "status.pods.total", "status.resources[0].requests", "status.resources[1].name")
			hardUnchanged(t, before)
		})
	})

	t.Run("invalid list selectors are 400", func(t *testing.T) {
		for _, opts := range []metav1.ListOptions{
			{LabelSelector: "tier in (prod"},
			{LabelSelector: "bad key!=x"},
			{FieldSelector: "spec.groupByNodeLabel=zone"},
			{FieldSelector: "metadata.name"},
		} {
			_, err := hardSummaries().List(ctx, opts)
			if !apierrors.IsBadRequest(err) {
				t.Errorf("list with %+v: %v, want 400", opts, err)
			}
		}
	})

	t.Run("stale resourceVersion is 409", func(t *testing.T) {
		stale := current(t)
		// A write without a precondition, so that it cannot conflict itself.
		fresh, err := hardSummaries().Patch(ctx, target.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"touched":"yes"}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("patch: %v", err)
		}
		before := current(t)
		stale.Spec.GroupByNodeLabel = "kubernetes.io/hostname"
		if _, err := hardSummaries().Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("update with resourceVersion %s after %s: %v, want 409", stale.ResourceVersion, fresh.ResourceVersion, err)
		}
		if _, err := hardSummaries().UpdateStatus(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("status update with a stale resourceVersion: %v, want 409", err)
		}
		patch := []byte(`{"metadata":{"resourceVersion":"` + stale.ResourceVersion + `"},"spec":{"groupByNodeLabel":"kubernetes.io/hostname"}}`)
		if _, err := hardSummaries().Patch(ctx, target.Name, types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("merge patch carrying a stale resourceVersion: %v, want 409", err)
		}
		err = hardSummaries().Delete(ctx, target.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale.ResourceVersion}})
		if !apierrors.IsConflict(err) {
			t.Errorf("delete with a stale resourceVersion precondition: %v, want 409", err)
		}
		hardUnchanged(t, before)
	})

	t.Run("no rejected object was stored", func(t *testing.T) {
		list, err := hardSummaries().List(ctx, metav1.ListOptions{LabelSelector: badLabel})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			t.Errorf("stored although rejected: %s", item.Name)
		}
	})
}

// hardWatchFirst opens a watch through kube-apiserver and returns its first
// event, or fails after 30s.
func hardWatchFirst(t *testing.T, client typed.ClusterSummaryInterface, opts metav1.ListOptions) watch.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w, err := client.Watch(ctx, opts)
	if err != nil {
		t.Fatalf("watch %+v: %v", opts, err)
	}
	defer w.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch %+v closed without an event", opts)
		}
		return ev
	case <-ctx.Done():
		t.Fatalf("watch %+v: no event within 30s", opts)
	}
	return watch.Event{}
}

// TestHardeningWatchTooOldResourceVersion proves that a client resuming from
// a resourceVersion the server no longer has gets 410 Gone (reason Expired),
// which makes client-go's reflectors relist, instead of a silent gap or a 5xx.
//
// ClusterSummaries have no watch cache by default (pkg/cmd/server explains
// why), so their watches and exact reads are served by etcd and a
// resourceVersion expires when etcd compacts it. This test runs its own
// control plane and clusterview with --etcd-compaction-interval=1s, and
// restarts clusterview in between (without touching the package's shared
// one) so that expiry is also shown to hold across a restart, which is what
// expires a version when the watch cache is turned back on.
func TestHardeningWatchTooOldResourceVersion(t *testing.T) {
	dir, err := os.MkdirTemp("", "clusterview-hardening-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx := klog.NewContext(context.Background(), klog.Background())
	flags := []string{"--etcd-compaction-interval=1s"}
	dedicated, err := framework.StartAggregated(ctx, dir, flags...)
	if err != nil {
		t.Fatalf("starting a dedicated control plane and clusterview: %v", err)
	}
	t.Cleanup(dedicated.Stop)
	client := dedicated.Client.ClusterviewV1beta1().ClusterSummaries()

	created, err := client.Create(t.Context(), &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "resumed"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := created.ResourceVersion
	if _, err := client.Patch(t.Context(), "resumed", types.MergePatchType, []byte(`{"spec":{"groupByNodeLabel":"topology.kubernetes.io/zone"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	// Control: while the server has it, resuming from the old version
	// replays what came after it.
	byName := metav1.ListOptions{FieldSelector: "metadata.name=resumed", ResourceVersion: old}
	if ev := hardWatchFirst(t, client, byName); ev.Type != watch.Modified {
		t.Fatalf("watch from %s before the restart: first event %s %+v, want MODIFIED", old, ev.Type, ev.Object)
	}

	if err := dedicated.RestartClusterview(ctx, dir, flags...); err != nil {
		t.Fatal(err)
	}
	before, err := client.Get(t.Context(), "resumed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("watch from before the restart is 410 Expired", func(t *testing.T) {
		// Until etcd has compacted past it, the old version still replays
		// (MODIFIED); compaction runs every second.
		var ev watch.Event
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			ev = hardWatchFirst(t, client, byName)
			return ev.Type != watch.Modified, nil
		})
		if err != nil {
			t.Fatalf("watch from %s still replayed after 30s of 1s compactions", old)
		}
		status, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok {
			t.Fatalf("first event %s %T, want an ERROR carrying a Status", ev.Type, ev.Object)
		}
		err = apierrors.FromObject(status)
		if status.Code != http.StatusGone || !apierrors.IsResourceExpired(err) {
			t.Errorf("watch from %s: %d %s %q, want 410 Expired", old, status.Code, status.Reason, status.Message)
		}
	})

	t.Run("read at an exact compacted resourceVersion is 410 Expired", func(t *testing.T) {
		var last error
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, last = client.List(ctx, metav1.ListOptions{ResourceVersion: old, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
			return apierrors.IsResourceExpired(last), nil
		})
		if err != nil {
			t.Errorf("list at exactly %s never expired: last answer %v", old, last)
		}
		var status apierrors.APIStatus
		if s, ok := last.(apierrors.APIStatus); ok {
			status = s
		}
		if status == nil || status.Status().Code != http.StatusGone {
			t.Errorf("expired list answered %v, want HTTP 410", last)
		}
	})

	t.Run("a client recovers by relisting", func(t *testing.T) {
		list, err := client.List(t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=resumed"})
		if err != nil || len(list.Items) != 1 || list.Items[0].Spec.GroupByNodeLabel != "topology.kubernetes.io/zone" {
			t.Fatalf("relist: %v, %+v", err, list)
		}
		w, err := client.Watch(t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=resumed", ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := client.Patch(t.Context(), "resumed", types.MergePatchType, []byte(`{"metadata":{"labels":{"relisted":"yes"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Modified {
				t.Errorf("event after relist: %s %+v, want MODIFIED", ev.Type, ev.Object)
			}
		case <-time.After(30 * time.Second):
			t.Error("no event within 30s after relisting")
		}
		// Put it back so the unchanged check below compares like with like.
		if _, err := client.Patch(t.Context(), "resumed", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/labels"}]`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	after, err := client.Get(t.Context(), "resumed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID || after.Generation != before.Generation || !apiequality.Semantic.DeepEqual(after.Spec, before.Spec) {
		t.Errorf("the expired watch and reads changed the object: %+v → %+v", before, after)
	}
}
