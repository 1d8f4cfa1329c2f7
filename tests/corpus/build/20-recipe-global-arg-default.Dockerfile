ARG GO_VERSION=1.22
FROM golang:${GO_VERSION} AS build
ARG GOARCH=amd64 VERSION=dev
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -ldflags "-X main.version=${VERSION}" -o /out/app .

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
