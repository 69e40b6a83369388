package protolist_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/clusterview/clusterview/internal/protolist"
)

// encode encodes list as the API server answers a protobuf list: the
// envelope with the list's kind, then the list.
func encode(t *testing.T, list runtime.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(list, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func namespaces(n int) *corev1.NamespaceList {
	list := &corev1.NamespaceList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "more"}}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	for i := range n {
		list.Items = append(list.Items, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("ns-%d", i), Labels: map[string]string{"team": strings.Repeat("x", i)},
		}})
	}
	return list
}

// readNames decodes each item as the caller does, with the type's
// generated Unmarshal.
func readNames(body []byte) ([]string, error) {
	var names []string
	err := protolist.EachItem(bytes.NewReader(body), func(raw []byte) error {
		var ns corev1.Namespace
		if err := ns.Unmarshal(raw); err != nil {
			return err
		}
		names = append(names, ns.Name+"/"+ns.Labels["team"])
		return nil
	})
	return names, err
}

// TestEachItemReadsEveryItem reads the items of lists the API server's
// serializer encoded, in order, with the list's metadata skipped.
func TestEachItemReadsEveryItem(t *testing.T) {
	for _, n := range []int{0, 1, 3, 300} {
		got, err := readNames(encode(t, namespaces(n)))
		if err != nil {
			t.Fatalf("%d items: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d items: read %d", n, len(got))
		}
		for i, name := range got {
			if want := fmt.Sprintf("ns-%d/%s", i, strings.Repeat("x", i)); name != want {
				t.Fatalf("item %d: got %q, want %q", i, name, want)
			}
		}
	}
}

// TestEachItemRefusesBrokenBodies: a body cut anywhere, one that is not
// protobuf, and an item whose length is over the bound are errors, never a
// shorter list read as complete. (A cut after the list, in the envelope's
// optional fields that follow it, loses nothing.)
func TestEachItemRefusesBrokenBodies(t *testing.T) {
	body := encode(t, namespaces(5))
	for cut := 0; cut < len(body); cut++ {
		if got, err := readNames(body[:cut]); err == nil && len(got) != 5 {
			t.Fatalf("body cut at %d of %d bytes: no error, read %d of 5 items", cut, len(body), len(got))
		}
	}
	if _, err := readNames([]byte(`{"kind":"NamespaceList","items":[]}`)); err == nil {
		t.Error("JSON: no error")
	}
	// The envelope's raw bytes holding one item field that claims more
	// than the bound.
	huge := append([]byte{}, protolist.Magic...)
	huge = append(huge, 0x12, 0x06, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if _, err := readNames(huge); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("oversized item: got %v, want an error naming the limit", err)
	}
	if _, err := readNames(protolist.Magic); err == nil {
		t.Error("an envelope without a list: no error")
	}
}

// TestEachItemStopsAtTheCallersError passes the item's error on, with the
// item's index.
func TestEachItemStopsAtTheCallersError(t *testing.T) {
	calls := 0
	err := protolist.EachItem(bytes.NewReader(encode(t, namespaces(4))), func([]byte) error {
		calls++
		if calls == 2 {
			return fmt.Errorf("refused")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "items[1]: refused") || calls != 2 {
		t.Errorf("got %v after %d calls, want items[1]: refused after 2", err, calls)
	}
}
