package feed

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterview/clusterview/pkg/summary"
)

// PodRecord is what the pod feed's queue carries in place of a pod (see
// TransformPod): its identity and the engine's summary.PodUsage, about 100
// bytes plus the strings and one entry per resource. Even a stripped v1.Pod
// takes kilobytes (a 1.2 KB struct, a Container struct and two ResourceList
// maps per container), and the queue holds every pod of the initial list at
// once. Once applied, a record is dropped: the engine keeps what it counts.
type PodRecord struct {
	PodIdentity
	Usage summary.PodUsage
}

// PodIdentity is the part of a pod's metadata the queue reads: namespace
// and name, for its keys. (The reflector reads resourceVersion from the pod
// before the transform.) It implements metav1.Object so that meta.Accessor
// accepts a PodRecord without the 232-byte ObjectMeta; the accessors of the
// fields it does not keep return zero values and their setters do nothing,
// as for any field a transform drops.
type PodIdentity struct {
	Namespace, Name string
}

var _ metav1.Object = &PodIdentity{}

// GetNamespace implements metav1.Object.
func (m *PodIdentity) GetNamespace() string { return m.Namespace }

// SetNamespace implements metav1.Object.
func (m *PodIdentity) SetNamespace(namespace string) { m.Namespace = namespace }

// GetName implements metav1.Object.
func (m *PodIdentity) GetName() string { return m.Name }

// SetName implements metav1.Object.
func (m *PodIdentity) SetName(name string) { m.Name = name }

// GetResourceVersion implements metav1.Object.
func (m *PodIdentity) GetResourceVersion() string { return "" }

// SetResourceVersion implements metav1.Object.
func (m *PodIdentity) SetResourceVersion(string) {}

// GetGenerateName implements metav1.Object.
func (m *PodIdentity) GetGenerateName() string { return "" }

// SetGenerateName implements metav1.Object.
func (m *PodIdentity) SetGenerateName(string) {}

// GetUID implements metav1.Object.
func (m *PodIdentity) GetUID() types.UID { return "" }

// SetUID implements metav1.Object.
func (m *PodIdentity) SetUID(types.UID) {}

// GetGeneration implements metav1.Object.
func (m *PodIdentity) GetGeneration() int64 { return 0 }

// SetGeneration implements metav1.Object.
func (m *PodIdentity) SetGeneration(int64) {}

// GetSelfLink implements metav1.Object.
func (m *PodIdentity) GetSelfLink() string { return "" }

// SetSelfLink implements metav1.Object.
func (m *PodIdentity) SetSelfLink(string) {}

// GetCreationTimestamp implements metav1.Object.
func (m *PodIdentity) GetCreationTimestamp() metav1.Time { return metav1.Time{} }

// SetCreationTimestamp implements metav1.Object.
func (m *PodIdentity) SetCreationTimestamp(metav1.Time) {}

// GetDeletionTimestamp implements metav1.Object.
func (m *PodIdentity) GetDeletionTimestamp() *metav1.Time { return nil }

// SetDeletionTimestamp implements metav1.Object.
func (m *PodIdentity) SetDeletionTimestamp(*metav1.Time) {}

// GetDeletionGracePeriodSeconds implements metav1.Object.
func (m *PodIdentity) GetDeletionGracePeriodSeconds() *int64 { return nil }

// SetDeletionGracePeriodSeconds implements metav1.Object.
func (m *PodIdentity) SetDeletionGracePeriodSeconds(*int64) {}

// GetLabels implements metav1.Object.
func (m *PodIdentity) GetLabels() map[string]string { return nil }

// SetLabels implements metav1.Object.
func (m *PodIdentity) SetLabels(map[string]string) {}

// GetAnnotations implements metav1.Object.
func (m *PodIdentity) GetAnnotations() map[string]string { return nil }

// SetAnnotations implements metav1.Object.
func (m *PodIdentity) SetAnnotations(map[string]string) {}

// GetFinalizers implements metav1.Object.
func (m *PodIdentity) GetFinalizers() []string { return nil }

// SetFinalizers implements metav1.Object.
func (m *PodIdentity) SetFinalizers([]string) {}

// GetOwnerReferences implements metav1.Object.
func (m *PodIdentity) GetOwnerReferences() []metav1.OwnerReference {
	return nil
}

// SetOwnerReferences implements metav1.Object.
func (m *PodIdentity) SetOwnerReferences([]metav1.OwnerReference) {}

// GetManagedFields implements metav1.Object.
func (m *PodIdentity) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }

// SetManagedFields implements metav1.Object.
func (m *PodIdentity) SetManagedFields([]metav1.ManagedFieldsEntry) {}
