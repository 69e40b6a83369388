// Package v1beta1 is the v1beta1 version of the clusterview.io API: the
// types clients see on the wire, their defaults, and the generated conversion
// to and from the internal types in package clusterview.
//
// The OpenAPI model names follow the Kubernetes convention of the reversed
// Go package path: applyconfiguration-gen looks types up by that name, and
// server-side apply and the generated fake clientset need the real schema.
//
// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/clusterview/clusterview/pkg/apis/clusterview
// +k8s:defaulter-gen=TypeMeta
// +groupName=clusterview.io
// +k8s:openapi-model-package=com.github.clusterview.clusterview.pkg.apis.clusterview.v1beta1
package v1beta1
