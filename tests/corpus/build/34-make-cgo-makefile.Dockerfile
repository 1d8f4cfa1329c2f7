FROM golang:1.22-bookworm AS builder
WORKDIR /src
COPY . .
RUN make build

FROM gcr.io/distroless/base-debian12
COPY --from=builder /src/bin/server /server
ENTRYPOINT ["/server"]
