package clustersummarystatus

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/summary"
)

// Reasons of the HeadroomLow condition.
const (
	ReasonHeadroomBelowMinimum = "HeadroomBelowMinimum"
	ReasonHeadroomSufficient   = "HeadroomSufficient"
)

// shapes turns spec.headroom into the engine's shapes. A node selector is a
// plain label map, as in a pod spec.
func shapes(spec []v1beta1.HeadroomShape) []summary.Shape {
	if len(spec) == 0 {
		return nil
	}
	out := make([]summary.Shape, len(spec))
	for i, s := range spec {
		out[i] = summary.Shape{Name: s.Name, Requests: s.Requests, Tolerations: s.Tolerations}
		if len(s.NodeSelector) > 0 {
			out[i].NodeSelector = labels.SelectorFromSet(s.NodeSelector)
		}
	}
	return out
}

// headroomLowCondition is True when a shape with minFits has fewer fits;
// its message names every such shape. ok is false when no shape sets
// minFits: the condition is then absent.
func headroomLowCondition(spec []v1beta1.HeadroomShape, status []v1beta1.HeadroomStatus, generation int64) (metav1.Condition, bool) {
	fits := make(map[string]int64, len(status))
	for _, h := range status {
		fits[h.Name] = h.Fits
	}
	var low []string
	watched := 0
	for _, s := range spec {
		if s.MinFits == nil {
			continue
		}
		watched++
		if f := fits[s.Name]; f < *s.MinFits {
			low = append(low, fmt.Sprintf("%s fits %d, below minFits %d", s.Name, f, *s.MinFits))
		}
	}
	if watched == 0 {
		return metav1.Condition{}, false
	}
	if len(low) == 0 {
		return metav1.Condition{
			Type: v1beta1.ConditionHeadroomLow, Status: metav1.ConditionFalse, ObservedGeneration: generation,
			Reason: ReasonHeadroomSufficient, Message: "every shape with minFits fits at least that many pods",
		}, true
	}
	return metav1.Condition{
		Type: v1beta1.ConditionHeadroomLow, Status: metav1.ConditionTrue, ObservedGeneration: generation,
		Reason: ReasonHeadroomBelowMinimum, Message: strings.Join(low, "; "),
	}, true
}
