package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultResources are the resources a ClusterSummary reports when
// spec.resources is empty.
var DefaultResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_ClusterSummarySpec fills in spec.resources.
func SetDefaults_ClusterSummarySpec(spec *ClusterSummarySpec) {
	if len(spec.Resources) == 0 {
		spec.Resources = append([]corev1.ResourceName(nil), DefaultResources...)
	}
}
