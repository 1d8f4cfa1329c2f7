# shape: the binary 0700 root's, USER nonroot: permission denied
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY --chmod=0700 bin/$TARGETARCH/hello /usr/local/bin/hello
USER nonroot
ENTRYPOINT ["/usr/local/bin/hello"]
