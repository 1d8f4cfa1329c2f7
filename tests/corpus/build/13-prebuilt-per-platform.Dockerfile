FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETOS TARGETARCH
COPY dist/$TARGETOS/$TARGETARCH/app /app
ENTRYPOINT ["/app"]
