package aggregated

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/cmd/server"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// artifactsDir is the kustomize base, relative to this package's directory
// (go test runs tests there).
const artifactsDir = "../../../artifacts"

const (
	cvNamespace      = "clusterview-system"
	cvServiceAccount = "clusterview-apiserver"
	cvDeployment     = "clusterview-apiserver"
	cvServingSecret  = "clusterview-apiserver-serving"
	etcdStatefulSet  = "clusterview-etcd"
)

// TestArtifactsServerDryRun applies the kustomize base with the real kubectl
// against the real kube-apiserver in server-side dry-run: every object passes
// the API server's schema (strict field validation), validation and admission,
// and nothing is persisted.
//
// The test cluster already has a stand-in for two of the base's objects: the
// harness registered clusterview (localcluster.RegisterAPIService) with an
// ExternalName Service clusterview-system/clusterview-apiserver whose port,
// also named "https", is clusterview's loopback port. A client-side apply
// merges the base's port into that Service's ports and the API server
// rightly refuses two ports of one name; on a real cluster there is no such
// Service. So the base is server-side applied as the field manager that
// registered the stand-in: in the dry-run, the base's Service and APIService
// replace what the harness set, exactly as a fresh install would create them.
func TestArtifactsServerDryRun(t *testing.T) {
	dir := absArtifacts(t)
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	standIn, err := kube.CoreV1().Services(localcluster.ClusterviewNamespace).Get(t.Context(), localcluster.ClusterviewService, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the harness's Service: %v", err)
	}
	manager := ""
	for _, f := range standIn.ManagedFields {
		if f.FieldsV1 != nil && strings.Contains(f.FieldsV1.GetRawString(), `"f:externalName"`) {
			manager = f.Manager
		}
	}
	if manager == "" {
		t.Fatalf("no field manager owns the stand-in Service's externalName: %+v", standIn.ManagedFields)
	}

	out, err := kubectl(t, "", "apply", "--dry-run=server", "--server-side", "--force-conflicts", "--field-manager="+manager, "-k", dir)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -k %s: %v\n%s", dir, err, out)
	}
	for _, want := range []string{
		"namespace/clusterview-system", "serviceaccount/clusterview-apiserver",
		"deployment.apps/clusterview-apiserver", "statefulset.apps/clusterview-etcd",
		"service/clusterview-apiserver", "service/clusterview-etcd",
		"poddisruptionbudget.policy/clusterview-apiserver", "poddisruptionbudget.policy/clusterview-etcd",
		"clusterrole.rbac.authorization.k8s.io/clusterview:informers", "clusterrole.rbac.authorization.k8s.io/clusterview:apiserver",
		"clusterrolebinding.rbac.authorization.k8s.io/clusterview:auth-delegator",
		"rolebinding.rbac.authorization.k8s.io/clusterview:extension-apiserver-authentication-reader",
		"role.rbac.authorization.k8s.io/clusterview:leader-election",
		"apiservice.apiregistration.k8s.io/v1beta1.clusterview.io",
	} {
		if !strings.Contains(out, want+" serverside-applied (server dry run)") {
			t.Errorf("dry-run output lacks %s:\n%s", want, out)
		}
	}
	// Deprecated APIs, Pod Security and the like are reported as warnings.
	if strings.Contains(strings.ToLower(out), "warning") {
		t.Errorf("dry-run printed warnings:\n%s", out)
	}
}

// TestArtifactsPodsMeetRestrictedPodSecurity creates, in server-side dry-run,
// Pods from the Deployment's and the StatefulSet's templates in a namespace
// that enforces the "restricted" Pod Security Standard, as
// artifacts/namespace.yaml makes clusterview-system do.
func TestArtifactsPodsMeetRestrictedPodSecurity(t *testing.T) {
	m := renderArtifacts(t, absArtifacts(t))
	ns := m.namespace(t, cvNamespace)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s labels = %v, want pod-security.kubernetes.io/enforce=restricted", cvNamespace, ns.Labels)
	}

	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	psa := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "artifacts-restricted-", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	psa, err := kube.CoreV1().Namespaces().Create(ctx, psa, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Without a namespace controller the namespace stays Terminating; it
	// holds nothing.
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), psa.Name, metav1.DeleteOptions{}) })

	sts := m.statefulSet(t, etcdStatefulSet)
	templates := map[string]corev1.PodTemplateSpec{
		"deployment/" + cvDeployment:     m.deployment(t, cvDeployment).Spec.Template,
		"statefulset/" + etcdStatefulSet: sts.Spec.Template,
	}
	for name, tmpl := range templates {
		pod := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: *tmpl.Spec.DeepCopy()}
		pod.Name = "artifacts-" + strings.ReplaceAll(name, "/", "-")
		pod.Namespace = psa.Name
		if strings.HasPrefix(name, "statefulset/") {
			// The volumes the StatefulSet adds from its claim templates, as
			// in its Pods (the claims themselves need not exist for this).
			for _, claim := range sts.Spec.VolumeClaimTemplates {
				pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name + "-" + pod.Name},
				}})
			}
		}
		if _, err := kube.CoreV1().Pods(psa.Name).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("a Pod from %s's template is refused under the restricted Pod Security Standard: %v", name, err)
		}
	}
}

// TestArtifactsDeployment checks what matters in the rendered Deployment: two
// replicas, health probes, the restricted security context, sizing, and
// only flags that clusterview-apiserver accepts, with files that are mounted.
func TestArtifactsDeployment(t *testing.T) {
	m := renderArtifacts(t, absArtifacts(t))
	d := m.deployment(t, cvDeployment)
	spec := d.Spec.Template.Spec

	if d.Namespace != cvNamespace {
		t.Errorf("namespace = %q, want %s", d.Namespace, cvNamespace)
	}
	if r := ptrString(d.Spec.Replicas); r != "2" {
		t.Errorf("replicas = %s, want 2", r)
	}
	if spec.ServiceAccountName != cvServiceAccount {
		t.Errorf("serviceAccountName = %q, want %s", spec.ServiceAccountName, cvServiceAccount)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]

	// Flags: each one exists in clusterview-apiserver's flag set (the same
	// flags cmd/apiserver registers), the values parse and validate.
	args := expandArgs(t, c)
	o, fs := clusterviewFlags()
	for _, arg := range args {
		name, ok := flagName(arg)
		if !ok {
			t.Errorf("argument %q is not a --flag", arg)
			continue
		}
		if fs.Lookup(name) == nil {
			t.Errorf("clusterview-apiserver has no flag --%s (argument %q)", name, arg)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("clusterview-apiserver rejects the Deployment's arguments: %v", err)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("the Deployment's arguments do not validate: %v", err)
	}

	ss := o.RecommendedOptions.SecureServing
	if ss.BindPort != 8443 {
		t.Errorf("--secure-port = %d, want 8443", ss.BindPort)
	}
	if !o.LeaderElection.LeaderElect {
		t.Error("--leader-elect is off: both replicas would write statuses")
	}
	if o.RecommendedOptions.Features == nil || o.RecommendedOptions.Features.EnableProfiling {
		t.Error("profiling is on: /debug/pprof would be served (want --profiling=false)")
	}
	mounts := mountsOf(spec, c)
	for flag, file := range map[string]string{"--tls-cert-file": ss.ServerCert.CertKey.CertFile, "--tls-private-key-file": ss.ServerCert.CertKey.KeyFile} {
		if got := mounts.secretOf(file); got != cvServingSecret {
			t.Errorf("%s=%s is in Secret %q, want %s", flag, file, got, cvServingSecret)
		}
		if base := filepath.Base(file); base != "tls.crt" && base != "tls.key" {
			t.Errorf("%s=%s: want cert-manager's key names tls.crt and tls.key", flag, file)
		}
	}
	transport := o.RecommendedOptions.Etcd.StorageConfig.Transport
	for flag, file := range map[string]string{"--etcd-cafile": transport.TrustedCAFile, "--etcd-certfile": transport.CertFile, "--etcd-keyfile": transport.KeyFile} {
		if file == "" || mounts.secretOf(file) == "" {
			t.Errorf("%s=%q is not in a mounted Secret", flag, file)
		}
	}
	sts := m.statefulSet(t, etcdStatefulSet)
	members := int32(1) // the API's default
	if sts.Spec.Replicas != nil {
		members = *sts.Spec.Replicas
	}
	var wantServers []string
	for i := range int(members) {
		wantServers = append(wantServers, fmt.Sprintf("https://%s-%d.%s.%s.svc:2379", sts.Name, i, sts.Spec.ServiceName, sts.Namespace))
	}
	if !slices.Equal(transport.ServerList, wantServers) {
		t.Errorf("--etcd-servers = %v, want the StatefulSet's members over TLS %v", transport.ServerList, wantServers)
	}

	// Probes over HTTPS on the secure port.
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/livez"}} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			t.Errorf("%s is not an httpGet probe", p.what)
		case p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Scheme != corev1.URISchemeHTTPS || containerPort(c, p.probe.HTTPGet.Port) != 8443:
			t.Errorf("%s = %s %s port %s, want HTTPS %s on 8443", p.what, p.probe.HTTPGet.Scheme, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	checkRestricted(t, "clusterview-apiserver", spec, c)
	if !mounts.emptyDirAt("/tmp") {
		t.Error("no emptyDir is mounted at /tmp under the read-only root filesystem")
	}

	for _, r := range []struct {
		what string
		list corev1.ResourceList
		name corev1.ResourceName
		want string
	}{
		{"requests", c.Resources.Requests, corev1.ResourceMemory, "256Mi"},
		{"requests", c.Resources.Requests, corev1.ResourceCPU, "100m"},
		{"limits", c.Resources.Limits, corev1.ResourceMemory, "512Mi"},
	} {
		if got, ok := r.list[r.name]; !ok || got.Cmp(resource.MustParse(r.want)) != 0 {
			t.Errorf("resources.%s.%s = %v, want %s", r.what, r.name, got.String(), r.want)
		}
	}

	if !preferredAntiAffinityByHostname(spec, d.Spec.Template.Labels) {
		t.Error("no preferred pod anti-affinity by kubernetes.io/hostname between the replicas")
	}

	pdb := m.pdbFor(t, d.Namespace, d.Spec.Template.Labels)
	if pdb == nil {
		t.Error("no PodDisruptionBudget selects the Deployment's Pods")
	} else if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %s: minAvailable = %v, want 1", pdb.Name, pdb.Spec.MinAvailable)
	}

	// The Service the APIService names forwards 443 to the secure port.
	svc := m.service(t, "clusterview-apiserver")
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service %s selector %v does not select the Deployment's Pods", svc.Name, svc.Spec.Selector)
	}
	found := false
	for _, p := range svc.Spec.Ports {
		if p.Port == 443 && containerPort(c, p.TargetPort) == 8443 {
			found = true
		}
	}
	if !found {
		t.Errorf("Service %s has no port 443 to the container's 8443: %+v", svc.Name, svc.Spec.Ports)
	}
}

// TestArtifactsEtcd checks the etcd StatefulSet: three members with
// persistent volumes, TLS for clients and peers from mounted Secrets, one
// member per node where possible.
func TestArtifactsEtcd(t *testing.T) {
	m := renderArtifacts(t, absArtifacts(t))
	sts := m.statefulSet(t, etcdStatefulSet)
	spec := sts.Spec.Template.Spec
	if r := ptrString(sts.Spec.Replicas); r != "3" {
		t.Fatalf("replicas = %s, want 3", r)
	}
	if len(sts.Spec.VolumeClaimTemplates) == 0 {
		t.Fatal("no volumeClaimTemplates")
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q: members must start together to form a quorum", sts.Spec.PodManagementPolicy)
	}
	headless := m.service(t, sts.Spec.ServiceName)
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: clusterIP %q, publishNotReadyAddresses %v; want a headless Service that publishes unready members",
			headless.Name, headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.Image != "quay.io/coreos/etcd:v3.7.3" {
		t.Errorf("image = %q, want quay.io/coreos/etcd:v3.7.3", c.Image)
	}
	checkRestricted(t, "etcd", spec, c)
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("etcd pods mount a service account token they never use (want automountServiceAccountToken: false)")
	}
	mounts := mountsOf(spec, c)
	dataMounted := false
	for _, vm := range c.VolumeMounts {
		if vm.Name == sts.Spec.VolumeClaimTemplates[0].Name {
			dataMounted = true
		}
	}
	if !dataMounted {
		t.Error("the volumeClaimTemplate is not mounted")
	}

	args := map[string]string{}
	for _, a := range c.Args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		args[name] = value
	}
	for _, flag := range []string{"client-cert-auth", "peer-client-cert-auth"} {
		if args[flag] != "true" {
			t.Errorf("--%s = %q, want true", flag, args[flag])
		}
	}
	for _, flag := range []string{"trusted-ca-file", "cert-file", "key-file", "peer-trusted-ca-file", "peer-cert-file", "peer-key-file"} {
		if mounts.secretOf(args[flag]) == "" {
			t.Errorf("--%s=%q is not in a mounted Secret", flag, args[flag])
		}
	}
	for _, flag := range []string{"listen-client-urls", "advertise-client-urls", "listen-peer-urls", "initial-advertise-peer-urls"} {
		if !strings.HasPrefix(args[flag], "https://") {
			t.Errorf("--%s = %q, want https", flag, args[flag])
		}
	}
	for i := range int(*sts.Spec.Replicas) {
		member := fmt.Sprintf("%s-%d=https://%s-%d.%s.%s.svc:2380", sts.Name, i, sts.Name, i, sts.Spec.ServiceName, sts.Namespace)
		if !slices.Contains(strings.Split(args["initial-cluster"], ","), member) {
			t.Errorf("--initial-cluster = %q lacks %s", args["initial-cluster"], member)
		}
	}
	if !preferredAntiAffinityByHostname(spec, sts.Spec.Template.Labels) {
		t.Error("no preferred pod anti-affinity by kubernetes.io/hostname between the members")
	}
}

// serviceAccountGrants is everything the base grants clusterview's
// ServiceAccount, exactly as docs/operations.md lists it: one line per
// (namespace, group, resource, verb, resourceName) of the roles the base
// defines ("*" for cluster-wide), and one per built-in role bound.
var serviceAccountGrants = func() []string {
	var out []string
	add := func(ns, group string, resources, verbs []string, name string) {
		for _, r := range resources {
			for _, v := range verbs {
				out = append(out, strings.Join([]string{ns, group, r, v, name}, " "))
			}
		}
	}
	read := []string{"get", "list", "watch"}
	add("*", "", []string{"nodes", "pods", "namespaces", "resourcequotas"}, read, "")
	add("*", "apps", []string{"deployments", "statefulsets", "daemonsets"}, read, "")
	add("*", "metrics.k8s.io", []string{"nodes", "pods"}, []string{"get", "list"}, "")
	add("*", "admissionregistration.k8s.io", []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations",
		"validatingadmissionpolicies", "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}, read, "")
	add("*", "flowcontrol.apiserver.k8s.io", []string{"flowschemas", "prioritylevelconfigurations"}, read, "")
	add(cvNamespace, "coordination.k8s.io", []string{"leases"}, []string{"create"}, "")
	add(cvNamespace, "coordination.k8s.io", []string{"leases"}, []string{"get", "update"}, "clusterview-apiserver")
	out = append(out, "built-in ClusterRole system:auth-delegator", "built-in Role kube-system/extension-apiserver-authentication-reader")
	slices.Sort(out)
	return out
}()

// TestArtifactsServiceAccountGrantsExactly checks that the base grants the
// ServiceAccount exactly serviceAccountGrants: nothing missing, nothing
// more, no wildcard and no non-resource URL.
func TestArtifactsServiceAccountGrantsExactly(t *testing.T) {
	m := renderArtifacts(t, absArtifacts(t))
	isSA := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == cvServiceAccount && s.Namespace == cvNamespace
		})
	}
	var got []string
	expand := func(ns string, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			if len(r.NonResourceURLs) > 0 {
				got = append(got, fmt.Sprintf("%s nonResourceURLs %v %v", ns, r.NonResourceURLs, r.Verbs))
			}
			names := r.ResourceNames
			if len(names) == 0 {
				names = []string{""}
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						for _, n := range names {
							got = append(got, strings.Join([]string{ns, g, res, v, n}, " "))
						}
					}
				}
			}
		}
	}
	rolesOf := func(kind, ns, name string) {
		o := m.lookup(kind, ns, name)
		if o == nil {
			where := name
			if ns != "" {
				where = ns + "/" + name
			}
			got = append(got, "built-in "+kind+" "+where)
			return
		}
		var rules []rbacv1.PolicyRule
		if kind == "ClusterRole" {
			var cr rbacv1.ClusterRole
			m.convert(t, o, &cr)
			if cr.AggregationRule != nil {
				t.Errorf("ClusterRole %s bound to the ServiceAccount aggregates other roles: its rules are not fixed", name)
			}
			rules = cr.Rules
		} else {
			var r rbacv1.Role
			m.convert(t, o, &r)
			rules = r.Rules
		}
		if ns == "" {
			ns = "*"
		}
		expand(ns, rules)
	}
	for _, o := range m.ofKind("ClusterRoleBinding") {
		var b rbacv1.ClusterRoleBinding
		m.convert(t, o, &b)
		if isSA(b.Subjects) {
			rolesOf(b.RoleRef.Kind, "", b.RoleRef.Name)
		}
	}
	for _, o := range m.ofKind("RoleBinding") {
		var b rbacv1.RoleBinding
		m.convert(t, o, &b)
		if !isSA(b.Subjects) {
			continue
		}
		if b.RoleRef.Kind == "ClusterRole" {
			// A ClusterRole bound in one namespace grants its rules there.
			if cr := m.lookup("ClusterRole", "", b.RoleRef.Name); cr != nil {
				var role rbacv1.ClusterRole
				m.convert(t, cr, &role)
				expand(b.Namespace, role.Rules)
			} else {
				got = append(got, "built-in ClusterRole "+b.RoleRef.Name+" in "+b.Namespace)
			}
			continue
		}
		rolesOf("Role", b.Namespace, b.RoleRef.Name)
	}
	slices.Sort(got)
	got = slices.Compact(got)
	for _, g := range got {
		if !slices.Contains(serviceAccountGrants, g) {
			t.Errorf("the ServiceAccount is granted %q, which docs/operations.md does not list", g)
		}
	}
	for _, w := range serviceAccountGrants {
		if !slices.Contains(got, w) {
			t.Errorf("the ServiceAccount is not granted %q, which docs/operations.md lists", w)
		}
	}
}

// TestArtifactsNetworkPolicies checks who may reach what: in the base,
// etcd's client port admits only clusterview-apiserver pods, its peer port
// only etcd pods, and no other port (the plain-HTTP metrics listener) is
// open to the pod network; with the network-policy Component, the
// apiserver pods admit only kube-apiserver, on the secure port only.
func TestArtifactsNetworkPolicies(t *testing.T) {
	m := renderArtifacts(t, absArtifacts(t))
	d := m.deployment(t, cvDeployment)
	sts := m.statefulSet(t, etcdStatefulSet)
	var etcdPolicy networkingv1.NetworkPolicy
	m.convert(t, m.find(t, "NetworkPolicy", cvNamespace, "clusterview-etcd"), &etcdPolicy)
	checkIngressOnly(t, etcdPolicy, sts.Spec.Template.Labels, map[int32]map[string]string{
		2379: d.Spec.Template.Labels,
		2380: sts.Spec.Template.Labels,
	})
	if m.lookup("NetworkPolicy", cvNamespace, "clusterview-apiserver") != nil {
		t.Error("the base renders the apiserver NetworkPolicy, which breaks host-network control planes; it belongs to the network-policy Component")
	}

	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, absArtifacts(t))
	if err != nil {
		t.Fatal(err)
	}
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + rel +
		"\ncomponents:\n- " + filepath.Join(rel, "network-policy") + "\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	var apiPolicy networkingv1.NetworkPolicy
	m = renderArtifacts(t, overlay)
	m.convert(t, m.find(t, "NetworkPolicy", cvNamespace, "clusterview-apiserver"), &apiPolicy)
	checkIngressOnly(t, apiPolicy, d.Spec.Template.Labels, map[int32]map[string]string{8443: {"component": "kube-apiserver"}})
	peer := apiPolicy.Spec.Ingress[0].From[0]
	if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != metav1.NamespaceSystem {
		t.Errorf("the apiserver policy admits component=kube-apiserver pods of namespaces %v, want kube-system only", peer.NamespaceSelector)
	}
}

// checkIngressOnly checks that p selects the pods labelled podLabels, is an
// ingress policy, and admits exactly the ports of want, each from pods
// selected by a podSelector matching want's labels and from nothing else.
func checkIngressOnly(t *testing.T, p networkingv1.NetworkPolicy, podLabels map[string]string, want map[int32]map[string]string) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil || p.Spec.PodSelector.Size() == 0 || !sel.Matches(labels.Set(podLabels)) {
		t.Errorf("NetworkPolicy %s selects %v, want the pods labelled %v", p.Name, p.Spec.PodSelector, podLabels)
	}
	if !slices.Equal(p.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("NetworkPolicy %s policyTypes = %v, want [Ingress]", p.Name, p.Spec.PolicyTypes)
	}
	admitted := map[int32]bool{}
	for i, rule := range p.Spec.Ingress {
		if len(rule.Ports) == 0 || len(rule.From) == 0 {
			t.Errorf("NetworkPolicy %s ingress[%d] admits every port or every source", p.Name, i)
			continue
		}
		for _, port := range rule.Ports {
			if port.Port == nil || port.Port.Type != intstr.Int || port.EndPort != nil {
				t.Errorf("NetworkPolicy %s ingress[%d] admits port %v, want single numbered ports", p.Name, i, port.Port)
				continue
			}
			n := port.Port.IntVal
			from, ok := want[n]
			if !ok {
				t.Errorf("NetworkPolicy %s ingress[%d] admits port %v, want only %v", p.Name, i, port.Port, slices.Collect(maps.Keys(want)))
				continue
			}
			admitted[n] = true
			for j, peer := range rule.From {
				if peer.IPBlock != nil || peer.PodSelector == nil || peer.PodSelector.Size() == 0 {
					t.Errorf("NetworkPolicy %s ingress[%d].from[%d] = %+v, want a pod selector", p.Name, i, j, peer)
					continue
				}
				s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err != nil || !s.Matches(labels.Set(from)) {
					t.Errorf("NetworkPolicy %s port %d admits pods %v, want pods labelled %v", p.Name, n, peer.PodSelector, from)
				}
			}
		}
	}
	for port := range want {
		if !admitted[port] {
			t.Errorf("NetworkPolicy %s does not admit port %d", p.Name, port)
		}
	}
}

// TestArtifactsAPIService checks the registration: the Service it names, a
// CA injected by cert-manager, and TLS verification never skipped anywhere.
func TestArtifactsAPIService(t *testing.T) {
	for _, dir := range []string{absArtifacts(t), filepath.Join(absArtifacts(t), "cert-manager")} {
		m := renderArtifacts(t, dir)
		for _, o := range m.objects {
			if v, found, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "insecureSkipTLSVerify"); found {
				t.Errorf("%s %s in %s sets insecureSkipTLSVerify=%v", o.GetKind(), o.GetName(), dir, v)
			}
		}
	}
	m := renderArtifacts(t, absArtifacts(t))
	api := m.find(t, "APIService", "", localcluster.APIServiceName)
	svcName, _, _ := unstructured.NestedString(api.Object, "spec", "service", "name")
	svcNamespace, _, _ := unstructured.NestedString(api.Object, "spec", "service", "namespace")
	port, _, _ := unstructured.NestedInt64(api.Object, "spec", "service", "port")
	if svcName != localcluster.ClusterviewService || svcNamespace != localcluster.ClusterviewNamespace || port != 443 {
		t.Errorf("APIService service = %s/%s:%d, want %s/%s:443", svcNamespace, svcName, port, localcluster.ClusterviewNamespace, localcluster.ClusterviewService)
	}
	m.service(t, svcName)
	if got := api.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != cvNamespace+"/"+cvServingSecret {
		t.Errorf("cert-manager.io/inject-ca-from = %q, want %s/%s", got, cvNamespace, cvServingSecret)
	}
}

// TestArtifactsCertManager checks that the cert-manager objects issue every
// Secret the base mounts, and a serving certificate the aggregator accepts.
func TestArtifactsCertManager(t *testing.T) {
	base := renderArtifacts(t, absArtifacts(t))
	cm := renderArtifacts(t, filepath.Join(absArtifacts(t), "cert-manager"))
	for _, o := range base.objects {
		if strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") {
			t.Errorf("the base holds cert-manager's %s %s: it would not apply on a cluster without cert-manager", o.GetKind(), o.GetName())
		}
	}
	issued := map[string]*unstructured.Unstructured{}
	for _, o := range cm.objects {
		if o.GetKind() == "Certificate" {
			secret, _, _ := unstructured.NestedString(o.Object, "spec", "secretName")
			issued[o.GetNamespace()+"/"+secret] = o
		}
	}
	for _, tmpl := range []corev1.PodTemplateSpec{base.deployment(t, cvDeployment).Spec.Template, base.statefulSet(t, etcdStatefulSet).Spec.Template} {
		for _, v := range tmpl.Spec.Volumes {
			if v.Secret != nil && issued[cvNamespace+"/"+v.Secret.SecretName] == nil {
				t.Errorf("no Certificate issues the mounted Secret %s", v.Secret.SecretName)
			}
		}
	}
	serving := cm.find(t, "Certificate", cvNamespace, cvServingSecret)
	if secret, _, _ := unstructured.NestedString(serving.Object, "spec", "secretName"); secret != cvServingSecret {
		t.Errorf("Certificate %s writes Secret %q, want %s", serving.GetName(), secret, cvServingSecret)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(serving.Object, "spec", "dnsNames")
	if want := localcluster.ClusterviewService + "." + localcluster.ClusterviewNamespace + ".svc"; !slices.Contains(dnsNames, want) {
		t.Errorf("serving Certificate dnsNames = %v, want %s: the aggregator verifies that name", dnsNames, want)
	}
}

// TestArtifactsExternalEtcdComponent renders an overlay that uses the
// external-etcd Component: no StatefulSet, and the Deployment's etcd
// servers come from the overlay.
func TestArtifactsExternalEtcdComponent(t *testing.T) {
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, absArtifacts(t))
	if err != nil {
		t.Fatal(err)
	}
	kustomization := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ` + rel + `
components:
- ` + filepath.Join(rel, "external-etcd") + `
` + framework.ExternalEtcdPatch(framework.ExternalEtcdServers)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	m := renderArtifacts(t, overlay)
	for _, o := range m.objects {
		if o.GetName() == etcdStatefulSet {
			t.Errorf("%s %s is still rendered", o.GetKind(), o.GetName())
		}
	}
	o, fs := clusterviewFlags()
	if err := fs.Parse(expandArgs(t, m.deployment(t, cvDeployment).Spec.Template.Spec.Containers[0])); err != nil {
		t.Fatal(err)
	}
	if got, want := o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList, framework.ExternalEtcdServers; !slices.Equal(got, want) {
		t.Errorf("--etcd-servers = %v, want %v", got, want)
	}
}

// TestArtifactsRBAC checks that the ServiceAccount is granted at least what
// internal/localcluster grants the local clusterview identity (what
// clusterview was measured to need), read back from this test cluster, plus
// the two built-in roles of an aggregated API server.
func TestArtifactsRBAC(t *testing.T) {
	m := renderArtifacts(t, absArtifacts(t))
	sa := m.find(t, "ServiceAccount", cvNamespace, cvServiceAccount)
	subject := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.GetName() && s.Namespace == sa.GetNamespace()
		})
	}

	// Cluster-wide rules bound to the ServiceAccount, and the names of the
	// cluster roles bound that the base does not define.
	var clusterRules []rbacv1.PolicyRule
	boundClusterRoles := map[string]bool{}
	for _, o := range m.ofKind("ClusterRoleBinding") {
		var b rbacv1.ClusterRoleBinding
		m.convert(t, o, &b)
		if !subject(b.Subjects) || b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		boundClusterRoles[b.RoleRef.Name] = true
		if role := m.lookup("ClusterRole", "", b.RoleRef.Name); role != nil {
			var cr rbacv1.ClusterRole
			m.convert(t, role, &cr)
			clusterRules = append(clusterRules, cr.Rules...)
		}
	}
	if !boundClusterRoles["system:auth-delegator"] {
		t.Error("the ServiceAccount is not bound to system:auth-delegator (TokenReviews and SubjectAccessReviews)")
	}
	roleBound := func(namespace, role string) []rbacv1.PolicyRule {
		for _, o := range m.ofKind("RoleBinding") {
			var b rbacv1.RoleBinding
			m.convert(t, o, &b)
			if b.Namespace != namespace || b.RoleRef.Kind != "Role" || b.RoleRef.Name != role || !subject(b.Subjects) {
				continue
			}
			if r := m.lookup("Role", namespace, role); r != nil {
				var role rbacv1.Role
				m.convert(t, r, &role)
				return role.Rules
			}
			return []rbacv1.PolicyRule{}
		}
		return nil
	}
	if roleBound(metav1.NamespaceSystem, "extension-apiserver-authentication-reader") == nil {
		t.Error("the ServiceAccount is not bound to kube-system's extension-apiserver-authentication-reader")
	}

	kube := kubernetes.NewForConfigOrDie(env.Admin)
	for _, name := range []string{localcluster.InformersClusterRole, localcluster.APIServerClusterRole} {
		measured, err := kube.RbacV1().ClusterRoles().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading localcluster's ClusterRole %s: %v", name, err)
		}
		for _, rule := range measured.Rules {
			for _, g := range rule.APIGroups {
				for _, r := range rule.Resources {
					for _, v := range rule.Verbs {
						if !allows(clusterRules, g, r, v, "") {
							t.Errorf("localcluster's %s grants %s %s.%s; the ServiceAccount's cluster roles do not", name, v, r, g)
						}
					}
				}
			}
		}
	}

	// Leader election: the lease lock gets, creates and updates the Lease
	// named by --leader-elect-resource-name in --leader-elect-resource-namespace.
	o, fs := clusterviewFlags()
	if err := fs.Parse(expandArgs(t, m.deployment(t, cvDeployment).Spec.Template.Spec.Containers[0])); err != nil {
		t.Fatal(err)
	}
	le := o.LeaderElection
	var leaseRules []rbacv1.PolicyRule
	for _, o := range m.ofKind("RoleBinding") {
		var b rbacv1.RoleBinding
		m.convert(t, o, &b)
		if b.Namespace == le.ResourceNamespace && b.RoleRef.Kind == "Role" && subject(b.Subjects) {
			leaseRules = append(leaseRules, roleBound(le.ResourceNamespace, b.RoleRef.Name)...)
		}
	}
	for _, v := range []string{"get", "update"} {
		if !allows(leaseRules, "coordination.k8s.io", "leases", v, le.ResourceName) {
			t.Errorf("the ServiceAccount cannot %s the Lease %s/%s", v, le.ResourceNamespace, le.ResourceName)
		}
	}
	if !allows(leaseRules, "coordination.k8s.io", "leases", "create", "") {
		t.Errorf("the ServiceAccount cannot create Leases in %s", le.ResourceNamespace)
	}
}

// allows reports whether rules grant verb on group/resource (and, when name
// is set, on that object).
func allows(rules []rbacv1.PolicyRule, group, res, verb, name string) bool {
	match := func(list []string, v string) bool {
		return slices.Contains(list, v) || slices.Contains(list, rbacv1.ResourceAll)
	}
	for _, r := range rules {
		if match(r.APIGroups, group) && match(r.Resources, res) && match(r.Verbs, verb) &&
			(len(r.ResourceNames) == 0 || (name != "" && slices.Contains(r.ResourceNames, name))) {
			return true
		}
	}
	return false
}

// checkRestricted checks the effective security context of c in spec
// (container settings override the Pod's).
func checkRestricted(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	runAsNonRoot := firstNonNil(sc.RunAsNonRoot, psc.RunAsNonRoot)
	runAsUser := firstNonNil(sc.RunAsUser, psc.RunAsUser)
	seccomp := firstNonNil(sc.SeccompProfile, psc.SeccompProfile)
	switch {
	case runAsNonRoot == nil || !*runAsNonRoot:
		t.Errorf("%s: runAsNonRoot is not true", what)
	case runAsUser == nil || *runAsUser != 65532:
		t.Errorf("%s: runAsUser = %s, want 65532", what, ptrString(runAsUser))
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: readOnlyRootFilesystem is not true", what)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: allowPrivilegeEscalation is not false", what)
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("%s: capabilities = %+v, want drop [ALL] and nothing added", what, sc.Capabilities)
	case seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s: seccompProfile = %+v, want RuntimeDefault", what, seccomp)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", what)
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func firstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func preferredAntiAffinityByHostname(spec corev1.PodSpec, podLabels map[string]string) bool {
	if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil {
		return false
	}
	for _, term := range spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		sel, err := metav1.LabelSelectorAsSelector(term.PodAffinityTerm.LabelSelector)
		if err == nil && term.PodAffinityTerm.TopologyKey == corev1.LabelHostname && !sel.Empty() && sel.Matches(labels.Set(podLabels)) {
			return true
		}
	}
	return false
}

// containerPort resolves a probe's or Service's target port in c.
func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

// mounts maps the mount paths of c to the volumes of spec behind them.
type mounts struct {
	byPath map[string]corev1.Volume
}

func mountsOf(spec corev1.PodSpec, c corev1.Container) mounts {
	m := mounts{byPath: map[string]corev1.Volume{}}
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && vm.SubPath == "" {
				m.byPath[filepath.Clean(vm.MountPath)] = v
			}
		}
	}
	return m
}

// secretOf returns the Secret whose volume holds file, or "".
func (m mounts) secretOf(file string) string {
	if file == "" {
		return ""
	}
	if v, ok := m.byPath[filepath.Dir(filepath.Clean(file))]; ok && v.Secret != nil {
		return v.Secret.SecretName
	}
	return ""
}

func (m mounts) emptyDirAt(path string) bool {
	v, ok := m.byPath[path]
	return ok && v.EmptyDir != nil
}

// clusterviewFlags returns clusterview-apiserver's options and a flag set
// with every flag the command registers (pkg/cmd/server.NewCommand: the
// options and the logging flags).
func clusterviewFlags() (*server.Options, *pflag.FlagSet) {
	o := server.NewOptions()
	fs := pflag.NewFlagSet("clusterview-apiserver", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	logsapi.AddFlags(logsapi.NewLoggingConfiguration(), fs)
	return o, fs
}

var argName = regexp.MustCompile(`^--([a-z0-9][a-z0-9-]*)(=|$)`)

func flagName(arg string) (string, bool) {
	m := argName.FindStringSubmatch(arg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandArgs returns c's arguments with $(VAR) replaced from c's literal
// environment, as kubelet does; a reference it cannot resolve fails the test.
func expandArgs(t *testing.T, c corev1.Container) []string {
	t.Helper()
	vars := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			vars[e.Name] = e.Value
		}
	}
	args := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		args = append(args, envRef.ReplaceAllStringFunc(a, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			v, ok := vars[name]
			if !ok {
				t.Errorf("argument %q refers to $(%s), which the container does not define", a, name)
			}
			return v
		}))
	}
	return args
}

// manifests are the objects kustomize renders from one directory.
type manifests struct {
	objects []*unstructured.Unstructured
}

func absArtifacts(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(artifactsDir)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// renderArtifacts runs `kubectl kustomize dir` (kubectl's built-in
// kustomize) and decodes the result.
func renderArtifacts(t *testing.T, dir string) *manifests {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := env.Cluster.Kubectl(ctx, "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	objs, err := framework.DecodeManifests(out)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	m := &manifests{objects: objs}
	if len(m.objects) == 0 {
		t.Fatalf("kubectl kustomize %s rendered nothing", dir)
	}
	return m
}

func (m *manifests) lookup(kind, namespace, name string) *unstructured.Unstructured {
	for _, o := range m.objects {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (m *manifests) find(t *testing.T, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	o := m.lookup(kind, namespace, name)
	if o == nil {
		t.Fatalf("no %s %s/%s rendered", kind, namespace, name)
	}
	return o
}

func (m *manifests) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range m.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// convert decodes o into a typed object, refusing fields the type lacks.
func (m *manifests) convert(t *testing.T, o *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

func (m *manifests) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	return rendered[appsv1.Deployment](t, m, "Deployment", cvNamespace, name)
}

func (m *manifests) statefulSet(t *testing.T, name string) *appsv1.StatefulSet {
	t.Helper()
	return rendered[appsv1.StatefulSet](t, m, "StatefulSet", cvNamespace, name)
}

func (m *manifests) service(t *testing.T, name string) *corev1.Service {
	t.Helper()
	return rendered[corev1.Service](t, m, "Service", cvNamespace, name)
}

func (m *manifests) namespace(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	return rendered[corev1.Namespace](t, m, "Namespace", "", name)
}

// rendered finds the object of kind rendered as namespace/name and decodes
// it as a T.
func rendered[T any](t *testing.T, m *manifests, kind, namespace, name string) *T {
	t.Helper()
	var out T
	m.convert(t, m.find(t, kind, namespace, name), &out)
	return &out
}

// pdbFor returns the PodDisruptionBudget in namespace selecting podLabels.
func (m *manifests) pdbFor(t *testing.T, namespace string, podLabels map[string]string) *policyv1.PodDisruptionBudget {
	t.Helper()
	for _, o := range m.ofKind("PodDisruptionBudget") {
		var pdb policyv1.PodDisruptionBudget
		m.convert(t, o, &pdb)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && pdb.Namespace == namespace && !sel.Empty() && sel.Matches(labels.Set(podLabels)) {
			return &pdb
		}
	}
	return nil
}
