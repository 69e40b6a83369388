// Package scheme holds the runtime.Scheme and codecs clusterview's API
// server encodes and decodes with. It is apart from package apiserver so
// that what only needs the codecs, such as the decoding fuzz target, does
// not depend on the whole generic API server.
package scheme

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/install"
)

var (
	// Scheme holds every type the server encodes or decodes.
	Scheme = runtime.NewScheme()
	// Codecs serializes Scheme's types in every supported format.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	install.Install(Scheme)
	// The generic server decodes options (ListOptions, GetOptions...) and
	// writes Status and discovery objects as unversioned meta types.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}
