FROM golang:1.22-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev
WORKDIR /go/src/app
COPY . .
RUN ./scripts/build.sh

FROM debian:bookworm-slim
COPY --from=build /go/src/app/bin/app /usr/local/bin/app
ENTRYPOINT ["app"]
