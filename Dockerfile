# syntax=docker/dockerfile:1
# clusterview-apiserver: a static binary on a distroless base that runs as
# the non-root user 65532, as artifacts/deployment.yaml expects.
#   docker build -t REGISTRY/clusterview-apiserver:TAG .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ...

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Dependencies first, so that a source change reuses the downloaded modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
# The binary is built from cmd/ and pkg/ only.
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/clusterview-apiserver ./cmd/apiserver

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/clusterview-apiserver /usr/local/bin/clusterview-apiserver
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/clusterview-apiserver"]
