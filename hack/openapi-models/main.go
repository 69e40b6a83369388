// Command openapi-models prints the generated OpenAPI definitions of the
// clusterview.io types as an OpenAPI v2 document. hack/update-codegen.sh feeds
// it to applyconfiguration-gen so that the generated apply configurations know
// each field's list and map semantics (used by server-side apply extraction).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/clusterview/clusterview/pkg/generated/openapi"
)

func main() {
	if err := printModels(); err != nil {
		fmt.Fprintf(os.Stderr, "openapi-models: %v\n", err)
		os.Exit(1)
	}
}

func printModels() error {
	ref := func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) }
	defs := openapi.GetOpenAPIDefinitions(ref)
	schemas := make(map[string]spec.Schema, len(defs))
	for name, def := range defs {
		// Some definitions carry a separate v2 form; applyconfiguration-gen
		// reads v2, so prefer it.
		if v2, ok := def.Schema.Extensions[common.ExtensionV2Schema].(spec.Schema); ok {
			schemas[name] = v2
			continue
		}
		schemas[name] = def.Schema
	}
	doc := spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: "clusterview", Version: "unversioned"}},
		Definitions: schemas,
	}}
	out, err := json.Marshal(&doc)
	if err != nil {
		return fmt.Errorf("encoding the OpenAPI document: %w", err)
	}
	_, err = os.Stdout.Write(out)
	return err
}
