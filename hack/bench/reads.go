package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/latency"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

// readCase is one request timed N times through kube-apiserver, with the
// built-in request of the same shape as its peer.
type readCase struct {
	Name, Peer string
	run, peer  func(ctx context.Context) (items int, err error)
}

type readResult struct {
	Name, Peer       string
	Items, PeerItems int
	Samples          []time.Duration
	PeerSamples      []time.Duration
}

// countList is a read that lists everything with list and counts the items.
func countList[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		l, err := list(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		return meta.LenList(l), nil
	}
}

// earlierReadMethod ends the names of the read cases measured the way runs
// before 2026-12-07 measured every read: clusterview read as JSON, its peer
// as protobuf (the bench's loading client), although the doc said both were
// JSON. They are kept as second rows, so that earlier runs' figures have a
// like-for-like successor.
const earlierReadMethod = " (earlier method: core read as protobuf)"

// readCases are the timed reads. kube reads as JSON, as clusterview's
// clientset does; kubeProto reads protobuf, for the earlier method's rows.
func readCases(cv clientset.Interface, kube, kubeProto kubernetes.Interface) []readCase {
	c := cv.ClusterviewV1beta1()
	return []readCase{
		{
			Name: "list nodesummaries", Peer: "list nodes",
			run:  countList(c.NodeSummaries().List),
			peer: countList(kube.CoreV1().Nodes().List),
		},
		{
			Name: "list nodesummaries" + earlierReadMethod, Peer: "list nodes as protobuf",
			run:  countList(c.NodeSummaries().List),
			peer: countList(kubeProto.CoreV1().Nodes().List),
		},
		{
			Name: "get clustersummary cluster", Peer: "get node " + probeNode,
			run: func(ctx context.Context) (int, error) {
				_, err := c.ClusterSummaries().Get(ctx, v1beta1.DefaultClusterSummaryName, metav1.GetOptions{})
				return 1, err
			},
			peer: func(ctx context.Context) (int, error) {
				_, err := kube.CoreV1().Nodes().Get(ctx, probeNode, metav1.GetOptions{})
				return 1, err
			},
		},
		{
			Name: "list namespacesummaries -A", Peer: "list namespaces",
			run:  countList(c.NamespaceSummaries("").List),
			peer: countList(kube.CoreV1().Namespaces().List),
		},
		{
			Name: "list namespacesummaries -A" + earlierReadMethod, Peer: "list namespaces as protobuf",
			run:  countList(c.NamespaceSummaries("").List),
			peer: countList(kubeProto.CoreV1().Namespaces().List),
		},
		{
			// kubectl get asks for a server-side table: what a user waits for.
			Name: "list nodesummaries as a table", Peer: "list nodes as a table",
			run:  tableList(cv.ClusterviewV1beta1().RESTClient(), "/apis/clusterview.io/v1beta1/nodesummaries"),
			peer: tableList(kube.CoreV1().RESTClient(), "/api/v1/nodes"),
		},
		{
			// A request that does no work on either side: clusterview's
			// discovery document through the aggregator against
			// kube-apiserver's own. The difference is the aggregation
			// layer's hop, the floor under every clusterview read.
			Name: "get /apis/clusterview.io/v1beta1 (aggregation hop)", Peer: "get /apis/apps/v1",
			run:  rawGet(cv.ClusterviewV1beta1().RESTClient(), "/apis/clusterview.io/v1beta1"),
			peer: rawGet(kube.CoreV1().RESTClient(), "/apis/apps/v1"),
		},
	}
}

// tableAccept is what kubectl get sends.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// tableList lists path as a server-side table and counts its rows.
func tableList(c rest.Interface, path string) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		data, err := c.Get().AbsPath(path).SetHeader("Accept", tableAccept).DoRaw(ctx)
		if err != nil {
			return 0, err
		}
		var t metav1.Table
		if err := json.Unmarshal(data, &t); err != nil {
			return 0, fmt.Errorf("decoding the table of %s: %w", path, err)
		}
		if t.Kind != "Table" {
			return 0, fmt.Errorf("%s answered a %q, not a Table", path, t.Kind)
		}
		return len(t.Rows), nil
	}
}

// rawGet fetches path and discards the answer.
func rawGet(c rest.Interface, path string) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		_, err := c.Get().AbsPath(path).DoRaw(ctx)
		return 1, err
	}
}

// measureReads times each case and its peer n times, alternating, after one
// untimed warm-up each.
func measureReads(ctx context.Context, out io.Writer, cases []readCase, n int) ([]readResult, error) {
	var results []readResult
	for _, rc := range cases {
		r := readResult{Name: rc.Name, Peer: rc.Peer}
		var err error
		if r.Items, err = rc.run(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", rc.Name, err)
		}
		if r.PeerItems, err = rc.peer(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", rc.Peer, err)
		}
		lastProgress := time.Now()
		for i := range n {
			for _, x := range []struct {
				fn  func(context.Context) (int, error)
				dst *[]time.Duration
			}{{rc.run, &r.Samples}, {rc.peer, &r.PeerSamples}} {
				start := time.Now()
				if _, err := x.fn(ctx); err != nil {
					return nil, fmt.Errorf("%s: %w", rc.Name, err)
				}
				*x.dst = append(*x.dst, time.Since(start))
			}
			if time.Since(lastProgress) >= 2*time.Second || i == n-1 {
				lastProgress = time.Now()
				fmt.Fprintf(out, "  [reads] %s: %d/%d (p50 so far %v, %s %v)\n", rc.Name, i+1, n,
					latency.Percentile(r.Samples, 50).Round(10*time.Microsecond), rc.Peer, latency.Percentile(r.PeerSamples, 50).Round(10*time.Microsecond))
			}
		}
		results = append(results, r)
	}
	return results, nil
}
