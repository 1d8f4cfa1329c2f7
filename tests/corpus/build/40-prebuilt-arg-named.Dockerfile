FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETOS TARGETARCH
ARG BIN_NAME
COPY dist/$TARGETOS/$TARGETARCH/$BIN_NAME /usr/local/bin/app
ENTRYPOINT ["app"]
