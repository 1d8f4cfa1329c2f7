FROM --platform=$BUILDPLATFORM golang:1.22 AS base
WORKDIR /src
COPY go.* ./
RUN go mod download

FROM base AS builder
ARG TARGETOS TARGETARCH
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .

FROM scratch
COPY --from=builder /out/app /app
ENTRYPOINT ["/app"]
