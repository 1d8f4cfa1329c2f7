FROM golang:1.22-bookworm AS build
RUN go install github.com/go-task/task/v3/cmd/task@latest
WORKDIR /src
COPY . .
RUN task build

FROM gcr.io/distroless/static-debian12
COPY --from=build /src/dist/app /app
ENTRYPOINT ["/app"]
