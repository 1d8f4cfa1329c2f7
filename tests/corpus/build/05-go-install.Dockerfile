FROM golang:1.22-alpine AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go install ./cmd/...

FROM alpine:3.20
RUN apk add --no-cache ca-certificates tzdata
COPY --from=build /go/bin/ /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/server"]
