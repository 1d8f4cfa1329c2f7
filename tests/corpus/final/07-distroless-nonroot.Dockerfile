# shape: static base, USER nonroot (by name), the binary 0755
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
USER nonroot
ENTRYPOINT ["/usr/local/bin/hello"]
