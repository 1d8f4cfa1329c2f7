# shape: sh -c 'mkdir -p /tmp/data && exec hello': a setup step, then the program
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/bin/sh", "-c", "mkdir -p /tmp/data && exec hello"]
