package usagefeed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/clusterview/clusterview/pkg/summary"
)

// fakeAPI serves the two lists over HTTP as the metrics API does, from what
// the test sets, or answers 503 while unavailable. The test changes it only
// through set and reads it through listCalls: a round whose other list
// failed cancels its request, and the server may still be answering that
// request when Poll has returned.
type fakeAPI struct {
	mu          sync.Mutex
	nodes       metricsapi.NodeMetricsList
	pods        metricsapi.PodMetricsList
	unavailable bool
	lists       int
	// jsonOnly answers in JSON whatever the client asks, as a metrics API
	// server without protobuf does; otherwise the fake answers in
	// protobuf when asked first for it, as metrics-server does.
	jsonOnly bool
	// protobufLists counts the lists answered in protobuf.
	protobufLists int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.unavailable {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable, Message: "the server is currently unable to handle the request"})
		return
	}
	var list runtime.Object
	switch r.URL.Path {
	case "/apis/metrics.k8s.io/v1beta1/nodes":
		f.nodes.TypeMeta = metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}
		list = &f.nodes
	case "/apis/metrics.k8s.io/v1beta1/pods":
		f.pods.TypeMeta = metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}
		list = &f.pods
	default:
		http.NotFound(w, r)
		return
	}
	if writeList(w, r, list, f.jsonOnly) {
		f.protobufLists++
	}
}

// writeList answers r with list in protobuf when r asks first for it and
// jsonOnly is false (it then returns true), and in JSON otherwise, encoded
// as metrics-server encodes it (encodeList).
func writeList(w http.ResponseWriter, r *http.Request, list runtime.Object, jsonOnly bool) bool {
	mediaType := runtime.ContentTypeJSON
	if !jsonOnly && strings.HasPrefix(r.Header.Get("Accept"), runtime.ContentTypeProtobuf) {
		mediaType = runtime.ContentTypeProtobuf
	}
	w.Header().Set("Content-Type", mediaType)
	if err := encodeList(list, mediaType, w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	return mediaType == runtime.ContentTypeProtobuf
}

// set changes what the fake serves.
func (f *fakeAPI) set(change func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// listCalls is how many requests the fake has answered.
func (f *fakeAPI) listCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

// client is a metrics API client of a server that answers with h.
func client(t testing.TB, h http.Handler) metricsv1beta1.MetricsV1beta1Interface {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := metricsclient.NewForConfig(ClientConfig(&rest.Config{Host: srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	return c.MetricsV1beta1()
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

func usage(cpu, mem string) v1.ResourceList {
	return v1.ResourceList{v1.ResourceCPU: q(cpu), v1.ResourceMemory: q(mem)}
}

// TestPollFeedsTheEngine runs against a server that answers in protobuf,
// as metrics-server does, and one that answers only JSON.
func TestPollFeedsTheEngine(t *testing.T) {
	for _, jsonOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "protobuf", true: "json-only"}[jsonOnly], func(t *testing.T) { testPollFeedsTheEngine(t, jsonOnly) })
	}
}

func testPollFeedsTheEngine(t *testing.T, jsonOnly bool) {
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	e := summary.New(summary.Options{})
	e.UpsertNamespace(&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}})
	e.UpsertNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	e.UpsertNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}})
	for _, name := range []string{"a", "b"} {
		e.UpsertPod(&v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: v1.PodSpec{NodeName: "n1", Containers: []v1.Container{{Name: "c",
				Resources: v1.ResourceRequirements{Requests: usage("1", "1Gi")}}}},
			Status: v1.PodStatus{Phase: v1.PodRunning},
		})
	}

	api := &fakeAPI{jsonOnly: jsonOnly}
	ts := metav1.NewTime(start.Add(-5 * time.Second))
	api.nodes.Items = []metricsapi.NodeMetrics{
		{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Timestamp: ts, Window: metav1.Duration{Duration: 15 * time.Second}, Usage: usage("1500m", "3Gi")},
		// Taken more than StaleAfter intervals ago: not current.
		{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Timestamp: metav1.NewTime(start.Add(-time.Minute)), Usage: usage("1", "1Gi")},
	}
	api.pods.Items = []metricsapi.PodMetrics{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}, Timestamp: ts, Containers: []metricsapi.ContainerMetrics{
			{Name: "c", Usage: usage("200m", "512Mi")}, {Name: "d", Usage: usage("100m", "256Mi")}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}, Timestamp: ts, Containers: []metricsapi.ContainerMetrics{
			{Name: "c", Usage: usage("1200m", "2Gi")}}},
	}
	p := New(client(t, api), e, 10*time.Second)
	p.clock = clk

	p.Poll(ctx)
	if n := api.listCalls(); n != 2 {
		t.Fatalf("one round made %d list calls, want 2", n)
	}
	wantProtobuf := 2
	if jsonOnly {
		wantProtobuf = 0
	}
	api.set(func(f *fakeAPI) {
		if f.protobufLists != wantProtobuf {
			t.Errorf("%d of the 2 lists were answered in protobuf, want %d", f.protobufLists, wantProtobuf)
		}
	})
	n1, _, _ := e.NodeAt("n1")
	if got := rowOf(n1.Resources, v1.ResourceCPU); !got.HasUsage || got.Usage != 1500 || !n1.UsageTimestamp.Equal(ts.Time) || n1.UsageWindow != 15*time.Second {
		t.Fatalf("n1 cpu %+v at %v/%v, want 1500m at %v/15s", got, n1.UsageTimestamp, n1.UsageWindow, ts.Time)
	}
	if n2, _, _ := e.NodeAt("n2"); rowOf(n2.Resources, v1.ResourceCPU).HasUsage {
		t.Fatalf("n2's stale sample was reported: %+v", n2.Resources)
	}
	ns, _, _ := e.NamespaceAt("ns")
	cpu, mem := rowOf(ns.Resources, v1.ResourceCPU), rowOf(ns.Resources, v1.ResourceMemory)
	// Pod a: 300m and 768Mi of 1 and 1Gi; pod b: 1200m (over its request) and 2Gi.
	if cpu.Usage != 1500 || cpu.Idle != 700 || mem.Usage != (768+2048)<<20 || mem.Idle != 256<<20 {
		t.Fatalf("namespace cpu %+v memory %+v", cpu, mem)
	}

	// Failing reads keep the last round while it is current...
	api.set(func(f *fakeAPI) { f.unavailable = true })
	clk.Step(10 * time.Second)
	p.Poll(ctx)
	clk.Step(10 * time.Second)
	p.Poll(ctx)
	if !e.UsageAvailable() {
		t.Fatal("usage dropped after 20s without a read; it is current for 30s")
	}
	// ... and drop it once it is not.
	clk.Step(11 * time.Second)
	p.Poll(ctx)
	if e.UsageAvailable() {
		t.Fatal("usage still available 31s after the last read")
	}
	if ns, _, _ := e.NamespaceAt("ns"); rowOf(ns.Resources, v1.ResourceCPU).HasUsage {
		t.Fatalf("namespace keeps usage: %+v", ns.Resources)
	}

	// It comes back with the API.
	api.set(func(f *fakeAPI) {
		f.unavailable = false
		f.nodes.Items[0].Timestamp = metav1.NewTime(clk.Now())
		for i := range f.pods.Items {
			f.pods.Items[i].Timestamp = metav1.NewTime(clk.Now())
		}
	})
	p.Poll(ctx)
	if ns, _, _ := e.NamespaceAt("ns"); rowOf(ns.Resources, v1.ResourceCPU).Usage != 1500 {
		t.Fatalf("usage did not come back: %+v", ns.Resources)
	}
}

func TestNoUsageUntilTheFirstRead(t *testing.T) {
	e := summary.New(summary.Options{})
	p := New(client(t, &fakeAPI{unavailable: true}), e, time.Second)
	p.Poll(context.Background())
	if e.UsageAvailable() || p.failing == "" {
		t.Fatalf("a failed read left usage available=%v, failing=%q", e.UsageAvailable(), p.failing)
	}
}

// The two lists are read at the same time: a slow NodeMetrics list does not
// delay the PodMetrics one.
func TestPollReadsBothListsAtOnce(t *testing.T) {
	api := &fakeAPI{}
	podsAsked := make(chan struct{})
	var overlapped atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/metrics.k8s.io/v1beta1/nodes":
			// Answered only once the PodMetrics list was asked for, or
			// after a while if it is not asked for until this one ends.
			select {
			case <-podsAsked:
				overlapped.Store(true)
			case <-time.After(5 * time.Second):
			}
		case "/apis/metrics.k8s.io/v1beta1/pods":
			close(podsAsked)
		}
		api.ServeHTTP(w, r)
	})
	e := summary.New(summary.Options{})
	New(client(t, h), e, wait.ForeverTestTimeout).Poll(context.Background())
	if !overlapped.Load() {
		t.Error("the PodMetrics list was asked for only after the NodeMetrics list ended")
	}
	if !e.UsageAvailable() {
		t.Error("the round failed")
	}
}

func rowOf(rows []summary.ResourceTotals, name v1.ResourceName) summary.ResourceTotals {
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	return summary.ResourceTotals{}
}

// Once usage is current, node usage reaches the engine as soon as the
// NodeMetrics list is in, without waiting for the PodMetrics list.
func TestNodeUsageDoesNotWaitForPodMetrics(t *testing.T) {
	e := summary.New(summary.Options{})
	e.UpsertNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	api := &fakeAPI{}
	setNodeCPU := func(cpu string) {
		api.set(func(f *fakeAPI) {
			f.nodes.Items = []metricsapi.NodeMetrics{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Timestamp: metav1.Now(), Usage: usage(cpu, "1Gi")}}
		})
	}
	nodeCPU := func() int64 {
		n, _, _ := e.NodeAt("n1")
		return rowOf(n.Resources, v1.ResourceCPU).Usage
	}
	setNodeCPU("1")
	var holdPods atomic.Bool
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/apis/metrics.k8s.io/v1beta1/pods" && holdPods.Load() {
			<-release
		}
		api.ServeHTTP(w, r)
	})
	p := New(client(t, h), e, wait.ForeverTestTimeout)
	p.Poll(context.Background())
	if got := nodeCPU(); got != 1000 {
		t.Fatalf("after the first round n1 uses %dm of CPU, want 1000m", got)
	}

	setNodeCPU("2")
	holdPods.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Poll(context.Background())
	}()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, wait.ForeverTestTimeout, true, func(context.Context) (bool, error) {
		return nodeCPU() == 2000, nil
	})
	close(release)
	<-done
	if err != nil {
		t.Fatalf("n1's new usage was not counted while the PodMetrics list was held: %dm of CPU", nodeCPU())
	}
}

// Once usage is current, a namespace's pod usage reaches the engine while
// the PodMetrics list is still streaming in, a chunk of pods at a time, and
// pods of a list that fails part way keep what was applied.
func TestPodUsageArrivesWhileTheListStreams(t *testing.T) {
	// More pods than one chunk of the engine's rounds.
	const early = 5000
	e := summary.New(summary.Options{})
	e.UpsertNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	for _, ns := range []string{"early", "late"} {
		e.UpsertNamespace(&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	pod := func(i int) string { return fmt.Sprintf("p%d", i) }
	for i := range early {
		e.UpsertPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "early", Name: pod(i)},
			Spec: v1.PodSpec{NodeName: "n1", Containers: []v1.Container{{Name: "c"}}}, Status: v1.PodStatus{Phase: v1.PodRunning}})
	}
	e.UpsertPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "late", Name: "p0"},
		Spec: v1.PodSpec{NodeName: "n1", Containers: []v1.Container{{Name: "c"}}}, Status: v1.PodStatus{Phase: v1.PodRunning}})
	nsCPU := func(ns string) int64 {
		got, _, _ := e.NamespaceAt(ns)
		return rowOf(got.Resources, v1.ResourceCPU).Usage
	}

	// cpu is each pod's usage in millicores this round; hold, when set,
	// keeps the list open after the early namespace until closed, and
	// fail then cuts the list short.
	var (
		cpu  atomic.Int64
		hold atomic.Pointer[chan struct{}]
		fail atomic.Bool
	)
	item := func(ns, name string) string {
		return fmt.Sprintf(`{"metadata":{"namespace":%q,"name":%q},"timestamp":%q,"window":"15s","containers":[{"name":"c","usage":{"cpu":"%dm","memory":"1Mi"}}]}`,
			ns, name, time.Now().UTC().Format(time.RFC3339), cpu.Load())
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/apis/metrics.k8s.io/v1beta1/nodes" {
			_, _ = fmt.Fprintf(w, `{"kind":"NodeMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":[]}`)
			return
		}
		_, _ = fmt.Fprint(w, `{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":[`)
		for i := range early {
			if i > 0 {
				_, _ = fmt.Fprint(w, ",")
			}
			_, _ = fmt.Fprint(w, item("early", pod(i)))
		}
		w.(http.Flusher).Flush()
		if c := hold.Load(); c != nil {
			<-*c
		}
		if fail.Load() {
			// A body cut short: the client reads an unexpected EOF.
			return
		}
		_, _ = fmt.Fprintf(w, ",%s]}", item("late", "p0"))
	})
	p := New(client(t, h), e, wait.ForeverTestTimeout)
	cpu.Store(1)
	p.Poll(context.Background())
	if got := nsCPU("early"); got != early {
		t.Fatalf("after the first round namespace early uses %dm of CPU, want %d", got, early)
	}

	// Held after the early namespace: its new usage shows meanwhile.
	cpu.Store(2)
	release := make(chan struct{})
	hold.Store(&release)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Poll(context.Background())
	}()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, wait.ForeverTestTimeout, true, func(context.Context) (bool, error) {
		return nsCPU("early") > early, nil
	})
	lateDuring := nsCPU("late")
	close(release)
	<-done
	if err != nil {
		t.Fatalf("namespace early's new usage was not counted while the PodMetrics list was held: %dm of CPU", nsCPU("early"))
	}
	if lateDuring != 1 {
		t.Errorf("while the list was held, namespace late used %dm of CPU, want the previous round's 1m", lateDuring)
	}
	if got := nsCPU("early"); got != 2*early {
		t.Errorf("after the round namespace early uses %dm of CPU, want %d", got, 2*early)
	}

	// Cut short: every pod read is applied, late keeps its previous sample.
	cpu.Store(3)
	hold.Store(nil)
	fail.Store(true)
	p.Poll(context.Background())
	if got := nsCPU("early"); got != 3*early {
		t.Errorf("after a round cut short namespace early uses %dm of CPU, want %d: every pod was read", got, 3*early)
	}
	if got := nsCPU("late"); got != 2 {
		t.Errorf("after a round cut short namespace late uses %dm of CPU, want the previous round's 2m", got)
	}
}

// A node that one NodeMetrics list leaves out, as metrics-server does for a
// node whose last scrape failed, keeps its sample while it is current and
// loses it once it is StaleAfter intervals old.
func TestNodeLeftOutOfAListKeepsItsSample(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	e := summary.New(summary.Options{})
	for _, name := range []string{"n1", "n2"} {
		e.UpsertNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	api := &fakeAPI{}
	list := func(at time.Time, names ...string) {
		api.set(func(f *fakeAPI) {
			f.nodes.Items = nil
			for _, name := range names {
				f.nodes.Items = append(f.nodes.Items, metricsapi.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: name}, Timestamp: metav1.NewTime(at), Usage: usage("1", "1Gi")})
			}
		})
	}
	n2CPU := func() (int64, bool) {
		n, _, _ := e.NodeAt("n2")
		r := rowOf(n.Resources, v1.ResourceCPU)
		return r.Usage, r.HasUsage
	}
	const interval = 10 * time.Second
	p := New(client(t, api), e, interval)
	p.clock = clk

	list(start, "n1", "n2")
	p.Poll(context.Background())
	if got, ok := n2CPU(); !ok || got != 1000 {
		t.Fatalf("after the first round n2 uses %dm of CPU (has %v), want 1000m", got, ok)
	}
	// The next round leaves n2 out: its sample is one interval old.
	clk.Step(interval)
	list(clk.Now(), "n1")
	p.Poll(context.Background())
	if got, ok := n2CPU(); !ok || got != 1000 {
		t.Errorf("n2 left out of one list with a current sample: %dm of CPU (has %v), want its 1000m kept", got, ok)
	}
	// Left out until its sample is older than StaleAfter intervals.
	clk.Step(StaleAfter * interval)
	list(clk.Now(), "n1")
	p.Poll(context.Background())
	if got, ok := n2CPU(); ok {
		t.Errorf("n2 left out with a sample %v old: %dm of CPU, want none", (StaleAfter+1)*interval, got)
	}
}
