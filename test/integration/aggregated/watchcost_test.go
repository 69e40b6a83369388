package aggregated

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/latency"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

// Sizes of TestWatchCostManyNamespaceWatches, as issue 12 names them.
const (
	watchCostNamespaces   = 100
	watchCostWatches      = 500 // 5 per namespace
	watchCostChangesPerS  = 50
	watchCostDuration     = 20 * time.Second
	watchCostConnections  = 5 // client connections the watches are spread over
	watchCostLabel        = "clusterview-test/watch-cost"
	watchCostNamespacePfx = "watch-cost-"
)

// TestWatchCostManyNamespaceWatches opens 500 NamespaceSummary watches
// through kube-apiserver, 5 on each of 100 namespaces, and creates pods at
// 50 per second round-robin over the namespaces for 20 s. Every watcher
// must end up with the pod count of its namespace, with no ERROR event, no
// closed stream and no event of another namespace. The test logs the
// delivery latency (pod create sent → event received, per watcher) and the
// CPU used by this process (clusterview and the 500 watch clients) and by
// kube-apiserver; docs/hardening.md records a run.
func TestWatchCostManyNamespaceWatches(t *testing.T) {
	ctx := t.Context()
	kube, err := kubernetes.NewForConfig(fastConfig(env.Admin))
	if err != nil {
		t.Fatal(err)
	}
	namespaces := make([]string, watchCostNamespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("%s%03d", watchCostNamespacePfx, i)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i], Labels: map[string]string{watchCostLabel: "true"}}}
		if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, ns := range namespaces {
			_ = kube.CoreV1().Namespaces().Delete(t.Context(), ns, metav1.DeleteOptions{})
		}
	})

	// Spread the watches over a few connections, as many clients would.
	clients := make([]clientset.Interface, watchCostConnections)
	for i := range clients {
		cfg := fastConfig(env.Admin)
		httpClient, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if clients[i], err = clientset.NewForConfigAndClient(cfg, httpClient); err != nil {
			t.Fatal(err)
		}
	}

	// Wait until clusterview knows every namespace.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := env.Client.ClusterviewV1beta1().NamespaceSummaries("").List(ctx, metav1.ListOptions{LabelSelector: watchCostLabel})
		return err == nil && len(list.Items) == watchCostNamespaces, nil
	})
	if err != nil {
		t.Fatalf("clusterview does not summarize the %d namespaces: %v", watchCostNamespaces, err)
	}

	rec := &deliveries{sent: map[string][]time.Time{}}
	watchers := make([]*costWatcher, watchCostWatches)
	for i := range watchers {
		ns := namespaces[i%watchCostNamespaces]
		w, err := clients[i%watchCostConnections].ClusterviewV1beta1().NamespaceSummaries(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("watch %d of %s: %v", i, ns, err)
		}
		watchers[i] = &costWatcher{ns: ns, w: w, initial: make(chan struct{})}
		t.Cleanup(w.Stop)
		go watchers[i].run(rec)
	}
	for i, w := range watchers {
		select {
		case <-w.initial:
		case <-time.After(60 * time.Second):
			t.Fatalf("watch %d of %s got no initial event within 60s", i, w.ns)
		}
	}

	cpuBefore, apiBefore := selfCPU(t), processCPU(t, env.Cluster.KubeAPIServer().PID())
	start := time.Now()
	tick := time.NewTicker(time.Second / watchCostChangesPerS)
	defer tick.Stop()
	// Each create runs on its own goroutine, so that a slow one does not
	// lower the rate; creates in one namespace are 2 s apart, so they land
	// in order.
	created := map[string]int64{}
	var writes sync.WaitGroup
	writeErrs := make(chan error, watchCostChangesPerS*int(watchCostDuration/time.Second)+1)
	for n := 0; time.Since(start) < watchCostDuration; n++ {
		<-tick.C
		ns := namespaces[n%watchCostNamespaces]
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p" + strconv.Itoa(n)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/app"}}},
		}
		rec.send(ns)
		created[ns]++
		writes.Go(func() {
			if _, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				writeErrs <- fmt.Errorf("creating pod %s in %s: %w", pod.Name, ns, err)
			}
		})
	}
	writes.Wait()
	close(writeErrs)
	for err := range writeErrs {
		t.Fatal(err)
	}
	writeSeconds := time.Since(start).Seconds()
	changes := 0
	for _, c := range created {
		changes += int(c)
	}

	// Nothing dropped: every watcher reaches its namespace's pod count.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		for _, w := range watchers {
			if w.seen() < created[w.ns] {
				return false, nil
			}
		}
		return true, nil
	})
	delivered := time.Since(start)
	cpu, api := selfCPU(t)-cpuBefore, processCPU(t, env.Cluster.KubeAPIServer().PID())-apiBefore
	for i, w := range watchers {
		if msg := w.failure(); msg != "" {
			t.Errorf("watch %d of %s: %s", i, w.ns, msg)
		}
		if got := w.seen(); got != created[w.ns] {
			t.Errorf("watch %d of %s saw %d pods, want %d", i, w.ns, got, created[w.ns])
		}
	}
	if err != nil {
		t.Fatalf("not every watcher saw every change within 60s of the last: %v", err)
	}

	lat := rec.latencies()
	events := 0
	for _, w := range watchers {
		events += w.events()
	}
	t.Logf("watch cost: %d watches over %d namespaces, %d changes in %.1fs (%.1f/s), %d deliveries in %d events, all delivered %.1fs after the first change",
		watchCostWatches, watchCostNamespaces, changes, writeSeconds, float64(changes)/writeSeconds, len(lat), events, delivered.Seconds())
	t.Logf("watch cost: delivery latency p50 %v, p90 %v, p99 %v, max %v",
		latency.Percentile(lat, 50), latency.Percentile(lat, 90), latency.Percentile(lat, 99), latency.Percentile(lat, 100))
	t.Logf("watch cost: CPU %.1fs in this process (clusterview and the watch clients), %.1fs in kube-apiserver, over %.1fs (%.0f%% and %.0f%% of one core)",
		cpu.Seconds(), api.Seconds(), delivered.Seconds(), 100*cpu.Seconds()/delivered.Seconds(), 100*api.Seconds()/delivered.Seconds())
}

// fastConfig is a copy of cfg without client-side rate limit.
func fastConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS = -1
	return c
}

// deliveries records when each pod was sent per namespace and how long its
// change took to reach each watcher.
type deliveries struct {
	mu   sync.Mutex
	sent map[string][]time.Time // per namespace, the send time of pod k at index k-1
	lat  []time.Duration
}

func (d *deliveries) send(ns string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent[ns] = append(d.sent[ns], time.Now())
}

// delivered records that a watcher of ns, which had seen from pods, now
// sees to pods (an event may fold several changes).
func (d *deliveries) delivered(ns string, from, to int64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := from + 1; k <= to && k <= int64(len(d.sent[ns])); k++ {
		d.lat = append(d.lat, at.Sub(d.sent[ns][k-1]))
	}
}

func (d *deliveries) latencies() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.lat)
}

// costWatcher reads one watch and remembers the pod count it last saw.
type costWatcher struct {
	ns      string
	w       watch.Interface
	initial chan struct{}

	mu    sync.Mutex
	count int64
	n     int
	fail  string
}

func (c *costWatcher) run(d *deliveries) {
	first := true
	for ev := range c.w.ResultChan() {
		at := time.Now()
		s, ok := ev.Object.(*v1beta1.NamespaceSummary)
		c.mu.Lock()
		switch {
		case ev.Type == watch.Error || !ok:
			c.fail = fmt.Sprintf("%s event %+v", ev.Type, ev.Object)
		case s.Namespace != c.ns:
			c.fail = fmt.Sprintf("%s event of namespace %s", ev.Type, s.Namespace)
		case s.Pods.Total < c.count:
			c.fail = fmt.Sprintf("pod count went back from %d to %d", c.count, s.Pods.Total)
		}
		from := c.count
		if ok {
			c.count = s.Pods.Total
		}
		c.n++
		c.mu.Unlock()
		if first {
			first = false
			close(c.initial)
			continue
		}
		d.delivered(c.ns, from, c.count, at)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == "" {
		c.fail = "the watch closed before the test ended"
	}
}

func (c *costWatcher) seen() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

func (c *costWatcher) events() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// failure returns what went wrong, "" if nothing did. A watch stopped by
// the test's cleanup has not closed yet when the test checks.
func (c *costWatcher) failure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fail
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the user and system CPU time process pid has used, from
// /proc/<pid>/stat (Linux).
func processCPU(t *testing.T, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which ends with ")": utime and stime
	// are fields 14 and 15 of the whole line.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing /proc/%d/stat: %v %v", pid, err1, err2)
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
