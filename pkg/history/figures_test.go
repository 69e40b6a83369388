package history

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

func TestFigures(t *testing.T) {
	if got := Figures(&v1beta1.ClusterSummaryStatus{}); got != nil {
		t.Errorf("an uncomputed status has figures %v", got)
	}
	q := resource.MustParse
	usage := q("1500m")
	status := &v1beta1.ClusterSummaryStatus{
		Nodes: &v1beta1.NodeCounts{Total: 3, Ready: 2, NotReady: 1},
		Pods:  &v1beta1.PodCounts{Total: 10, Running: 8, ContainerRestarts: 7},
		Resources: []v1beta1.ResourceUsage{
			{Name: "cpu", Requests: q("2500m"), Limits: q("4"), Usage: &usage},
			{Name: "memory", Requests: q("1Gi"), Limits: q("2Gi")},
		},
		Groups: []v1beta1.GroupSummary{{Name: "zone-a", Nodes: v1beta1.NodeCounts{Total: 1, Ready: 1}, Pods: v1beta1.PodCounts{Total: 4}}},
	}
	got := Figures(status)
	for key, want := range map[string]int64{
		"nodes.ready": 2, "nodes.notReady": 1, "pods.running": 8, "pods.containerRestarts": 7,
		"resources.cpu.requests": 2500, "resources.cpu.limits": 4000, "resources.cpu.usage": 1500,
		"resources.memory.requests": 1 << 30, "zone-a/nodes.total": 1, "zone-a/pods.total": 4,
	} {
		if got[key] != want {
			t.Errorf("%s = %d, want %d", key, got[key], want)
		}
	}
	for _, absent := range []string{"resources.cpu.idle", "resources.memory.usage", "resources.cpu.allocatable"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s recorded though the status lacks it", absent)
		}
	}
	if g, f := SplitKey("zone-a/pods.total"); g != "zone-a" || f != "pods.total" {
		t.Errorf("SplitKey = %q, %q", g, f)
	}
	if m := Mean("resources.cpu.usage", Agg{Count: 2, Sum: 3001}); m.MilliValue() != 1500 {
		t.Errorf("mean of 3001m over 2 = %s", &m)
	}
	if m := Mean("pods.running", Agg{Count: 3, Sum: 10}); m.MilliValue() != 3333 {
		t.Errorf("mean of 10 over 3 = %s", &m)
	}
	for name, valid := range map[string]bool{"resources.cpu.idle": true, "resources.nvidia.com/gpu.usage": true, "pods.sleeping": false, "resources.cpu": false} {
		if ValidFigure(name) != valid {
			t.Errorf("ValidFigure(%q) = %v", name, !valid)
		}
	}
}
