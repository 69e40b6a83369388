package history

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterview/clusterview/internal/localcluster"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// kubectlPlugin builds cmd/kubectl-clusterview into a directory of its own
// and returns a function running the real kubectl with that directory first
// on PATH, as the admin (through --kubeconfig, a flag the plugin takes from
// k8s.io/cli-runtime), so that `kubectl clusterview` finds the plugin the
// way a user's kubectl does.
func kubectlPlugin(t *testing.T) func(ctx context.Context, args ...string) (string, error) {
	t.Helper()
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	if _, err := framework.GoBuild(t.Context(), root, "./cmd/kubectl-clusterview", filepath.Join(binDir, "kubectl-clusterview")); err != nil {
		t.Fatal(err)
	}
	cmdEnv := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "PATH=")
	})
	cmdEnv = append(cmdEnv, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func(ctx context.Context, args ...string) (string, error) {
		args = append(append([]string{"clusterview"}, args...), "--kubeconfig", env.Cluster.AdminKubeconfig())
		cmd := exec.CommandContext(ctx, env.Cluster.KubectlPath(), args...)
		cmd.Env = cmdEnv
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return string(out), err
	}
}

// historyLine matches a figure's line of `kubectl clusterview history`.
var historyLine = regexp.MustCompile(`^(\S+)  (.*)  min +(\S+)  max +(\S+)  now +(\S+) (\S+)$`)

// TestPluginDrawsRecordedHistory runs the built plugin through the real
// kubectl against kube-apiserver: its sparkline, minimum, maximum and
// current value are those of the history the server recorded, read for
// the same fixed window through the clientset, and -o json is that history.
func TestPluginDrawsRecordedHistory(t *testing.T) {
	ctx := t.Context()
	const name = "history-plugin"
	createSummary(t, name)
	churnPods(t, "plugin")
	kubectl := kubectlPlugin(t)
	points := waitPoints(t, name, "pods.total", 8, 60*time.Second)

	// A window that is already recorded, so that the plugin and the
	// clientset read the same samples.
	until := points[len(points)-1].Time.Add(resolution)
	since := until.Add(-8 * resolution)
	opts := v1beta1.ClusterSummaryHistoryOptions{
		Since: since.UTC().Format(time.RFC3339), Until: until.UTC().Format(time.RFC3339), Step: resolution.String(),
		Fields: []string{"pods.total", "nodes.total"},
	}
	want := getHistory(t, name, opts)
	recorded := seriesOf(want, "pods.total")
	if len(recorded) < 6 {
		t.Fatalf("the window %s to %s holds only %d samples of pods.total", opts.Since, opts.Until, len(recorded))
	}
	lo, hi := recorded[0].Min.Value(), recorded[0].Max.Value()
	for _, p := range recorded {
		lo, hi = min(lo, p.Min.Value()), max(hi, p.Max.Value())
	}
	if lo == hi {
		t.Fatalf("pods.total did not move in the window (%d): the pods keep coming, so the recording is stuck", lo)
	}

	args := []string{"history", name, "--since", opts.Since, "--until", opts.Until, "--step", opts.Step, "--fields", strings.Join(opts.Fields, ",")}
	out, err := kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl clusterview %s:\n%s", strings.Join(args, " "), out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if header := fmt.Sprintf("%s: %s to %s, step %s (Raw)", name, opts.Since, opts.Until, resolution); lines[0] != header {
		t.Errorf("header %q, want %q", lines[0], header)
	}
	var drawn bool
	for _, line := range lines[1:] {
		m := historyLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %q is not a figure's line", line)
			continue
		}
		if m[1] != "pods.total" {
			continue
		}
		drawn = true
		last := recorded[len(recorded)-1].Mean.Value()
		if got, want := m[3]+" "+m[4]+" "+m[5]+" "+m[6], fmt.Sprintf("%d %d %d pods", lo, hi, last); got != want {
			t.Errorf("pods.total: min max now unit = %q, recorded %q", got, want)
		}
		// The count grew: the sparkline shows more than one level, and one
		// cell per sample at least (the window is 8 samples wide).
		levels := map[rune]bool{}
		cells := 0
		for _, r := range m[2] {
			if r != ' ' {
				levels[r] = true
				cells++
			}
		}
		if len(levels) < 2 || cells < len(recorded) {
			t.Errorf("pods.total's sparkline %q has %d levels in %d cells; the %d samples range from %d to %d", m[2], len(levels), cells, len(recorded), lo, hi)
		}
	}
	if !drawn {
		t.Errorf("no pods.total line in:\n%s", out)
	}

	// -o json prints the ClusterSummaryHistory itself.
	out, err = kubectl(ctx, append(args, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var got v1beta1.ClusterSummaryHistory
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("-o json is not a ClusterSummaryHistory: %v\n%s", err, out)
	}
	if got.Kind != "ClusterSummaryHistory" || got.UID != want.UID || len(seriesOf(&got, "pods.total")) != len(recorded) {
		t.Errorf("-o json: kind %q, uid %s, %d points of pods.total; want ClusterSummaryHistory of %s with %d", got.Kind, got.UID, len(seriesOf(&got, "pods.total")), want.UID, len(recorded))
	}
}

// TestPluginTopShowsLiveNamespaces runs `kubectl clusterview top
// namespaces -n` through the real kubectl: the namespace's row shows the
// requests of the pods created in it.
func TestPluginTopShowsLiveNamespaces(t *testing.T) {
	ctx := t.Context()
	kube := kubernetes.NewForConfigOrDie(env.Admin)
	const ns = "plugin-top"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	for i := range 3 {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("150m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
		}
		if _, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kubectl := kubectlPlugin(t)
	// The header, then the namespace: 0.45 cores and 192Mi requested by 3
	// pods. The summary is live: poll until the informers have seen them.
	row := regexp.MustCompile(`^plugin-top +\[[░·]+\] +0\.45 +\S+ +- +- +\[[░·]+\] +192\.0Mi +\S+ +- +- +3$`)
	var out string
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		out, err = kubectl(ctx, "top", "namespaces", "-n", ns, "--sort-by", "cpu-idle")
		if err != nil {
			return false, err
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		return len(lines) == 2 && strings.HasPrefix(lines[0], "NAMESPACE ") && row.MatchString(lines[1]), nil
	})
	if err != nil {
		t.Fatalf("kubectl clusterview top namespaces -n %s: %v; last output:\n%s", ns, err, out)
	}
	t.Logf("kubectl clusterview top namespaces -n %s:\n%s", ns, out)
}
