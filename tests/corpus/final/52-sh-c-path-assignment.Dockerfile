# shape: sh -c 'PATH=/opt/tools:$PATH runner': the assignment decides the lookup
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /opt/tools/runner
ENTRYPOINT ["/bin/sh", "-c", "PATH=/opt/tools:$PATH runner"]
