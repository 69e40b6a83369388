#!/usr/bin/env bash
# Fails when a generated file differs from what hack/update-codegen.sh would
# produce now: generated code is never edited by hand and never stale.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SCRATCH=$(mktemp -d)
trap 'rm -rf "${SCRATCH}"' EXIT

# Generate into a copy of the tree, then compare the generated paths.
GENERATED=(pkg/generated pkg/apis hack/api-rule-violations.list)
tar -C "${ROOT}" --exclude=./_output --exclude=./.git -cf - . | tar -C "${SCRATCH}" -xf -
(cd "${SCRATCH}" && ./hack/update-codegen.sh >/dev/null)

status=0
for path in "${GENERATED[@]}"; do
  if ! diff -Nqr "${ROOT}/${path}" "${SCRATCH}/${path}" >/dev/null 2>&1; then
    echo "verify-codegen: ${path} is out of date:" >&2
    diff -Nr "${ROOT}/${path}" "${SCRATCH}/${path}" | head -40 >&2 || true
    status=1
  fi
done
if [[ ${status} -ne 0 ]]; then
  echo "verify-codegen: run hack/update-codegen.sh and commit the result." >&2
  exit 1
fi
echo "verify-codegen: generated code is up to date."
