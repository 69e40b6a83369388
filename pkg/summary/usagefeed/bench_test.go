package usagefeed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	metricsscheme "k8s.io/metrics/pkg/client/clientset/versioned/scheme"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/clusterview/clusterview/internal/jsonlist"
	"github.com/clusterview/clusterview/internal/protolist"
	fx "github.com/clusterview/clusterview/internal/testfixtures"
	"github.com/clusterview/clusterview/pkg/summary"
)

// benchPods is the full size of the scale bench.
const benchPods = 150_000

// sampledAt is the time of every sample of podMetricsList.
var sampledAt = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// podMetricsList is a PodMetricsList of benchPods pods as metrics-server
// serves it: each item carries its pod's labels and two containers' usage
// in the units a kubelet reports.
func podMetricsList() *metricsapi.PodMetricsList {
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
	return &list
}

// encodeList encodes list as metrics-server's API server does for the media
// type: its group's serializer, collections streamed item by item. The
// fake metrics API of the tests answers with it too.
func encodeList(list runtime.Object, mediaType string, w io.Writer) error {
	codecs := serializer.NewCodecFactory(metricsscheme.Scheme, serializer.WithStreamingCollectionEncodingToJSON(), serializer.WithStreamingCollectionEncodingToProtobuf())
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return fmt.Errorf("no serializer for %s", mediaType)
	}
	return codecs.EncoderForVersion(info.Serializer, metricsapi.SchemeGroupVersion).Encode(list, w)
}

// BenchmarkReadPodMetrics reads one round's PodMetrics at the full size
// from a local HTTP server, streamed as the poller does, in protobuf
// ("streamed-protobuf", what the poller asks metrics-server for) and in
// JSON ("streamed", what it asked for before, and what a server without
// protobuf answers). As rows to compare with: through the typed client's
// List in JSON, and streamed, in protobuf and in JSON, into the typed
// PodMetrics instead of the fields a round reads. held-B/pod is the live heap while the caller
// holds the result: what the typed List keeps is all there at once before
// the round can use any of it (the response body, read whole before
// decoding, comes on top), while the stream keeps a few numbers per pod and
// lets each decoded item go. "encode-json" and "encode-protobuf" are the
// server's side: encoding the list as metrics-server's API server does.
func BenchmarkReadPodMetrics(b *testing.B) {
	list := podMetricsList()
	var jsonBody, protobufBody bytes.Buffer
	if err := errors.Join(encodeList(list, runtime.ContentTypeJSON, &jsonBody), encodeList(list, runtime.ContentTypeProtobuf, &protobufBody)); err != nil {
		b.Fatal(err)
	}
	b.Logf("PodMetricsList of %d pods: %d bytes of JSON, %d of protobuf", benchPods, jsonBody.Len(), protobufBody.Len())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Accept"), runtime.ContentTypeProtobuf) {
			w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
			_, _ = w.Write(protobufBody.Bytes())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jsonBody.Bytes())
	}))
	b.Cleanup(srv.Close)
	newClient := func(cfg *rest.Config) metricsv1beta1.MetricsV1beta1Interface {
		c, err := metricsclient.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return c.MetricsV1beta1()
	}
	c := newClient(&rest.Config{Host: srv.URL})
	poller := func(c metricsv1beta1.MetricsV1beta1Interface) *Poller {
		p := New(c, summary.New(summary.Options{}), time.Minute)
		// Every sample is current.
		p.clock = clocktesting.NewFakeClock(sampledAt)
		return p
	}
	jsonPoller, protobufPoller := poller(c), poller(newClient(ClientConfig(&rest.Config{Host: srv.URL})))
	ctx := context.Background()
	read := map[string]func() (any, int, error){
		"streamed": func() (any, int, error) {
			pods, err := jsonPoller.readPodMetrics(ctx)
			return pods, len(pods), err
		},
		"streamed-protobuf": func() (any, int, error) {
			pods, err := protobufPoller.readPodMetrics(ctx)
			return pods, len(pods), err
		},
		// The typed items the protobuf stream could decode with their
		// generated Unmarshal instead of decodePodUsage.
		"streamed-protobuf-typed-items": func() (any, int, error) {
			resp, err := protobufPoller.client.RESTClient().Get().Resource("pods").Stream(ctx)
			if err != nil {
				return nil, 0, err
			}
			defer func() { _ = resp.Close() }()
			var pods []summary.PodUse
			err = protolist.EachItem(resp, func(raw []byte) error {
				var m metricsapi.PodMetrics
				if err := m.Unmarshal(raw); err != nil {
					return err
				}
				pods = append(pods, summary.PodUse{Namespace: m.Namespace, Name: m.Name, CPU: m.Containers[0].Usage.Cpu().MilliValue()})
				return nil
			})
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
	for _, mediaType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeProtobuf} {
		name := map[string]string{runtime.ContentTypeJSON: "encode-json", runtime.ContentTypeProtobuf: "encode-protobuf"}[mediaType]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := encodeList(list, mediaType, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, name := range []string{"streamed-protobuf", "streamed-protobuf-typed-items", "streamed", "streamed-typed-items", "typed-list"} {
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
				goruntime.KeepAlive(got)
			}
			b.ReportMetric(float64(held)/benchPods, "held-B/pod")
		})
	}
}
