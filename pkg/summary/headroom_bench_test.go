package summary

import (
	"fmt"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// statusInterval is the least time between two status writes of one
// ClusterSummary: each write computes every shape of its spec once.
const statusInterval = 250 * time.Millisecond

var (
	headroomOnce   sync.Once
	headroomEngine *Engine
)

// headroomBenchEngine is 5,000 nodes in three zones and ten pools, with
// what makes shapes differ: every fifth node tainted dedicated=batch
// (NoSchedule), every tenth spot (NoExecute), one in fifty with a GPU, one
// in a hundred cordoned, and 20 pods on each. A node's headroom depends on
// its pods' summed requests only, so 20 pods a node cost what 30 would.
func headroomBenchEngine() *Engine {
	headroomOnce.Do(func() {
		e := New(Options{})
		e.UpsertNamespace(mkNS("apps"))
		for i := range benchNodes {
			name := benchNodeName(i)
			opts := []nodeOpt{
				nodeLabels("zone", fmt.Sprintf("zone-%d", i%3), "pool", fmt.Sprintf("pool-%d", i%10), "kubernetes.io/hostname", name),
				capacity("cpu", "16", "memory", "64Gi", "pods", "110", "ephemeral-storage", "100Gi"),
				allocatable("cpu", "15500m", "memory", "62Gi", "pods", "110", "ephemeral-storage", "95Gi"),
			}
			if i%50 == 0 {
				opts = append(opts, allocatable("cpu", "15500m", "memory", "62Gi", "pods", "110", "ephemeral-storage", "95Gi", "nvidia.com/gpu", "4"))
			}
			if i%5 == 0 {
				opts = append(opts, tainted(taint("dedicated", "batch", v1.TaintEffectNoSchedule)))
			}
			if i%10 == 3 {
				opts = append(opts, tainted(taint("spot", "", v1.TaintEffectNoExecute)))
			}
			if i%100 == 7 {
				opts = append(opts, cordoned())
			}
			e.UpsertNode(mkNode(name, opts...))
			for j := range 20 {
				req := rl("cpu", fmt.Sprintf("%dm", 100+(i+j)%700), "memory", fmt.Sprintf("%dMi", 128+(i*j)%1500))
				if i%50 == 0 && j == 0 {
					req = rl("cpu", "1", "memory", "4Gi", "nvidia.com/gpu", "1")
				}
				e.UpsertPod(mkPod("apps", fmt.Sprintf("p-%05d-%02d", i, j), onNode(name), withContainers(ctr("c", req, nil))))
			}
		}
		headroomEngine = e
	})
	return headroomEngine
}

// BenchmarkHeadroom is what the headroom of issue #15 adds to a status
// write: Cluster with the eight shapes of benchShapes (an extended resource,
// tolerations, node selectors) over 5,000 nodes, timed, against the same
// Cluster with no shapes, run untimed in the same loop. It reports the
// shapeless read (base-ns/op), the difference (added-ns/write) and that
// difference as a share of the status interval (interval-%), the most
// often one summary's status is written.
func BenchmarkHeadroom(b *testing.B) {
	e := headroomBenchEngine()
	for _, c := range []struct {
		name string
		sel  Selection
	}{
		{"8-shapes", Selection{Headroom: benchShapes()}},
		{"8-shapes-grouped", Selection{Headroom: benchShapes(), GroupByNodeLabel: "zone"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			base := c.sel
			base.Headroom = nil
			if h := e.Cluster(c.sel).Headroom; len(h) != 8 || h[0].Fits == 0 {
				b.Fatalf("headroom of the bench shapes = %+v, want 8 shapes, the first fitting", h)
			}
			var baseTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				start := time.Now()
				_ = e.Cluster(base)
				baseTime += time.Since(start)
				b.StartTimer()
				_ = e.Cluster(c.sel)
			}
			b.StopTimer()
			baseNs := float64(baseTime.Nanoseconds()) / float64(b.N)
			added := float64(b.Elapsed().Nanoseconds())/float64(b.N) - baseNs
			b.ReportMetric(baseNs, "base-ns/op")
			b.ReportMetric(added, "added-ns/write")
			b.ReportMetric(100*added/float64(statusInterval.Nanoseconds()), "interval-%")
		})
	}
}
