package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/internal/clusterfill"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	clientset "github.com/clusterview/clusterview/pkg/generated/clientset/versioned"
)

func TestCountList(t *testing.T) {
	nodes := countList(func(context.Context, metav1.ListOptions) (*corev1.NodeList, error) {
		return &corev1.NodeList{Items: make([]corev1.Node, 3)}, nil
	})
	if n, err := nodes(context.Background()); n != 3 || err != nil {
		t.Errorf("nodes: %d, %v; want 3, nil", n, err)
	}
	summaries := countList(func(context.Context, metav1.ListOptions) (*v1beta1.NodeSummaryList, error) {
		return &v1beta1.NodeSummaryList{Items: make([]v1beta1.NodeSummary, 2)}, nil
	})
	if n, err := summaries(context.Background()); n != 2 || err != nil {
		t.Errorf("summaries: %d, %v; want 2, nil", n, err)
	}
	failed := countList(func(context.Context, metav1.ListOptions) (*corev1.NodeList, error) {
		return nil, errors.New("refused")
	})
	if n, err := failed(context.Background()); n != 0 || err == nil {
		t.Errorf("failed list: %d, %v; want 0 and the error", n, err)
	}
}

// TestListReadsUseOneContentType checks what each list read asks for: a
// list of clusterview's and its core peer ask for the same content type,
// except in the rows that keep the earlier method, whose peer asks for
// protobuf. Runs before 2026-12-07 read the peers as protobuf while the doc
// said JSON; this is the test that would have caught it.
func TestListReadsUseOneContentType(t *testing.T) {
	lists := map[string]string{
		"/api/v1/nodes":      `{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"a"}}]}`,
		"/api/v1/namespaces": `{"kind":"NamespaceList","apiVersion":"v1","items":[{"metadata":{"name":"a"}}]}`,
		"/apis/clusterview.io/v1beta1/nodesummaries":      `{"kind":"NodeSummaryList","apiVersion":"clusterview.io/v1beta1","items":[{"metadata":{"name":"a"}}]}`,
		"/apis/clusterview.io/v1beta1/namespacesummaries": `{"kind":"NamespaceSummaryList","apiVersion":"clusterview.io/v1beta1","items":[{"metadata":{"name":"a"}}]}`,
	}
	var mu sync.Mutex
	var accepts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accepts = append(accepts, r.Header.Get("Accept"))
		mu.Unlock()
		body, ok := lists[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()

	cfg := &rest.Config{Host: srv.URL}
	cv, err := clientset.NewForConfig(unthrottled(cfg))
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(jsonOnly(unthrottled(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	kubeProto, err := kubernetes.NewForConfig(clusterfill.TuneConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	accepted := func(read func(context.Context) (int, error)) string {
		t.Helper()
		mu.Lock()
		accepts = nil
		mu.Unlock()
		if n, err := read(context.Background()); err != nil || n != 1 {
			t.Fatalf("read: %d items, %v; want 1, nil", n, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(accepts) != 1 {
			t.Fatalf("read made %d requests, want 1", len(accepts))
		}
		return strings.SplitN(accepts[0], ",", 2)[0]
	}
	seen := 0
	for _, rc := range readCases(cv, kube, kubeProto) {
		if !strings.HasPrefix(rc.Name, "list ") || strings.Contains(rc.Name, "as a table") {
			continue
		}
		seen++
		run, peer := accepted(rc.run), accepted(rc.peer)
		if strings.HasSuffix(rc.Name, earlierReadMethod) {
			if peer != runtime.ContentTypeProtobuf {
				t.Errorf("%s: the peer asks for %q first, want protobuf (the earlier method)", rc.Name, peer)
			}
			continue
		}
		if run != peer {
			t.Errorf("%s asks for %q first and its peer %q for %q: not the same content type", rc.Name, run, rc.Peer, peer)
		}
	}
	if seen != 4 {
		t.Errorf("checked %d list reads, want 4 (two, each also by the earlier method)", seen)
	}
}
