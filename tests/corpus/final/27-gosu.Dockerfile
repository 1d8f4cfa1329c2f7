# shape: gosu USER app (a user switcher)
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/shim /usr/local/bin/gosu
COPY bin/$TARGETARCH/hello /usr/local/bin/app
ENTRYPOINT ["gosu", "nonroot", "app"]
