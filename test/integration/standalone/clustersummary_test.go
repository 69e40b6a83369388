// Package standalone tests clusterview-apiserver on its own: in-process, on
// loopback, with its embedded etcd, through the generated clientset.
package standalone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	cvapply "github.com/clusterview/clusterview/pkg/generated/applyconfiguration/clusterview/v1beta1"
	typed "github.com/clusterview/clusterview/pkg/generated/clientset/versioned/typed/clusterview/v1beta1"
	"github.com/clusterview/clusterview/test/integration/framework"
)

func summaries(s *framework.StandaloneServer) typed.ClusterSummaryInterface {
	return s.Client.ClusterviewV1beta1().ClusterSummaries()
}

func newSummary(name string, labels map[string]string) *v1beta1.ClusterSummary {
	return &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// TestClusterSummaryLifecycle covers the default object, CRUD, defaulting,
// spec/status semantics, watch, persistence across a restart, and errors.
// The subtests share one server because starting one costs seconds.
func TestClusterSummaryLifecycle(t *testing.T) {
	dataDir := t.TempDir()
	s := framework.StartStandalone(t, dataDir)
	ctx := t.Context()

	t.Run("default summary exists", func(t *testing.T) {
		cs, err := summaries(s).Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("getting the default summary: %v", err)
		}
		if cs.Spec.NodeSelector != nil || cs.Spec.NamespaceSelector != nil {
			t.Errorf("default summary has selectors: %+v", cs.Spec)
		}
		if !slices.Equal(cs.Spec.Resources, v1beta1.DefaultResources) {
			t.Errorf("default resources = %v, want %v", cs.Spec.Resources, v1beta1.DefaultResources)
		}
	})

	t.Run("create get list update delete", func(t *testing.T) {
		created, err := summaries(s).Create(ctx, newSummary("crud", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if created.Generation != 1 {
			t.Errorf("generation after create = %d, want 1", created.Generation)
		}
		got, err := summaries(s).Get(ctx, "crud", metav1.GetOptions{})
		if err != nil || got.UID != created.UID {
			t.Fatalf("get: %v (uid %v, want %v)", err, got.UID, created.UID)
		}
		list, err := summaries(s).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if !slices.ContainsFunc(list.Items, func(c v1beta1.ClusterSummary) bool { return c.Name == "crud" }) {
			t.Errorf("list does not contain crud: %d items", len(list.Items))
		}
		got.Spec.GroupByNodeLabel = "topology.kubernetes.io/zone"
		updated, err := summaries(s).Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if updated.Spec.GroupByNodeLabel != "topology.kubernetes.io/zone" || updated.Generation != 2 {
			t.Errorf("after update: groupBy=%q generation=%d, want zone label and 2", updated.Spec.GroupByNodeLabel, updated.Generation)
		}
		if err := summaries(s).Delete(ctx, "crud", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := summaries(s).Get(ctx, "crud", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get after delete: %v, want NotFound", err)
		}
	})

	t.Run("spec and status semantics", func(t *testing.T) {
		in := newSummary("semantics", nil)
		in.Status.Namespaces = 42
		created, err := summaries(s).Create(ctx, in, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if created.Status.Namespaces != 0 {
			t.Errorf("create kept the client's status: namespaces=%d", created.Status.Namespaces)
		}

		// A status write changes the status only: not the spec, not the generation.
		created.Status = v1beta1.ClusterSummaryStatus{
			ObservedGeneration: 1,
			Namespaces:         7,
			Nodes:              &v1beta1.NodeCounts{Total: 3, Ready: 2, NotReady: 1},
		}
		created.Spec.GroupByNodeLabel = "ignored-by-status"
		withStatus, err := summaries(s).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status: %v", err)
		}
		if withStatus.Status.Namespaces != 7 || withStatus.Status.Nodes.Ready != 2 {
			t.Errorf("status not written: %+v", withStatus.Status)
		}
		if withStatus.Spec.GroupByNodeLabel != "" || withStatus.Generation != 1 {
			t.Errorf("status write changed spec or generation: groupBy=%q generation=%d", withStatus.Spec.GroupByNodeLabel, withStatus.Generation)
		}

		// A spec write changes the spec only and bumps the generation.
		withStatus.Spec.Resources = []corev1.ResourceName{"cpu", "nvidia.com/gpu"}
		withStatus.Status.Namespaces = 1000
		withSpec, err := summaries(s).Update(ctx, withStatus, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update spec: %v", err)
		}
		if withSpec.Generation != 2 || len(withSpec.Spec.Resources) != 2 {
			t.Errorf("spec write: generation=%d resources=%v, want 2 and two resources", withSpec.Generation, withSpec.Spec.Resources)
		}
		if withSpec.Status.Namespaces != 7 {
			t.Errorf("spec write changed status: namespaces=%d, want 7", withSpec.Status.Namespaces)
		}
		// An update that changes nothing in the spec keeps the generation.
		withSpec.Labels = map[string]string{"team": "platform"}
		relabeled, err := summaries(s).Update(ctx, withSpec, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("relabel: %v", err)
		}
		if relabeled.Generation != 2 {
			t.Errorf("metadata-only update bumped generation to %d", relabeled.Generation)
		}
		// Updating with a stale resourceVersion is a conflict.
		if _, err := summaries(s).Update(ctx, withSpec, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("update with stale resourceVersion: %v, want 409 Conflict", err)
		}
	})

	t.Run("watch sees create update delete in order", func(t *testing.T) {
		list, err := summaries(s).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		w, err := summaries(s).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, FieldSelector: "metadata.name=watched"})
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		defer w.Stop()
		cs, err := summaries(s).Create(ctx, newSummary("watched", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		cs.Spec.GroupByNodeLabel = "zone"
		if _, err := summaries(s).Update(ctx, cs, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update: %v", err)
		}
		if err := summaries(s).Delete(ctx, "watched", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		want := []watch.EventType{watch.Added, watch.Modified, watch.Deleted}
		for i, wantType := range want {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatalf("watch closed after %d events", i)
				}
				if ev.Type != wantType {
					t.Fatalf("event %d = %s, want %s", i, ev.Type, wantType)
				}
				if name := ev.Object.(*v1beta1.ClusterSummary).Name; name != "watched" {
					t.Fatalf("event %d for %q", i, name)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no event %d (%s) within 30s", i, wantType)
			}
		}
	})

	t.Run("server-side apply with two managers", func(t *testing.T) {
		platform := cvapply.ClusterSummary("applied").
			WithLabels(map[string]string{"owner": "platform"}).
			WithSpec(cvapply.ClusterSummarySpec().WithGroupByNodeLabel("topology.kubernetes.io/zone"))
		if _, err := summaries(s).Apply(ctx, platform, metav1.ApplyOptions{FieldManager: "platform"}); err != nil {
			t.Fatalf("apply by platform: %v", err)
		}
		dashboard := cvapply.ClusterSummary("applied").
			WithSpec(cvapply.ClusterSummarySpec().WithResources("cpu", "memory"))
		got, err := summaries(s).Apply(ctx, dashboard, metav1.ApplyOptions{FieldManager: "dashboard"})
		if err != nil {
			t.Fatalf("apply by dashboard: %v", err)
		}
		// spec.resources is a set: each manager owns the items it applied,
		// next to the defaulted ones.
		if got.Spec.GroupByNodeLabel != "topology.kubernetes.io/zone" || !slices.Contains(got.Spec.Resources, "cpu") || !slices.Contains(got.Spec.Resources, "memory") {
			t.Errorf("merged spec = %+v", got.Spec)
		}
		managers := map[string]bool{}
		for _, mf := range got.ManagedFields {
			managers[mf.Manager] = true
		}
		if !managers["platform"] || !managers["dashboard"] {
			t.Errorf("managed fields managers = %v, want platform and dashboard", managers)
		}

		conflicting := cvapply.ClusterSummary("applied").
			WithSpec(cvapply.ClusterSummarySpec().WithGroupByNodeLabel("kubernetes.io/hostname"))
		_, err = summaries(s).Apply(ctx, conflicting, metav1.ApplyOptions{FieldManager: "dashboard"})
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "platform") {
			t.Fatalf("conflicting apply: %v, want a 409 naming the platform manager", err)
		}
		forced, err := summaries(s).Apply(ctx, conflicting, metav1.ApplyOptions{FieldManager: "dashboard", Force: true})
		if err != nil || forced.Spec.GroupByNodeLabel != "kubernetes.io/hostname" {
			t.Fatalf("forced apply: %v, groupBy=%q", err, forced.Spec.GroupByNodeLabel)
		}
	})

	t.Run("pagination and selectors", func(t *testing.T) {
		const n = 23
		for i := range n {
			team := []string{"a", "b"}[i%2]
			if _, err := summaries(s).Create(ctx, newSummary(fmt.Sprintf("page-%02d", i), map[string]string{"page": "yes", "team": team}), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create page-%02d: %v", i, err)
			}
		}
		var names []string
		opts := metav1.ListOptions{LabelSelector: "page=yes", Limit: 5}
		pages := 0
		for {
			list, err := summaries(s).List(ctx, opts)
			if err != nil {
				t.Fatalf("list page %d: %v", pages, err)
			}
			pages++
			if len(list.Items) > 5 {
				t.Fatalf("page %d has %d items, limit 5", pages, len(list.Items))
			}
			for _, it := range list.Items {
				names = append(names, it.Name)
			}
			if list.Continue == "" {
				break
			}
			opts.Continue = list.Continue
		}
		if pages != 5 || len(names) != n {
			t.Errorf("paged %d objects over %d pages, want %d over 5", len(names), pages, n)
		}
		teamA, err := summaries(s).List(ctx, metav1.ListOptions{LabelSelector: "page=yes,team=a"})
		if err != nil || len(teamA.Items) != 12 {
			t.Errorf("label selector team=a: %v, %d items, want 12", err, len(teamA.Items))
		}
		byName, err := summaries(s).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=page-07"})
		if err != nil || len(byName.Items) != 1 || byName.Items[0].Name != "page-07" {
			t.Errorf("field selector metadata.name=page-07: %v, %d items", err, len(byName.Items))
		}
		if err := summaries(s).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "team=b"}); err != nil {
			t.Fatalf("deletecollection: %v", err)
		}
		left, err := summaries(s).List(ctx, metav1.ListOptions{LabelSelector: "page=yes"})
		if err != nil || len(left.Items) != 12 {
			t.Errorf("after deletecollection team=b: %v, %d left, want 12", err, len(left.Items))
		}
	})

	t.Run("invalid input is rejected with the field path", func(t *testing.T) {
		cases := []struct {
			name      string
			spec      v1beta1.ClusterSummarySpec
			wantField string
		}{
			{"bad selector operator", v1beta1.ClusterSummarySpec{NodeSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near"}}}}, "spec.nodeSelector.matchExpressions[0].operator"},
			{"bad selector key", v1beta1.ClusterSummarySpec{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"not a key!": "x"}}}, "spec.namespaceSelector.matchLabels"},
			{"bad group label", v1beta1.ClusterSummarySpec{GroupByNodeLabel: "not/a/label"}, "spec.groupByNodeLabel"},
			{"unknown resource", v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{"cpu", "gpus"}}, "spec.resources[1]"},
			{"duplicate resource", v1beta1.ClusterSummarySpec{Resources: []corev1.ResourceName{"memory", "memory"}}, "spec.resources[1]"},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				obj := newSummary(fmt.Sprintf("invalid-%d", i), nil)
				obj.Spec = tc.spec
				_, err := summaries(s).Create(ctx, obj, metav1.CreateOptions{})
				expectInvalid(t, err, tc.wantField)
				if _, err := summaries(s).Get(ctx, obj.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("rejected object was stored: %v", err)
				}
			})
		}

		t.Run("negative status count", func(t *testing.T) {
			cs, err := summaries(s).Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before := cs.ResourceVersion
			cs.Status.Pods = &v1beta1.PodCounts{Total: -1}
			cs.Status.Resources = []v1beta1.ResourceUsage{{Name: "cpu", Requests: resource.MustParse("-1")}}
			_, err = summaries(s).UpdateStatus(ctx, cs, metav1.UpdateOptions{})
			expectInvalid(t, err, "status.pods.total")
			expectInvalid(t, err, "status.resources[0].requests")
			after, err := summaries(s).Get(ctx, cs.Name, metav1.GetOptions{})
			if err != nil || after.ResourceVersion != before {
				t.Errorf("rejected status write changed the object: %v, rv %s -> %s", err, before, after.ResourceVersion)
			}
		})

		t.Run("unknown field under strict validation", func(t *testing.T) {
			body := `{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"strict"},"spec":{"nodeSelectr":{}}}`
			err := s.Client.ClusterviewV1beta1().RESTClient().Post().Resource("clustersummaries").
				Param("fieldValidation", "Strict").Body([]byte(body)).SetHeader("Content-Type", "application/json").
				Do(ctx).Error()
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "nodeSelectr") {
				t.Errorf("strict create with unknown field: %v, want 400 naming .spec.nodeSelectr", err)
			}
		})
	})

	t.Run("table columns", func(t *testing.T) {
		table := getTable(t, ctx, s.Config, "/apis/clusterview.io/v1beta1/clustersummaries/"+v1beta1.DefaultClusterSummaryName)
		var names []string
		for _, c := range table.ColumnDefinitions {
			names = append(names, c.Name)
		}
		for _, want := range []string{"Name", "Nodes", "Running", "Pending", "CPU Req", "Mem Req", "Degraded", "Age"} {
			if !slices.Contains(names, want) {
				t.Errorf("columns %v lack %q", names, want)
			}
		}
		if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
			t.Fatalf("table has %d rows; want 1 row with %d cells", len(table.Rows), len(table.ColumnDefinitions))
		}
		// With no computed status the columns say so instead of printing zeros.
		if cell := table.Rows[0].Cells[1]; cell != "<unknown>" {
			t.Errorf("Nodes cell before any status = %v, want <unknown>", cell)
		}
	})

	t.Run("openapi v3 describes the group", func(t *testing.T) {
		raw, err := s.Client.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/clusterview.io/v1beta1").DoRaw(ctx)
		if err != nil {
			t.Fatalf("openapi v3: %v", err)
		}
		if !strings.Contains(string(raw), "com.github.clusterview.clusterview.pkg.apis.clusterview.v1beta1.ClusterSummarySpec") || !strings.Contains(string(raw), "groupByNodeLabel") {
			t.Errorf("openapi v3 document lacks the ClusterSummary schema (%d bytes)", len(raw))
		}
	})

	t.Run("objects survive a restart", func(t *testing.T) {
		cs, err := summaries(s).Get(ctx, "applied", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Stop()
		restarted := framework.StartStandalone(t, dataDir)
		again, err := summaries(restarted).Get(ctx, "applied", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get after restart: %v", err)
		}
		if again.UID != cs.UID || again.Spec.GroupByNodeLabel != cs.Spec.GroupByNodeLabel {
			t.Errorf("after restart: uid %s groupBy %q, want %s %q", again.UID, again.Spec.GroupByNodeLabel, cs.UID, cs.Spec.GroupByNodeLabel)
		}
		// The default summary is not overwritten at start-up.
		def, err := summaries(restarted).Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		patch := []byte(`{"spec":{"groupByNodeLabel":"topology.kubernetes.io/zone"}}`)
		if _, err := summaries(restarted).Patch(ctx, def.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("patching the default summary: %v", err)
		}
		restarted.Stop()
		third := framework.StartStandalone(t, dataDir)
		def, err = summaries(third).Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
		if err != nil || def.Spec.GroupByNodeLabel != "topology.kubernetes.io/zone" {
			t.Errorf("default summary after restart: %v, groupBy %q: start-up overwrote the user's change", err, def.Spec.GroupByNodeLabel)
		}
	})
}

// expectInvalid fails unless err is a 422 whose causes name field.
func expectInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("error = %v, want 422 Invalid", err)
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil {
		t.Fatalf("error has no details: %v", err)
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == field {
			return
		}
	}
	t.Errorf("422 causes %+v do not name %s", status.Status().Details.Causes, field)
}

// getTable requests path as a server-side table, as kubectl get does.
func getTable(t *testing.T, ctx context.Context, cfg *rest.Config, path string) *metav1.Table {
	t.Helper()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+path, nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as table: %s", path, resp.Status)
	}
	table := &metav1.Table{}
	if err := json.NewDecoder(resp.Body).Decode(table); err != nil {
		t.Fatal(err)
	}
	return table
}
