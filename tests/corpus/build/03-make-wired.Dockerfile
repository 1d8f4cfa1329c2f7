FROM --platform=$BUILDPLATFORM golang:1.22 AS builder
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN make build GOOS=$TARGETOS GOARCH=$TARGETARCH

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /src/bin/app /app
ENTRYPOINT ["/app"]
