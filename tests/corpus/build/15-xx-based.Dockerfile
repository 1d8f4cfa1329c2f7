FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx

FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build
COPY --from=xx / /
ARG TARGETPLATFORM
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 xx-go build -o /out/app . && xx-verify /out/app

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
