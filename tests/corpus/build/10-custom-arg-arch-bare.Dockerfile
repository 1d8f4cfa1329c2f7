FROM golang:1.22 AS build
ARG ARCH
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 GOARCH=$ARCH go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
