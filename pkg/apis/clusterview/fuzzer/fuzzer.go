// Package fuzzer provides the randfill functions that make random
// clusterview.io objects suitable for round-trip tests: objects a server
// could hold, which survive encoding, decoding and defaulting unchanged.
package fuzzer

import (
	corev1 "k8s.io/api/core/v1"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

// resourceNames are the names the fuzzer picks spec.resources from.
var resourceNames = []corev1.ResourceName{
	corev1.ResourceCPU,
	corev1.ResourceMemory,
	corev1.ResourcePods,
	corev1.ResourceEphemeralStorage,
	"hugepages-2Mi",
	"nvidia.com/gpu",
}

// Funcs returns the fuzzer functions of the clusterview.io API group.
// Quantities, object metadata and label selectors come from the generic
// meta fuzzer, which the round-trip test merges in.
var Funcs = func(codecs runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(s *clusterview.ClusterSummarySpec, c randfill.Continue) {
			c.FillNoCustom(s)
			// Decoding defaults an empty spec.resources, so an object
			// with none would not come back as it went. Give every
			// spec at least one resource, as defaulting would.
			s.Resources = nil
			for _, i := range c.Perm(len(resourceNames))[:1+c.Intn(len(resourceNames))] {
				s.Resources = append(s.Resources, resourceNames[i])
			}
		},
	}
}
