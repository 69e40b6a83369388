package testfixtures

import (
	"fmt"
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// fixedTime is the timestamp of the realistic objects, fixed so that
// benchmarks encode the same bytes on every run.
var fixedTime = metav1.NewTime(time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC))

// KubeletNode builds node i of a cloud cluster as kube-apiserver serves it
// to a list: the labels, annotations, conditions, addresses, node info and
// image list a kubelet and the cloud provider set, with the allocatable
// resources of a 16-core 64Gi machine (every 50th one with a GPU). It is the
// peer of a NodeSummary in read benchmarks. It leaves out managedFields,
// which kube-apiserver does serve in lists: without them the Node is cheaper
// to encode, so a comparison with it errs against the summary.
func KubeletNode(i int) *corev1.Node {
	name := fmt.Sprintf("ip-10-%d-%d-%d.eu-west-1.compute.internal", i/65536%256, i/256%256, i%256)
	zone := fmt.Sprintf("eu-west-1%c", 'a'+rune(i%3))
	ip := fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256)
	capacity := Resources("cpu", "16", "memory", "65023176Ki", "pods", "110", "ephemeral-storage", "104845292Ki",
		"hugepages-1Gi", "0", "hugepages-2Mi", "0", "attachable-volumes-aws-ebs", "25")
	allocatable := Resources("cpu", "15890m", "memory", "63272648Ki", "pods", "110", "ephemeral-storage", "95551679124",
		"hugepages-1Gi", "0", "hugepages-2Mi", "0", "attachable-volumes-aws-ebs", "25")
	instance := "m6i.4xlarge"
	if i%50 == 0 {
		instance = "g5.4xlarge"
		capacity["nvidia.com/gpu"] = Resources("nvidia.com/gpu", "1")["nvidia.com/gpu"]
		allocatable["nvidia.com/gpu"] = Resources("nvidia.com/gpu", "1")["nvidia.com/gpu"]
	}
	conditions := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for j := range conditions {
		conditions[j].LastHeartbeatTime, conditions[j].LastTransitionTime = fixedTime, fixedTime
	}
	images := make([]corev1.ContainerImage, 0, 12)
	for j := range 12 {
		images = append(images, corev1.ContainerImage{
			Names: []string{
				fmt.Sprintf("registry.example.com/team-%d/service-%d@sha256:%064x", j%4, j, i*31+j),
				fmt.Sprintf("registry.example.com/team-%d/service-%d:v1.%d.%d", j%4, j, j, i%7),
			},
			SizeBytes: int64(40_000_000 + j*7_000_000),
		})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			UID:               uidOf("node", i),
			ResourceVersion:   fmt.Sprint(1_000_000 + i),
			CreationTimestamp: fixedTime,
			Labels: map[string]string{
				"beta.kubernetes.io/arch":                  "amd64",
				"beta.kubernetes.io/instance-type":         instance,
				"beta.kubernetes.io/os":                    "linux",
				"failure-domain.beta.kubernetes.io/region": "eu-west-1",
				"failure-domain.beta.kubernetes.io/zone":   zone,
				"kubernetes.io/arch":                       "amd64",
				"kubernetes.io/hostname":                   name,
				"kubernetes.io/os":                         "linux",
				"node.kubernetes.io/instance-type":         instance,
				"topology.kubernetes.io/region":            "eu-west-1",
				"topology.kubernetes.io/zone":              zone,
				"node-pool":                                fmt.Sprintf("pool-%d", i%10),
			},
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"csi.volume.kubernetes.io/nodeid":                        fmt.Sprintf(`{"ebs.csi.aws.com":"i-%017x"}`, i),
			},
		},
		Spec: corev1.NodeSpec{
			PodCIDR:    fmt.Sprintf("100.%d.%d.0/24", 64+i/256%64, i%256),
			PodCIDRs:   []string{fmt.Sprintf("100.%d.%d.0/24", 64+i/256%64, i%256)},
			ProviderID: fmt.Sprintf("aws:///%s/i-%017x", zone, i),
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: allocatable,
			Conditions:  conditions,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: ip},
				{Type: corev1.NodeHostName, Address: name},
				{Type: corev1.NodeInternalDNS, Address: name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               fmt.Sprintf("ec2%029x", i),
				SystemUUID:              fmt.Sprintf("ec2%05x-0000-4000-8000-%012x", i%0xfffff, i),
				BootID:                  string(uidOf("boot", i)),
				KernelVersion:           "6.1.112-124.190.amzn2023.x86_64",
				OSImage:                 "Amazon Linux 2023.6.20241031",
				ContainerRuntimeVersion: "containerd://1.7.22",
				KubeletVersion:          "v1.37.1",
				OperatingSystem:         "linux",
				Architecture:            "amd64",
			},
			Images: images,
		},
	}
}

// ServedNamespace builds namespace i as kube-apiserver serves it to a list:
// the name label the API server adds, a few team labels and annotations,
// the kubernetes finalizer and the Active phase.
func ServedNamespace(i int) *corev1.Namespace {
	name := fmt.Sprintf("team-%d-app-%04d", i%20, i)
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			UID:               uidOf("namespace", i),
			ResourceVersion:   fmt.Sprint(2_000_000 + i),
			CreationTimestamp: fixedTime,
			Labels: map[string]string{
				"kubernetes.io/metadata.name": name,
				"team":                        fmt.Sprintf("team-%d", i%20),
				"environment":                 []string{"prod", "staging", "dev"}[i%3],
			},
			Annotations: map[string]string{
				"owner": fmt.Sprintf("team-%d@example.com", i%20),
			},
		},
		Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
}

// uidOf is a fixed UID for object i of a kind.
func uidOf(kind string, i int) types.UID {
	h := fnv.New64a()
	h.Write([]byte(kind))
	v := h.Sum64()
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(v), uint16(v>>32), i%0x1000, (i/0x1000)%0x1000, i))
}
