# shape: ["/bin/sh", "-c", "exec hello \"$@\"", "--"]
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/bin/sh", "-c", "exec hello \"$@\"", "--"]
