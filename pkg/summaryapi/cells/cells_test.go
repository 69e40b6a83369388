package cells

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

func TestBytes(t *testing.T) {
	for v, want := range map[int64]string{
		0:                 "0",
		1000:              "1000",
		1024:              "1Ki",
		1536:              "1.5Ki",
		1500000000:        "1.4Gi",
		3 << 30:           "3Gi",
		12<<30 + 1<<29:    "12Gi",
		1536 << 20:        "1.5Gi",
		1<<40 + 1<<30:     "1Ti",
		-(1536 << 20):     "-1.5Gi",
		5<<50 + 123456789: "5Pi",
	} {
		if got := Bytes(v); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestAmount(t *testing.T) {
	for _, tt := range []struct {
		name corev1.ResourceName
		q    string
		want string
	}{
		{"cpu", "1500m", "1500m"},
		{"cpu", "2", "2"},
		{"memory", "1536Mi", "1.5Gi"},
		{"ephemeral-storage", "100Gi", "100Gi"},
		{"hugepages-2Mi", "4Mi", "4Mi"},
		{"nvidia.com/gpu", "3", "3"},
	} {
		if got := Amount(tt.name, resource.MustParse(tt.q)); got != tt.want {
			t.Errorf("Amount(%s, %s) = %q, want %q", tt.name, tt.q, got, tt.want)
		}
	}
	if got := AmountPtr("cpu", nil); got != "0" {
		t.Errorf("AmountPtr(nil) = %q", got)
	}
}

func TestLimit(t *testing.T) {
	for _, tt := range []struct {
		u    clusterview.ResourceUsage
		want string
	}{
		{clusterview.ResourceUsage{Name: "cpu", Limits: resource.MustParse("2")}, "2"},
		{clusterview.ResourceUsage{Name: "cpu", Limits: resource.MustParse("2"), PodsWithoutLimit: 3}, "2 (+3 unbounded)"},
		{clusterview.ResourceUsage{Name: "cpu", PodsWithoutLimit: 1}, "0 (+1 unbounded)"},
		{clusterview.ResourceUsage{Name: "memory", Limits: resource.MustParse("512Mi"), PodsWithoutLimit: 2}, "512Mi (+2 unbounded)"},
	} {
		if got := Limit(tt.u); got != tt.want {
			t.Errorf("Limit(%+v) = %q, want %q", tt.u, got, tt.want)
		}
	}
}

func TestUsageListBool(t *testing.T) {
	usages := []clusterview.ResourceUsage{{Name: "cpu", Requests: resource.MustParse("1")}}
	if u := Usage(usages, "cpu"); u.Requests.String() != "1" {
		t.Errorf("Usage(cpu) = %+v", u)
	}
	if u := Usage(usages, "memory"); u.Name != "memory" || !u.Requests.IsZero() || u.Allocatable != nil {
		t.Errorf("Usage(memory) = %+v, want a zero row", u)
	}
	if List(nil) != None || List([]string{"a", "b"}) != "a,b" {
		t.Errorf("List")
	}
	if Bool(true) != "True" || Bool(false) != "False" {
		t.Errorf("Bool")
	}
}
