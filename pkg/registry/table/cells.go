package table

// The cells below render the figures of summaries as the short strings
// kubectl shows, so every table prints requests, limits, percentages and
// byte sizes the same way.

import (
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterview/clusterview/pkg/apis/clusterview"
)

// None is printed where a list cell has nothing in it, as kubectl does.
const None = "<none>"

// Usage returns the row of a resource; a resource nobody requests or
// provides has no row and reads as zeros.
func Usage(usages []clusterview.ResourceUsage, name corev1.ResourceName) clusterview.ResourceUsage {
	for i := range usages {
		if usages[i].Name == name {
			return usages[i]
		}
	}
	return clusterview.ResourceUsage{Name: name}
}

// Amount renders an amount of a resource: byte-valued resources in
// rounded binary units (quantities keep exact byte counts, which read badly
// in a column, e.g. "1500000000"), everything else as its quantity ("250m",
// "4").
func Amount(name corev1.ResourceName, q resource.Quantity) string {
	if isBytes(name) {
		return Bytes(q.Value())
	}
	return q.String()
}

// AmountPtr renders an optional amount, such as a node's allocatable
// amount of a resource it does not report: absent is zero.
func AmountPtr(name corev1.ResourceName, q *resource.Quantity) string {
	if q == nil {
		return "0"
	}
	return Amount(name, *q)
}

// Limit renders the sum of a resource's limits. When some pods have no
// limit for it the sum is only a lower bound, and printing it alone would
// understate what the pods may use; the cell then adds how many pods are
// unbounded, e.g. "2 (+3 unbounded)": the bounded pods may use 2, and 3 more
// pods as much as their node has. The form is the same when no pod is
// bounded ("0 (+3 unbounded)"), so the column reads one way.
func Limit(u clusterview.ResourceUsage) string {
	if u.PodsWithoutLimit == 0 {
		return Amount(u.Name, u.Limits)
	}
	return fmt.Sprintf("%s (+%d unbounded)", Amount(u.Name, u.Limits), u.PodsWithoutLimit)
}

// binaryUnits are the suffixes Bytes uses, largest first.
var binaryUnits = []struct {
	suffix string
	size   int64
}{{"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}}

// Bytes renders a byte count in the largest binary unit it reaches: whole
// when exact or ten units and more ("3Gi", "12Gi"), else with one decimal
// ("1.5Gi"). Below 1Ki it is the plain count.
func Bytes(v int64) string {
	abs := v
	if abs < 0 {
		abs = -abs
	}
	for _, u := range binaryUnits {
		if abs < u.size {
			continue
		}
		if v%u.size == 0 || abs >= 10*u.size {
			return strconv.FormatInt(v/u.size, 10) + u.suffix
		}
		s := strconv.FormatFloat(float64(v)/float64(u.size), 'f', 1, 64)
		return strings.TrimSuffix(s, ".0") + u.suffix
	}
	return strconv.FormatInt(v, 10)
}

// isBytes reports whether the engine counts a resource in bytes, as
// summary.Quantity decides.
func isBytes(name corev1.ResourceName) bool {
	return name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage || name == corev1.ResourceStorage ||
		strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// Bool renders a flag as kubectl renders conditions.
func Bool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// List joins words with commas, or None.
func List(words []string) string {
	if len(words) == 0 {
		return None
	}
	return strings.Join(words, ",")
}

// RequestPercent renders requests as a whole percentage of allocatable for
// one resource, or <unknown> when the resource is not reported or has no
// allocatable amount.
func RequestPercent(usages []clusterview.ResourceUsage, name corev1.ResourceName) string {
	for i := range usages {
		if usages[i].Name == name {
			return Percent(usages[i].Requests, usages[i].Allocatable)
		}
	}
	return Unknown
}

// Percent renders part as a whole percentage of whole, rounded down. It
// computes exactly: CPU in millicores must not read 28% for 290m of 1, and
// exabyte-scale memory must not overflow.
func Percent(part resource.Quantity, whole *resource.Quantity) string {
	if whole == nil || whole.Sign() <= 0 {
		return Unknown
	}
	// Summaries hold whole millicores and bytes: in thousandths both are
	// exact int64s, and the percentage is one 128-bit multiplication and
	// division, with no big numbers to allocate. A table of 5,000 nodes
	// prints 20,000 percentages.
	if p, ok := milli(part); ok && p >= 0 {
		if w, ok := milli(*whole); ok {
			hi, lo := bits.Mul64(uint64(p), 100)
			if hi < uint64(w) {
				q, _ := bits.Div64(hi, lo, uint64(w))
				return strconv.FormatUint(q, 10) + "%"
			}
		}
	}
	return percentRat(part, *whole)
}

// percentRat is Percent for any quantities, in big rational numbers; whole
// is positive.
func percentRat(part, whole resource.Quantity) string {
	ratio := new(big.Rat).Quo(exact(part), exact(whole))
	ratio.Mul(ratio, big.NewRat(100, 1))
	return new(big.Int).Quo(ratio.Num(), ratio.Denom()).String() + "%"
}

// milli returns q in thousandths, if that is exact and fits an int64.
func milli(q resource.Quantity) (int64, bool) {
	m := q.MilliValue()
	var back resource.Quantity
	back.SetMilli(m)
	return m, q.Cmp(back) == 0
}

// exact returns q as an exact rational number.
func exact(q resource.Quantity) *big.Rat {
	d := q.AsDec()
	scale := d.Scale()
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(scale, -scale))), nil)
	if scale >= 0 {
		return new(big.Rat).SetFrac(d.UnscaledBig(), pow)
	}
	return new(big.Rat).SetInt(new(big.Int).Mul(d.UnscaledBig(), pow))
}

// Use renders what is in use of a resource, from the resource metrics API,
// with its share of allocatable when there is one: "1200m (30%)".
// <unknown> while usage is unavailable.
func Use(u clusterview.ResourceUsage) string {
	if u.Usage == nil {
		return Unknown
	}
	s := Amount(u.Name, *u.Usage)
	if u.Allocatable != nil && u.Allocatable.Sign() > 0 {
		s += " (" + Percent(*u.Usage, u.Allocatable) + ")"
	}
	return s
}

// UsePercent renders usage as a share of allocatable only, for tables
// whose request column is a share too. <unknown> while usage is unavailable.
func UsePercent(u clusterview.ResourceUsage) string {
	if u.Usage == nil {
		return Unknown
	}
	return Percent(*u.Usage, u.Allocatable)
}

// Idle renders what is requested but unused; <unknown> while usage is
// unavailable.
func Idle(u clusterview.ResourceUsage) string {
	if u.Idle == nil {
		return Unknown
	}
	return Amount(u.Name, *u.Idle)
}
