// Package validation checks clusterview.io objects before they are stored.
// Every error carries the field path it is about, so the API answers 422
// Unprocessable Entity with a message a user can act on.
package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

// standardResources are the resource names Kubernetes itself defines that a
// summary can report. Extended resources (a domain-qualified name outside
// kubernetes.io, such as nvidia.com/gpu) and hugepages-<size> are accepted too.
var standardResources = sets.New[corev1.ResourceName](
	corev1.ResourceCPU,
	corev1.ResourceMemory,
	corev1.ResourcePods,
	corev1.ResourceEphemeralStorage,
	corev1.ResourceStorage,
)

// Limits on what a spec may ask for. They bound the size of a stored
// ClusterSummary (spec and status) and the work of every status computation;
// the status size test computes the worst case they allow.
const (
	// MaxResources caps spec.resources.
	MaxResources = 16
	// MaxResourceNameLength is the longest resource name: a qualified name,
	// a DNS subdomain prefix (253) and a name (63) around a "/".
	MaxResourceNameLength = 253 + 1 + 63
	// MaxMatchLabels caps the matchLabels of each selector.
	MaxMatchLabels = 32
	// MaxMatchExpressions caps the matchExpressions of each selector.
	MaxMatchExpressions = 16
	// MaxExpressionValues caps the values of each matchExpression.
	MaxExpressionValues = 32
)

// labelSelectorOptions are the rules the core API applies to selectors in
// workload specs: no invalid label values.
var labelSelectorOptions = metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: false}

// ValidateClusterSummary validates a new ClusterSummary.
func ValidateClusterSummary(obj *clusterview.ClusterSummary) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&obj.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateClusterSummarySpec(&obj.Spec, field.NewPath("spec"))...)
	allErrs = append(allErrs, ValidateClusterSummaryStatus(&obj.Status, field.NewPath("status"))...)
	return allErrs
}

// ValidateClusterSummaryUpdate validates an update of a ClusterSummary's spec and metadata.
func ValidateClusterSummaryUpdate(obj, old *clusterview.ClusterSummary) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateClusterSummarySpec(&obj.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateClusterSummaryStatusUpdate validates an update through the status subresource.
func ValidateClusterSummaryStatusUpdate(obj, old *clusterview.ClusterSummary) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateClusterSummaryStatus(&obj.Status, field.NewPath("status"))...)
	return allErrs
}

// ValidateClusterSummarySpec validates the selectors, the grouping label,
// the resource list and the headroom shapes.
func ValidateClusterSummarySpec(spec *clusterview.ClusterSummarySpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateSelector(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, validateSelector(spec.NamespaceSelector, fldPath.Child("namespaceSelector"))...)
	if spec.GroupByNodeLabel != "" {
		allErrs = append(allErrs, metav1validation.ValidateLabelName(spec.GroupByNodeLabel, fldPath.Child("groupByNodeLabel"))...)
	}
	if n := len(spec.Resources); n > MaxResources {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("resources"), n, MaxResources))
	}
	seen := sets.New[corev1.ResourceName]()
	for i, name := range spec.Resources {
		idxPath := fldPath.Child("resources").Index(i)
		if seen.Has(name) {
			allErrs = append(allErrs, field.Duplicate(idxPath, name))
			continue
		}
		seen.Insert(name)
		allErrs = append(allErrs, validateResourceName(name, idxPath)...)
	}
	allErrs = append(allErrs, validateHeadroomShapes(spec.Headroom, fldPath.Child("headroom"))...)
	return allErrs
}

// validateSelector applies the core API's selector rules and our size limits.
func validateSelector(s *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	allErrs := metav1validation.ValidateLabelSelector(s, labelSelectorOptions, fldPath)
	if s == nil {
		return allErrs
	}
	if n := len(s.MatchLabels); n > MaxMatchLabels {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("matchLabels"), n, MaxMatchLabels))
	}
	if n := len(s.MatchExpressions); n > MaxMatchExpressions {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("matchExpressions"), n, MaxMatchExpressions))
	}
	for i, r := range s.MatchExpressions {
		if n := len(r.Values); n > MaxExpressionValues {
			allErrs = append(allErrs, field.TooMany(fldPath.Child("matchExpressions").Index(i).Child("values"), n, MaxExpressionValues))
		}
	}
	return allErrs
}

// validateResourceName accepts the standard resources, hugepages-<size>, and
// extended resources; anything else is a name no node or pod can carry.
func validateResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	s := string(name)
	switch {
	case s == "":
		return field.ErrorList{field.Required(fldPath, "")}
	case len(s) > MaxResourceNameLength:
		return field.ErrorList{field.TooLong(fldPath, "", MaxResourceNameLength)}
	case standardResources.Has(name), isHugePagesResourceName(s):
		return nil
	case isExtendedResourceName(s):
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, name, append(sets.List(standardResources), "hugepages-<size>", "<domain>/<name>"))}
}

// isHugePagesResourceName reports whether s is hugepages-<size> with a
// valid quantity as the size, such as hugepages-2Mi.
func isHugePagesResourceName(s string) bool {
	size, found := strings.CutPrefix(s, corev1.ResourceHugePagesPrefix)
	if !found {
		return false
	}
	q, err := resource.ParseQuantity(size)
	return err == nil && q.Sign() > 0
}

// isExtendedResourceName applies the core API's definition of an extended
// resource: a domain-qualified name outside kubernetes.io that is still a
// qualified name once quota's "requests." prefix is added, and does not
// already carry that prefix.
func isExtendedResourceName(s string) bool {
	domain, _, found := strings.Cut(s, "/")
	if !found || domain == "kubernetes.io" || strings.HasSuffix(domain, ".kubernetes.io") {
		return false
	}
	if strings.HasPrefix(s, quotaRequestsPrefix) {
		return false
	}
	return len(utilvalidation.IsQualifiedName(quotaRequestsPrefix+s)) == 0
}

// quotaRequestsPrefix is how ResourceQuota names the request of a resource.
const quotaRequestsPrefix = "requests."

// ValidateClusterSummaryStatus rejects negative counts and malformed conditions.
func ValidateClusterSummaryStatus(status *clusterview.ClusterSummaryStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, metav1validation.ValidateConditions(status.Conditions, fldPath.Child("conditions"))...)
	if status.Nodes != nil {
		allErrs = append(allErrs, validateNodeCounts(status.Nodes, fldPath.Child("nodes"))...)
	}
	if status.Pods != nil {
		allErrs = append(allErrs, validatePodCounts(status.Pods, fldPath.Child("pods"))...)
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(status.Namespaces, fldPath.Child("namespaces"))...)
	allErrs = append(allErrs, validateResourceUsages(status.Resources, fldPath.Child("resources"))...)
	if w := status.Workloads; w != nil {
		allErrs = append(allErrs, validateReadyCount(w.Deployments, fldPath.Child("workloads", "deployments"))...)
		allErrs = append(allErrs, validateReadyCount(w.StatefulSets, fldPath.Child("workloads", "statefulSets"))...)
		allErrs = append(allErrs, validateReadyCount(w.DaemonSets, fldPath.Child("workloads", "daemonSets"))...)
	}
	groupNames := sets.New[string]()
	for i := range status.Groups {
		g := &status.Groups[i]
		gPath := fldPath.Child("groups").Index(i)
		switch {
		case g.Name == "":
			allErrs = append(allErrs, field.Required(gPath.Child("name"), ""))
		case groupNames.Has(g.Name):
			allErrs = append(allErrs, field.Duplicate(gPath.Child("name"), g.Name))
		case g.Name != clusterview.NoneGroup && g.Name != clusterview.OtherGroup:
			// A group is named after a node label value, so it obeys the
			// same syntax (which also keeps YAML responses encodable).
			for _, msg := range utilvalidation.IsValidLabelValue(g.Name) {
				allErrs = append(allErrs, field.Invalid(gPath.Child("name"), g.Name, msg))
			}
		}
		groupNames.Insert(g.Name)
		allErrs = append(allErrs, validateNodeCounts(&g.Nodes, gPath.Child("nodes"))...)
		allErrs = append(allErrs, validatePodCounts(&g.Pods, gPath.Child("pods"))...)
		allErrs = append(allErrs, validateResourceUsages(g.Resources, gPath.Child("resources"))...)
		allErrs = append(allErrs, validateHeadroomStatuses(g.Headroom, gPath.Child("headroom"))...)
	}
	allErrs = append(allErrs, validateHeadroomStatuses(status.Headroom, fldPath.Child("headroom"))...)
	return allErrs
}

type namedCount struct {
	name  string
	value int64
}

func validateCounts(counts []namedCount, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, c := range counts {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(c.value, fldPath.Child(c.name))...)
	}
	return allErrs
}

func validateNodeCounts(n *clusterview.NodeCounts, fldPath *field.Path) field.ErrorList {
	return validateCounts([]namedCount{
		{"total", n.Total}, {"ready", n.Ready}, {"notReady", n.NotReady}, {"unschedulable", n.Unschedulable},
		{"memoryPressure", n.MemoryPressure}, {"diskPressure", n.DiskPressure}, {"pidPressure", n.PIDPressure},
	}, fldPath)
}

func validatePodCounts(p *clusterview.PodCounts, fldPath *field.Path) field.ErrorList {
	return validateCounts([]namedCount{
		{"total", p.Total}, {"pending", p.Pending}, {"running", p.Running}, {"succeeded", p.Succeeded},
		{"failed", p.Failed}, {"unknown", p.Unknown}, {"unscheduled", p.Unscheduled},
		{"containerRestarts", p.ContainerRestarts}, {"crashLooping", p.CrashLooping},
	}, fldPath)
}

func validateReadyCount(c clusterview.ReadyCount, fldPath *field.Path) field.ErrorList {
	return validateCounts([]namedCount{{"total", c.Total}, {"ready", c.Ready}}, fldPath)
}

func validateResourceUsages(usages []clusterview.ResourceUsage, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[corev1.ResourceName]()
	for i := range usages {
		u := &usages[i]
		uPath := fldPath.Index(i)
		if names.Has(u.Name) {
			allErrs = append(allErrs, field.Duplicate(uPath.Child("name"), u.Name))
		}
		names.Insert(u.Name)
		allErrs = append(allErrs, validateResourceName(u.Name, uPath.Child("name"))...)
		if u.Capacity != nil && u.Capacity.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(uPath.Child("capacity"), u.Capacity.String(), "must be greater than or equal to 0"))
		}
		if u.Allocatable != nil && u.Allocatable.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(uPath.Child("allocatable"), u.Allocatable.String(), "must be greater than or equal to 0"))
		}
		if u.Requests.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(uPath.Child("requests"), u.Requests.String(), "must be greater than or equal to 0"))
		}
		if u.Limits.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(uPath.Child("limits"), u.Limits.String(), "must be greater than or equal to 0"))
		}
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(u.PodsWithoutLimit, uPath.Child("podsWithoutLimit"))...)
	}
	return allErrs
}
