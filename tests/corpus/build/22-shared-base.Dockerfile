FROM golang:1.22 AS base
WORKDIR /src
COPY . .

FROM base AS build
RUN CGO_ENABLED=0 go build -o /out/app .

FROM base AS final
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT ["app"]
