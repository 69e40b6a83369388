package ha

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/clusterview/clusterview/internal/localcluster"
	typed "github.com/clusterview/clusterview/pkg/generated/clientset/versioned/typed/clusterview/v1beta1"
)

var clusterviewGV = schema.GroupVersion{Group: localcluster.Group, Version: localcluster.Version}

// TestNamespaceDeletionWhileClusterviewIsDown checks what namespace deletion
// depends on when clusterview is unreachable. There is no
// kube-controller-manager here, so deleteNamespaceContent re-implements the
// namespace controller's pass with client-go (see its comment and
// docs/high-availability.md for the upstream functions it follows).
//
// Findings it pins down: clusterview's only namespaced resource,
// namespacesummaries, offers neither delete nor deletecollection, so the
// deleter never touches it; but while the APIService is unavailable,
// discovery fails for clusterview.io, and upstream then deletes what it can
// and keeps the namespace's "kubernetes" finalizer: deletion is blocked until
// the APIService is Available again, whatever clusterview serves. Once it is,
// the next pass finalizes the namespace and its NamespaceSummary disappears.
func TestNamespaceDeletionWhileClusterviewIsDown(t *testing.T) {
	ctx := t.Context()
	healAfter(t)
	const ns = "ha-ns-deletion"
	meta, err := metadata.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}

	// What the namespace deleter sees of clusterview.io while it is up.
	resources, err := env.Kube.Discovery().ServerPreferredNamespacedResources()
	if err != nil {
		t.Fatalf("discovery with clusterview up: %v", err)
	}
	var namespaced []string
	for _, list := range resources {
		if list.GroupVersion != clusterviewGV.String() {
			continue
		}
		for _, r := range list.APIResources {
			namespaced = append(namespaced, r.Name)
			verbs := sets.New(r.Verbs...)
			if verbs.HasAny("delete", "deletecollection") {
				t.Errorf("%s offers %v: the namespace deleter would delete through clusterview", r.Name, r.Verbs)
			}
		}
	}
	if !slices.Equal(namespaced, []string{"namespacesummaries"}) {
		t.Errorf("clusterview.io's namespaced resources are %v, want only namespacesummaries", namespaced)
	}
	deletable, err := discovery.GroupVersionResources(discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, resources))
	if err != nil {
		t.Fatal(err)
	}
	for gvr := range deletable {
		if gvr.Group == clusterviewGV.Group {
			t.Errorf("the namespace deleter would delete %v", gvr)
		}
	}

	// A namespace with content, summarised by clusterview.
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// If the test failed half-way, do not leave a Terminating namespace.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = deleteNamespaceContent(ctx, env.Kube, meta, ns)
	})
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "content"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := env.Client.ClusterviewV1beta1().NamespaceSummaries(ns).Get(ctx, ns, metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no NamespaceSummary for %s", ns)
	}

	// Stop the replica the APIService points at. B keeps running, but the
	// aggregator cannot reach it: here the Service names A's port only.
	stopped := time.Now()
	if err := env.A.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, exited := env.A.WaitExit(90 * time.Second)
	if !exited || code != 0 {
		t.Fatalf("replica A after SIGTERM: exited %v, code %d", exited, code)
	}
	figure(t, "SIGTERM to exit with no watch open", time.Since(stopped))
	var cond string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		var available bool
		available, cond = apiServiceAvailable(ctx, dyn)
		return !available, nil
	})
	if err != nil {
		t.Fatalf("the APIService stayed Available after its replica stopped: %s", cond)
	}
	figure(t, "replica A stopped to APIService Available=False", time.Since(stopped))
	t.Logf("APIService: %s", cond)

	// Discovery now fails for clusterview.io, and only for it.
	var discoveryErr error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		resources, discoveryErr = env.Kube.Discovery().ServerPreferredNamespacedResources()
		return discoveryErr != nil, nil
	})
	if err != nil {
		t.Fatalf("discovery kept succeeding with the APIService unavailable")
	}
	figure(t, "replica A stopped to discovery failing for clusterview.io", time.Since(stopped))
	t.Logf("discovery error: %v", discoveryErr)
	var failed *discovery.ErrGroupDiscoveryFailed
	if !errors.As(discoveryErr, &failed) {
		t.Fatalf("discovery error %T %v, want *discovery.ErrGroupDiscoveryFailed", discoveryErr, discoveryErr)
	}
	var failedGVs []string
	for gv := range failed.Groups {
		failedGVs = append(failedGVs, gv.String())
	}
	if !slices.Equal(failedGVs, []string{clusterviewGV.String()}) {
		t.Errorf("discovery failed for %v, want only %s", failedGVs, clusterviewGV)
	}
	if !slices.ContainsFunc(resources, func(l *metav1.APIResourceList) bool { return l.GroupVersion == "v1" }) {
		t.Errorf("discovery returned no core resources alongside the failure")
	}

	// Delete the namespace and run the deleter: it removes the content it
	// can reach but, like upstream, does not finalize the namespace.
	if err := env.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteRequested := time.Now()
	if _, err := deleteNamespaceContent(ctx, env.Kube, meta, ns); !errors.As(err, &failed) {
		t.Errorf("a deleter pass with clusterview down returned %v, want the group discovery failure", err)
	}
	got, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace %s after the blocked pass: %v", ns, err)
	}
	if got.Status.Phase != corev1.NamespaceTerminating || !slices.Contains(got.Spec.Finalizers, corev1.FinalizerKubernetes) {
		t.Errorf("namespace %s: phase %s, finalizers %v; want Terminating with the kubernetes finalizer", ns, got.Status.Phase, got.Spec.Finalizers)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "content", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap in the namespace: %v, want it deleted although discovery failed", err)
	}

	// clusterview comes back; the next passes finalize the namespace.
	restarted := restart(ctx, t, env.A, "replica A ready after restart")
	if err := env.Cluster.WaitForClusterviewAvailable(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	available := time.Now()
	figure(t, "replica A restarted to APIService Available", available.Sub(restarted))
	var last error
	passes := 0
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		passes++
		var done bool
		done, last = deleteNamespaceContent(ctx, env.Kube, meta, ns)
		return done, nil
	})
	if err != nil {
		t.Fatalf("namespace %s never finalized after the APIService became Available: %v", ns, last)
	}
	figure(t, "APIService Available to a deleter pass finalizing the namespace (passes every 200ms)", time.Since(available))
	t.Logf("the namespace was finalized on pass %d after clusterview returned, %v after its deletion was requested", passes, time.Since(deleteRequested).Round(time.Millisecond))
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("namespace %s still exists after finalization", ns)
	}
	gone := time.Now()
	for name, client := range map[string]typed.NamespaceSummaryInterface{
		"kube-apiserver": env.Client.ClusterviewV1beta1().NamespaceSummaries(ns),
		"replica B":      direct(t, env.B).NamespaceSummaries(ns),
	} {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := client.Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Errorf("the NamespaceSummary of the deleted namespace is still served through %s", name)
		}
	}
	figure(t, "namespace gone to its NamespaceSummary gone", time.Since(gone))
}

// deleteNamespaceContent is one pass of kube-controller-manager's namespace
// deletion for a namespace marked for deletion, re-implemented with
// client-go because k8s.io/kubernetes is not importable as a library. It
// follows k8s.io/kubernetes v1.37.1 pkg/controller/namespace/deletion
// (namespacedResourcesDeleter.Delete, deleteAllContent, deleteCollection,
// deleteEachItem, finalizeNamespace), leaving out what this test does not
// need: pods first with graceful-termination estimates, and the status
// conditions. Discovery is ServerPreferredNamespacedResources, as
// kube-controller-manager configures it; resources without "delete" are
// skipped; deletecollection is used where offered, else list and delete
// each. A discovery error is kept and returned after everything reachable
// was deleted, and the "kubernetes" finalizer is removed only when there was
// no error and nothing remains. It returns whether it finalized.
func deleteNamespaceContent(ctx context.Context, kube kubernetes.Interface, meta metadata.Interface, ns string) (bool, error) {
	namespace, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if namespace.DeletionTimestamp == nil {
		return false, fmt.Errorf("namespace %s is not being deleted", ns)
	}
	resources, discoveryErr := kube.Discovery().ServerPreferredNamespacedResources()
	var errs []error
	if discoveryErr != nil {
		errs = append(errs, discoveryErr)
	}
	remaining := 0
	for _, list := range discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, resources) {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range list.APIResources {
			verbs := sets.New(r.Verbs...)
			client := meta.Resource(gv.WithResource(r.Name)).Namespace(ns)
			background := metav1.DeletePropagationBackground
			opts := metav1.DeleteOptions{PropagationPolicy: &background}
			if verbs.Has("deletecollection") {
				if err := client.DeleteCollection(ctx, opts, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
					errs = append(errs, fmt.Errorf("deleting %s: %w", r.Name, err))
				}
			}
			if !verbs.Has("list") {
				continue
			}
			items, err := client.List(ctx, metav1.ListOptions{})
			if err != nil {
				if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
					errs = append(errs, fmt.Errorf("listing %s: %w", r.Name, err))
				}
				continue
			}
			for _, item := range items.Items {
				if err := client.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("deleting %s %s: %w", r.Name, item.Name, err))
				}
				remaining++ // gone by the next pass, unless a finalizer holds it
			}
		}
	}
	if len(errs) > 0 {
		return false, errors.Join(errs...)
	}
	if remaining > 0 {
		return false, fmt.Errorf("%d objects were still being deleted", remaining)
	}
	namespace.Spec.Finalizers = slices.DeleteFunc(namespace.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	if _, err := kube.CoreV1().Namespaces().Finalize(ctx, namespace, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	return true, nil
}

// apiServiceAvailable reads the clusterview.io APIService's Available
// condition and describes it.
func apiServiceAvailable(ctx context.Context, dyn dynamic.Interface) (bool, string) {
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	obj, err := dyn.Resource(gvr).Get(ctx, localcluster.APIServiceName, metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == "Available" {
			return m["status"] == "True", fmt.Sprintf("Available=%v reason=%v message=%q", m["status"], m["reason"], m["message"])
		}
	}
	return false, "no Available condition"
}
