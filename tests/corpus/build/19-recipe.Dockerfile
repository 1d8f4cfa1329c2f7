FROM golang:1.22 AS builder
WORKDIR /app
COPY . .
ARG GOARCH
RUN echo "Building for GOARCH=$GOARCH"
RUN CGO_ENABLED=0 go build -o /app/server ./cmd/server

FROM gcr.io/distroless/static-debian12
COPY --from=builder /app/server /server
ENTRYPOINT ["/server"]
