FROM golang:1.22 AS build
WORKDIR /src
COPY . .
ENV CGO_ENABLED=0
RUN ["go", "build", "-o", "/out/app", "."]

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
