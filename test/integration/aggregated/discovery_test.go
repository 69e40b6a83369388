package aggregated

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

func TestAPIServiceAvailableQuickly(t *testing.T) {
	// Measured from the moment clusterview serves to the APIService
	// reporting Available=True through kube-apiserver's availability checks.
	if env.AvailableAfter > 10*time.Second {
		t.Errorf("APIService became Available %s after clusterview started, want within 10s", env.AvailableAfter)
	}
	raw, err := env.Client.Discovery().RESTClient().Get().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.clusterview.io").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var apiService struct {
		Spec struct {
			InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify"`
			CABundle              []byte `json:"caBundle"`
		} `json:"spec"`
		Status struct {
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if err := json.Unmarshal(raw, &apiService); err != nil {
		t.Fatal(err)
	}
	if apiService.Spec.InsecureSkipTLSVerify || len(apiService.Spec.CABundle) == 0 {
		t.Errorf("APIService must verify TLS with a caBundle: insecureSkipTLSVerify=%v caBundle=%d bytes", apiService.Spec.InsecureSkipTLSVerify, len(apiService.Spec.CABundle))
	}
	if c := findCondition(apiService.Status.Conditions, "Available"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Available condition = %+v", c)
	}
}

func findCondition(conditions []metav1.Condition, condType string) *metav1.Condition {
	for i := range conditions {
		if conditions[i].Type == condType {
			return &conditions[i]
		}
	}
	return nil
}

func TestDiscoveryThroughKubeAPIServer(t *testing.T) {
	list, err := env.Client.Discovery().ServerResourcesForGroupVersion("clusterview.io/v1beta1")
	if err != nil {
		t.Fatalf("discovery of clusterview.io/v1beta1: %v", err)
	}
	resources := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		resources[r.Name] = r
	}
	want := map[string][]string{
		"clustersummaries":         {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		"clustersummaries/status":  {"get", "patch", "update"},
		"clustersummaries/history": {"get"},
	}
	for name, verbs := range want {
		r, ok := resources[name]
		if !ok {
			t.Errorf("discovery lacks %s; has %v", name, sets.List(sets.KeySet(resources)))
			continue
		}
		if got := sets.List(sets.New(r.Verbs...)); !slices.Equal(got, verbs) {
			t.Errorf("%s verbs = %v, want %v", name, got, verbs)
		}
	}
	cs := resources["clustersummaries"]
	if cs.Namespaced || cs.Kind != "ClusterSummary" || !slices.Contains(cs.ShortNames, "csum") || !slices.Contains(cs.Categories, "clusterview") {
		t.Errorf("clustersummaries discovery = %+v, want cluster-scoped kind ClusterSummary, short name csum, category clusterview", cs)
	}

	groups, err := env.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool {
		return g.Name == "clusterview.io" && g.PreferredVersion.Version == "v1beta1"
	}) {
		t.Errorf("/apis does not list clusterview.io with preferred version v1beta1")
	}

	// Aggregated discovery (what kubectl uses by default) merges the group
	// from our server into kube-apiserver's single document.
	raw, err := env.Client.Discovery().RESTClient().Get().AbsPath("/apis").
		SetHeader("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var aggregated struct {
		Kind  string `json:"kind"`
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Versions []struct {
				Version   string `json:"version"`
				Resources []struct {
					Resource string `json:"resource"`
				} `json:"resources"`
			} `json:"versions"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &aggregated); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range aggregated.Items {
		if g.Metadata.Name != "clusterview.io" {
			continue
		}
		for _, v := range g.Versions {
			for _, r := range v.Resources {
				found = found || (v.Version == "v1beta1" && r.Resource == "clustersummaries")
			}
		}
	}
	if aggregated.Kind != "APIGroupDiscoveryList" || !found {
		t.Errorf("aggregated discovery (kind %q) lacks clusterview.io/v1beta1 clustersummaries", aggregated.Kind)
	}
}

func TestOpenAPIV3ThroughKubeAPIServer(t *testing.T) {
	raw, err := env.Client.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/clusterview.io/v1beta1").DoRaw(t.Context())
	if err != nil {
		t.Fatalf("GET /openapi/v3/apis/clusterview.io/v1beta1: %v", err)
	}
	doc := string(raw)
	for _, want := range []string{"com.github.clusterview.clusterview.pkg.apis.clusterview.v1beta1.ClusterSummary", "groupByNodeLabel", "x-kubernetes-group-version-kind"} {
		if !strings.Contains(doc, want) {
			t.Errorf("OpenAPI v3 document lacks %q", want)
		}
	}
}
