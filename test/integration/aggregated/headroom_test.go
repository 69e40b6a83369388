package aggregated

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// headroomLabel marks the nodes of TestHeadroomFallsToZeroAsPodsArePlaced.
const headroomLabel = "clusterview-test/headroom"

func headroomOf(hs []v1beta1.HeadroomStatus, name string) (v1beta1.HeadroomStatus, bool) {
	for _, h := range hs {
		if h.Name == name {
			return h, true
		}
	}
	return v1beta1.HeadroomStatus{}, false
}

// TestHeadroomFallsToZeroAsPodsArePlaced places pods of a headroom shape,
// one at a time, on the nodes the summary says have room, and watches fits
// fall by one per pod and reach zero exactly with the last.
func TestHeadroomFallsToZeroAsPodsArePlaced(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	const ns = "headroom"
	mustCreate(t, func() error {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	alloc := func(cpu, mem, pods string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse(pods)}
	}
	node := func(name string, spec corev1.NodeSpec) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{headroomLabel: "yes", corev1.LabelHostname: name}}, Spec: spec}
	}
	// For 500m/1Gi pods: hr-n1 has 2 cpu, 500m of it taken: 3 (cpu);
	// hr-n2 has room for 8 by cpu and memory but 2 pod slots; hr-n3 is
	// tainted and hr-n4 cordoned: 0. Five in all.
	createNodeObject(ctx, t, kube, node("hr-n1", corev1.NodeSpec{}), alloc("2", "4Gi", "110"), corev1.ConditionTrue)
	createNodeObject(ctx, t, kube, node("hr-n2", corev1.NodeSpec{}), alloc("4", "8Gi", "2"), corev1.ConditionTrue)
	createNodeObject(ctx, t, kube, node("hr-n3", corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}}),
		alloc("8", "16Gi", "110"), corev1.ConditionTrue)
	createNodeObject(ctx, t, kube, node("hr-n4", corev1.NodeSpec{Unschedulable: true}), alloc("8", "16Gi", "110"), corev1.ConditionTrue)
	// kube-apiserver's TaintNodesByCondition admission taints every new node
	// not-ready:NoSchedule; with no node lifecycle controller here, lift it
	// as that controller does once the node is Ready.
	for _, name := range []string{"hr-n1", "hr-n2", "hr-n3", "hr-n4"} {
		liftNotReadyTaint(ctx, t, kube, name)
	}
	createPod(ctx, t, kube, ns, "existing", "hr-n1", corev1.PodRunning, "500m", 0)

	web := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	cs := &v1beta1.ClusterSummary{
		ObjectMeta: metav1.ObjectMeta{Name: "test-headroom"},
		Spec: v1beta1.ClusterSummarySpec{
			NodeSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{headroomLabel: "yes"}},
			GroupByNodeLabel: corev1.LabelHostname,
			Headroom: []v1beta1.HeadroomShape{
				{Name: "web", Requests: web, MinFits: ptr.To[int64](1)},
				// Only the tainted node, which it tolerates: 8 by cpu.
				{Name: "db", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
					Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}},
					NodeSelector: map[string]string{corev1.LabelHostname: "hr-n3"}},
			},
		},
	}
	summaries := env.Client.ClusterviewV1beta1().ClusterSummaries()
	if _, err := summaries.Create(ctx, cs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	const initial = 5
	var current *v1beta1.ClusterSummary
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := summaries.Get(ctx, cs.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		current = got
		w, okW := headroomOf(got.Status.Headroom, "web")
		d, okD := headroomOf(got.Status.Headroom, "db")
		return got.Status.ObservedGeneration == got.Generation && okW && okD && w.Fits == initial && d.Fits == 8, nil
	})
	if err != nil {
		t.Fatalf("headroom never reached web=%d db=8: %+v", initial, current.Status.Headroom)
	}
	if w, _ := headroomOf(current.Status.Headroom, "web"); w.LimitedBy != corev1.ResourceCPU {
		t.Errorf("web limitedBy = %q, want cpu (hr-n1; hr-n2 is limited by pods)", w.LimitedBy)
	}
	if c := apimeta.FindStatusCondition(current.Status.Conditions, v1beta1.ConditionHeadroomLow); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("HeadroomLow = %+v, want False", c)
	}

	w, err := summaries.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", cs.Name).String(),
		ResourceVersion: current.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// next waits for the watched summary to report want fits of web, and
	// fails if it ever reports fewer: every pod takes exactly one.
	next := func(want int64) *v1beta1.ClusterSummary {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatalf("watch closed waiting for fits=%d", want)
				}
				if ev.Type != watch.Modified {
					t.Fatalf("watch event %s %+v waiting for fits=%d", ev.Type, ev.Object, want)
				}
				got := ev.Object.(*v1beta1.ClusterSummary)
				h, _ := headroomOf(got.Status.Headroom, "web")
				if h.Fits < want {
					t.Fatalf("fits fell to %d, past %d", h.Fits, want)
				}
				if h.Fits == want {
					return got
				}
			case <-timeout:
				t.Fatalf("no status with fits=%d within 30s", want)
			}
		}
	}

	placed := int64(0)
	for {
		// The group of a node is its hostname: place on one with room.
		target := ""
		for _, g := range current.Status.Groups {
			if h, _ := headroomOf(g.Headroom, "web"); h.Fits > 0 {
				target = g.Name
				break
			}
		}
		if target == "" {
			break
		}
		if target != "hr-n1" && target != "hr-n2" {
			t.Fatalf("the summary offers %s, which the shape may not use", target)
		}
		createPodWithRequests(ctx, t, kube, ns, fmt.Sprintf("web-%d", placed), target, corev1.PodRunning, web, 0)
		placed++
		current = next(initial - placed)
		if placed > initial {
			t.Fatalf("placed %d pods, more than the %d that fit", placed, initial)
		}
	}
	if placed != initial {
		t.Errorf("placed %d pods before fits reached zero, want %d", placed, initial)
	}
	c := apimeta.FindStatusCondition(current.Status.Conditions, v1beta1.ConditionHeadroomLow)
	if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "web fits 0") {
		t.Errorf("HeadroomLow = %+v, want True naming web", c)
	}
	if d, _ := headroomOf(current.Status.Headroom, "db"); d.Fits != 8 {
		t.Errorf("db fits = %d after filling other nodes, want 8", d.Fits)
	}

	// The wide table shows one Fits column per shape.
	out := mustKubectl(t, "", "get", "clustersummary", cs.Name, "-o", "wide")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get -o wide:\n%s", out)
	}
	header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	if n := len(header); n < 2 || header[n-2] != "FITS:WEB" || header[n-1] != "FITS:DB" {
		t.Errorf("wide header = %v, want it to end with FITS:WEB FITS:DB", header)
	}
	if n := len(row); n < 2 || row[n-2] != "0" || row[n-1] != "8" {
		t.Errorf("wide row = %v, want it to end with 0 8", row)
	}
}

func liftNotReadyTaint(ctx context.Context, t *testing.T, kube kubernetes.Interface, name string) {
	t.Helper()
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(tt corev1.Taint) bool { return tt.Key == corev1.TaintNodeNotReady })
	if _, err := kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestHeadroomShapesRejected: bad shapes are refused through kube-apiserver
// like a pod's bad requests: 422 naming the field for a negative, zero-only
// or unknown resource; a quantity with an unknown unit does not decode, so
// it is a 400, as it is for a pod.
func TestHeadroomShapesRejected(t *testing.T) {
	ctx := t.Context()
	summaries := env.Client.ClusterviewV1beta1().ClusterSummaries()
	for _, c := range []struct {
		name  string
		shape v1beta1.HeadroomShape
		field string
	}{
		{"negative", v1beta1.HeadroomShape{Name: "neg", Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Gi")}}, "spec.headroom[0].requests[memory]"},
		{"zero-only", v1beta1.HeadroomShape{Name: "zero", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0")}}, "spec.headroom[0].requests"},
		{"unknown-resource", v1beta1.HeadroomShape{Name: "gpus", Requests: corev1.ResourceList{"gpus": resource.MustParse("1")}}, "spec.headroom[0].requests[gpus]"},
		{"bad-toleration", v1beta1.HeadroomShape{Name: "tol", Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}}, "spec.headroom[0].tolerations[0].operator"},
	} {
		cs := &v1beta1.ClusterSummary{ObjectMeta: metav1.ObjectMeta{Name: "test-headroom-" + c.name}, Spec: v1beta1.ClusterSummarySpec{Headroom: []v1beta1.HeadroomShape{c.shape}}}
		_, err := summaries.Create(ctx, cs, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want 422 naming %s", c.name, err, c.field)
		}
	}
	body := []byte(`{"apiVersion":"clusterview.io/v1beta1","kind":"ClusterSummary","metadata":{"name":"test-headroom-unit"},` +
		`"spec":{"headroom":[{"name":"web","requests":{"memory":"1Gb"}}]}}`)
	if r := hardRaw(ctx, "POST", "", "application/json", body, nil); r.code != 400 {
		t.Errorf("unknown unit: %d %v, want 400", r.code, r.err)
	}
	list, err := summaries.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range list.Items {
		if strings.HasPrefix(cs.Name, "test-headroom-") {
			t.Errorf("rejected summary %s was stored", cs.Name)
		}
	}
}
