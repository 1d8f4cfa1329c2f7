FROM golang:1.22 AS build
WORKDIR /go/src/app
COPY . .
RUN ./hack/build.sh

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /go/src/app/bin/app /usr/local/bin/app
ENTRYPOINT ["app"]
