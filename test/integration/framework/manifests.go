package framework

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// DecodeManifests splits a YAML stream, as kubectl kustomize or a chart
// renders it, into objects. Documents that hold nothing (empty, or only
// comments) are skipped; every other one must be an object. Unstructured's
// JSON decoding keeps integers as int64.
func DecodeManifests(stream []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML: %w", err)
		}
		data, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("YAML document %d: %w\n%s", len(objs), err, doc)
		}
		if t := bytes.TrimSpace(data); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("YAML document %d: %w\n%s", len(objs), err, doc)
		}
		objs = append(objs, o)
	}
}
