FROM --platform=$BUILDPLATFORM golang:1.22 AS tools
RUN go install golang.org/x/tools/cmd/stringer@latest

FROM golang:1.22 AS build
COPY --from=tools /go/bin/stringer /usr/local/bin/
WORKDIR /src
COPY . .
RUN go generate ./... && CGO_ENABLED=0 go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
