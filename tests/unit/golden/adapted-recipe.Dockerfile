# Derived by buildx-go from docker/Dockerfile for one multi-platform buildx run: the Go stage
# runs on $BUILDPLATFORM and cross-compiles for TARGETOS/TARGETARCH/TARGETVARIANT.
# The per-architecture recipe's Dockerfile
FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS builder
ENV GOCACHE=/root/.cache/go-build GOMODCACHE=/go/pkg/mod
WORKDIR /app
COPY ./cmd/ ./cmd/
COPY go.* ./
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go mod tidy
RUN go env -w CGO_ENABLED=0
ARG TARGETOS TARGETARCH TARGETVARIANT
ENV GOOS=$TARGETOS GOARCH=$TARGETARCH
RUN case "$TARGETARCH" in arm) go env -w GOARM="${TARGETVARIANT#v}" ;; amd64) go env -w GOAMD64="${TARGETVARIANT:-v1}" ;; esac
RUN echo "Building for GOARCH=$GOARCH"
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go build \
    -o /app/server \
    ./cmd/server

FROM alpine
RUN apk add curl
COPY --from=builder /app/server /server
ENTRYPOINT ["/server"]
