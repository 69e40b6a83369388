package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/install"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	cvinformers "github.com/clusterview/clusterview/pkg/generated/informers/externalversions"
	"github.com/clusterview/clusterview/pkg/generated/openapi"
	"github.com/clusterview/clusterview/pkg/summary"
)

// serve installs the live summary resources in a generic API server, as New
// does, and serves it over HTTP without authentication.
// It checks what only the real handler chain shows: discovery verbs, field
// label conversion, encoding of the internal types, and watches as
// client-go's reflectors run them.
func serve(t *testing.T, e *summary.Engine) *clientset.Clientset {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	codecs := serializer.NewCodecFactory(scheme)

	cfg := genericapiserver.NewConfig(codecs)
	cfg.ExternalAddress = "127.0.0.1:443"
	cfg.LoopbackClientConfig = &restclient.Config{}
	cfg.FeatureGate = utilfeature.DefaultFeatureGate
	cfg.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	// Installing a group builds the managed-fields type converter from the
	// OpenAPI models, as the real server does.
	namer := openapinamer.NewDefinitionNamer(scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	srv, err := cfg.Complete(nil).New("summaries-test", genericapiserver.NewEmptyDelegate())
	if err != nil {
		t.Fatalf("creating the server: %v", err)
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(clusterview.GroupName, scheme, metav1.ParameterCodec, codecs)
	group.VersionedResourcesStorageMap[v1beta1.SchemeGroupVersion.Version] = liveSummaryStorage(e)
	if err := srv.InstallAPIGroup(&group); err != nil {
		t.Fatalf("installing the group: %v", err)
	}
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	return clientset.NewForConfigOrDie(&restclient.Config{Host: ts.URL})
}

// node is a Ready 4-CPU node in a zone, created now.
func node(name, zone string) *corev1.Node {
	return fx.CreatedAgo(fx.Node(name, fx.NodeLabels("zone", zone), fx.Holds("cpu", "4", "pods", "10")), 0)
}

func TestServedOverHTTP(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNode(node("node-a", "a"))
	e.UpsertNode(node("node-b", "b"))
	e.UpsertNamespace(fx.Namespace("team-a"))
	e.UpsertNamespace(fx.Namespace("team-b"))
	cs := serve(t, e)
	ctx := context.Background()
	api := cs.ClusterviewV1beta1()

	// Discovery: read-only verbs, names, scope and categories.
	resources, err := cs.Discovery().ServerResourcesForGroupVersion(v1beta1.SchemeGroupVersion.String())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	found := 0
	for _, r := range resources.APIResources {
		var want metav1.APIResource
		switch r.Name {
		case "nodesummaries":
			want = metav1.APIResource{Name: r.Name, SingularName: "nodesummary", Kind: "NodeSummary", ShortNames: []string{"nodesum"}}
		case "namespacesummaries":
			want = metav1.APIResource{Name: r.Name, SingularName: "namespacesummary", Namespaced: true, Kind: "NamespaceSummary", ShortNames: []string{"nssum"}}
		default:
			continue
		}
		found++
		verbs := slices.Sorted(slices.Values(r.Verbs))
		if r.SingularName != want.SingularName || r.Namespaced != want.Namespaced || r.Kind != want.Kind ||
			!slices.Equal(r.ShortNames, want.ShortNames) || !slices.Equal(r.Categories, []string{"clusterview"}) ||
			!slices.Equal(verbs, []string{"get", "list", "watch"}) {
			t.Errorf("discovery of %s = %+v", r.Name, r)
		}
	}
	if found != 2 {
		t.Fatalf("discovery lists %d of the 2 summary resources: %+v", found, resources.APIResources)
	}

	// Get, list with selectors, 404 and 400 through the real handlers.
	ns, err := api.NodeSummaries().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil || ns.Name != "node-a" || !ns.Ready || ns.PodCapacity != 10 || ns.Kind != "" && ns.Kind != "NodeSummary" {
		t.Errorf("get node-a = %+v, %v", ns, err)
	}
	if _, err := api.NodeSummaries().Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get nope: %v, want 404", err)
	}
	list, err := api.NodeSummaries().List(ctx, metav1.ListOptions{LabelSelector: "zone=b", FieldSelector: "metadata.name=node-b"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "node-b" || list.ResourceVersion == "" {
		t.Errorf("list = %+v, %v", list, err)
	}
	if _, err := api.NodeSummaries().List(ctx, metav1.ListOptions{FieldSelector: "metadata.namespace=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("list by metadata.namespace: %v, want 400", err)
	}
	nsList, err := api.NamespaceSummaries("team-a").List(ctx, metav1.ListOptions{})
	if err != nil || len(nsList.Items) != 1 || nsList.Items[0].Name != "team-a" || nsList.Items[0].Namespace != "team-a" {
		t.Errorf("list in team-a = %+v, %v", nsList, err)
	}
	if _, err := api.NamespaceSummaries("team-a").Get(ctx, "team-b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get team-a/team-b: %v, want 404", err)
	}
	if all, err := api.NamespaceSummaries("").List(ctx, metav1.ListOptions{}); err != nil || len(all.Items) != 2 {
		t.Errorf("list across namespaces = %+v, %v", all, err)
	}

	// The server-side table kubectl asks for.
	req, _ := http.NewRequest(http.MethodGet, cs.RESTClient().Get().AbsPath("/apis/clusterview.io/v1beta1/nodesummaries").URL().String(), nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil || resp.StatusCode != http.StatusOK || len(table.Rows) != 2 || table.Rows[0].Cells[0] != "node-a" {
		t.Errorf("table: %d %s (%v)", resp.StatusCode, body, err)
	}

	// A plain watch from a list's resourceVersion.
	list, err = api.NodeSummaries().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := api.NodeSummaries().Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	e.DeleteNode("node-b")
	select {
	case ev := <-w.ResultChan():
		if obj, ok := ev.Object.(*v1beta1.NodeSummary); ev.Type != watch.Deleted || !ok || obj.Name != "node-b" {
			t.Errorf("watch event = %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
	// A revision the engine never reached, as after a restart: 410 Gone.
	if _, err := api.NodeSummaries().Watch(ctx, metav1.ListOptions{ResourceVersion: "999999"}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from the future: %v, want 410", err)
	}
}

// TestInformer runs a shared informer, which in client-go 0.37 streams its
// initial state with a watch-list request (sendInitialEvents) and needs the
// initial-events-end bookmark to sync.
func TestInformer(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNode(node("node-a", "a"))
	e.UpsertNamespace(fx.Namespace("team-a"))
	cs := serve(t, e)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory := cvinformers.NewSharedInformerFactory(cs, 0)
	nodes := factory.Clusterview().V1beta1().NodeSummaries()
	namespaces := factory.Clusterview().V1beta1().NamespaceSummaries()
	nodeInformer, nsInformer := nodes.Informer(), namespaces.Informer()
	factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, 10*time.Second)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), nodeInformer.HasSynced, nsInformer.HasSynced) {
		t.Fatal("informers did not sync")
	}
	if _, err := nodes.Lister().Get("node-a"); err != nil {
		t.Errorf("lister after sync: %v", err)
	}

	e.UpsertNode(node("node-b", "b"))
	e.UpsertNamespace(fx.Namespace("team-b"))
	e.DeleteNode("node-a")
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := nodes.Lister().List(labels.Everything())
		nss, _ := namespaces.Lister().List(labels.Everything())
		if len(got) == 1 && got[0].Name == "node-b" && len(nss) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("informer caches never caught up: nodes %v, namespaces %v", got, nss)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
