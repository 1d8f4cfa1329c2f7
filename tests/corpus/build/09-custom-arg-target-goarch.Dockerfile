FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGET_GOOS=linux
ARG TARGET_GOARCH=amd64
WORKDIR /src
COPY . .
RUN GOOS=${TARGET_GOOS} GOARCH=${TARGET_GOARCH} CGO_ENABLED=0 go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
