FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN <<-'EOT' bash
	set -euo pipefail
	export GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0
	go build -o /out/app ./cmd/app
	EOT

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
