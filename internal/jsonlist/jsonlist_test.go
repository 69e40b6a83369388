package jsonlist

import (
	"encoding/json"
	"strings"
	"testing"
)

// A body that is not a list, or breaks off, fails with the place it broke;
// other keys and an empty or null items are fine.
func TestEachItem(t *testing.T) {
	for _, c := range []struct {
		name, body string
		items      int
		wantErr    string
	}{
		{name: "items and other keys", body: `{"kind":"PodMetricsList","metadata":{"resourceVersion":"1"},"items":[{"name":"a"},{"name":"b"}],"extra":[1,2]}`, items: 2},
		{name: "empty items", body: `{"kind":"PodMetricsList","items":[]}`},
		{name: "null items", body: `{"kind":"PodMetricsList","items":null}`},
		{name: "no items", body: `{"kind":"List","metadata":{}}`, wantErr: `no "items"`},
		{name: "items twice", body: `{"items":[],"items":[]}`, wantErr: `"items" twice`},
		{name: "not JSON", body: "signal: killed\n", wantErr: "reading the list"},
		{name: "an array, not a list", body: `[{"name":"a"}]`, wantErr: "reading the list: got ["},
		{name: "items not an array", body: `{"items":{"name":"a"}}`, wantErr: "want an array"},
		{name: "a bad item", body: `{"items":[{"name":"a"},{"name":7}]}`, items: 1, wantErr: "items[1]"},
		{name: "cut off", body: `{"items":[{"name":"a"},{"na`, items: 1, wantErr: "items[1]"},
		{name: "cut off after items", body: `{"items":[{"name":"a"}],"kin`, items: 1, wantErr: "reading"},
	} {
		t.Run(c.name, func(t *testing.T) {
			items := 0
			err := EachItem(json.NewDecoder(strings.NewReader(c.body)), func(dec *json.Decoder) error {
				var v struct {
					Name string `json:"name"`
				}
				if err := dec.Decode(&v); err != nil {
					return err
				}
				items++
				return nil
			})
			if items != c.items {
				t.Errorf("decoded %d items, want %d", items, c.items)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
