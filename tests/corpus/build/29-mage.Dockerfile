FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go run mage.go build

FROM gcr.io/distroless/base-debian12
COPY --from=build /src/dist/app /app
ENTRYPOINT ["/app"]
