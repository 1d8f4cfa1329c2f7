FROM --platform=$BUILDPLATFORM golang:1.22 AS builder
WORKDIR /src
COPY . .
RUN make all

FROM scratch
COPY --from=builder /src/_output/app /app
ENTRYPOINT ["/app"]
