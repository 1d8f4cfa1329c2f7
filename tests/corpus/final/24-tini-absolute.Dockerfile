# shape: tini -- /hello (an init wrapper; the wrapped program is checked)
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/shim /sbin/tini
COPY bin/$TARGETARCH/hello /hello
ENTRYPOINT ["/sbin/tini", "--", "/hello"]
