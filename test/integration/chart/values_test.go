package chart

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/clusterview/clusterview/pkg/cmd/server"
)

// rendered gives typed access to one render's objects.
type rendered struct {
	t    *testing.T
	objs map[string]*unstructured.Unstructured
}

func (tl tools) rendered(t *testing.T, flags ...string) *rendered {
	t.Helper()
	return &rendered{t: t, objs: index(t, tl.render(t, flags...))}
}

func (r *rendered) has(groupKind, name string) bool {
	_, ok := r.objs[groupKind+" "+namespace+"/"+name]
	if !ok {
		_, ok = r.objs[groupKind+" /"+name]
	}
	return ok
}

func (r *rendered) kinds(groupKind string) []string {
	var names []string
	for k, o := range r.objs {
		if strings.HasPrefix(k, groupKind+" ") {
			names = append(names, o.GetName())
		}
	}
	slices.Sort(names)
	return names
}

func (r *rendered) into(groupKind, name string, obj any) {
	r.t.Helper()
	o, ok := r.objs[groupKind+" "+namespace+"/"+name]
	if !ok {
		r.t.Fatalf("no %s %s/%s rendered; rendered: %v", groupKind, namespace, name, sortedKeys(r.objs))
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, obj, true); err != nil {
		r.t.Fatalf("%s %s: %v", groupKind, name, err)
	}
}

func (r *rendered) deployment() *appsv1.Deployment {
	var d appsv1.Deployment
	r.into("Deployment.apps", "clusterview-apiserver", &d)
	return &d
}

func (r *rendered) statefulSet() *appsv1.StatefulSet {
	var s appsv1.StatefulSet
	r.into("StatefulSet.apps", "clusterview-etcd", &s)
	return &s
}

// serverOptions parses the Deployment's container arguments, with $(VAR)
// expanded from its literal environment as kubelet does, with
// clusterview-apiserver's own flag set, and validates them.
func serverOptions(t *testing.T, d *appsv1.Deployment) *server.Options {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	vars := map[string]string{}
	for _, e := range c.Env {
		vars[e.Name] = e.Value
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range c.Args {
		args = append(args, ref.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := vars[ref.FindStringSubmatch(m)[1]]
			if !ok {
				t.Errorf("argument %q refers to a variable the container does not define", a)
			}
			return v
		}))
	}
	o := server.NewOptions()
	fs := pflag.NewFlagSet("clusterview-apiserver", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	logsapi.AddFlags(logsapi.NewLoggingConfiguration(), fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("clusterview-apiserver rejects the Deployment's arguments %q: %v", args, err)
	}
	if err := o.Complete(); err != nil {
		t.Fatalf("completing the Deployment's arguments: %v", err)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("the Deployment's arguments %q do not validate: %v", args, err)
	}
	return o
}

func etcdServers(o *server.Options) []string {
	return o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList
}

func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestChartReplicasAndStatefulSetEtcd: three clusterview replicas on a
// five-member etcd StatefulSet; every member is in etcd's initial cluster and
// in clusterview's --etcd-servers.
func TestChartReplicasAndStatefulSetEtcd(t *testing.T) {
	tl := needTools(t)
	r := tl.rendered(t, set("replicas=3", "etcd.mode=statefulset", "etcd.statefulset.replicas=5")...)

	d := r.deployment()
	if got := *d.Spec.Replicas; got != 3 {
		t.Errorf("Deployment replicas = %d, want 3", got)
	}
	if !r.has("PodDisruptionBudget.policy", "clusterview-apiserver") {
		t.Error("no PodDisruptionBudget for 3 clusterview replicas")
	}
	sts := r.statefulSet()
	if got := *sts.Spec.Replicas; got != 5 {
		t.Errorf("StatefulSet replicas = %d, want 5", got)
	}
	var members, servers []string
	for i := range 5 {
		member := fmt.Sprintf("clusterview-etcd-%d", i)
		host := member + ".clusterview-etcd.clusterview-system.svc"
		members = append(members, member+"=https://"+host+":2380")
		servers = append(servers, "https://"+host+":2379")
	}
	initial, _ := flagValue(sts.Spec.Template.Spec.Containers[0].Args, "initial-cluster")
	if got := strings.Split(initial, ","); !slices.Equal(got, members) {
		t.Errorf("etcd --initial-cluster = %v, want %v", got, members)
	}
	if got := etcdServers(serverOptions(t, d)); !slices.Equal(got, servers) {
		t.Errorf("clusterview --etcd-servers = %v, want %v", got, servers)
	}
	for _, gk := range []string{"Service", "PodDisruptionBudget.policy", "NetworkPolicy.networking.k8s.io"} {
		if !r.has(gk, "clusterview-etcd") {
			t.Errorf("no %s clusterview-etcd rendered", gk)
		}
	}
}

// TestChartExternalEtcd: no etcd of the chart's own, clusterview connects to
// the configured servers with the client certificate Secret; without servers
// the render fails and says why.
func TestChartExternalEtcd(t *testing.T) {
	tl := needTools(t)
	servers := []string{"https://etcd-a.example.test:2379", "https://etcd-b.example.test:2379"}
	r := tl.rendered(t, set("etcd.mode=external", "etcd.external.servers={"+strings.Join(servers, ",")+"}")...)
	if r.has("StatefulSet.apps", "clusterview-etcd") || r.has("Service", "clusterview-etcd") ||
		r.has("PodDisruptionBudget.policy", "clusterview-etcd") || r.has("NetworkPolicy.networking.k8s.io", "clusterview-etcd") {
		t.Errorf("etcd objects rendered with an external etcd: %v", sortedKeys(r.objs))
	}
	d := r.deployment()
	if got := etcdServers(serverOptions(t, d)); !slices.Equal(got, servers) {
		t.Errorf("--etcd-servers = %v, want %v", got, servers)
	}
	if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == "clusterview-etcd-client"
	}) {
		t.Error("the Deployment does not mount the Secret clusterview-etcd-client")
	}

	// cert-manager cannot issue a client certificate that the external etcd
	// trusts; the notes printed after the install say so.
	notes, err := tl.chart(t, "notes", set("etcd.mode=external", "etcd.external.servers={"+servers[0]+"}", "certManager.enabled=true")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(notes), "create the Secret\nclusterview-etcd-client") {
		t.Errorf("NOTES.txt with an external etcd and cert-manager does not ask for the Secret clusterview-etcd-client:\n%s", notes)
	}

	_, err = tl.chart(t, "template", set("etcd.mode=external")...)
	if err == nil || !strings.Contains(err.Error(), "etcd.external.servers") {
		t.Errorf("external etcd without servers: err = %v, want one naming etcd.external.servers", err)
	}
}

// TestChartEmbeddedEtcd: one replica whose etcd runs in-process on a
// PersistentVolumeClaim; no etcd objects, no etcd flags, a Recreate strategy
// and no PodDisruptionBudget that would block every drain. More than one
// replica is refused.
func TestChartEmbeddedEtcd(t *testing.T) {
	tl := needTools(t)
	r := tl.rendered(t, set("etcd.mode=embedded", "replicas=1", "etcd.embedded.storage.size=8Gi")...)
	for _, k := range sortedKeys(r.objs) {
		if strings.Contains(k, "clusterview-etcd") {
			t.Errorf("%s rendered with the embedded etcd", k)
		}
	}
	if r.has("PodDisruptionBudget.policy", "clusterview-apiserver") {
		t.Error("a PodDisruptionBudget with minAvailable 1 for a single replica blocks every drain")
	}
	d := r.deployment()
	if got := *d.Spec.Replicas; got != 1 {
		t.Errorf("replicas = %d, want 1", got)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %s, want Recreate (two Pods must not open one data directory)", d.Spec.Strategy.Type)
	}
	o := serverOptions(t, d)
	if got := etcdServers(o); len(got) != 0 {
		t.Errorf("--etcd-servers = %v, want none (embedded etcd)", got)
	}
	var pvc corev1.PersistentVolumeClaim
	r.into("PersistentVolumeClaim", "clusterview-apiserver-data", &pvc)
	if got := pvc.Spec.Resources.Requests.Storage().String(); got != "8Gi" {
		t.Errorf("data claim size = %s, want 8Gi", got)
	}
	spec := d.Spec.Template.Spec
	var mountPath string
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
			for _, m := range spec.Containers[0].VolumeMounts {
				if m.Name == v.Name {
					mountPath = m.MountPath
				}
			}
		}
		if v.Secret != nil && strings.Contains(v.Secret.SecretName, "etcd") {
			t.Errorf("volume %s mounts the etcd Secret %s, which the embedded etcd does not use", v.Name, v.Secret.SecretName)
		}
	}
	if mountPath == "" || !strings.HasPrefix(o.DataDir, mountPath+"/") {
		t.Errorf("--data-dir %q is not on the claim %s (mounted at %q)", o.DataDir, pvc.Name, mountPath)
	}
	if sc := spec.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Error("no fsGroup 65532: the non-root user cannot write the data volume")
	}

	_, err := tl.chart(t, "template", set("etcd.mode=embedded")...)
	if err == nil || !strings.Contains(err.Error(), "replicas must be 1") {
		t.Errorf("embedded etcd with the default 2 replicas: err = %v, want a refusal naming replicas", err)
	}
}

// TestChartNetworkPolicyOff renders no NetworkPolicy at all, and nothing else
// changes.
func TestChartNetworkPolicyOff(t *testing.T) {
	tl := needTools(t)
	off := tl.render(t, set("networkPolicy.enabled=false", "networkPolicy.apiserver.enabled=true")...)
	for _, o := range off {
		if o.GetKind() == "NetworkPolicy" {
			t.Errorf("NetworkPolicy %s rendered with networkPolicy.enabled=false", o.GetName())
		}
	}
	def := without(tl.render(t), func(o *unstructured.Unstructured) bool { return o.GetKind() == "NetworkPolicy" })
	if d := diffObjects(def, off, "defaults without NetworkPolicies", "networkPolicy.enabled=false"); d != "" {
		t.Errorf("turning NetworkPolicies off changes other objects:\n%s", d)
	}
}

// TestChartCertManager: with cert-manager the chart issues the serving
// certificate for the Service's DNS name, and the etcd certificates only
// when it runs etcd itself.
func TestChartCertManager(t *testing.T) {
	tl := needTools(t)
	const certs = "Certificate.cert-manager.io"
	r := tl.rendered(t, set("certManager.enabled=true")...)
	want := []string{
		"clusterview-apiserver-serving", "clusterview-etcd-ca", "clusterview-etcd-client", "clusterview-etcd-peer",
		"clusterview-etcd-peer-ca", "clusterview-etcd-server", "clusterview-serving-ca",
	}
	if got := r.kinds(certs); !slices.Equal(got, want) {
		t.Errorf("Certificates = %v, want %v", got, want)
	}
	serving := r.objs[certs+" "+namespace+"/clusterview-apiserver-serving"]
	dns, _, _ := unstructured.NestedStringSlice(serving.Object, "spec", "dnsNames")
	if !slices.Contains(dns, "clusterview-apiserver.clusterview-system.svc") {
		t.Errorf("serving certificate DNS names %v lack the name the aggregator verifies", dns)
	}
	api := r.objs["APIService.apiregistration.k8s.io /v1beta1.clusterview.io"]
	if got := api.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != "clusterview-system/clusterview-apiserver-serving" {
		t.Errorf("APIService inject-ca-from = %q, want the serving Certificate", got)
	}

	for _, mode := range [][]string{
		set("certManager.enabled=true", "etcd.mode=embedded", "replicas=1"),
		set("certManager.enabled=true", "etcd.mode=external", "etcd.external.servers={https://etcd.test:2379}"),
	} {
		r := tl.rendered(t, mode...)
		if got, want := r.kinds(certs), []string{"clusterview-apiserver-serving", "clusterview-serving-ca"}; !slices.Equal(got, want) {
			t.Errorf("%v: Certificates = %v, want %v", mode, got, want)
		}
	}
}

// TestChartImageAndResources: the image by digest, and the container's
// resources with GOMEMLIMIT.
func TestChartImageAndResources(t *testing.T) {
	tl := needTools(t)
	digest := "sha256:" + strings.Repeat("ab", 32)
	r := tl.rendered(t, set("image.repository=registry.example.test/clusterview-apiserver", "image.digest="+digest,
		"resources.requests.memory=512Mi", "resources.limits.memory=1Gi", "goMemLimit=900MiB")...)
	c := r.deployment().Spec.Template.Spec.Containers[0]
	if want := "registry.example.test/clusterview-apiserver@" + digest; c.Image != want {
		t.Errorf("image = %s, want %s", c.Image, want)
	}
	if got := c.Resources.Limits.Memory().String(); got != "1Gi" {
		t.Errorf("memory limit = %s, want 1Gi", got)
	}
	if got := c.Resources.Requests.Memory().String(); got != "512Mi" {
		t.Errorf("memory request = %s, want 512Mi", got)
	}
	if got := c.Resources.Requests.Cpu().String(); got != "100m" {
		t.Errorf("cpu request = %s, want the default 100m", got)
	}
	if !slices.Contains(c.Env, corev1.EnvVar{Name: "GOMEMLIMIT", Value: "900MiB"}) {
		t.Errorf("env %v lacks GOMEMLIMIT=900MiB", c.Env)
	}
}

// TestChartNamespaceCreate: the chart renders the Namespace only for a
// release kept elsewhere, since Helm stores the release in its namespace
// before it creates the objects.
func TestChartNamespaceCreate(t *testing.T) {
	tl := needTools(t)
	r := tl.rendered(t, append(set("namespace.create=true", "namespace.name="+namespace), "--namespace", "default")...)
	if !r.has("Namespace", namespace) {
		t.Errorf("no Namespace %s rendered with namespace.create", namespace)
	}
	for k, o := range r.objs {
		if o.GetNamespace() != "" && o.GetNamespace() != namespace && o.GetNamespace() != "kube-system" {
			t.Errorf("%s is not in namespace.name %s", k, namespace)
		}
	}
	_, err := tl.chart(t, "template", set("namespace.create=true")...)
	if err == nil || !strings.Contains(err.Error(), "namespace.create") {
		t.Errorf("namespace.create in the release's own namespace: err = %v, want a refusal naming namespace.create", err)
	}
}

// TestChartValuesSchema: values.schema.json refuses an unknown etcd mode and
// a misspelt key, as helm install would.
func TestChartValuesSchema(t *testing.T) {
	tl := needTools(t)
	for _, bad := range [][]string{set("etcd.mode=sqlite"), set("replica=3"), set("image.digest=latest")} {
		if _, err := tl.chart(t, "template", bad...); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("%v: err = %v, want a schema violation", bad, err)
		}
	}
}

// TestChartLint is helm lint --strict (warnings fail too) with the default
// values and with each etcd mode.
func TestChartLint(t *testing.T) {
	tl := needTools(t)
	for _, flags := range [][]string{
		nil,
		set("certManager.enabled=true", "networkPolicy.apiserver.enabled=true"),
		set("etcd.mode=external", "etcd.external.servers={https://etcd.test:2379}"),
		set("etcd.mode=embedded", "replicas=1"),
	} {
		out, err := tl.chart(t, "lint", append([]string{"--strict"}, flags...)...)
		if err != nil {
			t.Errorf("lint %v: %v\n%s", flags, err, out)
		}
	}
	// The linter can fail: values outside the schema are an error. (Helm
	// lints templates with `fail` turned off, so the combinations that
	// clusterview.validate refuses are tested with template above.)
	if out, err := tl.chart(t, "lint", set("etcd.mode=sqlite")...); err == nil {
		t.Errorf("lint accepts etcd.mode=sqlite:\n%s", out)
	}
}
