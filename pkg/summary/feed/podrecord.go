package feed

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterview/clusterview/pkg/summary"
)

// PodRecord is what the pod informer keeps of a pod in place of the pod:
// its identity and the engine's summary.PodUsage, about 120 bytes plus the
// strings and one entry per resource. Even a stripped v1.Pod takes kilobytes
// (a 1.2 KB struct, a Container struct and two ResourceList maps per
// container), and at 150,000 pods the pod informer's store is most of
// clusterview's memory.
type PodRecord struct {
	PodIdentity
	Usage summary.PodUsage
}

// PodIdentity is the part of a pod's metadata the informer machinery reads:
// namespace and name for its keys, and resourceVersion, which a shared
// informer compares to tell an update from a resync (equal versions are not
// delivered to handlers without a resync period). It implements
// metav1.Object so that meta.Accessor accepts a PodRecord without the
// 232-byte ObjectMeta; the accessors of the fields it does not keep return
// zero values and their setters do nothing, as for any field a transform
// drops.
type PodIdentity struct {
	Namespace, Name, ResourceVersion string
}

var _ metav1.Object = &PodIdentity{}

func (m *PodIdentity) GetNamespace() string                  { return m.Namespace }
func (m *PodIdentity) SetNamespace(namespace string)         { m.Namespace = namespace }
func (m *PodIdentity) GetName() string                       { return m.Name }
func (m *PodIdentity) SetName(name string)                   { m.Name = name }
func (m *PodIdentity) GetResourceVersion() string            { return m.ResourceVersion }
func (m *PodIdentity) SetResourceVersion(version string)     { m.ResourceVersion = version }
func (m *PodIdentity) GetGenerateName() string               { return "" }
func (m *PodIdentity) SetGenerateName(string)                {}
func (m *PodIdentity) GetUID() types.UID                     { return "" }
func (m *PodIdentity) SetUID(types.UID)                      {}
func (m *PodIdentity) GetGeneration() int64                  { return 0 }
func (m *PodIdentity) SetGeneration(int64)                   {}
func (m *PodIdentity) GetSelfLink() string                   { return "" }
func (m *PodIdentity) SetSelfLink(string)                    {}
func (m *PodIdentity) GetCreationTimestamp() metav1.Time     { return metav1.Time{} }
func (m *PodIdentity) SetCreationTimestamp(metav1.Time)      {}
func (m *PodIdentity) GetDeletionTimestamp() *metav1.Time    { return nil }
func (m *PodIdentity) SetDeletionTimestamp(*metav1.Time)     {}
func (m *PodIdentity) GetDeletionGracePeriodSeconds() *int64 { return nil }
func (m *PodIdentity) SetDeletionGracePeriodSeconds(*int64)  {}
func (m *PodIdentity) GetLabels() map[string]string          { return nil }
func (m *PodIdentity) SetLabels(map[string]string)           {}
func (m *PodIdentity) GetAnnotations() map[string]string     { return nil }
func (m *PodIdentity) SetAnnotations(map[string]string)      {}
func (m *PodIdentity) GetFinalizers() []string               { return nil }
func (m *PodIdentity) SetFinalizers([]string)                {}
func (m *PodIdentity) GetOwnerReferences() []metav1.OwnerReference {
	return nil
}
func (m *PodIdentity) SetOwnerReferences([]metav1.OwnerReference)    {}
func (m *PodIdentity) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (m *PodIdentity) SetManagedFields([]metav1.ManagedFieldsEntry)  {}
