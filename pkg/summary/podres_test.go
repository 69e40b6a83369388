package summary

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

// podRes3 is a pod's figures for one resource as the tests state them.
type podRes3 struct {
	req, lim  int64
	unbounded bool
}

// computed returns what the engine counts of a pod, by resource name.
func computed(e *Engine, pod *v1.Pod) map[v1.ResourceName]podRes3 {
	u := PodUsageOf(pod)
	rec := e.podRecord(&u, nil)
	out := map[v1.ResourceName]podRes3{}
	for _, r := range rec.resources() {
		out[e.res.names[r.id]] = podRes3{req: r.requests, lim: r.limits}
	}
	// Names no node advertises are kept aside (resnames.go), amounts intact.
	for _, u := range rec.untracked() {
		out[u.Name] = podRes3{req: u.Requests, lim: u.Limits}
	}
	for id := resID(0); id < 8; id++ {
		if rec.noLimit()&(1<<id) != 0 {
			v := out[e.res.names[id]]
			v.unbounded = true
			out[e.res.names[id]] = v
		}
	}
	return out
}

const (
	mi = 1 << 20
	gi = 1 << 30
)

func TestPodResources(t *testing.T) {
	// eph is the usual "no container limits ephemeral-storage" entry.
	eph := podRes3{unbounded: true}
	cases := []struct {
		name string
		pod  *v1.Pod
		want map[v1.ResourceName]podRes3
	}{{
		name: "one container, units: CPU in millicores, memory in bytes",
		pod: mkPod("ns", "p", withContainers(
			ctr("a", rl("cpu", "100m", "memory", "128Mi"), rl("cpu", "1", "memory", "256Mi")))),
		want: map[v1.ResourceName]podRes3{"cpu": {100, 1000, false}, "memory": {128 * mi, 256 * mi, false}, "ephemeral-storage": eph},
	}, {
		name: "app containers add up; one without a cpu limit makes the pod's cpu limit unbounded",
		pod: mkPod("ns", "p", withContainers(
			ctr("a", rl("cpu", "100m", "memory", "100Mi"), rl("cpu", "200m", "memory", "200Mi")),
			ctr("b", rl("cpu", "200m", "memory", "50Mi"), rl("memory", "60Mi")))),
		want: map[v1.ResourceName]podRes3{"cpu": {300, 0, true}, "memory": {150 * mi, 260 * mi, false}, "ephemeral-storage": eph},
	}, {
		name: "no resources at all: nothing requested, every tracked limit unbounded",
		pod:  mkPod("ns", "p"),
		want: map[v1.ResourceName]podRes3{"cpu": {0, 0, true}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "a regular init container larger than the app sum sets the pod value",
		pod: mkPod("ns", "p",
			withInit(ctr("i", rl("cpu", "500m"), rl("cpu", "500m"))),
			withContainers(ctr("a", rl("cpu", "100m"), rl("cpu", "100m")), ctr("b", rl("cpu", "200m"), rl("cpu", "200m")))),
		want: map[v1.ResourceName]podRes3{"cpu": {500, 500, false}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "a smaller init container does not",
		pod: mkPod("ns", "p",
			withInit(ctr("i", rl("cpu", "100m"), rl("cpu", "100m"))),
			withContainers(ctr("a", rl("cpu", "300m"), rl("cpu", "400m")))),
		want: map[v1.ResourceName]podRes3{"cpu": {300, 400, false}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "sidecar before an init container: the init container runs next to it (100m+300m > 250m)",
		pod: mkPod("ns", "p",
			withInit(sidecar("s", rl("cpu", "100m"), rl("cpu", "100m")), ctr("i", rl("cpu", "300m"), rl("cpu", "300m"))),
			withContainers(ctr("a", rl("cpu", "150m"), rl("cpu", "150m")))),
		want: map[v1.ResourceName]podRes3{"cpu": {400, 400, false}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "sidecar after the init container: only the app sum includes it",
		pod: mkPod("ns", "p",
			withInit(ctr("i", rl("cpu", "300m"), rl("cpu", "300m")), sidecar("s", rl("cpu", "100m"), rl("cpu", "100m"))),
			withContainers(ctr("a", rl("cpu", "150m"), rl("cpu", "150m")))),
		want: map[v1.ResourceName]podRes3{"cpu": {300, 300, false}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "two sidecars then an init container; sidecars add to the app sum",
		pod: mkPod("ns", "p",
			withInit(
				sidecar("s1", rl("cpu", "100m", "memory", "100Mi"), rl("cpu", "100m", "memory", "100Mi")),
				sidecar("s2", rl("cpu", "50m", "memory", "10Mi"), rl("cpu", "50m", "memory", "10Mi")),
				ctr("i", rl("cpu", "200m", "memory", "10Mi"), rl("cpu", "200m", "memory", "10Mi"))),
			withContainers(ctr("a", rl("cpu", "100m", "memory", "200Mi"), rl("cpu", "100m", "memory", "200Mi")))),
		// cpu: max(100+50+100, 200+150) = 350; memory: max(100+10+200, 10+110) = 310Mi.
		want: map[v1.ResourceName]podRes3{"cpu": {350, 350, false}, "memory": {310 * mi, 310 * mi, false}, "ephemeral-storage": eph},
	}, {
		name: "an init container without a limit makes the pod unbounded even if app containers have limits",
		pod: mkPod("ns", "p",
			withInit(ctr("i", rl("memory", "10Mi"), nil)),
			withContainers(ctr("a", rl("cpu", "100m", "memory", "20Mi"), rl("cpu", "100m", "memory", "20Mi")))),
		want: map[v1.ResourceName]podRes3{"cpu": {100, 0, true}, "memory": {20 * mi, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "overhead adds to requests and to non-zero limits",
		pod: mkPod("ns", "p",
			withOverhead(rl("cpu", "50m", "memory", "10Mi")),
			withContainers(ctr("a", rl("cpu", "100m", "memory", "128Mi"), rl("cpu", "200m", "memory", "256Mi")))),
		want: map[v1.ResourceName]podRes3{"cpu": {150, 250, false}, "memory": {138 * mi, 266 * mi, false}, "ephemeral-storage": eph},
	}, {
		name: "overhead on an unbounded limit leaves it unbounded",
		pod: mkPod("ns", "p",
			withOverhead(rl("cpu", "50m")),
			withContainers(ctr("a", rl("cpu", "100m"), nil))),
		want: map[v1.ResourceName]podRes3{"cpu": {150, 0, true}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "pod-level resources replace the container aggregate and bound the limit",
		pod: mkPod("ns", "p",
			withPodLevel(rl("cpu", "1", "memory", "1Gi"), rl("cpu", "2")),
			withContainers(ctr("a", rl("cpu", "100m", "memory", "100Mi"), nil), ctr("b", rl("cpu", "100m"), nil))),
		want: map[v1.ResourceName]podRes3{"cpu": {1000, 2000, false}, "memory": {gi, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "pod-level resources ignore unsupported names such as ephemeral-storage",
		pod: mkPod("ns", "p",
			withPodLevel(rl("ephemeral-storage", "1Gi"), rl("ephemeral-storage", "2Gi")),
			withContainers(ctr("a", rl("ephemeral-storage", "1Mi"), rl("ephemeral-storage", "3Mi")))),
		want: map[v1.ResourceName]podRes3{"cpu": {0, 0, true}, "memory": {0, 0, true}, "ephemeral-storage": {mi, 3 * mi, false}},
	}, {
		name: "an extended resource used by one container only is bounded: the others use none",
		pod: mkPod("ns", "p", withContainers(
			ctr("gpu", rl("nvidia.com/gpu", "2"), rl("nvidia.com/gpu", "2")),
			ctr("side", nil, nil))),
		want: map[v1.ResourceName]podRes3{"nvidia.com/gpu": {2, 2, false}, "cpu": {0, 0, true}, "memory": {0, 0, true}, "ephemeral-storage": eph},
	}, {
		name: "a zero limit counts as no limit, as the kubelet treats it",
		pod:  mkPod("ns", "p", withContainers(ctr("a", rl("cpu", "0"), rl("cpu", "0", "memory", "1Gi")))),
		want: map[v1.ResourceName]podRes3{"cpu": {0, 0, true}, "memory": {0, gi, false}, "ephemeral-storage": eph},
	}, {
		name: "hugepages and ephemeral-storage in bytes; CPU rounds up to a millicore",
		pod: mkPod("ns", "p", withContainers(ctr("a",
			rl("cpu", "0.0001", "hugepages-2Mi", "4Mi", "ephemeral-storage", "1G"),
			rl("cpu", "1m", "memory", "1k", "hugepages-2Mi", "4Mi", "ephemeral-storage", "2G")))),
		want: map[v1.ResourceName]podRes3{"cpu": {1, 1, false}, "memory": {0, 1000, false}, "hugepages-2Mi": {4 * mi, 4 * mi, false},
			"ephemeral-storage": {1e9, 2e9, false}},
	}, {
		name: "succeeded pods hold nothing",
		pod:  mkPod("ns", "p", inPhase(v1.PodSucceeded), withContainers(ctr("a", rl("cpu", "1"), rl("cpu", "1")))),
		want: map[v1.ResourceName]podRes3{},
	}, {
		name: "failed pods hold nothing",
		pod:  mkPod("ns", "p", inPhase(v1.PodFailed), withContainers(ctr("a", rl("cpu", "1"), nil))),
		want: map[v1.ResourceName]podRes3{},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := New(Options{})
			got := computed(e, c.pod)
			if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(podRes3{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Computing twice gives the same answer: the scratch state is reset.
			if diff := cmp.Diff(got, computed(e, c.pod), cmp.AllowUnexported(podRes3{})); diff != "" {
				t.Errorf("second computation differs (-first +second):\n%s", diff)
			}
		})
	}
}
