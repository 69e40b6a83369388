package readbench_test

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/clusterview/clusterview/internal/readbench"
	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/pkg/apiserver/scheme"
	"github.com/clusterview/clusterview/pkg/registry/clusterview/nodesummary"
)

// envelope is what the tests read back of an encoded response.
type envelope struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
	Rows       []struct {
		Cells  []any `json:"cells"`
		Object struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
		} `json:"object"`
	} `json:"rows"`
}

func decode(t *testing.T, enc *readbench.Encoder) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(enc.Bytes(), &e); err != nil {
		t.Fatalf("decoding %s: %v", enc.Bytes(), err)
	}
	return e
}

// TestEncodings checks that the benchmarks time real responses: the list
// in the served version with every item, the Table with a row and the
// metadata of each summary, and the peer's core list.
func TestEncodings(t *testing.T) {
	c := readbench.NewCluster(3, 2, 2)
	r := nodesummary.NewREST(c.Engine)
	list, err := r.List(genericapirequest.NewContext(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	enc, err := readbench.ListJSON(scheme.Scheme, v1beta1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	n, err := enc.Encode(list)
	if err != nil {
		t.Fatal(err)
	}
	if e := decode(t, enc); n != len(enc.Bytes()) || e.APIVersion != "clusterview.io/v1beta1" || e.Kind != "NodeSummaryList" || len(e.Items) != 3 {
		t.Errorf("list: %d bytes reported, %d encoded, %s %s with %d items", n, len(enc.Bytes()), e.APIVersion, e.Kind, len(e.Items))
	}

	tbl, err := r.ConvertToTable(context.Background(), list, &metav1.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := readbench.AsTable(tbl); err != nil {
		t.Fatal(err)
	}
	tenc, err := readbench.TableJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenc.Encode(tbl); err != nil {
		t.Fatal(err)
	}
	e := decode(t, tenc)
	if e.APIVersion != "meta.k8s.io/v1" || e.Kind != "Table" || len(e.Rows) != 3 {
		t.Fatalf("table: %s %s with %d rows", e.APIVersion, e.Kind, len(e.Rows))
	}
	for i, row := range e.Rows {
		if row.Object.Kind != "PartialObjectMetadata" || row.Object.Metadata.Name != c.Nodes.Items[i].Name || len(row.Cells) != len(tbl.ColumnDefinitions) {
			t.Errorf("row %d: %s %q with %d cells", i, row.Object.Kind, row.Object.Metadata.Name, len(row.Cells))
		}
	}

	c.Nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	penc, err := readbench.ListJSON(clientgoscheme.Scheme, corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := penc.Encode(c.Nodes); err != nil {
		t.Fatal(err)
	}
	if e := decode(t, penc); e.APIVersion != "v1" || e.Kind != "NodeList" || len(e.Items) != 3 {
		t.Errorf("peer: %s %s with %d items", e.APIVersion, e.Kind, len(e.Items))
	}
}
