package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

// requestableResources are the standard resources a container may request;
// hugepages-<size> and extended resources are accepted too. pods and storage
// are node or volume figures no pod requests.
var requestableResources = sets.New[corev1.ResourceName](
	corev1.ResourceCPU,
	corev1.ResourceMemory,
	corev1.ResourceEphemeralStorage,
)

var tolerationOperators = []corev1.TolerationOperator{
	corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt,
}

var taintEffects = []corev1.TaintEffect{
	corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute,
}

// validateHeadroomShapes checks spec.headroom the way the core API checks a
// pod's requests, tolerations and node selector, plus the shapes' names,
// which become status keys, table columns and metric labels.
func validateHeadroomShapes(shapes []clusterview.HeadroomShape, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(shapes) > clusterview.MaxHeadroomShapes {
		allErrs = append(allErrs, field.TooMany(fldPath, len(shapes), clusterview.MaxHeadroomShapes))
	}
	names := sets.New[string]()
	for i := range shapes {
		s := &shapes[i]
		sPath := fldPath.Index(i)
		allErrs = append(allErrs, validateHeadroomName(s.Name, names, sPath.Child("name"))...)
		names.Insert(s.Name)
		allErrs = append(allErrs, validateShapeRequests(s.Requests, sPath.Child("requests"))...)
		allErrs = append(allErrs, validateShapeSize(s, sPath)...)
		for j := range s.Tolerations {
			allErrs = append(allErrs, validateToleration(&s.Tolerations[j], sPath.Child("tolerations").Index(j))...)
		}
		allErrs = append(allErrs, metav1validation.ValidateLabels(s.NodeSelector, sPath.Child("nodeSelector"))...)
		if s.MinFits != nil {
			allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(*s.MinFits, sPath.Child("minFits"))...)
		}
	}
	return allErrs
}

// validateHeadroomName requires a unique DNS-1123 label.
func validateHeadroomName(name string, seen sets.Set[string], fldPath *field.Path) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(fldPath, "")}
	case seen.Has(name):
		return field.ErrorList{field.Duplicate(fldPath, name)}
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

// validateShapeRequests accepts what a container may request: no negative
// amounts, whole numbers of extended resources, and at least one positive
// request, since a shape that requests nothing would only count pod slots.
func validateShapeRequests(requests corev1.ResourceList, fldPath *field.Path) field.ErrorList {
	if len(requests) == 0 {
		return field.ErrorList{field.Required(fldPath, "at least one resource request is required")}
	}
	var allErrs field.ErrorList
	positive := false
	for _, name := range sets.List(sets.KeySet(requests)) {
		q := requests[name]
		rPath := fldPath.Key(string(name))
		switch {
		case name == "":
			allErrs = append(allErrs, field.Required(rPath, "resource name"))
			continue
		case requestableResources.Has(name), isHugePagesResourceName(string(name)), isExtendedResourceName(string(name)):
		default:
			allErrs = append(allErrs, field.NotSupported(rPath, name,
				append(sets.List(requestableResources), "hugepages-<size>", "<domain>/<name>")))
			continue
		}
		switch {
		case q.Sign() < 0:
			allErrs = append(allErrs, field.Invalid(rPath, q.String(), "must be greater than or equal to 0"))
		case isExtendedResourceName(string(name)) && q.MilliValue()%1000 != 0:
			allErrs = append(allErrs, field.Invalid(rPath, q.String(), "must be an integer"))
		case q.Sign() > 0:
			positive = true
		}
	}
	if len(allErrs) == 0 && !positive {
		allErrs = append(allErrs, field.Invalid(fldPath, requests, "at least one request must be greater than 0"))
	}
	return allErrs
}

// validateToleration applies the core API's rules for a pod's tolerations.
func validateToleration(t *corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if t.Key != "" {
		allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, fldPath.Child("key"))...)
	} else if t.Operator != corev1.TolerationOpExists {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
	}
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		for _, msg := range utilvalidation.IsValidLabelValue(t.Value) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.Value, msg))
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.Value, "value must be empty when `operator` is 'Exists'"))
		}
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		if strings.HasPrefix(t.Value, "-") || !isDecimal(t.Value) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.Value, fmt.Sprintf("value must be a non-negative integer when `operator` is '%s'", t.Operator)))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("operator"), t.Operator, tolerationOperators))
	}
	if t.Effect != "" && !sets.New(taintEffects...).Has(t.Effect) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("effect"), t.Effect, taintEffects))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
	}
	return allErrs
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validateHeadroomStatuses rejects unnamed or repeated entries and negative
// figures in status.headroom and a group's headroom.
func validateHeadroomStatuses(statuses []clusterview.HeadroomStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i := range statuses {
		h := &statuses[i]
		hPath := fldPath.Index(i)
		allErrs = append(allErrs, validateHeadroomName(h.Name, names, hPath.Child("name"))...)
		names.Insert(h.Name)
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(h.Fits, hPath.Child("fits"))...)
		if h.LimitedBy != "" {
			allErrs = append(allErrs, validateResourceName(h.LimitedBy, hPath.Child("limitedBy"))...)
		}
		for _, name := range sets.List(sets.KeySet(h.LargestFit)) {
			if q := h.LargestFit[name]; q.Sign() < 0 {
				allErrs = append(allErrs, field.Invalid(hPath.Child("largestFit").Key(string(name)), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	return allErrs
}

// Size limits of a headroom shape. Every group of the status repeats each
// shape's largestFit, so these bound the status as much as the spec.
const (
	// MaxShapeRequests caps the requests of a shape.
	MaxShapeRequests = 6
	// MaxShapeTolerations caps the tolerations of a shape.
	MaxShapeTolerations = 8
	// MaxShapeNodeSelector caps the node selector entries of a shape.
	MaxShapeNodeSelector = 8
)

func validateShapeSize(s *clusterview.HeadroomShape, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if n := len(s.Requests); n > MaxShapeRequests {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("requests"), n, MaxShapeRequests))
	}
	if n := len(s.Tolerations); n > MaxShapeTolerations {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("tolerations"), n, MaxShapeTolerations))
	}
	if n := len(s.NodeSelector); n > MaxShapeNodeSelector {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("nodeSelector"), n, MaxShapeNodeSelector))
	}
	for name := range s.Requests {
		if len(name) > MaxResourceNameLength {
			allErrs = append(allErrs, field.TooLong(fldPath.Child("requests").Key(string(name)), "", MaxResourceNameLength))
		}
	}
	return allErrs
}
