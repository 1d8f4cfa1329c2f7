# shape: the binary 0700, owned by nonroot, run as USER nonroot
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY --chown=65532:65532 --chmod=0700 bin/$TARGETARCH/hello /usr/local/bin/hello
USER nonroot
ENTRYPOINT ["/usr/local/bin/hello"]
