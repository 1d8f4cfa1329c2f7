FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN <<EOF
set -e
CGO_ENABLED=0 go build -o /out/app .
EOF

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
