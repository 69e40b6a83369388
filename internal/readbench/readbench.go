// Package readbench encodes read responses as the generic API server's
// handlers do, for benchmarks that time clusterview's reads against the core
// API's encoded by the same serializer in the same run: a list with its
// group's JSON serializer (streaming collection encoding on, as
// genericapiserver.NewDefaultAPIGroupInfo configures it), and a list as the
// meta.k8s.io/v1 Table kubectl asks for, with each row's object reduced to
// PartialObjectMetadata as the list handler does by default.
package readbench

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Encoder encodes objects into a buffer it reuses, so that a benchmark
// counts the encoding and not the growth of a fresh buffer.
type Encoder struct {
	enc runtime.Encoder
	buf bytes.Buffer
}

// ListJSON returns the encoder the API server answers a JSON list of group
// version gv with: scheme's JSON serializer with streaming collection
// encoding, converting to gv.
func ListJSON(scheme *runtime.Scheme, gv schema.GroupVersion) (*Encoder, error) {
	codecs := serializer.NewCodecFactory(scheme, serializer.WithStreamingCollectionEncodingToJSON())
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		return nil, fmt.Errorf("no JSON serializer for %v", gv)
	}
	return &Encoder{enc: codecs.EncoderForVersion(info.Serializer, gv)}, nil
}

// TableJSON returns the encoder the API server answers a request for a
// meta.k8s.io/v1 Table in JSON with: the meta internal version codecs.
func TableJSON() (*Encoder, error) {
	info, ok := runtime.SerializerInfoForMediaType(metainternalversionscheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		return nil, fmt.Errorf("no JSON serializer for tables")
	}
	return &Encoder{enc: metainternalversionscheme.Codecs.EncoderForVersion(info.Serializer, metav1.SchemeGroupVersion)}, nil
}

// Encode encodes obj, replacing what the previous call encoded, and
// returns the size of the encoding.
func (e *Encoder) Encode(obj runtime.Object) (int, error) {
	e.buf.Reset()
	if err := e.enc.Encode(obj, &e.buf); err != nil {
		return 0, err
	}
	return e.buf.Len(), nil
}

// Bytes returns what the last Encode encoded, valid until the next call.
func (e *Encoder) Bytes() []byte { return e.buf.Bytes() }

// AsTable finishes a table as the list handler does when the client asks
// for no particular includeObject: each row's object becomes its
// PartialObjectMetadata.
func AsTable(t *metav1.Table) error {
	for i := range t.Rows {
		m, err := meta.Accessor(t.Rows[i].Object.Object)
		if err != nil {
			return err
		}
		partial := meta.AsPartialObjectMetadata(m)
		partial.GetObjectKind().SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
		t.Rows[i].Object.Object = partial
	}
	return nil
}

// Read is one read as a benchmark times it: it returns the size of the
// response it encoded.
type Read func() (int, error)

// Compare times ours, once per b.N, as the benchmark's own figures (ns/op,
// and B/op and allocs/op with ReportAllocs), and the peer's read as many
// times with the timer stopped. It reports the peer's time per read as
// "peer-ns/op", ours over it as "x-peer" (1.5: ours takes half as long
// again as the peer), and the size of each response ("resp-B",
// "peer-resp-B"). Both run alternately, so a machine busy for a while
// slows both. Each read runs once untimed first, so that reused buffers
// have grown.
//
// On a shared machine wall time mostly measures the neighbours, so it also
// reports the CPU time of the whole process (every thread, so the garbage
// collector's background work too) during each side's reads: "cpu-ns/op",
// "peer-cpu-ns/op" and their ratio "x-peer-cpu". Collection work a side's
// garbage leaves for later may be counted to the other side.
func Compare(b *testing.B, ours, peer Read) {
	b.Helper()
	if _, err := peer(); err != nil {
		b.Fatal(err)
	}
	if _, err := ours(); err != nil {
		b.Fatal(err)
	}
	var peerTime, cpu, peerCPU time.Duration
	var size, peerSize int
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		start, startCPU := time.Now(), processCPU()
		n, err := peer()
		if err != nil {
			b.Fatal(err)
		}
		peerTime += time.Since(start)
		mid := processCPU()
		peerCPU += mid - startCPU
		peerSize = n
		b.StartTimer()
		if size, err = ours(); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - mid
	}
	b.StopTimer()
	perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	peerNs := perOp(peerTime)
	b.ReportMetric(peerNs, "peer-ns/op")
	if peerNs > 0 {
		b.ReportMetric(perOp(b.Elapsed())/peerNs, "x-peer")
	}
	b.ReportMetric(perOp(cpu), "cpu-ns/op")
	b.ReportMetric(perOp(peerCPU), "peer-cpu-ns/op")
	if peerCPU > 0 {
		b.ReportMetric(float64(cpu)/float64(peerCPU), "x-peer-cpu")
	}
	b.ReportMetric(float64(size), "resp-B")
	b.ReportMetric(float64(peerSize), "peer-resp-B")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Resource is what a list read needs of a resource's storage.
type Resource interface {
	rest.Lister
	rest.TableConvertor
}

// BenchmarkList runs two sub-benchmarks of listing r through the code the
// server runs for a list request, from the storage's List to the encoded
// response: "json", as `kubectl get -o json` asks, encoded for group
// version gv with scheme's serializer, and "table", the Table plain
// `kubectl get` asks for. Each fails unless the list holds want items, and
// is compared (see Compare) with encoding peer, a core list, with the same
// JSON serializer. kube-apiserver's own Table printers live in
// k8s.io/kubernetes, which this module does not import, so the table read
// is compared with the peer's JSON list too.
func BenchmarkList(b *testing.B, r Resource, scheme *runtime.Scheme, gv schema.GroupVersion, want int, peer runtime.Object) {
	peerEnc, err := ListJSON(clientgoscheme.Scheme, peer.GetObjectKind().GroupVersionKind().GroupVersion())
	if err != nil {
		b.Fatal(err)
	}
	encodePeer := func() (int, error) { return peerEnc.Encode(peer) }
	ctx := genericapirequest.NewContext()
	list := func() (runtime.Object, error) {
		l, err := r.List(ctx, &metainternalversion.ListOptions{})
		if err != nil {
			return nil, err
		}
		if n := meta.LenList(l); n != want {
			return nil, fmt.Errorf("listed %d items, want %d", n, want)
		}
		return l, nil
	}
	asJSON := func(l runtime.Object) (runtime.Object, error) { return l, nil }
	asTable := func(l runtime.Object) (runtime.Object, error) {
		t, err := r.ConvertToTable(context.Background(), l, &metav1.TableOptions{})
		if err != nil {
			return nil, err
		}
		return t, AsTable(t)
	}
	for _, c := range []struct {
		name    string
		encoder func() (*Encoder, error)
		render  func(runtime.Object) (runtime.Object, error)
	}{
		{"json", func() (*Encoder, error) { return ListJSON(scheme, gv) }, asJSON},
		{"table", TableJSON, asTable},
	} {
		b.Run(c.name, func(b *testing.B) {
			enc, err := c.encoder()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			Compare(b, func() (int, error) {
				l, err := list()
				if err != nil {
					return 0, err
				}
				out, err := c.render(l)
				if err != nil {
					return 0, err
				}
				return enc.Encode(out)
			}, encodePeer)
		})
	}
}

// BenchmarkPeer times encoding peer alone, with its own allocation figures.
func BenchmarkPeer(b *testing.B, peer runtime.Object) {
	enc, err := ListJSON(clientgoscheme.Scheme, peer.GetObjectKind().GroupVersionKind().GroupVersion())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := enc.Encode(peer); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(peer); err != nil {
			b.Fatal(err)
		}
	}
}
