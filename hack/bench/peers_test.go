package main

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// podListJSON is a pod list in kubectl get -o json's shape (items first,
// then kind and metadata), one pod per case the recount must get right.
const podListJSON = `{
  "apiVersion": "v1",
  "items": [
    {"metadata": {"name": "running-init", "namespace": "a"},
     "spec": {"nodeName": "n1",
       "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "500m", "memory": "32Mi"}}}],
       "containers": [
         {"name": "c1", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
         {"name": "c2", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}}]},
     "status": {"phase": "Running",
       "initContainerStatuses": [{"name": "init", "restartCount": 3}],
       "containerStatuses": [{"name": "c1", "restartCount": 2}, {"name": "c2", "restartCount": 1}]}},
    {"metadata": {"name": "pending-bound-pod-level", "namespace": "a"},
     "spec": {"nodeName": "n2",
       "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
       "overhead": {"cpu": "50m", "memory": "10Mi"},
       "initContainers": [{"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "20Mi"}}}],
       "containers": [{"name": "c", "resources": {"requests": {"cpu": "200m", "memory": "100Mi"}}}]},
     "status": {"phase": "Pending", "initContainerStatuses": [{"name": "sidecar", "restartCount": 4}]}},
    {"metadata": {"name": "unbound", "namespace": "b"},
     "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "300m", "memory": "1Gi"}}}]},
     "status": {"phase": "Pending"}},
    {"metadata": {"name": "succeeded", "namespace": "b"},
     "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": {"requests": {"cpu": "700m", "memory": "1Gi"}}}]},
     "status": {"phase": "Succeeded", "containerStatuses": [{"name": "c", "restartCount": 5}]}},
    {"metadata": {"name": "failed", "namespace": "b"},
     "spec": {"nodeName": "n3", "containers": [{"name": "c", "resources": {"requests": {"cpu": "400m"}}}]},
     "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "restartCount": 1}]}},
    {"metadata": {"name": "running-pod-level-memory", "namespace": "c"},
     "spec": {"nodeName": "n2",
       "resources": {"requests": {"memory": "256Mi"}},
       "containers": [{"name": "c", "resources": {"requests": {"cpu": "20m", "memory": "50Mi"}}}]},
     "status": {"phase": "Running"}}
  ],
  "kind": "List",
  "metadata": {"resourceVersion": ""}
}
`

func TestRecountPods(t *testing.T) {
	r, err := recountPods(strings.NewReader(podListJSON))
	if err != nil {
		t.Fatal(err)
	}
	const mi = 1 << 20
	want := recount{
		Pods: 6, Running: 2, Pending: 2, Succeeded: 1, Failed: 1,
		// Init and regular containers, finished and unbound pods alike:
		// 3+2+1, 4, 5, 1.
		Restarts: 16,
		// Only the pods bound and not finished (running-init,
		// pending-bound-pod-level, running-pod-level-memory). Scheduler
		// rule: max(100m+250m, 500m); the pod-level 1 CPU + 50m overhead;
		// 20m from the container, as the pod level sets memory only.
		CPUMilli: 500 + 1050 + 20,
		// 64Mi+128Mi; pod-level 1Gi + 10Mi overhead; pod-level 256Mi.
		MemBytes: (192 + 1034 + 256) * mi,
		// Container rule: the same first pod; 200m + 100m sidecar + 50m
		// overhead; 20m.
		CPUMilliContainerRule: 500 + 350 + 20,
		// 192Mi; 100Mi + 20Mi sidecar + 10Mi overhead; 50Mi.
		MemBytesContainerRule: (192 + 130 + 50) * mi,
		PodLevelResources:     2,
		Overhead:              1,
		// n1 and n2; n3 has only a failed pod.
		Nodes: 2,
	}
	if *r != want {
		t.Errorf("recountPods =\n%+v\nwant\n%+v", *r, want)
	}

	for name, bad := range map[string]string{
		"truncated":               podListJSON[:len(podListJSON)/2],
		"not JSON":                "signal: killed\n",
		"no items":                `{"kind": "List", "metadata": {}}`,
		"items not an array":      `{"items": {"metadata": {"name": "p"}}}`,
		"items twice":             `{"items": [], "items": []}`,
		"a pod of the wrong type": `{"items": [{"spec": {"nodeName": 5}}]}`,
		"an array, not a list":    `[{"metadata": {"name": "p"}}]`,
	} {
		if r, err := recountPods(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: recountPods accepted it: %+v", name, *r)
		}
	}
}

func TestKillReason(t *testing.T) {
	run := func(ctx context.Context, script string) error {
		return exec.CommandContext(ctx, "sh", "-c", script).Run()
	}
	ctx := context.Background()
	// Killed by a signal the bench did not send: the OOM killer's case.
	err := run(ctx, "kill -KILL $$")
	if got := killReason(ctx, err, commandTimeout, "123 MiB"); !strings.Contains(got, "not the bench's timeout") || !strings.Contains(got, "MemAvailable was 123 MiB") {
		t.Errorf("killed by SIGKILL: %q", got)
	}
	// Killed by exec.CommandContext when its deadline passed.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = run(short, "sleep 10")
	if got := killReason(short, err, 50*time.Millisecond, "123 MiB"); got != "killed by the bench's 50ms timeout" {
		t.Errorf("killed at the deadline: %q", got)
	}
	// An exit status is not a kill.
	err = run(ctx, "exit 3")
	if got := killReason(ctx, err, commandTimeout, "123 MiB"); got != "" {
		t.Errorf("exit 3: %q, want no kill reason", got)
	}
	wrapped := commandFailed(ctx, "sh", run(ctx, "kill -KILL $$"), commandTimeout, "123 MiB", "line 1\nline 2\n")
	if msg := wrapped.Error(); !strings.HasPrefix(msg, "sh: signal: killed (killed by a signal, not the bench's timeout") || !strings.HasSuffix(msg, ": line 1\nline 2") {
		t.Errorf("commandFailed = %q", msg)
	}
	var exitErr *exec.ExitError
	if !errors.As(wrapped, &exitErr) {
		t.Error("commandFailed does not wrap the command's error")
	}
	if got := memAvailable(); !strings.HasSuffix(got, " MiB") || strings.HasPrefix(got, "unknown") {
		t.Errorf("memAvailable = %q", got)
	}
}
