package aggregated

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/latency"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
	"github.com/clusterview/clusterview/test/integration/framework"
)

const (
	loadClients = 50
	// loadSecondsEnv overrides the default duration, up to loadMaxSeconds.
	loadSecondsEnv     = "CLUSTERVIEW_LOAD_SECONDS"
	loadDefaultSeconds = 20
	loadMaxSeconds     = 60
	// loadMaxOpsPerClient bounds the run by count as well as by time.
	loadMaxOpsPerClient = 20000
	// loadMaxOwned is how many ClusterSummaries each client keeps at most.
	loadMaxOwned = 4
	loadGroup    = "clusterview-load"
	loadLabel    = "clusterview-load"

	// loadGoroutineTolerance is how many more goroutines the test process
	// may have once the run is over and its connections are closed. The
	// count settles back to the exact number within seconds (server-side
	// connections from kube-apiserver's proxy close last); the tolerance
	// absorbs background work (informers, timers) that happens to be
	// running when it is sampled. A per-request or per-watch leak exceeds
	// it by orders of magnitude.
	loadGoroutineTolerance = 10
	// loadHeapTolerance is how much more heap clusterview (with everything
	// else in the test process) may hold after the run, after GC, once its
	// objects are deleted: client-go keeps a transport per identity, and
	// the watch cache keeps an event (object and previous object) per
	// write in a ring that only grows while its events are under 75 s old
	// (up to 102,400 events) and is never emptied, so what it keeps grows
	// with the writes done: loadHeapPerWrite each. 20 s runs measured +27
	// to +43 MiB in use at 180-330 requests/s, and +99 MiB (+54 MiB live,
	// 12 KiB per write) at 435 requests/s. The bound catches gross leaks
	// only, such as keeping every request or watch.
	loadHeapTolerance = 96 << 20
	loadHeapPerWrite  = 16 << 10
)

// loadOp names what a client did.
type loadOp string

const (
	opGet    loadOp = "get"
	opList   loadOp = "list"
	opListP  loadOp = "list-all-paged"
	opCreate loadOp = "create"
	opUpdate loadOp = "update"
	opDelete loadOp = "delete"
	opWatch  loadOp = "watch"
)

// statusCounter counts every HTTP response the clients receive, below
// client-go's own retries (which would hide 429s and some 5xx).
type statusCounter struct {
	codes     [600]atomic.Int64
	transport atomic.Int64
	mu        sync.Mutex
	lastErrs  []string
}

func (c *statusCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return &countingRoundTripper{counter: c, rt: rt}
}

type countingRoundTripper struct {
	counter *statusCounter
	rt      http.RoundTripper
}

func (r *countingRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c := r.counter
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		c.transport.Add(1)
		c.mu.Lock()
		if len(c.lastErrs) < 5 {
			c.lastErrs = append(c.lastErrs, fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
		}
		c.mu.Unlock()
		return resp, err
	}
	if resp.StatusCode > 0 && resp.StatusCode < len(c.codes) {
		c.codes[resp.StatusCode].Add(1)
	}
	return resp, err
}

// WrappedRoundTripper lets utilnet.CloseIdleConnectionsFor reach the
// transport underneath.
func (r *countingRoundTripper) WrappedRoundTripper() http.RoundTripper { return r.rt }

type loadSample struct {
	op  loadOp
	d   time.Duration
	err error
}

// loadClient is one of the concurrent clients; it owns the summaries it
// creates and remembers what it last wrote to each.
type loadClient struct {
	id      int
	client  clientset.Interface
	http    *http.Client
	rng     *rand.Rand
	owned   []string
	written map[string]string
	next    int
	samples []loadSample
}

func loadDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(loadSecondsEnv)
	if v == "" {
		return loadDefaultSeconds * time.Second
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > loadMaxSeconds {
		t.Fatalf("%s=%q: want whole seconds from 1 to %d", loadSecondsEnv, v, loadMaxSeconds)
	}
	return time.Duration(n) * time.Second
}

// heapAfterGC returns the heap's in-use spans and live bytes after a full GC.
func heapAfterGC() (inuse, alloc uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.HeapAlloc
}

// TestLoadConcurrentClients runs 50 clients, each its own user, through
// kube-apiserver for a bounded time, mixing reads, short watches and writes
// of their own ClusterSummaries. It requires no 5xx and no unexpected 4xx
// (409 from racing the status controller and 429 from priority and fairness
// are counted), no lost write, and that goroutines and clusterview's heap
// come back to where they were.
func TestLoadConcurrentClients(t *testing.T) {
	duration := loadDuration(t)
	ctx := t.Context()
	framework.GrantClusterSummaries(t, kubernetes.NewForConfigOrDie(env.Admin), "clusterview-test-load", framework.Group(loadGroup),
		"get", "list", "watch", "create", "update", "patch", "delete")

	goroutinesBefore := runtime.NumGoroutine()
	heapBefore, allocBefore := heapAfterGC()

	counter := &statusCounter{}
	clients := make([]*loadClient, loadClients)
	for i := range clients {
		cfg, err := env.Cluster.UserConfig(fmt.Sprintf("load-%02d", i), loadGroup)
		if err != nil {
			t.Fatal(err)
		}
		// No client-side rate limit: the server's limits are under test.
		cfg.QPS = -1
		cfg.WrapTransport = counter.wrap
		httpClient, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := clientset.NewForConfigAndClient(cfg, httpClient)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = &loadClient{id: i, client: cs, http: httpClient, rng: rand.New(rand.NewSource(int64(i))), written: map[string]string{}}
	}
	t.Cleanup(func() {
		err := env.Client.ClusterviewV1beta1().ClusterSummaries().DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: loadLabel})
		if err != nil {
			t.Errorf("deleting the load objects: %v", err)
		}
	})

	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < loadMaxOpsPerClient && time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				c.step(ctx)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Every client's own objects are exactly what it last wrote.
	for _, c := range clients {
		list, err := env.Client.ClusterviewV1beta1().ClusterSummaries().List(ctx, metav1.ListOptions{LabelSelector: loadLabel + "=" + strconv.Itoa(c.id)})
		if err != nil {
			t.Fatalf("listing client %d's objects: %v", c.id, err)
		}
		stored := map[string]string{}
		for _, item := range list.Items {
			stored[item.Name] = item.Spec.GroupByNodeLabel
		}
		want := map[string]string{}
		for _, name := range c.owned {
			want[name] = c.written[name]
		}
		if fmt.Sprint(stored) != fmt.Sprint(want) {
			t.Errorf("client %d: stored %v, last written %v", c.id, stored, want)
		}
	}

	// Figures.
	perOp := map[loadOp][]time.Duration{}
	var all []time.Duration
	unexpected := map[string]int{}
	conflicts, throttled := 0, 0
	for _, c := range clients {
		for _, s := range c.samples {
			perOp[s.op] = append(perOp[s.op], s.d)
			if s.op != opWatch {
				all = append(all, s.d)
			}
			switch {
			case s.err == nil:
			case apierrors.IsConflict(s.err):
				conflicts++
			case apierrors.IsTooManyRequests(s.err):
				throttled++
			default:
				msg := s.err.Error()
				if len(msg) > 160 {
					msg = msg[:160]
				}
				unexpected[string(s.op)+": "+msg]++
			}
		}
	}
	codes := map[int]int64{}
	var fiveXX, tooMany int64
	for code := range counter.codes {
		if n := counter.codes[code].Load(); n > 0 {
			codes[code] = n
			if code >= 500 {
				fiveXX += n
			}
			if code == http.StatusTooManyRequests {
				tooMany += n
			}
		}
	}
	// Logged to the nearest 10µs: finer digits are noise on a shared machine.
	pct := func(ds []time.Duration, p float64) time.Duration {
		return latency.Percentile(ds, p).Round(10 * time.Microsecond)
	}
	t.Logf("load: %d clients for %s: %d requests (%.0f/s), p50 %s, p99 %s (watches excluded); HTTP codes %v; 429s %d (client-visible %d); 409s %d",
		loadClients, elapsed.Round(time.Millisecond), len(all), float64(len(all))/elapsed.Seconds(),
		pct(all, 50), pct(all, 99), codes, tooMany, throttled, conflicts)
	ops := make([]string, 0, len(perOp))
	for op := range perOp {
		ops = append(ops, string(op))
	}
	sort.Strings(ops)
	for _, op := range ops {
		d := perOp[loadOp(op)]
		t.Logf("  %-15s n=%-6d p50 %-12s p99 %-12s max %s", op, len(d), pct(d, 50), pct(d, 99), slices.Max(d))
	}

	if fiveXX > 0 {
		t.Errorf("%d responses were 5xx: %v", fiveXX, codes)
	}
	if n := counter.transport.Load(); n > 0 {
		t.Errorf("%d requests failed below HTTP, e.g. %v", n, counter.lastErrs)
	}
	for msg, n := range unexpected {
		t.Errorf("%d× unexpected error %s", n, msg)
	}
	for _, op := range []loadOp{opGet, opList, opListP, opCreate, opUpdate, opDelete, opWatch} {
		if len(perOp[op]) == 0 {
			t.Errorf("no %s was done: the load did not exercise it", op)
		}
	}
	// A floor well below what even a loaded 2-core machine does, so that a
	// server that stalls (rather than erring) fails the test too.
	if rate := float64(len(all)) / elapsed.Seconds(); rate < 20 {
		t.Errorf("throughput %.1f requests/s, want at least 20", rate)
	}

	// Back to rest: the clients' connections closed and their objects gone.
	for _, c := range clients {
		utilnet.CloseIdleConnectionsFor(c.http.Transport)
	}
	err := env.Client.ClusterviewV1beta1().ClusterSummaries().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: loadLabel})
	if err != nil {
		t.Fatalf("deleting the load objects: %v", err)
	}
	var goroutinesAfter int
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		for _, c := range clients {
			utilnet.CloseIdleConnectionsFor(c.http.Transport)
		}
		goroutinesAfter = runtime.NumGoroutine()
		return goroutinesAfter <= goroutinesBefore+loadGoroutineTolerance, nil
	})
	t.Logf("goroutines: %d before, %d after", goroutinesBefore, goroutinesAfter)
	if err != nil {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines grew from %d to %d (tolerance %d) and did not settle within 60s; stacks:\n%s",
			goroutinesBefore, goroutinesAfter, loadGoroutineTolerance, summarizeStacks(string(buf)))
	}
	heapAfter, allocAfter := heapAfterGC()
	t.Logf("heap after GC: in use %d MiB before, %d MiB after; live %d MiB before, %d MiB after",
		heapBefore>>20, heapAfter>>20, allocBefore>>20, allocAfter>>20)
	writes := uint64(len(perOp[opCreate]) + len(perOp[opUpdate]) + len(perOp[opDelete]))
	if allowed := uint64(loadHeapTolerance) + writes*loadHeapPerWrite; heapAfter > heapBefore+allowed {
		t.Errorf("heap in use grew from %d MiB to %d MiB, more than %d MiB (for %d writes)", heapBefore>>20, heapAfter>>20, allowed>>20, writes)
	}
}

// step does one randomly chosen operation.
func (c *loadClient) step(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	summaries := c.client.ClusterviewV1beta1().ClusterSummaries()
	own := metav1.ListOptions{LabelSelector: loadLabel + "=" + strconv.Itoa(c.id)}

	op := opCreate
	switch r := c.rng.Intn(100); {
	case len(c.owned) == 0:
	case r < 30:
		op = opGet
	case r < 45:
		op = opList
	case r < 50:
		op = opListP
	case r < 62 && len(c.owned) < loadMaxOwned:
		op = opCreate
	case r < 80:
		op = opUpdate
	case r < 92:
		op = opDelete
	default:
		op = opWatch
	}

	started := time.Now()
	var err error
	switch op {
	case opGet:
		_, err = summaries.Get(ctx, c.owned[c.rng.Intn(len(c.owned))], metav1.GetOptions{})
	case opList:
		_, err = summaries.List(ctx, own)
	case opListP:
		_, err = summaries.List(ctx, metav1.ListOptions{Limit: 25})
	case opCreate:
		name := fmt.Sprintf("load-%02d-%d", c.id, c.next)
		c.next++
		group := fmt.Sprintf("load.example/v%d", c.next)
		_, err = summaries.Create(ctx, &v1beta1.ClusterSummary{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{loadLabel: strconv.Itoa(c.id)}},
			Spec:       v1beta1.ClusterSummarySpec{GroupByNodeLabel: group},
		}, metav1.CreateOptions{})
		if err == nil {
			c.owned = append(c.owned, name)
			c.written[name] = group
		}
	case opUpdate:
		name := c.owned[c.rng.Intn(len(c.owned))]
		var cs *v1beta1.ClusterSummary
		if cs, err = summaries.Get(ctx, name, metav1.GetOptions{}); err == nil {
			c.next++
			cs.Spec.GroupByNodeLabel = fmt.Sprintf("load.example/v%d", c.next)
			if _, err = summaries.Update(ctx, cs, metav1.UpdateOptions{}); err == nil {
				c.written[name] = cs.Spec.GroupByNodeLabel
			}
		}
	case opDelete:
		name := c.owned[0]
		if err = summaries.Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
			c.owned = c.owned[1:]
			delete(c.written, name)
		}
	case opWatch:
		// A short-lived watch: the client stops it after a second. The
		// server-side timeout is longer on purpose: a watch from "now"
		// first waits for the watch cache to be fresh, and under load that
		// wait can outlast a one-second request deadline, which the server
		// reports as an in-stream 500 for the client's own deadline. An
		// ERROR event (HTTP 200 carrying a Status) still counts as that
		// Status: one with code 500 is as much a server error as an HTTP 500.
		timeout := int64(30)
		w, werr := summaries.Watch(ctx, metav1.ListOptions{LabelSelector: own.LabelSelector, TimeoutSeconds: &timeout})
		if werr != nil {
			err = fmt.Errorf("opening: %w", werr)
		} else {
			// Read for a second, then stop. Events read after Stop are
			// the client's own teardown, not the server's answer.
			timer := time.NewTimer(time.Second)
		read:
			for {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						break read
					}
					if s, ok := ev.Object.(*metav1.Status); ok {
						err = fmt.Errorf("ERROR event %d %s after %s: %w", s.Code, s.Reason, time.Since(started).Round(100*time.Millisecond), apierrors.FromObject(s))
					}
				case <-timer.C:
					break read
				}
			}
			timer.Stop()
			w.Stop()
		}
	}
	c.samples = append(c.samples, loadSample{op: op, d: time.Since(started), err: err})
}

// summarizeStacks counts goroutines by their top frames, for a readable
// leak report.
func summarizeStacks(all string) string {
	counts := map[string]int{}
	for _, g := range strings.Split(all, "\n\n") {
		lines := strings.Split(g, "\n")
		var frames []string
		for i := 1; i < len(lines) && len(frames) < 3; i += 2 {
			frame := strings.TrimSpace(lines[i])
			// Drop argument values and goroutine numbers, which differ
			// between otherwise identical goroutines.
			if j := strings.LastIndex(frame, "("); j > 0 && strings.HasSuffix(frame, ")") {
				frame = frame[:j]
			}
			if j := strings.Index(frame, " in goroutine "); j > 0 {
				frame = frame[:j]
			}
			frames = append(frames, frame)
		}
		counts[strings.Join(frames, " < ")]++
	}
	type kv struct {
		k string
		n int
	}
	var out []kv
	for k, n := range counts {
		out = append(out, kv{k, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	var b strings.Builder
	for i, e := range out {
		if i == 15 {
			break
		}
		fmt.Fprintf(&b, "%5d %s\n", e.n, e.k)
	}
	return b.String()
}
