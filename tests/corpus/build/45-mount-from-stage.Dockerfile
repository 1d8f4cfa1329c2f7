FROM golang:1.22 AS gen
WORKDIR /src
COPY . .
RUN go run ./tools/gen > /gen.go

FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN --mount=type=bind,from=gen,source=/gen.go,target=/src/gen.go GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
