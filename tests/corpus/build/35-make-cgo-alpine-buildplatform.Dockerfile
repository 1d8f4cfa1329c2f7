FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS builder
RUN apk add --no-cache make gcc musl-dev
WORKDIR /src
COPY . .
RUN make

FROM alpine:3.20
COPY --from=builder /src/out/app /usr/bin/app
ENTRYPOINT ["app"]
