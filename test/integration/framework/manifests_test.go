package framework

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestDecodeManifests(t *testing.T) {
	stream := []byte(`---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ns
data:
  k: v
---

---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b
spec:
  replicas: 2
`)
	objs, err := DecodeManifests(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("%d objects, want 2: %v", len(objs), objs)
	}
	if o := objs[0]; o.GetKind() != "ConfigMap" || o.GetNamespace() != "ns" || o.GetName() != "a" {
		t.Errorf("first object = %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	}
	if r, ok, err := unstructured.NestedInt64(objs[1].Object, "spec", "replicas"); !ok || err != nil || r != 2 {
		t.Errorf("replicas = %d (found %v, %v), want int64 2", r, ok, err)
	}
	if _, err := DecodeManifests([]byte("kind: [unclosed\n")); err == nil {
		t.Error("a broken document decoded without an error")
	}
	if _, err := DecodeManifests([]byte("- a list\n- not an object\n")); err == nil {
		t.Error("a document that is no object decoded without an error")
	}
}
