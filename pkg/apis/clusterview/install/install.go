// Package install registers every version of the clusterview.io API group,
// and the internal types, with a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
)

// Install registers the clusterview.io API group with scheme.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(clusterview.AddToScheme(scheme))
	utilruntime.Must(v1beta1.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1beta1.SchemeGroupVersion))
}
