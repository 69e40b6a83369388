# clusterview: an aggregated Kubernetes API server that summarises a cluster.
# `make run` brings up a local control plane with clusterview behind the
# aggregator; `make test` runs every test CI runs.

SHELL := /usr/bin/env bash -o errexit -o nounset -o pipefail
GO ?= go
OUTPUT := _output
BIN := $(OUTPUT)/bin
# Integration tests start real processes; give a loaded 2-core machine time.
TEST_TIMEOUT ?= 30m

.PHONY: all build install-plugin tools run test test-unit test-integration bench-smoke verify verify-codegen update-codegen vet clean

all: build

## build: compile clusterview-apiserver and the kubectl plugin kubectl-clusterview into _output/bin.
build:
	$(GO) build -o $(BIN)/clusterview-apiserver ./cmd/apiserver
	$(GO) build -o $(BIN)/kubectl-clusterview ./cmd/kubectl-clusterview

## install-plugin: install kubectl-clusterview into PREFIX (default: $(go env GOPATH)/bin), so `kubectl clusterview` finds it on PATH.
PREFIX ?= $(shell $(GO) env GOPATH)/bin
install-plugin:
	mkdir -p $(PREFIX)
	$(GO) build -o $(PREFIX)/kubectl-clusterview ./cmd/kubectl-clusterview

## tools: build the pinned etcd, kube-apiserver and kubectl, metrics-server and kwok
##   (the local cluster's resource metrics pipeline), and chart-render (the Helm
##   chart's linter and renderer, hack/tools/helm), cached in _output/bin.
tools:
	hack/build-tools.sh all metrics chart-render

## helm-template: render charts/clusterview with the pinned Helm library, as
##   `helm template` does, into the namespace clusterview-system.
##   make helm-template HELM_ARGS='--set etcd.mode=embedded --set replicas=1'
HELM_ARGS ?=
.PHONY: helm-template helm-lint
helm-template:
	hack/build-tools.sh chart-render
	$${CLUSTERVIEW_BIN_DIR:-$(BIN)}/chart-render template charts/clusterview --namespace clusterview-system $(HELM_ARGS)

## helm-lint: helm lint --strict of charts/clusterview with the pinned Helm library.
helm-lint:
	hack/build-tools.sh chart-render
	$${CLUSTERVIEW_BIN_DIR:-$(BIN)}/chart-render lint charts/clusterview --strict --namespace clusterview-system $(HELM_ARGS)

## run: local control plane + clusterview behind the aggregator, seeded with a demo cluster.
run: build tools
	$(GO) build -o $(BIN)/local-up ./hack/local-up
	exec $(BIN)/local-up $(RUN_ARGS)

## test: everything CI runs: codegen check, vet, lint, unit, integration, race, benchmark and fuzz smoke runs.
# Packages run one at a time (-p 1): the integration tests start real
# control planes and measure time bounds, which must hold on a 2-core machine.
test: verify tools
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) test-race
	$(MAKE) bench-smoke
	$(MAKE) fuzz-smoke

## test-unit: the tests that need no control plane; they start no etcd,
##   kube-apiserver or kubectl and build no tool (those tests live under
##   test/integration/). Checked, not assumed: with CLUSTERVIEW_NO_PROCESSES
##   set, localcluster refuses to start a process or run hack/build-tools.sh
##   (TestNoProcessesEnvStartsNothing), and the binary directory is one that
##   does not exist, so a unit test that would start a control plane fails.
test-unit:
	CLUSTERVIEW_NO_PROCESSES=1 CLUSTERVIEW_BIN_DIR=$(CURDIR)/$(OUTPUT)/no-binaries \
		$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/integration/)

## test-race: the packages whose code runs on many goroutines at once, the
##   summary engine (informer handlers write while API reads and watches wait)
##   and livestore (watches), under the race detector. The concurrent tests
##   run in full; -short cuts the single-goroutine randomized engine test to a
##   quarter of its steps, since its full run is in the plain `go test ./...`.
RACE_PKGS := ./pkg/summary/... ./pkg/summaryapi/livestore/...
.PHONY: test-race
test-race:
	$(GO) test -count=1 -race -short $(RACE_PKGS)

## test-integration: the tests against a real etcd and kube-apiserver.
test-integration: tools
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) ./test/integration/...

## test-ha: high-availability tests: two clusterview processes on a 3-member etcd
##   cluster behind kube-apiserver, killed and restarted (docs/high-availability.md).
##   About 3 minutes on 2 cores; -v prints the measured figures (FIGURE lines).
.PHONY: test-ha
test-ha: tools
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./test/integration/ha/

## bench-smoke: run every Go benchmark once so that none of them rots.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./pkg/...

## fuzz-smoke: a short coverage-guided run of the decode-and-validate fuzz
##   target (its seeds run in every go test). The first run on a machine
##   builds the instrumented dependencies, minutes on 2 cores; later runs
##   reuse the build cache. FUZZTIME sets the length (default 20s).
FUZZTIME ?= 20s
.PHONY: fuzz-smoke
fuzz-smoke:
	$(GO) test ./pkg/apis/clusterview/validation/ -run '^$$' -fuzz '^FuzzDecodeAndValidateClusterSummary$$' \
		-fuzztime $(FUZZTIME) -fuzzminimizetime 5s

## bench: scale and speed benchmark through kube-apiserver, peers included (docs/performance.md).
##   make bench                          5,000 nodes and 150,000 pods (env NODES, PODS)
##   make bench NODES=500 PODS=15000     the quick size, 18 minutes on 2 cores (docs/bench/20261205T082922Z.json)
##   make bench BENCH_ARGS=--pprof       also save clusterview's CPU and heap profiles
.PHONY: bench
bench: build tools
	$(GO) build -o $(BIN)/bench ./hack/bench
	exec $(BIN)/bench $(BENCH_ARGS)

## bench-doc: regenerate docs/performance.md's run tables from the reports
##   committed under docs/bench/ (copy a run's _output/bench/<timestamp>.json there).
.PHONY: bench-doc
bench-doc:
	$(GO) run ./hack/bench --render-doc docs/performance.md --reports docs/bench

## verify: generated code is current, go.mod is tidy, and the tree is vetted, linted and formatted.
verify: verify-codegen vet lint
	$(GO) mod tidy -diff
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi

verify-codegen:
	hack/verify-codegen.sh

update-codegen:
	hack/update-codegen.sh

vet:
	$(GO) vet ./...

## lint: golangci-lint with .golangci.yml; the binary is pinned in
##   hack/tools/golangci-lint and built once into _output/bin (CLUSTERVIEW_BIN_DIR).
.PHONY: lint
lint:
	hack/build-tools.sh golangci-lint
	$${CLUSTERVIEW_BIN_DIR:-$(BIN)}/golangci-lint run ./...

clean:
	rm -rf $(OUTPUT)/local $(OUTPUT)/bench $(BIN)/clusterview-apiserver
