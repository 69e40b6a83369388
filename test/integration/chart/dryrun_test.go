package chart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// certManagerGroup's kinds (Issuer, Certificate) are custom resources of
// cert-manager, which the test's kube-apiserver does not serve.
const certManagerGroup = "cert-manager.io"

// TestChartServerDryRun applies renders of the chart with the real kubectl
// (`kubectl apply --server-side --dry-run=server`) to a real kube-apiserver:
// every object passes the API server's schema with strict field validation,
// its validation and admission, and nothing is persisted. The Pods of the
// Deployment's and StatefulSet's templates are created in a dry run in the
// namespace, which enforces the "restricted" Pod Security Standard.
//
// What the API server does not know is not applied: cert-manager's Issuers
// and Certificates (their CRDs are not installed in the test control plane),
// so with certManager.enabled only the other objects are dry-run; their
// fields are compared with artifacts/cert-manager/ in TestChartMatchesKustomize.
func TestChartServerDryRun(t *testing.T) {
	tl := needTools(t)
	c, ctx := framework.StartControlPlane(t)
	kube := kubernetes.NewForConfigOrDie(c.AdminConfig())
	// As artifacts/namespace.yaml or `namespace.create` makes it; the chart's
	// default expects it to exist.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"defaults", nil},
		{"namespace.create", append(set("namespace.create=true", "namespace.name="+namespace), "--namespace", "default")},
		{"replicas=3 and an etcd StatefulSet of 5", set("replicas=3", "etcd.statefulset.replicas=5")},
		{"etcd.mode=external", set("etcd.mode=external", "etcd.external.servers={https://etcd.test:2379}")},
		{"etcd.mode=embedded", set("etcd.mode=embedded", "replicas=1")},
		{"NetworkPolicies off", set("networkPolicy.enabled=false")},
		{"apiserver NetworkPolicy", set("networkPolicy.apiserver.enabled=true", "networkPolicy.apiserver.extraFrom[0].ipBlock.cidr=10.0.0.0/24")},
		{"certManager.enabled without its custom resources", set("certManager.enabled=true")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := without(tl.render(t, tc.flags...), func(o *unstructured.Unstructured) bool {
				return o.GroupVersionKind().Group == certManagerGroup
			})
			dryRunApply(t, ctx, c, objs)
			dryRunPods(t, ctx, kube, objs)
		})
	}
}

// dryRunApply server-side applies objs in a dry run and checks that kubectl
// reports each one applied, without warnings.
func dryRunApply(t *testing.T, ctx context.Context, c *localcluster.Cluster, objs []*unstructured.Unstructured) {
	t.Helper()
	var stream strings.Builder
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		stream.WriteString("---\n")
		stream.Write(data)
	}
	file := filepath.Join(t.TempDir(), "chart.yaml")
	if err := os.WriteFile(file, []byte(stream.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := c.Kubectl(ctx, "apply", "--server-side", "--dry-run=server", "--field-manager=helm", "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --server-side --dry-run=server: %v\n%s", err, out)
	}
	for _, o := range objs {
		resource := strings.ToLower(o.GetKind())
		if g := o.GroupVersionKind().Group; g != "" {
			resource += "." + g
		}
		if want := resource + "/" + o.GetName() + " serverside-applied (server dry run)"; !strings.Contains(string(out), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.ToLower(string(out)), "warning") {
		t.Errorf("dry-run printed warnings:\n%s", out)
	}
}

// dryRunPods creates, in a dry run, a Pod from each workload's template in
// the namespace, which enforces the restricted Pod Security Standard.
func dryRunPods(t *testing.T, ctx context.Context, kube kubernetes.Interface, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		var tmpl corev1.PodTemplateSpec
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
			tmpl = d.Spec.Template
		case "StatefulSet":
			var s appsv1.StatefulSet
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s); err != nil {
				t.Fatal(err)
			}
			tmpl = s.Spec.Template
			// The volumes the StatefulSet adds from its claim templates.
			for _, claim := range s.Spec.VolumeClaimTemplates {
				tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name + "-" + s.Name + "-0"},
				}})
			}
		default:
			continue
		}
		pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Name = "chart-" + strings.ToLower(o.GetKind()) + "-" + o.GetName()
		pod.Namespace = namespace
		if _, err := kube.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("a Pod from %s %s's template is refused in %s (restricted Pod Security): %v", o.GetKind(), o.GetName(), namespace, err)
		}
	}
}
