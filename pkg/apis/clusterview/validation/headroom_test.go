package validation

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

func reqs(pairs ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

func tooMany(path string) fieldErr { return fieldErr{field.ErrorTypeTooMany, path} }

func TestValidateHeadroomShapes(t *testing.T) {
	web := clusterview.HeadroomShape{Name: "web", Requests: reqs("cpu", "500m", "memory", "1Gi")}
	seconds := int64(30)
	cases := []struct {
		name   string
		shapes []clusterview.HeadroomShape
		want   []fieldErr
	}{
		{name: "one shape", shapes: []clusterview.HeadroomShape{web}},
		{
			name: "every accepted field",
			shapes: []clusterview.HeadroomShape{{
				Name:     "gpu-job",
				Requests: reqs("cpu", "2", "memory", "8Gi", "ephemeral-storage", "10Gi", "hugepages-2Mi", "64Mi", "nvidia.com/gpu", "1", "example.com/zero", "0"),
				Tolerations: []corev1.Toleration{
					{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
					{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ml"},
					{Key: "dedicated", Value: "ml"}, // empty operator means Equal
					{Operator: corev1.TolerationOpExists},
					{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
					{Key: "tier", Operator: corev1.TolerationOpGt, Value: "3"},
				},
				NodeSelector: map[string]string{"node.kubernetes.io/instance-type": "p4d.24xlarge", "accelerator": ""},
				MinFits:      ptr.To[int64](0),
			}},
		},
		{
			name: "nine shapes",
			shapes: func() []clusterview.HeadroomShape {
				var out []clusterview.HeadroomShape
				for i := range 9 {
					out = append(out, clusterview.HeadroomShape{Name: fmt.Sprintf("s%d", i), Requests: reqs("cpu", "1")})
				}
				return out
			}(),
			want: []fieldErr{tooMany("spec.headroom")},
		},

		// Names.
		{
			name:   "missing name",
			shapes: []clusterview.HeadroomShape{{Requests: reqs("cpu", "1")}},
			want:   []fieldErr{required("spec.headroom[0].name")},
		},
		{
			name:   "duplicate name",
			shapes: []clusterview.HeadroomShape{web, web},
			want:   []fieldErr{duplicate("spec.headroom[1].name")},
		},
		{
			name:   "name that is no DNS label",
			shapes: []clusterview.HeadroomShape{{Name: "Web_Small", Requests: reqs("cpu", "1")}, {Name: strings.Repeat("a", 64), Requests: reqs("cpu", "1")}},
			want:   []fieldErr{invalid("spec.headroom[0].name"), invalid("spec.headroom[1].name")},
		},

		// Requests, as a pod's.
		{
			name:   "no requests",
			shapes: []clusterview.HeadroomShape{{Name: "empty"}},
			want:   []fieldErr{required("spec.headroom[0].requests")},
		},
		{
			name:   "only zero requests",
			shapes: []clusterview.HeadroomShape{{Name: "zero", Requests: reqs("cpu", "0", "memory", "0")}},
			want:   []fieldErr{invalid("spec.headroom[0].requests")},
		},
		{
			name:   "negative request",
			shapes: []clusterview.HeadroomShape{{Name: "neg", Requests: reqs("cpu", "1", "memory", "-1Gi")}},
			want:   []fieldErr{invalid("spec.headroom[0].requests[memory]")},
		},
		{
			name:   "fractional extended resource",
			shapes: []clusterview.HeadroomShape{{Name: "half", Requests: reqs("nvidia.com/gpu", "500m")}},
			want:   []fieldErr{invalid("spec.headroom[0].requests[nvidia.com/gpu]")},
		},
		{
			name:   "resources no pod requests",
			shapes: []clusterview.HeadroomShape{{Name: "odd", Requests: reqs("cpu", "1", "pods", "1", "storage", "1Gi", "gpus", "1", "kubernetes.io/foo", "1")}},
			want: []fieldErr{
				notSupported("spec.headroom[0].requests[gpus]"), notSupported("spec.headroom[0].requests[kubernetes.io/foo]"),
				notSupported("spec.headroom[0].requests[pods]"), notSupported("spec.headroom[0].requests[storage]"),
			},
		},

		// Tolerations, as a pod's.
		{
			name: "invalid tolerations",
			shapes: []clusterview.HeadroomShape{{Name: "tol", Requests: reqs("cpu", "1"), Tolerations: []corev1.Toleration{
				{Key: "bad key", Operator: corev1.TolerationOpExists},
				{Operator: corev1.TolerationOpEqual, Value: "x"},
				{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"},
				{Key: "k", Operator: "Matches"},
				{Key: "k", Operator: corev1.TolerationOpExists, Effect: "NoRun"},
				{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: &seconds},
				{Key: "k", Value: "not a label value"},
				{Key: "k", Operator: corev1.TolerationOpLt, Value: "ten"},
			}}},
			want: []fieldErr{
				invalid("spec.headroom[0].tolerations[0].key"),
				invalid("spec.headroom[0].tolerations[1].operator"),
				invalid("spec.headroom[0].tolerations[2].value"),
				notSupported("spec.headroom[0].tolerations[3].operator"),
				notSupported("spec.headroom[0].tolerations[4].effect"),
				invalid("spec.headroom[0].tolerations[5].effect"),
				invalid("spec.headroom[0].tolerations[6].value"),
				invalid("spec.headroom[0].tolerations[7].value"),
			},
		},

		// Node selector and minFits.
		{
			name:   "invalid node selector",
			shapes: []clusterview.HeadroomShape{{Name: "sel", Requests: reqs("cpu", "1"), NodeSelector: map[string]string{"bad key": "x", "ok": "bad value"}}},
			want:   []fieldErr{invalid("spec.headroom[0].nodeSelector"), invalid("spec.headroom[0].nodeSelector")},
		},
		{
			name:   "negative minFits",
			shapes: []clusterview.HeadroomShape{{Name: "min", Requests: reqs("cpu", "1"), MinFits: ptr.To[int64](-1)}},
			want:   []fieldErr{invalid("spec.headroom[0].minFits")},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErrs(t, ValidateClusterSummarySpec(&clusterview.ClusterSummarySpec{Headroom: c.shapes}, field.NewPath("spec")), c.want)
		})
	}
}

func TestValidateHeadroomStatus(t *testing.T) {
	good := clusterview.HeadroomStatus{Name: "web", Fits: 3, LimitedBy: "cpu", LargestFit: reqs("cpu", "1500m", "memory", "2Gi")}
	bad := clusterview.HeadroomStatus{Name: "web", Fits: -1, LimitedBy: "gpus", LargestFit: reqs("memory", "-1")}
	status := clusterview.ClusterSummaryStatus{
		Headroom: []clusterview.HeadroomStatus{good, bad},
		Groups:   []clusterview.GroupSummary{{Name: "a", Headroom: []clusterview.HeadroomStatus{good, {Name: "db"}}}, {Name: "b", Headroom: []clusterview.HeadroomStatus{{}}}},
	}
	checkErrs(t, ValidateClusterSummaryStatus(&status, field.NewPath("status")), []fieldErr{
		required("status.groups[1].headroom[0].name"),
		duplicate("status.headroom[1].name"),
		invalid("status.headroom[1].fits"),
		notSupported("status.headroom[1].limitedBy"),
		invalid("status.headroom[1].largestFit[memory]"),
	})
}
