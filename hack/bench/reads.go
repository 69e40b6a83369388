package main

import (
	"context"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

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

func readCases(cv clientset.Interface, kube kubernetes.Interface) []readCase {
	c := cv.ClusterviewV1beta1()
	return []readCase{
		{
			Name: "list nodesummaries", Peer: "list nodes",
			run: func(ctx context.Context) (int, error) {
				l, err := c.NodeSummaries().List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			peer: func(ctx context.Context) (int, error) {
				l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
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
			run: func(ctx context.Context) (int, error) {
				l, err := c.NamespaceSummaries("").List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			peer: func(ctx context.Context) (int, error) {
				l, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
		},
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
					percentile(r.Samples, 50).Round(10*time.Microsecond), rc.Peer, percentile(r.PeerSamples, 50).Round(10*time.Microsecond))
			}
		}
		results = append(results, r)
	}
	return results, nil
}
