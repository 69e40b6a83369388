package clusterfill

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func TestPodAggregate(t *testing.T) {
	for _, tc := range []struct {
		shape            string
		requests, limits []string
	}{
		// max(web 250m/256Mi + proxy 100m/64Mi, migrate 200m/512Mi + proxy):
		// the app side wins for cpu, the init container for memory.
		{"web", []string{"cpu", "350m", "memory", "576Mi"}, []string{"cpu", "700m", "memory", "640Mi"}},
		// No limits, so no overhead is added to them.
		{"api", []string{"cpu", "500m", "memory", "1Gi"}, nil},
		// Overhead on top of both.
		{"frontend", []string{"cpu", "350m", "memory", "288Mi"}, []string{"cpu", "450m", "memory", "416Mi"}},
		{"train-2", []string{"cpu", "4", "memory", "16Gi", "nvidia.com/gpu", "2"}, []string{"cpu", "8", "memory", "32Gi", "nvidia.com/gpu", "2"}},
	} {
		spec := demoShape(tc.shape)
		if got, want := podAggregate(&spec, false), resourceList(tc.requests...); !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("%s requests = %v, want %v", tc.shape, got, want)
		}
		if got, want := podAggregate(&spec, true), resourceList(tc.limits...); !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("%s limits = %v, want %v", tc.shape, got, want)
		}
	}
}

func TestPodStatusStates(t *testing.T) {
	for _, state := range []podState{stateRunning, stateNotReady, stateCrashLoop, stateUnscheduled, stateCreating,
		stateInitializing, stateSucceeded, stateOOMKilled, stateError, stateDeadline, stateUnknown} {
		pod := &corev1.Pod{Spec: demoShape("web")}
		if state != stateUnscheduled {
			pod.Spec.NodeName = "n"
		}
		st := podStatus(pod, state, 2, 1)
		if st.Phase != state.phase() {
			t.Errorf("state %d: phase %s, want %s", state, st.Phase, state.phase())
		}
		if state == stateUnscheduled {
			if len(st.ContainerStatuses) != 0 || st.Conditions[0].Type != corev1.PodScheduled {
				t.Errorf("unscheduled status %+v", st)
			}
			continue
		}
		if len(st.ContainerStatuses) != 1 || len(st.InitContainerStatuses) != 2 {
			t.Fatalf("state %d: %d container and %d init container statuses", state, len(st.ContainerStatuses), len(st.InitContainerStatuses))
		}
		app := st.ContainerStatuses[0]
		// Containers still being created have no restarts to report.
		if state != stateCreating && (app.RestartCount != 2 || st.InitContainerStatuses[0].RestartCount != 1) {
			t.Errorf("state %d: restarts %d and %d", state, app.RestartCount, st.InitContainerStatuses[0].RestartCount)
		}
		for _, cs := range append(st.InitContainerStatuses, st.ContainerStatuses...) {
			n := 0
			for _, set := range []bool{cs.State.Waiting != nil, cs.State.Running != nil, cs.State.Terminated != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Errorf("state %d: container %s has %d states", state, cs.Name, n)
			}
		}
		ready := false
		for _, c := range st.Conditions {
			if c.Type == corev1.PodReady {
				ready = c.Status == corev1.ConditionTrue
			}
		}
		if ready != state.ready() || app.Ready != state.ready() {
			t.Errorf("state %d: Ready condition %v, container ready %v", state, ready, app.Ready)
		}
		if crash := app.State.Waiting != nil && app.State.Waiting.Reason == "CrashLoopBackOff"; crash != (state == stateCrashLoop) {
			t.Errorf("state %d: crash looping %v", state, crash)
		}
	}
}
