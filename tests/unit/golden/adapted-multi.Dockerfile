# escape=\
# Derived by buildx-go from Dockerfile for one multi-platform buildx run: the Go stage
# runs on $BUILDPLATFORM and cross-compiles for TARGETOS/TARGETARCH/TARGETVARIANT.
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS base
ENV GOCACHE=/root/.cache/go-build GOMODCACHE=/go/pkg/mod
WORKDIR /src
COPY go.* ./
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go mod download

# the real build stage derives from base
FROM base AS builder
ENV GOCACHE=/root/.cache/go-build GOMODCACHE=/go/pkg/mod
COPY . .
ARG VERSION=dev
ARG TARGETOS TARGETARCH TARGETVARIANT
ENV GOOS=$TARGETOS GOARCH=$TARGETARCH
RUN case "$TARGETARCH" in arm) go env -w GOARM="${TARGETVARIANT#v}" ;; amd64) go env -w GOAMD64="${TARGETVARIANT:-v1}" ;; esac
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod CGO_ENABLED=0 \
    # a comment inside a continuation
    go build -ldflags "-X main.version=${VERSION}" -o /out/app ./cmd/app

FROM alpine:3.20 AS runtime
RUN apk add --no-cache ca-certificates
COPY --from=builder /out/app /app
ENTRYPOINT ["/app"]
