FROM golang:1.22-bookworm AS deps
RUN apt-get update && apt-get install -y --no-install-recommends make
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download

FROM --platform=$BUILDPLATFORM deps AS build
COPY . .
RUN make build BIN=/out/app

FROM debian:bookworm-slim
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT ["app"]
