#!/usr/bin/env bash
# build-tools.sh builds the pinned control-plane binaries that internal/localcluster
# runs (etcd, kube-apiserver) plus kubectl, from the tool modules under hack/tools/,
# and on request the peers that `make bench` compares clusterview with
# (kube-capacity, kube-state-metrics).
#
# Usage: hack/build-tools.sh [--check] [etcd|kube-apiserver|kubectl|all|
#                                       metrics-server|kwok|metrics|
#                                       kube-capacity|kube-state-metrics|peers|
#                                       golangci-lint|chart-render]...
#
#   all is the control plane (etcd, kube-apiserver, kubectl) and the default; metrics is
#   metrics-server and kwok (the simulated kubelets it scrapes), which the local cluster
#   starts when usage is wanted; peers is kube-capacity and kube-state-metrics, which
#   only the benchmark needs; golangci-lint is the linter `make lint` runs;
#   chart-render lints and renders charts/clusterview with the pinned Helm library
#   (a program of our own in hack/tools/helm, whose Go files the fingerprint covers).
#
#   Binaries land in _output/bin/ (override with CLUSTERVIEW_BIN_DIR). A binary is
#   rebuilt only when its fingerprint changed: the fingerprint covers the tool module's
#   go.mod/go.sum, the Go toolchain, the target platform and the link flags, and is
#   recorded next to the binary in _output/bin/.stamps/<name>.
#   --check builds nothing: it exits 0 when every requested binary is up to date and 3
#   when something would be built (1 means an error), which lets tests decide whether
#   they have time for a cold build.
#
# Measured cold on 2 cores (empty build cache): etcd ~70 s, kubectl ~100 s, kube-apiserver
# ~10 min with a 2.7 GB peak; all three ~12 min, as they share most packages. With a
# warm build cache a relink takes 25-100 s, and an up-to-date check well under a second.
# The peers take 1-3 minutes each when the control plane's packages are cached.
# golangci-lint (1,222 packages, few shared with the control plane's 2,080) took 38 min
# cold at low priority on a machine loaded ~12x over its 2 cores (2026-12-04); by package
# count, about half a kube-apiserver build on an idle machine: ~5 min. A relink is seconds.
# chart-render (Helm v4.3.2 with its k8s.io v0.37.2 dependencies, which the control
# plane's v1.37.1 build does not share) took 12 min 10 s cold on the same shared machine at
# a load average of ~10 (2026-12-05); a rebuild after a change to its source took 10 s.
#
# kube-capacity: the module proxy refuses github.com/robscott/kube-capacity (403 for
# every version) and the checksum database has no entry for it (404). hack/tools/
# kube-capacity/go.sum therefore pins its hash itself, recorded from the v0.8.0 tag
# (commit 7fa39ff17079baf65a09bb4be892c7a6536220fe). When the module is not in the module
# cache, go fetches it from a local git clone (git url.insteadOf) and still verifies it
# against the pinned go.sum hash, so a clone with other content fails the build instead of
# being used. The clone is KUBE_CAPACITY_GIT when set; otherwise the script clones the git
# bundle the team shares beside the checkout (../shared/peers/kube-capacity-v0.8.0.bundle,
# or KUBE_CAPACITY_BUNDLE) into a temporary folder. The same settings apply to every go
# command that touches the tool module, the version look-up included.
# Builds run one after another on purpose: in parallel they compete for the same cores
# and the kube-apiserver link alone needs 2.4 GB of memory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${CLUSTERVIEW_BIN_DIR:-${ROOT}/_output/bin}"
STAMPS="${OUT}/.stamps"
# Bump RECIPE whenever the way binaries are built changes in a way the fingerprint
# below cannot see, so that stale binaries are rebuilt.
RECIPE=1
# Static binaries: the same result whether or not a C toolchain is installed, which
# also keeps the fingerprint meaningful across machines.
export CGO_ENABLED=0
# Progress line interval while a build runs.
PROGRESS_EVERY=15

log() { printf '[build-tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum | cut -d' ' -f1
  else
    shasum -a 256 | cut -d' ' -f1
  fi
}

# tool_spec NAME sets TOOL_DIR, TOOL_PKG and TOOL_MOD (the module whose version is
# the binary's version) for a known binary name.
tool_spec() {
  case "$1" in
    etcd)
      TOOL_DIR="${ROOT}/hack/tools/etcd"
      TOOL_PKG="go.etcd.io/etcd/server/v3"
      TOOL_MOD="go.etcd.io/etcd/server/v3"
      ;;
    kube-apiserver)
      TOOL_DIR="${ROOT}/hack/tools/kube-apiserver"
      TOOL_PKG="k8s.io/kubernetes/cmd/kube-apiserver"
      TOOL_MOD="k8s.io/kubernetes"
      ;;
    kubectl)
      TOOL_DIR="${ROOT}/hack/tools/kubectl"
      TOOL_PKG="k8s.io/kubernetes/cmd/kubectl"
      TOOL_MOD="k8s.io/kubernetes"
      ;;
    metrics-server)
      TOOL_DIR="${ROOT}/hack/tools/metrics-server"
      TOOL_PKG="sigs.k8s.io/metrics-server/cmd/metrics-server"
      TOOL_MOD="sigs.k8s.io/metrics-server"
      ;;
    kwok)
      TOOL_DIR="${ROOT}/hack/tools/kwok"
      TOOL_PKG="sigs.k8s.io/kwok/cmd/kwok"
      TOOL_MOD="sigs.k8s.io/kwok"
      ;;
    kube-capacity)
      TOOL_DIR="${ROOT}/hack/tools/kube-capacity"
      TOOL_PKG="github.com/robscott/kube-capacity"
      TOOL_MOD="github.com/robscott/kube-capacity"
      ;;
    kube-state-metrics)
      TOOL_DIR="${ROOT}/hack/tools/kube-state-metrics"
      TOOL_PKG="k8s.io/kube-state-metrics/v2"
      TOOL_MOD="k8s.io/kube-state-metrics/v2"
      ;;
    golangci-lint)
      TOOL_DIR="${ROOT}/hack/tools/golangci-lint"
      TOOL_PKG="github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
      TOOL_MOD="github.com/golangci/golangci-lint/v2"
      ;;
    chart-render)
      # Our own main package; its version is the Helm library's.
      TOOL_DIR="${ROOT}/hack/tools/helm"
      TOOL_PKG="github.com/clusterview/clusterview/hack/tools/helm"
      TOOL_MOD="helm.sh/helm/v4"
      ;;
    *) die "unknown binary '$1' (want etcd, kube-apiserver, kubectl, all, metrics-server, kwok, metrics, kube-capacity, kube-state-metrics, peers, golangci-lint or chart-render)" ;;
  esac
}

# TOOL_ENV holds the environment every go command on the current tool module runs with
# (set by tool_env). Only kube-capacity needs any; see the header.
TOOL_ENV=()
KUBE_CAPACITY_CLONE=""
tool_env() {
  TOOL_ENV=(env)
  [[ "$1" == kube-capacity ]] || return 0
  local mod=github.com/robscott/kube-capacity version=v0.8.0
  # Not in the checksum database: go.sum's pinned hash is the check.
  TOOL_ENV+=(GONOSUMDB="${mod}")
  if [[ -f "$(go env GOMODCACHE)/cache/download/${mod}/@v/${version}.zip" ]]; then
    return 0
  fi
  local clone="${KUBE_CAPACITY_GIT:-}"
  if [[ -z "${clone}" ]]; then
    if [[ -z "${KUBE_CAPACITY_CLONE}" ]]; then
      local bundle="${KUBE_CAPACITY_BUNDLE:-${ROOT}/../shared/peers/kube-capacity-${version}.bundle}"
      [[ -f "${bundle}" ]] ||
        die "kube-capacity ${version} is not in the module cache, the module proxy refuses it, and there is no bundle at ${bundle}: set KUBE_CAPACITY_GIT to a local clone or KUBE_CAPACITY_BUNDLE to a git bundle"
      KUBE_CAPACITY_CLONE="$(mktemp -d)/kube-capacity"
      log "  cloning kube-capacity from ${bundle} (verified against go.sum)"
      git clone --quiet "${bundle}" "${KUBE_CAPACITY_CLONE}" >&2 || die "cloning ${bundle} failed"
    fi
    clone="${KUBE_CAPACITY_CLONE}"
  fi
  [[ -d "${clone}" ]] || die "kube-capacity clone ${clone} is not a directory"
  TOOL_ENV+=(GONOPROXY="${mod}" GIT_CONFIG_COUNT=1
    "GIT_CONFIG_KEY_0=url.$(cd "${clone}" && pwd).insteadOf"
    "GIT_CONFIG_VALUE_0=https://${mod}")
}

# ldflags_for NAME VERSION prints the linker flags. Kubernetes binaries built outside
# the Kubernetes release tooling report v0.0.0-master and clients then fail to parse
# the server version, so the version variables are stamped the way the release
# build does it. buildDate is the module's commit time, keeping builds reproducible.
ldflags_for() {
  local name="$1" version="$2"
  case "${name}" in
    kube-apiserver | kubectl)
      local date major minor pkg flags="-s -w"
      date="$("${TOOL_ENV[@]}" go -C "${TOOL_DIR}" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "${TOOL_MOD}")"
      major="${version#v}"; major="${major%%.*}"
      minor="${version#v"${major}".}"; minor="${minor%%.*}"
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X ${pkg}.gitVersion=${version}"
        flags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
        flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${date}"
        # The module proxy does not record the release commit; an empty value reads
        # better than the "$Format:%H$" placeholder.
        flags+=" -X ${pkg}.gitCommit="
      done
      printf '%s' "${flags}"
      ;;
    kube-state-metrics)
      # What its release build stamps, so that --version and its build_info metric tell
      # the truth.
      local client_go
      client_go="$("${TOOL_ENV[@]}" go -C "${TOOL_DIR}" list -m -f '{{.Version}}' k8s.io/client-go)"
      printf '%s' "-s -w -X github.com/prometheus/common/version.Version=${version#v}" \
        " -X k8s.io/kube-state-metrics/v2/pkg/app.ClientGoVersion=${client_go}"
      ;;
    golangci-lint)
      # What its release build stamps, so that `golangci-lint version` names the pin.
      printf '%s' "-s -w -X main.version=${version#v}"
      ;;
    metrics-server)
      # What its release build stamps: it reports client-go's version variables.
      printf '%s' "-s -w -X k8s.io/client-go/pkg/version.gitVersion=${version}"
      ;;
    *) printf '%s' "-s -w" ;;
  esac
}

# fingerprint NAME LDFLAGS prints the value recorded in the stamp file. A tool
# module with Go files of its own (chart-render) adds them; for the others,
# which only pin an upstream package, nothing is added and their fingerprints
# stay what they were.
fingerprint() {
  local name="$1" ldflags="$2" src
  {
    echo "recipe=${RECIPE} name=${name} pkg=${TOOL_PKG}"
    go env GOVERSION GOOS GOARCH GOAMD64 GOARM64 CGO_ENABLED
    echo "ldflags=${ldflags}"
    cat "${TOOL_DIR}/go.mod" "${TOOL_DIR}/go.sum"
    for src in "${TOOL_DIR}"/*.go; do
      [[ -f "${src}" ]] || continue
      echo "file=${src##*/}"
      cat "${src}"
    done
  } | sha256
}

# run_with_progress LABEL CMD... runs CMD in the background and reports elapsed time
# every PROGRESS_EVERY seconds so that a 9-minute build does not look hung.
BUILD_PID=""
run_with_progress() {
  local label="$1"; shift
  local start=${SECONDS} next=${PROGRESS_EVERY}
  "$@" &
  BUILD_PID=$!
  while kill -0 "${BUILD_PID}" 2>/dev/null; do
    sleep 1
    if (( SECONDS - start >= next )); then
      log "  ... ${label}: $(( SECONDS - start ))s elapsed"
      next=$(( next + PROGRESS_EVERY ))
    fi
  done
  local rc=0
  wait "${BUILD_PID}" || rc=$?
  BUILD_PID=""
  return "${rc}"
}
cleanup() {
  if [[ -n "${BUILD_PID}" ]]; then
    kill "${BUILD_PID}" 2>/dev/null || true
  fi
  rm -f "${OUT}"/.*.tmp.$$ 2>/dev/null || true
  if [[ -n "${KUBE_CAPACITY_CLONE}" ]]; then
    rm -rf "$(dirname "${KUBE_CAPACITY_CLONE}")"
  fi
}
trap cleanup EXIT

# STATE_* describe the binary examined by inspect().
inspect() {
  local name="$1"
  tool_spec "${name}"
  tool_env "${name}"
  STATE_VERSION="$("${TOOL_ENV[@]}" go -C "${TOOL_DIR}" list -m -f '{{.Version}}' "${TOOL_MOD}")"
  STATE_LDFLAGS="$(ldflags_for "${name}" "${STATE_VERSION}")"
  STATE_FP="$(fingerprint "${name}" "${STATE_LDFLAGS}")"
  STATE_FRESH=false
  if [[ -x "${OUT}/${name}" && -f "${STAMPS}/${name}" ]] &&
    [[ "$(head -n1 "${STAMPS}/${name}")" == "${STATE_FP}" ]]; then
    STATE_FRESH=true
  fi
}

build() {
  local name="$1"
  inspect "${name}"
  if [[ "${STATE_FRESH}" == true ]]; then
    log "${name} ${STATE_VERSION}: up to date (${OUT}/${name})"
    return 0
  fi
  log "building ${name} ${STATE_VERSION} (${TOOL_PKG}) into ${OUT}/ ..."
  local start=${SECONDS} tmp="${OUT}/.${name}.tmp.$$"
  # Write to a temporary name and rename, so an interrupted build never leaves a
  # binary behind that looks usable.
  # -buildvcs=false: the binary's version is its module version, and stamping the
  # clusterview checkout's VCS state would fail where git is missing or the checkout
  # belongs to another user.
  run_with_progress "${name}" \
    "${TOOL_ENV[@]}" go -C "${TOOL_DIR}" build -buildvcs=false -o "${tmp}" -ldflags "${STATE_LDFLAGS}" "${TOOL_PKG}" ||
    die "building ${name} failed"
  mv -f "${tmp}" "${OUT}/${name}"
  printf '%s\n# %s %s built %s with %s\n' "${STATE_FP}" "${name}" "${STATE_VERSION}" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(go env GOVERSION)" >"${STAMPS}/${name}"
  log "built ${name} ${STATE_VERSION} in $(( SECONDS - start ))s"
}

main() {
  command -v go >/dev/null 2>&1 || die "go is not on PATH"
  local check=false targets=()
  for arg in "$@"; do
    case "${arg}" in
      --check) check=true ;;
      -h | --help) usage; exit 0 ;;
      all) targets+=(etcd kube-apiserver kubectl) ;;
      metrics) targets+=(metrics-server kwok) ;;
      peers) targets+=(kube-capacity kube-state-metrics) ;;
      *) tool_spec "${arg}"; targets+=("${arg}") ;;
    esac
  done
  if (( ${#targets[@]} == 0 )); then
    targets=(etcd kube-apiserver kubectl)
  fi
  mkdir -p "${OUT}" "${STAMPS}"

  if [[ "${check}" == true ]]; then
    local stale=0 name
    for name in "${targets[@]}"; do
      inspect "${name}"
      if [[ "${STATE_FRESH}" == true ]]; then
        log "${name} ${STATE_VERSION}: up to date"
      else
        log "${name} ${STATE_VERSION}: missing or stale"
        stale=3
      fi
    done
    return "${stale}"
  fi

  # When everything is fresh there is nothing to wait for: another build holding
  # the lock (a peer for the benchmark, say) must not stall a test run.
  local fresh=true name
  for name in "${targets[@]}"; do
    inspect "${name}"
    if [[ "${STATE_FRESH}" != true ]]; then
      fresh=false
      break
    fi
  done
  if [[ "${fresh}" == true ]]; then
    log "$(printf '%s ' "${targets[@]}")up to date (${OUT})"
    return 0
  fi

  # Tests in several packages may call this script at once; serialize them so one
  # builds and the others then find fresh binaries.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${OUT}/.build.lock"
    if ! flock -n 9; then
      log "another build-tools.sh is running; waiting for it ..."
      flock 9
    fi
  fi
  for name in "${targets[@]}"; do
    build "${name}"
  done
}

main "$@"
