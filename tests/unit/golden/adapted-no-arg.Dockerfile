# Derived by buildx-go from Dockerfile for one multi-platform buildx run: the Go stage
# runs on $BUILDPLATFORM and cross-compiles for TARGETOS/TARGETARCH/TARGETVARIANT.
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ENV GOCACHE=/root/.cache/go-build GOMODCACHE=/go/pkg/mod
ARG TARGETOS TARGETARCH TARGETVARIANT
ENV GOOS=$TARGETOS GOARCH=$TARGETARCH
RUN case "$TARGETARCH" in arm) go env -w GOARM="${TARGETVARIANT#v}" ;; amd64) go env -w GOAMD64="${TARGETVARIANT:-v1}" ;; esac
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go build -o /app .
FROM scratch
COPY --from=build /app /app
