# shape: the entrypoint is a hard link to the binary
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY hard/$TARGETARCH/ /hard/
ENTRYPOINT ["/hard/hello-link"]
