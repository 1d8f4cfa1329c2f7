FROM golang:1.22-alpine AS build
RUN apk add --no-cache make git
WORKDIR /src
COPY . .
RUN make build

FROM alpine:3.20
RUN apk add --no-cache ca-certificates
COPY --from=build /src/bin/app /usr/local/bin/app
ENTRYPOINT ["app"]
