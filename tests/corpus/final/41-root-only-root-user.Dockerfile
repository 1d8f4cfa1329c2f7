# shape: the binary 0700, root's, run as USER root on a base whose user is nonroot
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY --chmod=0700 bin/$TARGETARCH/hello /usr/local/bin/hello
USER root
ENTRYPOINT ["/usr/local/bin/hello"]
