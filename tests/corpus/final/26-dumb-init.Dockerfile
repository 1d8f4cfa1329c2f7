# shape: dumb-init --single-child app
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/shim /usr/local/bin/dumb-init
COPY bin/$TARGETARCH/hello /usr/local/bin/app
ENTRYPOINT ["dumb-init", "--single-child", "app"]
