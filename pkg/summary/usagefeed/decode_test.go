package usagefeed

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/clusterview/clusterview/pkg/summary"
)

// TestDecodePodUsageAgreesWithUnmarshal decodes PodMetrics encoded by their
// generated Marshal and compares with what the generated Unmarshal reads:
// labels and other metadata around the fields read, resources other than
// cpu and memory, no containers, and a time with nanoseconds.
func TestDecodePodUsageAgreesWithUnmarshal(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 4, 5, 123456789, time.UTC)
	pods := []metricsapi.PodMetrics{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web-0", Labels: map[string]string{"app": "web"}, CreationTimestamp: metav1.NewTime(at.Add(-time.Hour))},
			Timestamp:  metav1.NewTime(at), Window: metav1.Duration{Duration: 15 * time.Second},
			Containers: []metricsapi.ContainerMetrics{
				{Name: "app", Usage: v1.ResourceList{v1.ResourceCPU: q("123456789n"), v1.ResourceMemory: q("262144Ki"), "nvidia.com/gpu": q("1")}},
				{Name: "proxy", Usage: v1.ResourceList{v1.ResourceCPU: q("2m"), v1.ResourceMemory: q("64Mi")}},
			},
		},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "idle"}, Timestamp: metav1.NewTime(at)},
		{ObjectMeta: metav1.ObjectMeta{Name: "no-namespace"}, Containers: []metricsapi.ContainerMetrics{{Name: "c", Usage: v1.ResourceList{v1.ResourceMemory: q("1Gi")}}}},
	}
	for _, pm := range pods {
		raw, err := pm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, gotAt, err := decodePodUsage(raw)
		if err != nil {
			t.Fatalf("%s: %v", pm.Name, err)
		}
		var typed metricsapi.PodMetrics
		if err := typed.Unmarshal(raw); err != nil {
			t.Fatal(err)
		}
		want := summary.PodUse{Namespace: typed.Namespace, Name: typed.Name}
		for _, c := range typed.Containers {
			want.CPU += c.Usage.Cpu().MilliValue()
			want.Memory += c.Usage.Memory().Value()
		}
		if got != want || !gotAt.Equal(typed.Timestamp.Time) {
			t.Errorf("%s: got %+v at %v, want %+v at %v", pm.Name, got, gotAt, want, typed.Timestamp.Time)
		}
	}

	// A cut item is an error, never a pod with part of its usage.
	raw, err := pods[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, len(raw) / 2, len(raw) - 1} {
		if u, _, err := decodePodUsage(raw[:cut]); err == nil {
			t.Errorf("cut at %d of %d bytes: no error, got %+v", cut, len(raw), u)
		}
	}
}
