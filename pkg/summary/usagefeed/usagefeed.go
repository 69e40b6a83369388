// Package usagefeed reads the cluster's resource metrics API
// (metrics.k8s.io/v1beta1, as served by metrics-server) at a fixed interval
// and hands each round to a summary.Engine. The API is optional: while it
// cannot be read the engine reports no usage, and usage comes back by itself
// when the API does.
package usagefeed

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"k8s.io/utils/clock"

	"github.com/clusterview/clusterview/pkg/summary"
)

// DefaultInterval is metrics-server's default resolution: reading more often
// returns the same samples.
const DefaultInterval = 15 * time.Second

// StaleAfter is how many intervals a sample stays current: older samples,
// and all usage after that long without a successful read, are not reported.
const StaleAfter = 3

// Engine is what the poller feeds.
type Engine interface {
	ReplaceUsage(nodes []summary.NodeUse, pods []summary.PodUse)
	ClearUsage()
}

// Poller lists NodeMetrics and PodMetrics once per interval.
type Poller struct {
	client   metricsv1beta1.MetricsV1beta1Interface
	engine   Engine
	interval time.Duration
	clock    clock.Clock

	mu sync.Mutex
	// lastRead is when a round last succeeded; zero before the first.
	lastRead time.Time
	// failing is the error the poller last logged, "" while reads succeed:
	// only changes of state are logged.
	failing string
	cleared bool
}

// New returns a poller of client into engine every interval (DefaultInterval
// when zero or negative).
func New(client metricsv1beta1.MetricsV1beta1Interface, engine Engine, interval time.Duration) *Poller {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Poller{client: client, engine: engine, interval: interval, clock: clock.RealClock{}, cleared: true}
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	wait.UntilWithContext(ctx, p.Poll, p.interval)
}

// Poll reads one round: one list of NodeMetrics and one of PodMetrics. A
// failed read keeps the previous round's usage while it is current and
// clears it after StaleAfter intervals without a successful read.
func (p *Poller) Poll(ctx context.Context) {
	logger := klog.FromContext(ctx)
	// A read never outlives its round, so a slow metrics API cannot pile
	// up requests.
	ctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()
	nodes, pods, err := p.read(ctx)

	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	if err != nil {
		if msg := err.Error(); msg != p.failing {
			if p.failing == "" {
				logger.Info("Cannot read the resource metrics API; summaries carry no usage until it answers", "err", err)
			} else {
				logger.V(2).Info("The resource metrics API still cannot be read", "err", err)
			}
			p.failing = msg
		}
		if !p.cleared && now.Sub(p.lastRead) > StaleAfter*p.interval {
			p.engine.ClearUsage()
			p.cleared = true
		}
		return
	}
	if p.failing != "" || p.cleared {
		logger.Info("Reading usage from the resource metrics API", "nodes", len(nodes.Items), "pods", len(pods.Items))
	}
	p.failing = ""
	p.cleared = false
	p.lastRead = now
	p.engine.ReplaceUsage(current(nodes, pods, now.Add(-StaleAfter*p.interval)))
}

// read lists both kinds.
func (p *Poller) read(ctx context.Context) (*metricsapi.NodeMetricsList, *metricsapi.PodMetricsList, error) {
	nodes, err := p.client.NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing NodeMetrics: %w", err)
	}
	pods, err := p.client.PodMetricses(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing PodMetrics: %w", err)
	}
	return nodes, pods, nil
}

// current turns the lists into the engine's samples, leaving out those
// taken before notBefore.
func current(nodes *metricsapi.NodeMetricsList, pods *metricsapi.PodMetricsList, notBefore time.Time) ([]summary.NodeUse, []summary.PodUse) {
	nodeUse := make([]summary.NodeUse, 0, len(nodes.Items))
	for i := range nodes.Items {
		m := &nodes.Items[i]
		if m.Timestamp.Time.Before(notBefore) {
			continue
		}
		nodeUse = append(nodeUse, summary.NodeUse{
			Name: m.Name, CPU: m.Usage.Cpu().MilliValue(), Memory: m.Usage.Memory().Value(),
			Timestamp: m.Timestamp.Time, Window: m.Window.Duration,
		})
	}
	podUse := make([]summary.PodUse, 0, len(pods.Items))
	for i := range pods.Items {
		m := &pods.Items[i]
		if m.Timestamp.Time.Before(notBefore) {
			continue
		}
		u := summary.PodUse{Namespace: m.Namespace, Name: m.Name}
		for j := range m.Containers {
			u.CPU += m.Containers[j].Usage.Cpu().MilliValue()
			u.Memory += m.Containers[j].Usage.Memory().Value()
		}
		podUse = append(podUse, u)
	}
	return nodeUse, podUse
}
