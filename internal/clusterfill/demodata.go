package clusterfill

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// The demo cluster, as data. Everything Demo writes and DescribeDemo reports
// derives from these tables; change them and both follow.

// DemoRuntimeClass is the RuntimeClass whose overhead the demo's frontend
// pods carry: the RuntimeClass admission plugin rejects a pod with
// spec.overhead unless its RuntimeClass defines the same overhead.
const DemoRuntimeClass = "demo-kata"

// demoOverhead is DemoRuntimeClass's pod overhead.
var demoOverhead = []string{"cpu", "250m", "memory", "160Mi"}

type demoNamespace struct {
	name   string
	labels map[string]string
}

var demoNamespaces = []demoNamespace{
	{"team-a", map[string]string{"team": "a", "tier": "prod"}},
	{"team-b", map[string]string{"team": "b", "tier": "staging"}},
	{"monitoring", map[string]string{"team": "platform", "tier": "prod"}},
	{"batch", map[string]string{"team": "data", "tier": "batch"}},
}

type demoNodeDef struct {
	name, zone, role string
	cpu, memory      string
	gpus             int64
	health           nodeHealth
	cordoned         bool
}

var demoNodeDefs = []demoNodeDef{
	{"demo-a-1", "zone-a", "control-plane", "4", "16Gi", 0, healthReady, false},
	{"demo-a-2", "zone-a", "worker", "8", "32Gi", 0, healthReady, false},
	{"demo-a-3", "zone-a", "worker", "8", "32Gi", 0, healthReady, true},
	{"demo-b-1", "zone-b", "worker", "16", "64Gi", 0, healthReady, false},
	{"demo-b-2", "zone-b", "worker", "8", "32Gi", 0, healthMemoryPressure, false},
	{"demo-b-3", "zone-b", "worker", "8", "32Gi", 0, healthNotReady, false},
	{"demo-c-1", "zone-c", "gpu", "32", "128Gi", 4, healthReady, false},
	{"demo-c-2", "zone-c", "gpu", "16", "64Gi", 2, healthReady, false},
	{"demo-c-3", "zone-c", "worker", "8", "32Gi", 0, healthUnknown, false},
}

func (n demoNodeDef) spec() nodeSpec {
	instance := "demo.standard-" + n.cpu
	if n.gpus > 0 {
		instance = "demo.gpu-" + n.cpu
	}
	labels := map[string]string{
		DemoLabel:                  "true",
		labelHostname:              n.name,
		labelOS:                    "linux",
		labelArch:                  "amd64",
		labelZone:                  n.zone,
		labelRegion:                "demo-1",
		labelInstanceType:          instance,
		labelRolePrefix + n.role:   "",
		"clusterview.io/node-pool": n.role,
	}
	if n.gpus > 0 {
		labels[labelGPUPresent] = "true"
	}
	return nodeSpec{
		name: n.name, labels: labels,
		cpu: n.cpu, memory: n.memory, storage: "100Gi", pods: 110, gpus: n.gpus,
		health: n.health, cordoned: n.cordoned, controlPlane: n.role == "control-plane",
		simulatedKubelet: n.hasMetrics(),
	}
}

// hasMetrics reports whether the node's kubelet answers, and so has resource
// metrics in the local cluster: not on a node whose kubelet stopped posting
// status (NotReady or Unknown).
func (n demoNodeDef) hasMetrics() bool {
	return n.health == healthReady || n.health == healthMemoryPressure
}

// demoUsage is what each container of a running demo pod uses, cpu and
// memory, keyed by namespace/name; the simulated kubelets report it. The
// shapes: team-a requests far more than it uses, prometheus-0 and
// train-resnet-0 use more than they request, and train-resnet-0 runs its
// node, demo-c-1, hot.
var demoUsage = map[string][2]string{
	"team-a/web-7f9c6d5b8-2kq4x":         {"25m", "80Mi"},
	"team-a/web-7f9c6d5b8-9tz7m":         {"30m", "90Mi"},
	"team-a/api-5c8d7b9f4-4wzjp":         {"35m", "150Mi"},
	"team-b/frontend-6d9f8c7b5-mxw2k":    {"150m", "180Mi"},
	"team-b/frontend-6d9f8c7b5-tn8vp":    {"120m", "170Mi"},
	"team-b/cache-0":                     {"90m", "260Mi"},
	"team-b/cache-1":                     {"110m", "280Mi"},
	"monitoring/prometheus-0":            {"400m", "1500Mi"},
	"monitoring/grafana-7b6f5d4c9-z8k2d": {"50m", "180Mi"},
	"batch/train-resnet-0":               {"26", "90Gi"},
}

// nodeExporterUsage is what each running node-exporter pod uses.
var nodeExporterUsage = [2]string{"15m", "35Mi"}

// usage returns the annotations that make the simulated kubelets report
// the pod's usage: only a running pod on a node with metrics uses anything.
func (p demoPod) usage() map[string]string {
	if p.state != stateRunning {
		return nil
	}
	node := slices.IndexFunc(demoNodeDefs, func(n demoNodeDef) bool { return n.name == p.node })
	if node < 0 || !demoNodeDefs[node].hasMetrics() {
		return nil
	}
	u, ok := demoUsage[p.namespace+"/"+p.name]
	if !ok && p.app == "node-exporter" {
		u, ok = nodeExporterUsage, true
	}
	if !ok {
		return nil
	}
	return map[string]string{localcluster.UsageCPUAnnotation: u[0], localcluster.UsageMemoryAnnotation: u[1]}
}

// demoShapes are the pod specs (without nodeName) of the demo's apps; the
// workloads' templates use the same specs.
func demoShape(name string) corev1.PodSpec {
	switch name {
	case "web":
		// A sidecar (restartable init container) declared before a regular
		// init container that needs more memory than the app: the pod's
		// memory request is the init container's plus the sidecar's.
		return corev1.PodSpec{
			InitContainers: []corev1.Container{
				sidecar("proxy", "proxy:1.9.0", []string{"cpu", "100m", "memory", "64Mi"}, []string{"cpu", "200m", "memory", "128Mi"}),
				container("migrate", "web:1.4.2", []string{"cpu", "200m", "memory", "512Mi"}, []string{"cpu", "200m", "memory", "512Mi"}),
			},
			Containers: []corev1.Container{
				container("web", "web:1.4.2", []string{"cpu", "250m", "memory", "256Mi"}, []string{"cpu", "500m", "memory", "512Mi"}),
			},
		}
	case "api":
		// No limits at all.
		return corev1.PodSpec{Containers: []corev1.Container{
			container("api", "api:2.3.1", []string{"cpu", "500m", "memory", "1Gi"}, nil),
		}}
	case "frontend":
		return corev1.PodSpec{
			RuntimeClassName: ptr.To(DemoRuntimeClass),
			Overhead:         resourceList(demoOverhead...),
			Containers: []corev1.Container{
				container("frontend", "frontend:3.0.0", []string{"cpu", "100m", "memory", "128Mi"}, []string{"cpu", "200m", "memory", "256Mi"}),
			},
		}
	case "cache":
		return corev1.PodSpec{Containers: []corev1.Container{
			container("redis", "redis:7.4", []string{"cpu", "250m", "memory", "512Mi"}, []string{"cpu", "500m", "memory", "1Gi"}),
			container("exporter", "redis-exporter:1.62", []string{"cpu", "50m", "memory", "32Mi"}, []string{"cpu", "100m", "memory", "64Mi"}),
		}}
	case "node-exporter":
		return corev1.PodSpec{
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{
				container("node-exporter", "node-exporter:1.8.2", []string{"cpu", "100m", "memory", "64Mi"}, []string{"cpu", "200m", "memory", "128Mi"}),
			},
		}
	case "prometheus":
		// A CPU limit but no memory limit: unbounded memory.
		return corev1.PodSpec{Containers: []corev1.Container{
			container("prometheus", "prometheus:3.1.0", []string{"cpu", "500m", "memory", "2Gi"}, []string{"cpu", "1"}),
			container("config-reloader", "config-reloader:0.79", []string{"cpu", "10m", "memory", "16Mi"}, []string{"cpu", "50m", "memory", "32Mi"}),
		}}
	case "grafana":
		return corev1.PodSpec{Containers: []corev1.Container{
			container("grafana", "grafana:11.0.0", []string{"cpu", "100m", "memory", "256Mi"}, []string{"cpu", "500m", "memory", "512Mi"}),
		}}
	case "etl":
		return corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			InitContainers: []corev1.Container{
				container("fetch", "etl:0.9.3", []string{"cpu", "100m", "memory", "128Mi"}, []string{"cpu", "100m", "memory", "128Mi"}),
			},
			Containers: []corev1.Container{
				container("etl", "etl:0.9.3", []string{"cpu", "1", "memory", "2Gi"}, []string{"cpu", "2", "memory", "4Gi"}),
			},
		}
	case "cleanup":
		return corev1.PodSpec{
			RestartPolicy:         corev1.RestartPolicyNever,
			ActiveDeadlineSeconds: ptr.To[int64](600),
			Containers: []corev1.Container{
				container("cleanup", "cleanup:1.0.0", []string{"cpu", "100m", "memory", "64Mi"}, []string{"cpu", "200m", "memory", "128Mi"}),
			},
		}
	case "train-1", "train-2", "train-4":
		gpus := name[len("train-"):]
		return corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyOnFailure,
			InitContainers: []corev1.Container{
				container("download", "trainer:5.2.0", []string{"cpu", "500m", "memory", "1Gi"}, []string{"cpu", "1", "memory", "2Gi"}),
			},
			Containers: []corev1.Container{
				container("trainer", "trainer:5.2.0",
					[]string{"cpu", "4", "memory", "16Gi", string(ResourceGPU), gpus},
					[]string{"cpu", "8", "memory", "32Gi", string(ResourceGPU), gpus}),
			},
		}
	}
	panic(fmt.Sprintf("unknown demo shape %q", name))
}

type demoPod struct {
	namespace, name string
	app, shape      string
	node            string // empty: unscheduled
	state           podState
	// restarts go to the first app container, sidecarRestarts to sidecars.
	restarts, sidecarRestarts int32
}

func demoPods() []demoPod {
	pods := []demoPod{
		{"team-a", "web-7f9c6d5b8-2kq4x", "web", "web", "demo-a-2", stateRunning, 0, 1},
		{"team-a", "web-7f9c6d5b8-9tz7m", "web", "web", "demo-b-1", stateRunning, 1, 0},
		{"team-a", "web-7f9c6d5b8-hx5rn", "web", "web", "demo-c-3", stateUnknown, 0, 0},
		{"team-a", "api-5c8d7b9f4-4wzjp", "api", "api", "demo-a-2", stateRunning, 2, 0},
		{"team-a", "api-5c8d7b9f4-b7nqs", "api", "api", "demo-b-2", stateCrashLoop, 7, 0},
		{"team-a", "api-5c8d7b9f4-qr2lv", "api", "api", "", stateUnscheduled, 0, 0},

		{"team-b", "frontend-6d9f8c7b5-mxw2k", "frontend", "frontend", "demo-b-1", stateRunning, 0, 0},
		{"team-b", "frontend-6d9f8c7b5-tn8vp", "frontend", "frontend", "demo-c-1", stateRunning, 0, 0},
		{"team-b", "cache-0", "cache", "cache", "demo-a-2", stateRunning, 0, 0},
		{"team-b", "cache-1", "cache", "cache", "demo-b-1", stateRunning, 3, 0},
		{"team-b", "cache-2", "cache", "cache", "demo-c-2", stateCreating, 0, 0},

		{"monitoring", "prometheus-0", "prometheus", "prometheus", "demo-b-1", stateRunning, 0, 0},
		{"monitoring", "grafana-7b6f5d4c9-z8k2d", "grafana", "grafana", "demo-c-2", stateRunning, 0, 0},

		{"batch", "etl-29301120-8x2kd", "etl", "etl", "demo-a-2", stateSucceeded, 0, 0},
		{"batch", "etl-29302560-p4m7q", "etl", "etl", "demo-b-1", stateSucceeded, 0, 0},
		{"batch", "etl-29304000-w9c3v", "etl", "etl", "demo-b-2", stateOOMKilled, 0, 0},
		{"batch", "cleanup-29304060-xk2p9", "cleanup", "cleanup", "demo-a-3", stateDeadline, 0, 0},
		{"batch", "train-resnet-0", "train", "train-2", "demo-c-1", stateRunning, 0, 0},
		{"batch", "train-bert-0", "train", "train-4", "", stateUnscheduled, 0, 0},
		{"batch", "train-vit-0", "train", "train-1", "demo-c-2", stateInitializing, 0, 0},
	}
	// The node-exporter DaemonSet has a pod on every node, in the state its
	// node allows.
	for _, n := range demoNodeDefs {
		state := stateRunning
		switch n.health {
		case healthNotReady:
			state = stateNotReady
		case healthUnknown:
			state = stateUnknown
		}
		pods = append(pods, demoPod{"monitoring", "node-exporter-" + n.name[len("demo-"):], "node-exporter", "node-exporter", n.name, state, 0, 0})
	}
	return pods
}

type demoWorkload struct {
	kind            string // "Deployment", "StatefulSet" or "DaemonSet"
	namespace, name string
	app, shape      string
	replicas        int32 // Deployments and StatefulSets
	// rolloutImage, if set, is the first container's image in the desired
	// template; the workload is created with the shape's image and then
	// updated, so that metadata.generation (2) is ahead of the
	// status.observedGeneration (1) written: a rollout the controller has
	// not yet seen, which makes the workload not ready.
	rolloutImage string
}

var demoWorkloads = []demoWorkload{
	{"Deployment", "team-a", "web", "web", "web", 3, ""},
	{"Deployment", "team-a", "api", "api", "api", 3, ""},
	{"Deployment", "team-b", "frontend", "frontend", "frontend", 2, ""},
	{"StatefulSet", "team-b", "cache", "cache", "cache", 3, ""},
	{"DaemonSet", "monitoring", "node-exporter", "node-exporter", "node-exporter", 0, ""},
	{"StatefulSet", "monitoring", "prometheus", "prometheus", "prometheus", 1, ""},
	{"Deployment", "monitoring", "grafana", "grafana", "grafana", 1, imageRegistry + "grafana:11.1.0"},
}

type demoQuota struct {
	namespace, name string
	hard            []string
}

// demoQuotas leave room for every demo pod to be created again, so that
// Demo can repair a deleted pod although quota admission checks the new pod
// against status.used.
var demoQuotas = []demoQuota{
	{"team-a", "compute", []string{"pods", "20", "requests.cpu", "8", "requests.memory", "16Gi"}},
	{"team-b", "compute", []string{"pods", "10", "requests.cpu", "4", "requests.memory", "8Gi", "limits.cpu", "8", "limits.memory", "16Gi"}},
	{"batch", "gpu", []string{"pods", "10", "requests.cpu", "32", "requests.memory", "128Gi", "requests." + string(ResourceGPU), "12"}},
}

// workloadPods are the demo pods a workload owns.
func (w demoWorkload) pods(all []demoPod) []demoPod {
	var out []demoPod
	for _, p := range all {
		if p.namespace == w.namespace && p.app == w.app {
			out = append(out, p)
		}
	}
	return out
}

// workloadReady reports whether clusterview counts w as ready (see
// pkg/summary): observedGeneration >= generation and enough ready replicas.
func (w demoWorkload) ready(all []demoPod) bool {
	pods := w.pods(all)
	ready := 0
	for _, p := range pods {
		if p.state.ready() {
			ready++
		}
	}
	if w.rolloutImage != "" {
		return false
	}
	if w.kind == "DaemonSet" {
		return ready >= len(pods)
	}
	return ready >= int(w.replicas)
}

// quotaPods returns stand-ins for the demo pods of a namespace, with the
// phase their status will have, for quotaUsed.
func quotaPods(namespace string, all []demoPod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range all {
		if p.namespace != namespace {
			continue
		}
		out = append(out, &corev1.Pod{Spec: demoShape(p.shape), Status: corev1.PodStatus{Phase: p.state.phase()}})
	}
	return out
}
