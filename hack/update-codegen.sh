#!/usr/bin/env bash
# Regenerates every generated file of the project: deep-copy, conversion and
# defaulting functions, OpenAPI definitions, and the clientset with its apply
# configurations, listers and informers. The generators come from
# k8s.io/code-generator at the same release as the k8s.io/apimachinery pinned in
# go.mod, run from the Go module cache: no vendor/ directory or GOPATH layout.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "${ROOT}"
MODULE=$(go list -m)

CODEGEN_VERSION=$(go list -m -f '{{.Version}}' k8s.io/apimachinery)
CODEGEN_ROOT=$(go mod download -json "k8s.io/code-generator@${CODEGEN_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ -z "${CODEGEN_ROOT}" ]]; then
  echo "update-codegen: cannot download k8s.io/code-generator@${CODEGEN_VERSION}" >&2
  exit 1
fi

# Keep the generator binaries inside the project's git-ignored output folder,
# so that a machine's GOPATH/bin is never touched and versions never mix.
export GOBIN="${ROOT}/_output/codegen/${CODEGEN_VERSION}"
mkdir -p "${GOBIN}"

# shellcheck source=/dev/null
source "${CODEGEN_ROOT}/kube_codegen.sh"

BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"

kube::codegen::gen_helpers \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

# core/v1 is an extra input because spec.headroom[].tolerations are
# core/v1 Tolerations.
kube::codegen::gen_openapi \
    --extra-pkgs k8s.io/api/core/v1 \
    --output-dir "${ROOT}/pkg/generated/openapi" \
    --output-pkg "${MODULE}/pkg/generated/openapi" \
    --report-filename "${ROOT}/hack/api-rule-violations.list" \
    --update-report \
    --output-model-name-file zz_generated.model_name.go \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

kube::codegen::gen_client \
    --with-watch \
    --with-applyconfig \
    --applyconfig-openapi-schema <(go run ./hack/openapi-models) \
    --output-dir "${ROOT}/pkg/generated" \
    --output-pkg "${MODULE}/pkg/generated" \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"
