# shape: an absolute ENTRYPOINT with a trailing slash: not a directory
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello/"]
