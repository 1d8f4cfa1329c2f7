# shape: the right entrypoint beside a helper built for amd64 only (a mixed image)
# expect: linux/amd64=ok linux/arm64=fail
# run-also: /usr/local/bin/helper
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY bin/amd64/hello /usr/local/bin/helper
ENTRYPOINT ["/usr/local/bin/hello"]
