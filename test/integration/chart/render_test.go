// Package chart tests the Helm chart charts/clusterview: rendered and linted
// with the pinned Helm library (chart-render, hack/tools/helm), compared with
// what kustomize renders from artifacts/ for the same configuration, and
// applied in a server-side dry run to a real kube-apiserver.
package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterview/clusterview/test/integration/framework"
)

const (
	// chartDir and artifactsDir are relative to this package's directory, where
	// go test runs the tests.
	chartDir     = "../../../charts/clusterview"
	artifactsDir = "../../../artifacts"

	namespace = "clusterview-system"
	release   = "clusterview"
)

// helmLabels are the labels the chart adds to every object's metadata and the
// kustomize base does not have; the comparison drops them after checking
// they are there.
var helmLabels = []string{
	"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/version",
}

// tools are the binaries the tests run: chart-render for the chart, kubectl
// for kustomize.
type tools struct {
	chartRender string
	kubectl     string
}

func needTools(t *testing.T) tools {
	t.Helper()
	return tools{
		chartRender: framework.ChartRender(t),
		kubectl:     filepath.Join(framework.ControlPlaneBinaries(t), "kubectl"),
	}
}

func abs(t *testing.T, rel string) string {
	t.Helper()
	dir, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs a tool and returns its standard output, or its error with its
// standard error.
func run(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// set turns values into chart-render's --set flags.
func set(values ...string) []string {
	var args []string
	for _, v := range values {
		args = append(args, "--set", v)
	}
	return args
}

// render is chart-render template of the chart as the release clusterview in
// clusterview-system, with more flags (set, or a later --namespace).
func (tl tools) render(t *testing.T, flags ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := tl.chart(t, "template", flags...)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out)
}

// chart runs chart-render cmd on the chart, with the release clusterview in
// clusterview-system (lint has no release name) and flags after those.
func (tl tools) chart(t *testing.T, cmd string, flags ...string) ([]byte, error) {
	t.Helper()
	args := []string{cmd, abs(t, chartDir), "--namespace", namespace}
	if cmd != "lint" {
		args = append(args, "--release", release)
	}
	return run(t, tl.chartRender, append(args, flags...)...)
}

// kustomize is `kubectl kustomize dir`.
func (tl tools) kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := run(t, tl.kubectl, "kustomize", dir)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out)
}

// overlay writes a kustomization with the base, the given components and
// extra lines (patches) into a temporary directory and renders it.
func (tl tools) overlay(t *testing.T, resources, components []string, extra string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	base := abs(t, artifactsDir)
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range append([]string{"."}, resources...) {
		rel, err := filepath.Rel(dir, filepath.Join(base, r))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "- %s\n", rel)
	}
	if len(components) > 0 {
		b.WriteString("components:\n")
		for _, c := range components {
			rel, err := filepath.Rel(dir, filepath.Join(base, c))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "- %s\n", rel)
		}
	}
	b.WriteString(extra)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return tl.kustomize(t, dir)
}

// decode splits a YAML stream into objects; every document must be one.
func decode(t *testing.T, stream []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := framework.DecodeManifests(stream)
	if err != nil {
		t.Fatalf("rendered YAML: %v", err)
	}
	if len(objs) == 0 {
		t.Fatal("nothing rendered")
	}
	return objs
}

// key names an object: group, kind, namespace and name.
func key(o *unstructured.Unstructured) string {
	gk := o.GroupVersionKind().GroupKind()
	return fmt.Sprintf("%s %s/%s", gk, o.GetNamespace(), o.GetName())
}

func index(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := make(map[string]*unstructured.Unstructured, len(objs))
	for _, o := range objs {
		k := key(o)
		if _, dup := m[k]; dup {
			t.Errorf("%s is rendered twice", k)
		}
		m[k] = o
	}
	return m
}

// withoutHelmLabels checks that each chart object carries Helm's labels and
// returns copies without them, for comparison with kustomize's objects.
func withoutHelmLabels(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		o = o.DeepCopy()
		labels := o.GetLabels()
		for _, l := range helmLabels {
			if _, ok := labels[l]; !ok {
				t.Errorf("%s lacks the label %s", key(o), l)
			}
			delete(labels, l)
		}
		o.SetLabels(labels)
		out = append(out, o)
	}
	return out
}

// diffObjects compares two sets of objects by key and, for objects in both,
// field by field. It returns "" when they are equal.
func diffObjects(want, got []*unstructured.Unstructured, wantName, gotName string) string {
	wm, gm := map[string]*unstructured.Unstructured{}, map[string]*unstructured.Unstructured{}
	for _, o := range want {
		wm[key(o)] = o
	}
	for _, o := range got {
		gm[key(o)] = o
	}
	var b strings.Builder
	for _, k := range sortedKeys(wm) {
		if _, ok := gm[k]; !ok {
			fmt.Fprintf(&b, "only in %s: %s\n", wantName, k)
		}
	}
	for _, k := range sortedKeys(gm) {
		if _, ok := wm[k]; !ok {
			fmt.Fprintf(&b, "only in %s: %s\n", gotName, k)
		}
	}
	for _, k := range sortedKeys(wm) {
		g, ok := gm[k]
		if !ok {
			continue
		}
		if d := cmp.Diff(wm[k].Object, g.Object); d != "" {
			fmt.Fprintf(&b, "%s differs (-%s +%s):\n%s\n", k, wantName, gotName, d)
		}
	}
	return b.String()
}

func sortedKeys(m map[string]*unstructured.Unstructured) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// without returns objs minus those whose key is in drop.
func without(objs []*unstructured.Unstructured, drop func(*unstructured.Unstructured) bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if !drop(o) {
			out = append(out, o)
		}
	}
	return out
}

// TestChartMatchesKustomize renders the chart and the kustomize
// configuration that corresponds to its values, and requires the same
// objects with the same fields, Helm's own labels aside. The default values
// leave out the Namespace (Helm stores its release there before it creates
// anything, so the chart renders it only on request); every other object of
// the base is rendered as the base renders it.
func TestChartMatchesKustomize(t *testing.T) {
	tl := needTools(t)
	base := tl.kustomize(t, abs(t, artifactsDir))

	cases := []struct {
		name      string
		flags     []string
		kustomize func(t *testing.T) []*unstructured.Unstructured
	}{{
		name: "defaults, without the base's Namespace",
		kustomize: func(*testing.T) []*unstructured.Unstructured {
			return without(base, func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" })
		},
	}, {
		// The release lives in another namespace than the one the chart creates.
		name:      "namespace.create",
		flags:     append(set("namespace.create=true", "namespace.name="+namespace), "--namespace", "default"),
		kustomize: func(*testing.T) []*unstructured.Unstructured { return base },
	}, {
		name:  "certManager.enabled, as artifacts/ plus artifacts/cert-manager/",
		flags: set("certManager.enabled=true"),
		kustomize: func(t *testing.T) []*unstructured.Unstructured {
			return without(tl.overlay(t, []string{"cert-manager"}, nil, ""), func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" })
		},
	}, {
		name:  "networkPolicy.apiserver.enabled, as the network-policy Component",
		flags: set("networkPolicy.apiserver.enabled=true"),
		kustomize: func(t *testing.T) []*unstructured.Unstructured {
			return without(tl.overlay(t, nil, []string{"network-policy"}, ""), func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" })
		},
	}, {
		name:  "etcd.mode=external, as the external-etcd Component with its patch",
		flags: set("etcd.mode=external", "etcd.external.servers={"+strings.Join(framework.ExternalEtcdServers, ",")+"}"),
		kustomize: func(t *testing.T) []*unstructured.Unstructured {
			return without(tl.overlay(t, nil, []string{"external-etcd"}, framework.ExternalEtcdPatch(framework.ExternalEtcdServers)),
				func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" })
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := withoutHelmLabels(t, tl.render(t, tc.flags...))
			if d := diffObjects(tc.kustomize(t), got, "kustomize", "chart"); d != "" {
				t.Errorf("the chart (%s) and kustomize render different objects:\n%s", strings.Join(tc.flags, " "), d)
			}
		})
	}
}
