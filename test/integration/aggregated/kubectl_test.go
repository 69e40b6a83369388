package aggregated

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// kubectl runs the real kubectl (built from the pinned Kubernetes release)
// as the cluster admin, through kube-apiserver.
func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := env.Cluster.Kubectl(ctx, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestKubectlGetShowsColumns(t *testing.T) {
	out := mustKubectl(t, "", "get", "clustersummaries")
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	for _, col := range []string{"NAME", "NODES", "RUNNING", "PENDING", "CPU", "MEM", "DEGRADED", "AGE"} {
		if !strings.Contains(strings.Join(header, " "), col) {
			t.Errorf("header %v lacks %s", header, col)
		}
	}
	if !strings.Contains(out, "\ncluster ") {
		t.Errorf("kubectl get clustersummaries lacks the default summary:\n%s", out)
	}
	wide := mustKubectl(t, "", "get", "csum", "cluster", "-o", "wide")
	for _, col := range []string{"UNSCHEDULED", "RESTARTS", "CRASHLOOPING"} {
		if !strings.Contains(wide, col) {
			t.Errorf("-o wide lacks %s:\n%s", col, wide)
		}
	}
	if out := mustKubectl(t, "", "get", "clusterview", "-o", "name"); !strings.Contains(out, "clustersummary.clusterview.io/cluster") {
		t.Errorf("kubectl get clusterview (category) = %q", out)
	}
}

func TestKubectlExplain(t *testing.T) {
	out := mustKubectl(t, "", "explain", "clustersummary.spec")
	for _, want := range []string{"groupByNodeLabel", "nodeSelector", "namespaceSelector", "resources", "nvidia.com/gpu"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain clustersummary.spec lacks %q:\n%s", want, out)
		}
	}
}

func TestKubectlServerSideApplyWatchDelete(t *testing.T) {
	manifest := func(groupBy string) string {
		return `apiVersion: clusterview.io/v1beta1
kind: ClusterSummary
metadata:
  name: by-zone
spec:
  groupByNodeLabel: ` + groupBy + `
  nodeSelector:
    matchExpressions:
    - {key: node-role.kubernetes.io/control-plane, operator: DoesNotExist}
`
	}
	out := mustKubectl(t, manifest("topology.kubernetes.io/zone"), "apply", "--server-side", "--field-manager=platform", "-f", "-")
	if !strings.Contains(out, "serverside-applied") {
		t.Errorf("apply output = %q", out)
	}
	got, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(t.Context(), "by-zone", metav1.GetOptions{})
	if err != nil || got.Spec.GroupByNodeLabel != "topology.kubernetes.io/zone" {
		t.Fatalf("after apply: %v, %+v", err, got.Spec)
	}

	// Strict validation rejects a field the schema does not know.
	bad := strings.Replace(manifest("zone"), "groupByNodeLabel", "groupByNodeLabell", 1)
	if out, err := kubectl(t, bad, "apply", "--server-side", "--validate=strict", "-f", "-"); err == nil || !strings.Contains(out, "groupByNodeLabell") {
		t.Errorf("strict apply of an unknown field: err=%v out=%q", err, out)
	}
	// A clear 422 with the field path for invalid input.
	if out, err := kubectl(t, manifest("not/a/label"), "apply", "--server-side", "--field-manager=platform", "-f", "-"); err == nil || !strings.Contains(out, "spec.groupByNodeLabel") {
		t.Errorf("apply of an invalid label key: err=%v out=%q", err, out)
	}

	// kubectl get -w sees a change made by someone else.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	watchCmd := env.Cluster.Kubectl(ctx, "get", "clustersummary", "by-zone", "--watch", "--output-watch-events",
		"-o", "custom-columns=EVENT:.type,GROUP:.object.spec.groupByNodeLabel", "--no-headers")
	lines := startLines(t, watchCmd)
	// The first event replays the current state: wait for it so the change
	// below is not raced by the initial list.
	waitLine(t, lines, "topology.kubernetes.io/zone")
	mustKubectl(t, manifest("kubernetes.io/hostname"), "apply", "--server-side", "--field-manager=platform", "-f", "-")
	waitLine(t, lines, "MODIFIED")
	cancel()

	if out := mustKubectl(t, "", "delete", "clustersummary", "by-zone"); !strings.Contains(out, "deleted") {
		t.Errorf("delete output = %q", out)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := env.Client.ClusterviewV1beta1().ClusterSummaries().Get(ctx, "by-zone", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("by-zone still exists after kubectl delete: %v", err)
	}
}

// startLines starts cmd and streams its output lines.
func startLines(t *testing.T, cmd *exec.Cmd) <-chan string {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
	}()
	return lines
}

// waitLine reads lines until one contains want, failing after 30s.
func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before a line with %q; saw %q", want, seen)
			}
			seen = append(seen, line)
			if strings.Contains(line, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no line with %q within 30s; saw %q", want, seen)
		}
	}
}
