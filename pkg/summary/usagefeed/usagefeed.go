// Package usagefeed reads the cluster's resource metrics API
// (metrics.k8s.io/v1beta1, as served by metrics-server) at a fixed interval
// and hands each round to a summary.Engine. The API is optional: while it
// cannot be read the engine reports no usage, and usage comes back by itself
// when the API does.
package usagefeed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	metricsapi "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"k8s.io/utils/clock"

	"github.com/clusterview/clusterview/internal/jsonlist"
	"github.com/clusterview/clusterview/internal/protolist"
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
	ReplaceNodeUsageKeeping(nodes []summary.NodeUse, currentSince time.Time)
	ReplacePodUsage(pods []summary.PodUse)
	BeginPodUsage() *summary.PodUsageRound
	ClearUsage()
}

// ClientConfig returns a copy of cfg for the resource metrics API. It asks
// for protobuf, which metrics-server serves: for a list of 150,000 pods,
// BenchmarkReadPodMetrics measured 36.5 MB instead of 57.5, 258 ms instead
// of 721 to encode it as metrics-server does, and 235 ms instead of 1,187
// for a round to read it. A server that serves only JSON answers in JSON,
// which the poller reads too.
func ClientConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = runtime.ContentTypeProtobuf
	c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return c
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
	// cleared is true while the engine has no usage from this poller:
	// before the first round and after usage went stale.
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

// Poll reads one round: one list of NodeMetrics and one of PodMetrics, read
// at the same time. While usage is current each list goes to the engine as
// it is read: the NodeMetrics list, a few thousand items, need not wait for
// the PodMetrics list, and the PodMetrics list, which takes seconds at
// 150,000 pods, reaches the engine a chunk of pods at a time as it streams
// in. A node a NodeMetrics list leaves out (metrics-server failed to scrape
// it) keeps its last sample while that is current; a pod a PodMetrics list
// leaves out loses its usage. A failed read keeps the previous round's
// usage while it is current (pods of a list that failed part way keep the
// samples already applied) and clears it after StaleAfter intervals without
// a successful round; usage then comes back with the next round that reads
// both lists.
func (p *Poller) Poll(ctx context.Context) {
	logger := klog.FromContext(ctx)
	// A read never outlives its round, so a slow metrics API cannot pile
	// up requests.
	ctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()

	p.mu.Lock()
	early := !p.cleared
	p.mu.Unlock()
	var (
		nodes []summary.NodeUse
		pods  []summary.PodUse
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		list, err := p.client.NodeMetricses().List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing NodeMetrics: %w", err)
		}
		notBefore := p.notBefore()
		nodes = currentNodes(list, notBefore)
		if early {
			// A node the list leaves out keeps its sample while current.
			p.engine.ReplaceNodeUsageKeeping(nodes, notBefore)
		}
		return nil
	})
	g.Go(func() error {
		if !early {
			var err error
			pods, err = p.readPodMetrics(gctx)
			return err
		}
		round := p.engine.BeginPodUsage()
		if err := p.streamPodMetrics(gctx, p.notBefore(), round.Add); err != nil {
			round.Abort()
			return err
		}
		round.End()
		return nil
	})
	err := g.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	if err != nil {
		if msg := err.Error(); msg != p.failing {
			if p.failing == "" {
				logger.Info("Cannot read the resource metrics API; summaries keep the usage last read until it is stale, then carry none until the API answers", "err", err, "staleAfter", StaleAfter*p.interval)
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
	if !early {
		// Usage was cleared: no sample to keep.
		p.engine.ReplaceNodeUsageKeeping(nodes, time.Time{})
		p.engine.ReplacePodUsage(pods)
	}
	if p.failing != "" || p.cleared {
		logger.Info("Reading usage from the resource metrics API", "nodes", len(nodes), "pods", len(pods))
	}
	p.failing = ""
	p.cleared = false
	p.lastRead = now
}

// notBefore is the time of the oldest sample that is still current.
func (p *Poller) notBefore() time.Time {
	return p.clock.Now().Add(-StaleAfter * p.interval)
}

// readPodMetrics reads a round's PodMetrics whole, for a round that applies
// them only once both lists are in.
func (p *Poller) readPodMetrics(ctx context.Context) ([]summary.PodUse, error) {
	var pods []summary.PodUse
	err := p.streamPodMetrics(ctx, p.notBefore(), func(u summary.PodUse) { pods = append(pods, u) })
	return pods, err
}

// streamPodMetrics reads the PodMetrics list of every namespace one item at
// a time and hands add each pod whose sample was taken at notBefore or
// later. metrics-server answers the list in one piece (it does not
// paginate), and the typed List would hold the whole body and every decoded
// item, labels included, until the last one: at 150,000 pods that is
// hundreds of MiB for a few numbers per pod (BenchmarkReadPodMetrics has
// both ways). The list comes in protobuf when the client asks for it
// (ClientConfig) and the server serves it, as metrics-server does, and in
// JSON otherwise: the first bytes tell which.
func (p *Poller) streamPodMetrics(ctx context.Context, notBefore time.Time, add func(summary.PodUse)) error {
	body, err := p.client.RESTClient().Get().Resource("pods").Stream(ctx)
	if err != nil {
		return fmt.Errorf("listing PodMetrics: %w", err)
	}
	defer func() { _ = body.Close() }()
	// keep hands on the pods whose sample is current, whichever the encoding.
	keep := func(u summary.PodUse, at time.Time) {
		if !at.Before(notBefore) {
			add(u)
		}
	}
	br := bufio.NewReaderSize(body, 64<<10)
	if start, _ := br.Peek(len(protolist.Magic)); bytes.Equal(start, protolist.Magic) {
		err = protolist.EachItem(br, func(raw []byte) error {
			u, at, err := decodePodUsage(raw)
			if err == nil {
				keep(u, at)
			}
			return err
		})
	} else {
		err = jsonlist.EachItem(json.NewDecoder(br), func(dec *json.Decoder) error {
			var m podMetricsUsage
			if err := dec.Decode(&m); err != nil {
				return err
			}
			u := summary.PodUse{Namespace: m.Metadata.Namespace, Name: m.Metadata.Name}
			for j := range m.Containers {
				u.CPU += m.Containers[j].Usage.CPU.MilliValue()
				u.Memory += m.Containers[j].Usage.Memory.Value()
			}
			keep(u, m.Timestamp.Time)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("listing PodMetrics: decoding the list: %w", err)
	}
	return nil
}

// podMetricsUsage is the part of a metricsapi.PodMetrics a round reads in
// JSON, with the same JSON names. Decoding only these fields, and not the
// pod's labels and the rest of its metadata, halves a JSON round's CPU and
// takes two thirds off its garbage (BenchmarkReadPodMetrics).
type podMetricsUsage struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Timestamp  metav1.Time `json:"timestamp"`
	Containers []struct {
		Usage struct {
			CPU    resource.Quantity `json:"cpu"`
			Memory resource.Quantity `json:"memory"`
		} `json:"usage"`
	} `json:"containers"`
}

// Field numbers of k8s.io/metrics' PodMetrics and of the messages in it
// that decodePodUsage reads (generated.proto of metrics/v1beta1 and of
// apimachinery's meta/v1 and resource).
const (
	podMetricsMetadata   = 1 // ObjectMeta
	podMetricsTimestamp  = 2 // Time
	podMetricsContainers = 4 // repeated ContainerMetrics
	objectMetaName       = 1
	objectMetaNamespace  = 3
	timeSeconds          = 1
	timeNanos            = 2
	containerUsage       = 2 // map<string, Quantity>
	mapEntryKey          = 1
	mapEntryValue        = 2
	quantityString       = 1
)

// decodePodUsage reads the part of one encoded PodMetrics a round needs:
// the pod's namespace and name, the sample's time and the sum of its
// containers' CPU and memory, as podMetricsUsage does in JSON. The
// generated Unmarshal would decode the pod's labels and the rest of its
// metadata too, and more than double a round's garbage
// (BenchmarkReadPodMetrics/streamed-protobuf-typed-items).
func decodePodUsage(raw []byte) (u summary.PodUse, at time.Time, err error) {
	var seconds, nanos int64
	// metav1.Time encodes its zero value as no bytes at all.
	timed := false
	err = eachField(raw, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch {
		case num == podMetricsMetadata && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				switch {
				case num == objectMetaName && typ == protowire.BytesType:
					u.Name = string(v)
				case num == objectMetaNamespace && typ == protowire.BytesType:
					u.Namespace = string(v)
				}
				return nil
			})
		case num == podMetricsTimestamp && typ == protowire.BytesType:
			timed = len(v) > 0
			return eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) error {
				switch {
				case num == timeSeconds && typ == protowire.VarintType:
					seconds = int64(n)
				case num == timeNanos && typ == protowire.VarintType:
					nanos = int64(int32(n))
				}
				return nil
			})
		case num == podMetricsContainers && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != containerUsage || typ != protowire.BytesType {
					return nil
				}
				return addUsageEntry(&u, v)
			})
		}
		return nil
	})
	if err != nil {
		return u, at, fmt.Errorf("decoding a PodMetrics: %w", err)
	}
	if timed {
		at = time.Unix(seconds, nanos)
	}
	return u, at, nil
}

// addUsageEntry adds one entry of a container's usage map to u: cpu in
// millicores, memory in bytes; other resources are not read.
func addUsageEntry(u *summary.PodUse, entry []byte) error {
	var key string
	var value []byte
	err := eachField(entry, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == mapEntryKey && typ == protowire.BytesType:
			key = string(v)
		case num == mapEntryValue && typ == protowire.BytesType:
			value = v
		}
		return nil
	})
	if err != nil || (key != string(corev1.ResourceCPU) && key != string(corev1.ResourceMemory)) {
		return err
	}
	var text []byte
	err = eachField(value, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == quantityString && typ == protowire.BytesType {
			text = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	q, err := resource.ParseQuantity(string(text))
	if err != nil {
		return fmt.Errorf("usage %s: %w", key, err)
	}
	if key == string(corev1.ResourceCPU) {
		u.CPU += q.MilliValue()
	} else {
		u.Memory += q.Value()
	}
	return nil
}

// eachField calls field with each field of the message msg: its number,
// its wire type, and its value: the bytes of a length-prefixed field, or
// the number of a varint.
func eachField(msg []byte, field func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		var (
			v      []byte
			varint uint64
		)
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(msg)
		case protowire.VarintType:
			varint, n = protowire.ConsumeVarint(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if err := field(num, typ, v, varint); err != nil {
			return err
		}
	}
	return nil
}

// currentNodes turns a NodeMetrics list into the engine's samples, leaving
// out those taken before notBefore.
func currentNodes(list *metricsapi.NodeMetricsList, notBefore time.Time) []summary.NodeUse {
	out := make([]summary.NodeUse, 0, len(list.Items))
	for i := range list.Items {
		m := &list.Items[i]
		if m.Timestamp.Time.Before(notBefore) {
			continue
		}
		out = append(out, summary.NodeUse{
			Name: m.Name, CPU: m.Usage.Cpu().MilliValue(), Memory: m.Usage.Memory().Value(),
			Timestamp: m.Timestamp.Time, Window: m.Window.Duration,
		})
	}
	return out
}
