package clusterfill

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterview/clusterview/internal/localcluster"
)

// Well-known node labels and taints, spelled out where client-go has no
// constant.
const (
	labelHostname     = "kubernetes.io/hostname"
	labelOS           = "kubernetes.io/os"
	labelArch         = "kubernetes.io/arch"
	labelZone         = "topology.kubernetes.io/zone"
	labelRegion       = "topology.kubernetes.io/region"
	labelInstanceType = "node.kubernetes.io/instance-type"
	labelRolePrefix   = "node-role.kubernetes.io/"
	labelGPUPresent   = "nvidia.com/gpu.present"

	taintControlPlane = "node-role.kubernetes.io/control-plane"

	// ResourceGPU is the extended resource the demo's and Synthetic's GPU
	// nodes offer.
	ResourceGPU corev1.ResourceName = "nvidia.com/gpu"

	// Versions reported in node info and images; fixed so that runs compare
	// equal.
	kubeletVersion   = "v1.37.1"
	runtimeVersion   = "containerd://2.1.4"
	imageRegistry    = "registry.example/demo/"
	kernelVersion    = "6.12.0-demo"
	osImage          = "Demo Linux 1.0"
	terminationGrace = int64(30)
)

// nodeHealth is the condition set a node reports.
type nodeHealth int

const (
	healthReady          nodeHealth = iota
	healthMemoryPressure            // Ready, but under memory pressure
	healthDiskPressure              // Ready, but under disk pressure
	healthNotReady                  // Ready=False: the kubelet reports a problem
	healthUnknown                   // Ready=Unknown: the kubelet stopped posting status
)

// ready reports whether a node in this health has Ready=True.
func (h nodeHealth) ready() bool {
	return h == healthReady || h == healthMemoryPressure || h == healthDiskPressure
}

// nodeSpec describes one node to create.
type nodeSpec struct {
	name   string
	labels map[string]string
	// Capacity. Allocatable is derived: the kubelet reserves some of each.
	cpu, memory, storage string
	pods                 int64
	gpus                 int64
	health               nodeHealth
	cordoned             bool
	controlPlane         bool
	// simulatedKubelet marks the node as one whose kubelet kwok plays when
	// the local cluster runs its resource metrics pipeline, so that the node
	// and its pods with usage have resource metrics.
	simulatedKubelet bool
}

// buildNode returns the node as a kubelet would register it and the node
// lifecycle controller would taint it. now stamps the conditions.
func buildNode(s nodeSpec, now metav1.Time) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(s.cpu),
		corev1.ResourceMemory:           resource.MustParse(s.memory),
		corev1.ResourceEphemeralStorage: resource.MustParse(s.storage),
		corev1.ResourcePods:             *resource.NewQuantity(s.pods, resource.DecimalSI),
	}
	if s.gpus > 0 {
		capacity[ResourceGPU] = *resource.NewQuantity(s.gpus, resource.DecimalSI)
	}
	allocatable := capacity.DeepCopy()
	// Roughly what kubelet's system-reserved, kube-reserved and eviction
	// thresholds take away.
	reserve := func(name corev1.ResourceName, amount string) {
		q := allocatable[name]
		q.Sub(resource.MustParse(amount))
		allocatable[name] = q
	}
	reserve(corev1.ResourceCPU, "100m")
	reserve(corev1.ResourceMemory, "1Gi")
	reserve(corev1.ResourceEphemeralStorage, "10Gi")

	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Labels: s.labels},
		Spec: corev1.NodeSpec{
			Unschedulable: s.cordoned,
			Taints:        nodeTaints(s),
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: allocatable,
			Conditions:  nodeConditions(s.health, now),
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               shortHash(32, "machine", s.name),
				SystemUUID:              shortHash(32, "uuid", s.name),
				BootID:                  shortHash(32, "boot", s.name),
				KernelVersion:           kernelVersion,
				OSImage:                 osImage,
				ContainerRuntimeVersion: runtimeVersion,
				KubeletVersion:          kubeletVersion,
				OperatingSystem:         "linux",
				Architecture:            "amd64",
			},
		},
	}
	if s.simulatedKubelet {
		localcluster.SimulateKubelet(node)
	}
	return node
}

// nodeTaints are the taints the node lifecycle and TaintNodesByCondition
// controllers (and kubeadm, for the control plane) would leave on the node.
// TimeAdded stays unset so that runs compare equal.
func nodeTaints(s nodeSpec) []corev1.Taint {
	var taints []corev1.Taint
	if s.controlPlane {
		taints = append(taints, corev1.Taint{Key: taintControlPlane, Effect: corev1.TaintEffectNoSchedule})
	}
	switch s.health {
	case healthNotReady:
		taints = append(taints,
			corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute})
	case healthUnknown:
		taints = append(taints,
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute})
	case healthMemoryPressure:
		taints = append(taints, corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule})
	case healthDiskPressure:
		taints = append(taints, corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule})
	}
	if s.cordoned {
		taints = append(taints, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	return taints
}

func nodeConditions(h nodeHealth, now metav1.Time) []corev1.NodeCondition {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	if h == healthUnknown {
		const reason, msg = "NodeStatusUnknown", "Kubelet stopped posting node status."
		return []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionUnknown, reason, msg),
			cond(corev1.NodeDiskPressure, corev1.ConditionUnknown, reason, msg),
			cond(corev1.NodePIDPressure, corev1.ConditionUnknown, reason, msg),
			cond(corev1.NodeReady, corev1.ConditionUnknown, reason, msg),
		}
	}
	memory := cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
	if h == healthMemoryPressure {
		memory = cond(corev1.NodeMemoryPressure, corev1.ConditionTrue, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
	}
	disk := cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
	if h == healthDiskPressure {
		disk = cond(corev1.NodeDiskPressure, corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure")
	}
	ready := cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	if h == healthNotReady {
		ready = cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady",
			"container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	}
	return []corev1.NodeCondition{
		memory, disk,
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		ready,
	}
}

// keepConditionTimes copies the timestamps of have's conditions into want's
// conditions of the same type and status, as a kubelet keeps
// lastTransitionTime while a condition holds. Without it every run would
// rewrite every node.
func keepConditionTimes(want, have []corev1.NodeCondition) {
	for i := range want {
		for j := range have {
			if want[i].Type == have[j].Type && want[i].Status == have[j].Status {
				want[i].LastHeartbeatTime = have[j].LastHeartbeatTime
				want[i].LastTransitionTime = have[j].LastTransitionTime
			}
		}
	}
}

// podState is what the kubelet (or the scheduler) would report for a pod.
type podState int

const (
	stateRunning      podState = iota // Running, all containers ready
	stateNotReady                     // Running, containers running but not ready
	stateCrashLoop                    // Running, first app container waiting in CrashLoopBackOff
	stateUnscheduled                  // Pending, no node fits
	stateCreating                     // Pending on a node, containers being created
	stateInitializing                 // Pending on a node, first regular init container running
	stateSucceeded                    // Succeeded, every container exited 0
	stateOOMKilled                    // Failed, first app container OOMKilled
	stateError                        // Failed, first app container exited 1
	stateDeadline                     // Failed, activeDeadlineSeconds exceeded
	stateUnknown                      // Unknown, the node stopped reporting
)

// phase is the pod phase of a state.
func (s podState) phase() corev1.PodPhase {
	switch s {
	case stateRunning, stateNotReady, stateCrashLoop:
		return corev1.PodRunning
	case stateUnscheduled, stateCreating, stateInitializing:
		return corev1.PodPending
	case stateSucceeded:
		return corev1.PodSucceeded
	case stateOOMKilled, stateError, stateDeadline:
		return corev1.PodFailed
	default:
		return corev1.PodUnknown
	}
}

// ready reports whether a pod in this state counts as ready for its workload.
func (s podState) ready() bool { return s == stateRunning }

// podStatus returns the status a kubelet would report for pod in state. All
// times are the pod's creation time, so a pod's status is the same on every
// run; QOSClass is kept from the stored pod, where kube-apiserver computed
// it.
func podStatus(pod *corev1.Pod, state podState, restarts, sidecarRestarts int32) corev1.PodStatus {
	t := pod.CreationTimestamp
	st := corev1.PodStatus{Phase: state.phase(), QOSClass: pod.Status.QOSClass}
	if state == stateUnscheduled {
		st.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message:            unschedulableMessage(pod),
			LastTransitionTime: t,
		}}
		return st
	}
	st.StartTime = &t

	cond := func(typ corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: t}
		if !ok {
			c.Status, c.Reason = corev1.ConditionFalse, reason
		}
		return c
	}
	terminal := state.phase() == corev1.PodSucceeded || state.phase() == corev1.PodFailed
	notReadyReason := "ContainersNotReady"
	switch {
	case state == stateSucceeded:
		notReadyReason = "PodCompleted"
	case terminal:
		notReadyReason = "PodFailed"
	}
	sandbox := state != stateCreating && !terminal
	ready := state.ready()
	initCond := cond(corev1.PodInitialized, true, "")
	switch {
	case state == stateSucceeded:
		initCond.Reason = "PodCompleted"
	case state == stateInitializing, state == stateCreating && hasRegularInit(pod):
		initCond = cond(corev1.PodInitialized, false, "ContainersNotInitialized")
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, sandbox, ""),
		initCond,
		cond(corev1.PodReady, ready, notReadyReason),
		cond(corev1.ContainersReady, ready, notReadyReason),
		cond(corev1.PodScheduled, true, ""),
	}
	switch state {
	case stateDeadline:
		st.Reason, st.Message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
	case stateUnknown:
		st.Reason = "NodeLost"
		st.Message = fmt.Sprintf("Node %s which was running pod %s is unresponsive", pod.Spec.NodeName, pod.Name)
	}

	// Init containers: sidecars run alongside the app containers; regular
	// ones have completed unless the pod is still initializing or being
	// created.
	runningInit := -1
	if state == stateInitializing {
		for i := range pod.Spec.InitContainers {
			if !isSidecar(&pod.Spec.InitContainers[i]) {
				runningInit = i
				break
			}
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := containerStatus(pod, c)
		switch {
		case state == stateCreating || (runningInit >= 0 && i > runningInit):
			cs.State = waiting("PodInitializing", "")
			if state == stateCreating {
				cs.State = waiting("ContainerCreating", "")
			}
		case isSidecar(c):
			cs.RestartCount = sidecarRestarts
			if terminal {
				cs.State = terminated(t, 0, "Completed")
			} else {
				cs.State = running(t)
				cs.Ready = state.ready() || state == stateCrashLoop || state == stateInitializing
			}
		case i == runningInit:
			cs.State = running(t)
		default:
			cs.State = terminated(t, 0, "Completed")
		}
		started := cs.State.Running != nil
		cs.Started = &started
		if cs.State.Waiting != nil {
			cs.ContainerID = ""
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}

	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := containerStatus(pod, c)
		first := i == 0
		if first {
			cs.RestartCount = restarts
		}
		switch {
		case state == stateCreating:
			cs.State = waiting("ContainerCreating", "")
		case state == stateInitializing:
			cs.State = waiting("PodInitializing", "")
		case state == stateSucceeded:
			cs.State = terminated(t, 0, "Completed")
		case state == stateOOMKilled && first:
			cs.State = terminated(t, 137, "OOMKilled")
		case state == stateError && first:
			cs.State = terminated(t, 1, "Error")
		case terminal:
			cs.State = terminated(t, 137, "Error")
		case state == stateCrashLoop && first:
			cs.State = waiting("CrashLoopBackOff",
				fmt.Sprintf("back-off 5m0s restarting failed container=%s pod=%s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID))
		default:
			cs.State = running(t)
			cs.Ready = state.ready()
		}
		if cs.RestartCount > 0 {
			lt := terminated(t, 1, "Error")
			if state == stateCrashLoop || state == stateOOMKilled {
				lt = terminated(t, 137, "OOMKilled")
			}
			cs.LastTerminationState = lt
		}
		started := cs.State.Running != nil
		cs.Started = &started
		if cs.State.Waiting != nil && cs.RestartCount == 0 {
			cs.ContainerID = ""
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	return st
}

// unschedulableMessage is a scheduler message worded for the demo's nine
// nodes; Synthetic words its own.
func unschedulableMessage(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if _, ok := c.Resources.Requests[ResourceGPU]; ok {
			return "0/9 nodes are available: 2 Insufficient nvidia.com/gpu, 7 node(s) didn't match Pod's node affinity/selector. " +
				"preemption: 0/9 nodes are available: 9 No preemption victims found for incoming pod."
		}
	}
	return "0/9 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, " +
		"2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 6 Insufficient memory. " +
		"preemption: 0/9 nodes are available: 9 No preemption victims found for incoming pod."
}

func containerStatus(pod *corev1.Pod, c *corev1.Container) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name:        c.Name,
		Image:       c.Image,
		ImageID:     c.Image + "@sha256:" + shortHash(64, "image", c.Image),
		ContainerID: "containerd://" + shortHash(64, "container", pod.Namespace, pod.Name, c.Name),
	}
}

func running(t metav1.Time) corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}}
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

func terminated(t metav1.Time, code int32, reason string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: t, FinishedAt: t,
	}}
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func hasRegularInit(pod *corev1.Pod) bool {
	for i := range pod.Spec.InitContainers {
		if !isSidecar(&pod.Spec.InitContainers[i]) {
			return true
		}
	}
	return false
}

// container returns a container with the given requests and limits, each a
// list of alternating resource names and quantities.
func container(name, image string, requests, limits []string) corev1.Container {
	return corev1.Container{
		Name:  name,
		Image: imageRegistry + image,
		Resources: corev1.ResourceRequirements{
			Requests: resourceList(requests...),
			Limits:   resourceList(limits...),
		},
	}
}

// sidecar returns a restartable init container (KEP-753).
func sidecar(name, image string, requests, limits []string) corev1.Container {
	c := container(name, image, requests, limits)
	always := corev1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

// resourceList turns "cpu", "250m", "memory", "1Gi", ... into a list; nil
// when empty, so that a container without limits has none.
func resourceList(kv ...string) corev1.ResourceList {
	if len(kv) == 0 {
		return nil
	}
	if len(kv)%2 != 0 {
		panic("resourceList needs name/quantity pairs")
	}
	l := make(corev1.ResourceList, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

// shortHash is a deterministic hex string of n characters (at most 64).
func shortHash(n int, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}
