# shape: scratch, the binary at /hello, an absolute ENTRYPOINT
# expect: ok
FROM scratch
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /hello
ENTRYPOINT ["/hello"]
