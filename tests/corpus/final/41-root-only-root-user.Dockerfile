# shape: the binary 0700, run as root
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY --chmod=0700 bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello"]
