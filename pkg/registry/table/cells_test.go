package table

import (
	"math/rand/v2"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

func TestBytes(t *testing.T) {
	for v, want := range map[int64]string{
		0:                 "0",
		1000:              "1000",
		1024:              "1Ki",
		1536:              "1.5Ki",
		1500000000:        "1.4Gi",
		3 << 30:           "3Gi",
		12<<30 + 1<<29:    "12Gi",
		1536 << 20:        "1.5Gi",
		1<<40 + 1<<30:     "1Ti",
		-(1536 << 20):     "-1.5Gi",
		5<<50 + 123456789: "5Pi",
	} {
		if got := Bytes(v); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestAmount(t *testing.T) {
	for _, tt := range []struct {
		name corev1.ResourceName
		q    string
		want string
	}{
		{"cpu", "1500m", "1500m"},
		{"cpu", "2", "2"},
		{"memory", "1536Mi", "1.5Gi"},
		{"ephemeral-storage", "100Gi", "100Gi"},
		{"hugepages-2Mi", "4Mi", "4Mi"},
		{"nvidia.com/gpu", "3", "3"},
	} {
		if got := Amount(tt.name, resource.MustParse(tt.q)); got != tt.want {
			t.Errorf("Amount(%s, %s) = %q, want %q", tt.name, tt.q, got, tt.want)
		}
	}
	if got := AmountPtr("cpu", nil); got != "0" {
		t.Errorf("AmountPtr(nil) = %q", got)
	}
}

func TestLimit(t *testing.T) {
	for _, tt := range []struct {
		u    clusterview.ResourceUsage
		want string
	}{
		{clusterview.ResourceUsage{Name: "cpu", Limits: resource.MustParse("2")}, "2"},
		{clusterview.ResourceUsage{Name: "cpu", Limits: resource.MustParse("2"), PodsWithoutLimit: 3}, "2 (+3 unbounded)"},
		{clusterview.ResourceUsage{Name: "cpu", PodsWithoutLimit: 1}, "0 (+1 unbounded)"},
		{clusterview.ResourceUsage{Name: "memory", Limits: resource.MustParse("512Mi"), PodsWithoutLimit: 2}, "512Mi (+2 unbounded)"},
	} {
		if got := Limit(tt.u); got != tt.want {
			t.Errorf("Limit(%+v) = %q, want %q", tt.u, got, tt.want)
		}
	}
}

func TestUsageListBool(t *testing.T) {
	usages := []clusterview.ResourceUsage{{Name: "cpu", Requests: resource.MustParse("1")}}
	if u := Usage(usages, "cpu"); u.Requests.String() != "1" {
		t.Errorf("Usage(cpu) = %+v", u)
	}
	if u := Usage(usages, "memory"); u.Name != "memory" || !u.Requests.IsZero() || u.Allocatable != nil {
		t.Errorf("Usage(memory) = %+v, want a zero row", u)
	}
	if List(nil) != None || List([]string{"a", "b"}) != "a,b" {
		t.Errorf("List")
	}
	if Bool(true) != "True" || Bool(false) != "False" {
		t.Errorf("Bool")
	}
}

func usageOf(name corev1.ResourceName, requests string, allocatable *resource.Quantity) clusterview.ResourceUsage {
	return clusterview.ResourceUsage{Name: name, Requests: resource.MustParse(requests), Allocatable: allocatable}
}

func qty(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }

func TestPercent(t *testing.T) {
	cases := []struct {
		name  string
		part  string
		whole *resource.Quantity
		want  string
	}{
		{name: "nil allocatable", part: "1", whole: nil, want: "<unknown>"},
		{name: "zero allocatable", part: "1", whole: qty("0"), want: "<unknown>"},
		{name: "zero milli allocatable", part: "0", whole: qty("0m"), want: "<unknown>"},
		{name: "zero Gi allocatable", part: "1Gi", whole: qty("0Gi"), want: "<unknown>"},
		{name: "nothing requested", part: "0", whole: qty("4"), want: "0%"},
		{name: "1500m of 4 truncates 37.5", part: "1500m", whole: qty("4"), want: "37%"},
		{name: "milli of whole", part: "250m", whole: qty("1"), want: "25%"},
		{name: "milli of milli", part: "3999m", whole: qty("4000m"), want: "99%"},
		{name: "tiny share rounds down to 0", part: "1m", whole: qty("64"), want: "0%"},
		{name: "all of it", part: "4", whole: qty("4"), want: "100%"},
		{name: "over-committed", part: "9", whole: qty("4"), want: "225%"},
		{name: "two thirds truncates", part: "2", whole: qty("3"), want: "66%"},
		{name: "memory Gi of Gi", part: "3Gi", whole: qty("8Gi"), want: "37%"},
		{name: "memory Mi of Gi", part: "512Mi", whole: qty("1Gi"), want: "50%"},
		{name: "memory bytes of Ki", part: "1000", whole: qty("1Ki"), want: "97%"},
		{name: "memory decimal of binary", part: "1G", whole: qty("1Gi"), want: "93%"},
		{name: "big memory Ti", part: "750Ti", whole: qty("1Pi"), want: "73%"},
		{name: "big memory Ei", part: "3Ei", whole: qty("4Ei"), want: "75%"},
		{name: "memory beyond int64 bytes", part: "10E", whole: qty("40E"), want: "25%"},
		{name: "memory beyond int64 bytes, plain integers", part: "9223372036854775808", whole: qty("18446744073709551616"), want: "50%"},
		{name: "one byte of exabytes", part: "1", whole: qty("10E"), want: "0%"},
		{name: "huge request of small allocatable", part: "1E", whole: qty("1"), want: "100000000000000000000%"},
		{name: "290m of 1 is 29%", part: "290m", whole: qty("1"), want: "29%"},
		{name: "580m of 2 is 29%", part: "580m", whole: qty("2"), want: "29%"},
		{name: "2070m of 3 is 69%", part: "2070m", whole: qty("3"), want: "69%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var whole *resource.Quantity
			if tc.whole != nil {
				whole = ptr.To(tc.whole.DeepCopy())
			}
			if got := Percent(resource.MustParse(tc.part), whole); got != tc.want {
				t.Errorf("Percent(%s, %v) = %q, want %q", tc.part, tc.whole, got, tc.want)
			}
			// The whole is not modified.
			if tc.whole != nil && whole.Cmp(*tc.whole) != 0 {
				t.Errorf("whole changed to %v", whole)
			}
		})
	}
}

func TestRequestPercent(t *testing.T) {
	usages := []clusterview.ResourceUsage{
		usageOf(corev1.ResourceMemory, "3Gi", qty("8Gi")),
		usageOf(corev1.ResourceCPU, "1500m", qty("4")),
		usageOf("nvidia.com/gpu", "1", nil),
	}
	cases := []struct {
		name   corev1.ResourceName
		usages []clusterview.ResourceUsage
		want   string
	}{
		{corev1.ResourceCPU, usages, "37%"},
		{corev1.ResourceMemory, usages, "37%"},
		{"nvidia.com/gpu", usages, "<unknown>"},
		{corev1.ResourcePods, usages, "<unknown>"},
		{corev1.ResourceCPU, nil, "<unknown>"},
	}
	for _, tc := range cases {
		if got := RequestPercent(tc.usages, tc.name); got != tc.want {
			t.Errorf("RequestPercent(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPercentFastPath checks Percent's int64 shortcut against the exact
// rational computation on quantities of every kind a summary or a user
// could hold: millicores, bytes, sub-milli fractions, negatives and values
// beyond int64 in thousandths.
func TestPercentFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	suffixes := []string{"", "m", "u", "n", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"}
	random := func() resource.Quantity {
		var v int64
		switch rng.IntN(3) {
		case 0:
			v = rng.Int64N(1000)
		case 1:
			v = rng.Int64N(1 << 40)
		default:
			v = rng.Int64()
		}
		if rng.IntN(8) == 0 {
			v = -v
		}
		return resource.MustParse(strconv.FormatInt(v, 10) + suffixes[rng.IntN(len(suffixes))])
	}
	for range 20000 {
		part, whole := random(), random()
		if whole.Sign() <= 0 {
			continue
		}
		if got, want := Percent(part, &whole), percentRat(part, whole); got != want {
			t.Fatalf("Percent(%s, %s) = %s, want %s", part.String(), whole.String(), got, want)
		}
	}
}
