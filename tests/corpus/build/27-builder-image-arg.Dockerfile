ARG BUILDER_IMAGE=golang:1.22-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN make release

FROM ${RUNTIME_IMAGE}
COPY --from=builder /src/build/app /usr/bin/app
ENTRYPOINT ["/usr/bin/app"]
