FROM alpine:3.20
ARG binary=./bin/app
RUN apk add --no-cache ca-certificates
COPY ${binary} /usr/local/bin/app
ENTRYPOINT ["/usr/local/bin/app"]
