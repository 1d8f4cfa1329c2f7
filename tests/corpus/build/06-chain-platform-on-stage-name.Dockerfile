FROM golang:1.22 AS base
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download

FROM --platform=$BUILDPLATFORM base AS builder
ARG TARGETOS TARGETARCH
COPY . .
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM gcr.io/distroless/static-debian12
COPY --from=builder /out/app /app
ENTRYPOINT ["/app"]
