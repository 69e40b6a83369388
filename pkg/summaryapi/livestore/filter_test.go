package livestore

import (
	"testing"

	"k8s.io/apimachinery/pkg/fields"
)

func TestFilterKeys(t *testing.T) {
	for _, tt := range []struct {
		name       string
		namespaced bool
		namespace  string
		fields     string
		onlyKey    string // "" when the filter pins no key
		match      []string
		noMatch    []string
	}{
		{name: "everything", match: []string{"a", "b"}},
		{name: "name", fields: "metadata.name=a", onlyKey: "a", match: []string{"a"}, noMatch: []string{"b"}},
		{name: "not name", fields: "metadata.name!=a", match: []string{"b"}, noMatch: []string{"a"}},
		{name: "request namespace", namespaced: true, namespace: "a", onlyKey: "a", match: []string{"a"}, noMatch: []string{"b"}},
		{name: "namespace field", namespaced: true, fields: "metadata.namespace=b", onlyKey: "b", match: []string{"b"}, noMatch: []string{"a"}},
		{name: "conflicting", namespaced: true, namespace: "a", fields: "metadata.name=b", onlyKey: "a", noMatch: []string{"a", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := filter{namespaced: tt.namespaced, namespace: tt.namespace}
			if tt.fields != "" {
				f.fields = fields.ParseSelectorOrDie(tt.fields)
			}
			key, ok := f.onlyKey()
			if key != tt.onlyKey || ok != (tt.onlyKey != "") {
				t.Errorf("onlyKey() = %q, %v; want %q", key, ok, tt.onlyKey)
			}
			for _, k := range tt.match {
				if !f.keyMatches(k) {
					t.Errorf("keyMatches(%q) = false", k)
				}
			}
			for _, k := range tt.noMatch {
				if f.keyMatches(k) {
					t.Errorf("keyMatches(%q) = true", k)
				}
			}
		})
	}
}
