package usagefeed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/clusterview/clusterview/internal/jsonlist"
	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/summary"
)

// benchPods is the full size of the scale bench.
const benchPods = 150_000

// sampledAt is the time of every sample of podMetricsBody.
var sampledAt = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// podMetricsBody is a PodMetricsList of benchPods pods as metrics-server
// serves it: each item carries its pod's labels and two containers' usage
// in the units a kubelet reports.
func podMetricsBody(b *testing.B) []byte {
	b.Helper()
	ts := metav1.NewTime(sampledAt)
	list := metricsapi.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}}
	list.Items = make([]metricsapi.PodMetrics, benchPods)
	for i := range list.Items {
		list.Items[i] = metricsapi.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: fmt.Sprintf("team-%d-app-%04d", i%20, i%500), Name: fmt.Sprintf("service-%04d-7d9f8c6b5-%05d", i%500, i),
				CreationTimestamp: ts,
				Labels:            map[string]string{"app": fmt.Sprintf("service-%04d", i%500), "pod-template-hash": "7d9f8c6b5"},
			},
			Timestamp: ts, Window: metav1.Duration{Duration: 15 * time.Second},
			Containers: []metricsapi.ContainerMetrics{
				{Name: "app", Usage: usage(fmt.Sprintf("%dn", 123456789+i), fmt.Sprintf("%dKi", 262144+i))},
				{Name: "proxy", Usage: usage(fmt.Sprintf("%dn", 2345678+i), fmt.Sprintf("%dKi", 32768+i))},
			},
		}
	}
	raw, err := json.Marshal(&list)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkReadPodMetrics reads one round's PodMetrics at the full size
// from a local HTTP server, streamed as the poller does and, as the row to
// compare with, through the typed client's List, and streamed into the typed
// PodMetrics instead of the fields a round reads. held-B/pod is the live
// heap while the caller holds the result: what the typed List keeps is all
// there at once before the round can use any of it (the response body, read
// whole before decoding, comes on top), while the stream keeps a few
// numbers per pod and lets each decoded item go.
func BenchmarkReadPodMetrics(b *testing.B) {
	body := podMetricsBody(b)
	b.Logf("PodMetricsList of %d pods: %d bytes of JSON", benchPods, len(body))
	c := client(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	p := New(c, summary.New(summary.Options{}), time.Minute)
	// Every sample is current.
	p.clock = clocktesting.NewFakeClock(sampledAt)
	ctx := context.Background()
	read := map[string]func() (any, int, error){
		"streamed": func() (any, int, error) {
			pods, err := p.readPodMetrics(ctx)
			return pods, len(pods), err
		},
		// The typed items the stream could decode instead of
		// podMetricsUsage.
		"streamed-typed-items": func() (any, int, error) {
			resp, err := c.RESTClient().Get().Resource("pods").Stream(ctx)
			if err != nil {
				return nil, 0, err
			}
			defer func() { _ = resp.Close() }()
			var pods []summary.PodUse
			err = jsonlist.EachItem(json.NewDecoder(resp), func(dec *json.Decoder) error {
				var m metricsapi.PodMetrics
				if err := dec.Decode(&m); err != nil {
					return err
				}
				pods = append(pods, summary.PodUse{Namespace: m.Namespace, Name: m.Name, CPU: m.Containers[0].Usage.Cpu().MilliValue()})
				return nil
			})
			return pods, len(pods), err
		},
		"typed-list": func() (any, int, error) {
			list, err := c.PodMetricses(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, 0, err
			}
			return list, len(list.Items), nil
		},
	}
	for _, name := range []string{"streamed", "streamed-typed-items", "typed-list"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var held uint64
			for b.Loop() {
				before := fx.LiveHeap()
				got, n, err := read[name]()
				if err != nil || n != benchPods {
					b.Fatalf("read %d pods, err %v", n, err)
				}
				held = max(held, fx.LiveHeap()-before)
				runtime.KeepAlive(got)
			}
			b.ReportMetric(float64(held)/benchPods, "held-B/pod")
		})
	}
}
